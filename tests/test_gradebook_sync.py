"""A recorded grade is never decided in the student's process: the gradebook holds the sandbox's verdict.

`nbgrader autograde` runs the hidden test cells in the student's kernel, where a solution cell can
replace `run_check`, numpy's comparisons or builtins, or write gradebook.db itself. After
`python -m autograder nbgrader-run`, every score nbgrader shows — the gradebook's grade rows,
`nbgrader export`'s grades.csv, Formgrader's submission and notebook lists, the feedback — must be
the sandboxed grader's: 94 (the honest ReLU mistake) for each hostile submission, never the 100 its
kernel reported; 100 for the perfect example, 0 for the blank, and for os_exit (its kernel died, so
nbgrader recorded nothing) the sandbox's 74. `python -m autograder sync-gradebook` re-applies the
sandbox's scores after an `nbgrader autograde` run by hand.

The end-to-end tests use the real nbgrader CLI, kernels and gradebook (marked `slow`); the ones on
`autograder.gradebook` alone use a real gradebook made by `nbgrader generate_assignment` (no kernel).
"""
import csv
import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from autograder.assignments.mlp.checks import CHECKS, MAX_SCORE
from autograder.gradebook import SyncError, cells_to_checks, open_gradebook, snapshot_overrides, sync_scores
from examples.catalogue import BY_NAME, SUBMISSIONS
from nbgrader_course import COURSE_ID, HOSTILE, cell_scores, formgrader_scores, make_course, nbgrader, write_hostile

HONEST = ("perfect", "blank", "os_exit", "relu_derivative_all_ones")
FAILS = {"perfect": set(), "blank": set(CHECKS), "os_exit": set(BY_NAME["os_exit"].fails),
         "relu_derivative_all_ones": {"relu"}, **{name: {"relu"} for name in HOSTILE}}
EXPECTED = {name: MAX_SCORE - sum(CHECKS[c].points for c in fails) for name, fails in FAILS.items()}
FOOLED_KERNEL = ("patched_run_check", "patched_numpy")     # their kernel said 100


def test_expected_scores_are_the_honest_ones():
    assert EXPECTED == {"perfect": 100, "blank": 0, "os_exit": 74, "relu_derivative_all_ones": 94,
                        "patched_run_check": 94, "patched_numpy": 94, "wrote_gradebook": 94, "rewrote_submission": 94}


def run(course, *args):
    return subprocess.run([sys.executable, "-m", "autograder", *args], cwd=course, capture_output=True, text=True)


def parse_table(stdout):
    table = {}
    for line in stdout.splitlines():
        parts = line.split(None, 8)        # student assignment score max auto manual kernel pytest reason
        if len(parts) >= 8 and parts[0] in EXPECTED and parts[1] == "mlp":
            table[parts[0]] = {"score": parts[2], "max": parts[3], "auto": parts[4], "manual": parts[5],
                               "kernel": parts[6], "pytest": parts[7], "reason": parts[8] if len(parts) > 8 else ""}
    return table


def grades_csv(course):
    with open(os.path.join(course, "grades.csv"), newline="") as f:
        return {row["student_id"]: row for row in csv.DictReader(f)}


def grade_rows(course, student, assignment="mlp"):
    """{grade cell: Grade.to_dict()}: the rows Formgrader's grading view reads and writes."""
    with open_gradebook(os.path.join(course, "gradebook.db"), COURSE_ID) as gb:
        return {g.name: g.to_dict() for g in gb.find_submission_notebook(assignment, assignment, student).grades}


def gradebook_scores(course):
    with open_gradebook(os.path.join(course, "gradebook.db"), COURSE_ID) as gb:
        return {d["student"]: d["score"] for d in gb.submission_dicts("mlp")}


# --- end to end: nbgrader-run on hostile and honest submissions ---------------------------------

@pytest.fixture(scope="module")
def course(tmp_path_factory):
    root = tmp_path_factory.mktemp("sync")
    course = make_course(str(root / "course"))
    submissions = str(root / "submissions")
    write_hostile(submissions)
    for name in HONEST:
        shutil.copy(os.path.join(SUBMISSIONS, name + ".ipynb"), submissions)
    proc = run(course, "nbgrader-run", "--submissions", submissions, "--no-pytest")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return course, parse_table(proc.stdout), proc.stdout


@pytest.mark.slow
@pytest.mark.parametrize("student", sorted(EXPECTED))
def test_every_recorded_score_is_the_sandboxes(course, student):
    course_dir, table, _ = course
    expected = EXPECTED[student]
    rows = grade_rows(course_dir, student)
    assert {name: row["auto_score"] for name, row in rows.items()} == {
        f"test_{c}": (0 if c in FAILS[student] else CHECKS[c].points) for c in CHECKS}
    assert all(row["manual_score"] is None and row["extra_credit"] is None for row in rows.values())
    assert not any(row["needs_manual_grade"] for row in rows.values())
    assert gradebook_scores(course_dir)[student] == expected
    exported = grades_csv(course_dir)[student]
    assert float(exported["raw_score"]) == float(exported["score"]) == expected
    submissions, notebooks = formgrader_scores(course_dir)
    assert submissions[student]["autograded"] and submissions[student]["score"] == expected
    assert notebooks[student]["score"] == expected and not notebooks[student]["needs_manual_grade"]
    assert float(table[student]["score"]) == expected


@pytest.mark.slow
def test_the_kernels_were_fooled_and_the_table_says_so(course):
    """The tricks work inside the kernel (so these tests test something): the table's kernel column
    shows what the kernel said and the reason flags it; the recorded score stays the sandbox's."""
    _, table, stdout = course
    for student in FOOLED_KERNEL:
        # the kernel passed test_relu, which the sandbox fails (its total also counts the release's visible
        # tests, which these tricks do not all reach); the recorded score is the sandbox's
        assert table[student]["kernel"] != "-" and table[student]["score"] == "94"
        assert "in-kernel verdict overruled" in table[student]["reason"] and "test_relu" in table[student]["reason"]
    assert "put back" in table["wrote_gradebook"]["reason"], "manual scores written by a kernel are put back"
    assert "submitted/rewrote_submission/mlp/mlp.ipynb changed while the kernels ran" in stdout, \
        "the kernel did rewrite its submission (so the test tests something), and it was put back"
    for student in ("perfect", "blank", "relu_derivative_all_ones"):
        assert table[student]["kernel"] == table[student]["score"]
        assert "overruled" not in table[student]["reason"]


@pytest.mark.slow
def test_a_dead_kernel_gets_the_sandboxes_score_in_formgrader_and_feedback(course):
    course_dir, table, _ = course
    # the kernel's run (SurvivingExecute) scores the test cells it never ran 0: 74 here, as the sandbox
    assert table["os_exit"]["kernel"] == "74" and "kernel died" in table["os_exit"]["reason"]
    assert "overruled" not in table["os_exit"]["reason"]
    assert os.path.exists(os.path.join(course_dir, "autograded", "os_exit", "mlp", "mlp.ipynb"))
    feedback = open(os.path.join(course_dir, "feedback", "os_exit", "mlp", "mlp.html")).read()
    assert "Score: 74.0 / 100.0" in feedback
    assert "sandboxed grader" in feedback and "os._exit" in feedback, "the sandbox's messages reach the student"


@pytest.mark.slow
def test_feedback_shows_the_sandboxes_score_and_message(course):
    course_dir, _, _ = course
    feedback = open(os.path.join(course_dir, "feedback", "patched_run_check", "mlp", "mlp.html")).read()
    assert "Score: 94.0 / 100.0" in feedback
    assert "ReLU.derivative" in feedback, "the judge's message for the failed check"


@pytest.mark.slow
def test_sync_gradebook_reapplies_the_sandbox_after_autograde_by_hand(course):
    """An instructor runs `nbgrader autograde` by hand: the fooled kernel's score is back in the gradebook;
    `sync-gradebook` puts the sandbox's 94 back, and the export after it says 94. (Runs last: it
    re-autogrades one student of the shared course.)"""
    course_dir, _, _ = course
    proc = nbgrader(course_dir, "autograde", "mlp", "--student", "patched_run_check", "--force")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert grade_rows(course_dir, "patched_run_check")["test_relu"]["auto_score"] == CHECKS["relu"].points, \
        "the kernel decided again (fooled on test_relu)"
    kernel = gradebook_scores(course_dir)["patched_run_check"]
    proc = run(course_dir, "sync-gradebook", "mlp")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert re.search(rf"^patched_run_check\s+mlp\s+94\s+100\s+-\s+{kernel:g}\s+in-kernel verdict overruled", proc.stdout,
                     re.M)
    assert gradebook_scores(course_dir) == EXPECTED, "every student: the sandbox's score, again"
    assert nbgrader(course_dir, "export", "--to", "grades.csv").returncode == 0
    assert {s: float(row["score"]) for s, row in grades_csv(course_dir).items()} == EXPECTED


# --- autograder.gradebook on a real gradebook, no kernel -----------------------------------------

@pytest.fixture(scope="module")
def released(tmp_path_factory):
    """A course copy after `nbgrader generate_assignment` only: the assignment and its cells, no submission
    (each test below uses students of its own)."""
    course = make_course(str(tmp_path_factory.mktemp("released") / "course"))
    proc = nbgrader(course, "generate_assignment", "mlp", "--force")
    assert proc.returncode == 0, proc.stderr[-2000:]
    return course, os.path.join(course, "gradebook.db")


def full_marks(**changes):
    return {name: changes.get(name, check.points) for name, check in CHECKS.items()}


def test_every_grade_cell_maps_to_its_check(released):
    _, db = released
    with open_gradebook(db, COURSE_ID) as gb:
        assert cells_to_checks(gb, "mlp", "mlp") == {f"test_{name}": name for name in CHECKS}


def test_a_student_nbgrader_never_recorded_gets_a_submission_and_the_verdict(released):
    course, db = released
    report = sync_scores(db, "mlp", "mlp", "ghost", full_marks(relu=0), course_id=COURSE_ID)
    assert report.created and report.score == 94 and report.previous_score is None
    assert cell_scores(course, "ghost") == {f"test_{n}": (0 if n == "relu" else c.points) for n, c in CHECKS.items()}
    again = sync_scores(db, "mlp", "mlp", "ghost", full_marks(relu=0), course_id=COURSE_ID)
    assert not again.created and again.previous_score == 94 and again.changed == [], "idempotent"


def test_a_verdict_that_does_not_fit_is_refused_and_nothing_is_written(released):
    course, db = released
    sync_scores(db, "mlp", "mlp", "s_refused", full_marks(), course_id=COURSE_ID)
    incomplete = {k: v for k, v in full_marks().items() if k != "xor_training"}
    with pytest.raises(SyncError, match="xor_training"):
        sync_scores(db, "mlp", "mlp", "s_refused", dict(incomplete, relu=0), course_id=COURSE_ID)
    with pytest.raises(SyncError, match="out of range"):
        sync_scores(db, "mlp", "mlp", "s_refused", full_marks(relu=1000), course_id=COURSE_ID)
    assert gradebook_scores(course)["s_refused"] == 100


def test_no_verdict_leaves_the_cells_for_manual_grading_not_the_kernels_score(released):
    course, db = released
    sync_scores(db, "mlp", "mlp", "s_error", full_marks(), course_id=COURSE_ID)      # as if the kernel said 100
    report = sync_scores(db, "mlp", "mlp", "s_error", None, course_id=COURSE_ID)     # the grader failed
    assert report.score is None and report.unscored == sorted(f"test_{n}" for n in CHECKS)
    rows = grade_rows(course, "s_error")
    assert all(row["auto_score"] is None and row["needs_manual_grade"] for row in rows.values())
    report = sync_scores(db, "mlp", "mlp", "s_error", full_marks(sgd_step=None), course_id=COURSE_ID)
    assert report.unscored == ["test_sgd_step"] and grade_rows(course, "s_error")["test_sgd_step"]["needs_manual_grade"]


def test_a_human_override_wins_and_one_written_during_autograde_is_put_back(released):
    course, db = released
    sync_scores(db, "mlp", "mlp", "s_override", full_marks(), course_id=COURSE_ID)
    with open_gradebook(db, COURSE_ID) as gb:
        gb.find_grade("test_relu", "mlp", "mlp", "s_override").manual_score = 3      # the instructor's override
        gb.db.commit()
        before = snapshot_overrides(gb, "mlp")
        gb.find_grade("test_sigmoid", "mlp", "mlp", "s_override").extra_credit = 50   # written by a student's kernel
        gb.find_grade("test_evaluate", "mlp", "mlp", "s_override").manual_score = 1000
        gb.db.commit()
    report = sync_scores(db, "mlp", "mlp", "s_override", full_marks(relu=0, evaluate=0), course_id=COURSE_ID,
                         overrides=before)
    assert sorted(report.restored) == ["test_evaluate", "test_sigmoid"]
    assert report.overrides == {"test_relu": 3}
    assert report.score == 100 - 6 + 3 - 7
    rows = grade_rows(course, "s_override")
    assert rows["test_relu"]["needs_manual_grade"] and rows["test_relu"]["auto_score"] == 0
    assert rows["test_evaluate"]["manual_score"] is None and rows["test_sigmoid"]["extra_credit"] is None


def test_sync_gradebook_refuses_what_it_cannot_do(released, tmp_path):
    course, db = released
    proc = run(course, "sync-gradebook", "another_assignment")
    assert proc.returncode == 2 and "no assignment 'another_assignment'" in proc.stderr and "mlp" in proc.stderr
    proc = run(course, "sync-gradebook", "mlp", "--student", "nobody")
    assert proc.returncode == 2 and "nobody" in proc.stderr
    bare = make_course(str(tmp_path / "bare"))
    proc = run(bare, "sync-gradebook", "mlp")
    assert proc.returncode == 2 and "no gradebook" in proc.stderr


@pytest.mark.slow
def test_a_kernel_that_rewrites_the_grader_stops_the_run(tmp_path):
    """nbgrader's kernels run with the instructor's permissions: one that edits autograder/ is noticed,
    and nothing is synced or exported (the grader's files must be restored first)."""
    course = make_course(str(tmp_path / "course"))
    submissions = tmp_path / "submissions"
    submissions.mkdir()
    tamper = ("import os as _o\n_d = _o.getcwd()\nwhile _d != '/' and not _o.path.exists(_o.path.join(_d, 'nbgrader_config.py')):\n"
              "    _d = _o.path.dirname(_d)\n"
              "with open(_o.path.join(_d, 'autograder', 'judges.py'), 'a') as _f:\n    _f.write('\\n# tampered\\n')\n")
    nb = json.loads(open(os.path.join(SUBMISSIONS, "perfect.ipynb"), encoding="utf-8").read())
    cell = next(c for c in nb["cells"] if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "activations")
    cell["source"] = tamper + "".join(cell["source"])
    (submissions / "mallory.ipynb").write_text(json.dumps(nb), encoding="utf-8")
    proc = run(course, "nbgrader-run", "--submissions", str(submissions), "--no-pytest")
    assert proc.returncode == 1 and "changed while nbgrader autograde" in proc.stderr
    assert "# tampered" in open(os.path.join(course, "autograder", "judges.py"), encoding="utf-8").read()
    assert not os.path.exists(os.path.join(course, "grades.csv"))


# --- hand-graded cells (multiclass's written answers): left to Formgrader, added by nbgrader export ---------

@pytest.fixture(scope="module")
def released_multiclass(tmp_path_factory):
    """A course copy after `nbgrader generate_assignment multiclass` only (no kernel runs)."""
    course = make_course(str(tmp_path_factory.mktemp("released_mc") / "course"))
    proc = nbgrader(course, "generate_assignment", "multiclass", "--force")
    assert proc.returncode == 0, proc.stderr[-2000:]
    return course, os.path.join(course, "gradebook.db")


def test_answer_cells_are_not_auto_graded_but_a_code_cell_without_a_check_is_refused(released_multiclass):
    from autograder.assignments import get
    _, db = released_multiclass
    checks = get("multiclass").checks
    with open_gradebook(db, COURSE_ID) as gb:
        assert cells_to_checks(gb, "multiclass", "multiclass") == {f"test_{name}": name for name in checks}
        answers = {c.name for c in gb.find_notebook("multiclass", "multiclass").grade_cells if c.cell_type == "markdown"}
        assert len(answers) == 5
        gb.find_source_cell("test_mc_l2", "multiclass", "multiclass").source = "assert True  # no run_check"
        with pytest.raises(SyncError, match="test_mc_l2"):
            cells_to_checks(gb, "multiclass", "multiclass")
        gb.db.rollback()


def test_a_manual_score_joins_the_export_and_survives_the_sync(released_multiclass):
    """As Formgrader: an instructor scores a written answer; nbgrader export's total is the sandbox's
    automatic points plus it, and syncing the sandbox's verdict again leaves it as it is."""
    from autograder.assignments import get
    course, db = released_multiclass
    checks = get("multiclass").checks
    verdict = {name: (0 if name == "mc_l2" else check.points) for name, check in checks.items()}
    report = sync_scores(db, "multiclass", "multiclass", "mc_student", verdict, course_id=COURSE_ID)
    assert report.auto_score == 72 and report.manual_max == 20 and len(report.manual_pending) == 5
    with open_gradebook(db, COURSE_ID) as gb:
        grade = gb.find_grade("answer_hidden_sizes", "multiclass", "multiclass", "mc_student")
        assert grade.needs_manual_grade and grade.auto_score is None, "Formgrader lists it for grading"
        grade.manual_score = 3                       # what Formgrader's grading view writes
        grade.needs_manual_grade = False
        gb.db.commit()
    again = sync_scores(db, "multiclass", "multiclass", "mc_student", verdict, course_id=COURSE_ID)
    assert again.manual["answer_hidden_sizes"] == 3 and again.score == 72 + 3
    assert len(again.manual_pending) == 4 and not again.restored and not again.overrides
    assert nbgrader(course, "export", "--to", "grades.csv").returncode == 0
    with open(os.path.join(course, "grades.csv"), newline="") as f:
        [row] = [r for r in csv.DictReader(f) if r["student_id"] == "mc_student"]
    assert row["assignment"] == "multiclass" and float(row["raw_score"]) == 72 + 3
    assert float(row["max_score"]) == 100


def test_an_answer_score_written_during_autograde_is_put_back_and_the_instructors_stays(released_multiclass):
    """A student's kernel runs with the instructor's permissions during `nbgrader autograde`: a manual score
    or extra credit it writes on a hand-graded answer is put back to what the snapshot taken before
    autograde holds (nothing, for a new submission); an instructor's earlier grade is kept."""
    from autograder.assignments import get
    course, db = released_multiclass
    verdict = {name: check.points for name, check in get("multiclass").checks.items()}
    sync_scores(db, "multiclass", "multiclass", "mc_forger", verdict, course_id=COURSE_ID)
    with open_gradebook(db, COURSE_ID) as gb:
        gb.find_grade("answer_learning_rates", "multiclass", "multiclass", "mc_forger").manual_score = 2   # the TA's
        gb.db.commit()
        before = snapshot_overrides(gb, "multiclass")
        for answer in ("answer_hidden_sizes", "answer_learning_rates"):                # the kernel's
            grade = gb.find_grade(answer, "multiclass", "multiclass", "mc_forger")
            grade.manual_score, grade.extra_credit = 1000, 50
        gb.db.commit()
    report = sync_scores(db, "multiclass", "multiclass", "mc_forger", verdict, course_id=COURSE_ID,
                         overrides=before)
    assert sorted(report.restored) == ["answer_hidden_sizes", "answer_learning_rates"]
    assert report.manual["answer_learning_rates"] == 2 and report.manual["answer_hidden_sizes"] is None
    assert report.score == 80 + 2
    rows = grade_rows(course, "mc_forger", "multiclass")
    assert rows["answer_hidden_sizes"]["manual_score"] is None and rows["answer_hidden_sizes"]["extra_credit"] is None
    assert rows["answer_hidden_sizes"]["needs_manual_grade"], "Formgrader still lists it for grading"
    assert rows["answer_learning_rates"]["manual_score"] == 2 and rows["answer_learning_rates"]["extra_credit"] is None


def test_rows_of_submissions_outside_the_run_are_put_back_too(released):
    """nbgrader-run snapshots every assignment's manual scores before any kernel runs: a kernel that writes
    rows of a student not graded in this run has them put back by restore_untouched; the synced ones are
    left to sync_scores."""
    from autograder.gradebook import restore_untouched
    course, db = released
    for student in ("s_graded", "s_other"):
        sync_scores(db, "mlp", "mlp", student, full_marks(), course_id=COURSE_ID)
    with open_gradebook(db, COURSE_ID) as gb:
        gb.find_grade("test_relu", "mlp", "mlp", "s_other").manual_score = 1       # the instructor's
        gb.db.commit()
        before = {"mlp": snapshot_overrides(gb, "mlp"), "multiclass": snapshot_overrides(gb, "multiclass")}
        for student in ("s_graded", "s_other"):                                   # a kernel's
            for cell in ("test_relu", "test_sigmoid"):
                grade = gb.find_grade(cell, "mlp", "mlp", student)
                grade.manual_score, grade.extra_credit = 1000, 50
        gb.db.commit()
        changes = restore_untouched(gb, before, {("s_graded", "mlp")})
    assert sorted((s, c, wanted) for s, _, c, _, wanted in changes) == [
        ("s_other", "test_relu", {"manual_score": 1, "extra_credit": None}),
        ("s_other", "test_sigmoid", {"manual_score": None, "extra_credit": None})]
    assert grade_rows(course, "s_other")["test_sigmoid"]["manual_score"] is None
    assert grade_rows(course, "s_other")["test_relu"]["manual_score"] == 1
    assert grade_rows(course, "s_graded")["test_relu"]["manual_score"] == 1000, "left to sync_scores"


def test_a_later_kernels_auto_score_on_an_answer_is_put_back(released_multiclass):
    """nbgrader's auto score of a hand-graded answer (0 for an answer left as released, else None: the
    instructor grades it) counts when no manual score exists: a later student's kernel that sets it to
    the maximum has it put back, from the snapshot taken right after the student's own autograde (synced
    students) or before any kernel ran (students outside the run)."""
    from autograder.assignments import get
    from autograder.gradebook import restore_untouched, snapshot_auto
    course, db = released_multiclass
    verdict = {name: check.points for name, check in get("multiclass").checks.items()}
    for student in ("mc_early", "mc_outside"):
        sync_scores(db, "multiclass", "multiclass", student, verdict, course_id=COURSE_ID)
    with open_gradebook(db, COURSE_ID) as gb:
        after_own = snapshot_auto(gb, "multiclass", "mc_early")
        before = {"multiclass": snapshot_auto(gb, "multiclass")}
        manual = {"multiclass": snapshot_overrides(gb, "multiclass")}
        assert after_own[("mc_early", "answer_batch_sizes", "multiclass")] == (None, True), "needs grading"
        for student in ("mc_early", "mc_outside"):                                    # a later kernel's
            grade = gb.find_grade("answer_batch_sizes", "multiclass", "multiclass", student)
            grade.auto_score, grade.needs_manual_grade = 4.0, False
        gb.db.commit()
        changes = restore_untouched(gb, manual, {("mc_early", "multiclass")}, before)
    assert [(s, c, wanted) for s, _, c, _, wanted in changes] == [("mc_outside", "answer_batch_sizes",
                                                                  {"auto_score": None, "needs_manual_grade": True})]
    report = sync_scores(db, "multiclass", "multiclass", "mc_early", verdict, course_id=COURSE_ID, answers=after_own)
    assert "answer_batch_sizes" in report.restored and report.score == 80
    for student in ("mc_early", "mc_outside"):
        row = grade_rows(course, student, "multiclass")["answer_batch_sizes"]
        assert row["auto_score"] is None and row["needs_manual_grade"], "Formgrader lists it for grading again"
