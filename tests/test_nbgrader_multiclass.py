"""End to end with the real nbgrader CLI: the main job on the multiclass examples (and two of mlp's).

`python -m autograder nbgrader-run --submissions DIR` on a folder holding the multiclass examples
(examples/multiclass_catalogue.py, recognised as multiclass from their grade ids), mlp's perfect and its
unreadable invalid_json: both assignments are released, autograded, synced and exported in one run.
Checked: each multiclass example's automatic score is the one its code deserves (the catalogue's exact
failing checks) and `python -m autograder grade`'s; the five written answers are left for Formgrader
(no score, "needs manual grading"); a manual score given as Formgrader gives it joins the export's total,
and survives a second sync. A fixed sample of the hand-written corpus (tests/multiclass_corpus.py: a mutant
per auto-graded check, and every sixth correct alternative) goes through the same run: the score
nbgrader records is the one the sandboxed batch grades of tests/test_multiclass.py require. Slow (a kernel importing torch per submission): marked `slow`, except the
check that the committed examples are the catalogue's and are recognised as multiclass.
"""
import csv
import json
import os
import shutil
import subprocess
import sys

import pytest

from autograder.assignments import get
from examples.catalogue import SUBMISSIONS
from examples.multiclass_catalogue import EXAMPLES, build
from nbgrader_course import COURSE_ID, make_course, nbgrader
from tests import multiclass_corpus

CHECKS = get("multiclass").checks
AUTO = sum(c.points for c in CHECKS.values())                 # 80
ANSWERS = ["answer_hidden_sizes", "answer_activations", "answer_learning_rates", "answer_batch_sizes",
           "answer_gradient_norms"]
MLP = ("perfect", "invalid_json")


def one_mutant_per_check():
    """The first mutant of the corpus for each auto-graded check (the spiral run counts only for the
    mutants that break nothing else): 8 notebooks, every part of the assignment."""
    seen, sample = set(), []
    for mutant in multiclass_corpus.MUTANTS:
        own = set(mutant.fails) - {multiclass_corpus.SPIRAL} or {multiclass_corpus.SPIRAL}
        if not own & seen:
            seen |= own
            sample.append(mutant)
    return sample


CORPUS_SAMPLE = one_mutant_per_check() + multiclass_corpus.ALTERNATIVES[::6]
CORPUS_STUDENTS = {"corpus_" + e.name: e for e in CORPUS_SAMPLE}
MC_STUDENTS = [e.name for e in EXAMPLES] + list(CORPUS_STUDENTS)


def run(course, *args):
    return subprocess.run([sys.executable, "-m", "autograder", *args], cwd=course, capture_output=True, text=True)


def parse_table(stdout, students):
    """{student: row} of the grade table: student assignment score max auto manual kernel pytest reason."""
    table = {}
    for line in stdout.splitlines():
        parts = line.split(None, 8)
        if len(parts) >= 8 and parts[0] in students:
            table[parts[0]] = dict(zip(("assignment", "score", "max", "auto", "manual", "kernel", "pytest", "reason"),
                                       parts[1:] + [""] * (9 - len(parts))))
    return table


def exported(course):
    with open(os.path.join(course, "grades.csv"), newline="") as f:
        return {(row["student_id"], row["assignment"]): row for row in csv.DictReader(f)}


def grades(course, student):
    """{grade cell: Grade.to_dict()} of the student's multiclass notebook, as Formgrader reads them."""
    from autograder.gradebook import open_gradebook
    with open_gradebook(os.path.join(course, "gradebook.db"), COURSE_ID) as gb:
        return {g.name: g.to_dict() for g in gb.find_submission_notebook("multiclass", "multiclass", student).grades}


def test_the_examples_are_the_catalogues_and_are_recognised_as_multiclass():
    """examples/submissions/mc_*.ipynb are what `python -m examples.multiclass_catalogue` writes from the
    current release (rerun it after changing the release), and nbgrader-run reads them as multiclass."""
    from autograder.nbgrader_run import find_submissions
    found, notes = find_submissions(SUBMISSIONS)
    for example in EXAMPLES:
        with open(example.path, encoding="utf-8") as f:
            assert f.read() == build(example), f"{example.name}: stale, rerun python -m examples.multiclass_catalogue"
        assert found[(example.name, "multiclass")] == example.path
    solutions = ["".join(c["source"]) for c in json.loads(build(EXAMPLES[0]))["cells"]
                 if c["metadata"].get("nbgrader", {}).get("solution")]
    assert len(solutions) == 14 and not any(marker in source for source in solutions for marker in (
        "### BEGIN SOLUTION", "### END SOLUTION", "YOUR CODE HERE", "YOUR ANSWER HERE", "NotImplementedError"))
    assert notes == ["invalid_json.ipynb: cannot tell its assignment (not valid notebook JSON): graded for 'mlp', "
                     "the course's first assignment (name it <student>.<assignment>.ipynb, or pass one "
                     "--assignment, to choose)"]


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    root = tmp_path_factory.mktemp("mc")
    course = make_course(str(root / "course"))
    given = root / "submissions"
    given.mkdir()
    for name in [e.name for e in EXAMPLES] + list(MLP):
        shutil.copy(os.path.join(SUBMISSIONS, name + ".ipynb"), given)
    for student, example in CORPUS_STUDENTS.items():
        (given / (student + ".ipynb")).write_text(multiclass_corpus.build(example), encoding="utf-8")
    proc = run(course, "nbgrader-run", "--submissions", str(given))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return course, parse_table(proc.stdout, set(MC_STUDENTS) | set(MLP)), proc.stdout


@pytest.mark.slow
@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e.name)
def test_each_multiclass_example_gets_the_automatic_score_its_code_deserves(course, example):
    course_dir, table, _ = course
    row = table[example.name]
    deserved = AUTO - sum(CHECKS[name].points for name in example.fails)
    assert row["assignment"] == "multiclass" and row["max"] == "100"
    assert float(row["auto"]) == float(row["score"]) == float(row["pytest"]) == deserved
    if example.kind == "perfect":           # written answers: for the instructor
        assert row["manual"] == "?/20" and "needs manual grading: 5 of 5 answer cell(s)" in row["reason"]
    else:                                   # answers left as released: nbgrader itself scores them 0
        assert row["manual"] == "0/20" and "needs manual grading" not in row["reason"]
    assert float(row["kernel"]) == deserved, "the in-kernel run agrees on an honest submission"
    cells = grades(course_dir, example.name)
    failed = {name for name in CHECKS if cells[f"test_{name}"]["auto_score"] < CHECKS[name].points}
    assert failed == set(example.fails)
    assert all(cells[f"test_{name}"]["auto_score"] == 0 for name in failed), "cells are all-or-nothing"
    for answer in ANSWERS:       # never scored by the sync; a written one is left for Formgrader, flagged
        assert cells[answer]["manual_score"] is None
        if example.kind == "perfect":
            assert cells[answer]["auto_score"] is None and cells[answer]["needs_manual_grade"]
        else:
            assert cells[answer]["auto_score"] == 0 and not cells[answer]["needs_manual_grade"]
    assert float(exported(course_dir)[(example.name, "multiclass")]["raw_score"]) == deserved


@pytest.mark.slow
@pytest.mark.parametrize("student", list(CORPUS_STUDENTS))
def test_the_corpus_sample_gets_the_same_score_through_nbgrader(course, student):
    """Each corpus notebook's recorded score is what it deserves: full marks for an alternative, the
    points of its part (and, for a broken model or optimiser, of the spiral run) lost for a mutant;
    the pytest path says the same. The in-kernel run (never recorded) can only say less: the visible
    asserts use the student's own functions, so a broken forward also fails backward's visible test."""
    course_dir, table, _ = course
    example, row = CORPUS_STUDENTS[student], table[student]
    deserved = AUTO - sum(CHECKS[name].points for name in example.fails)
    assert row["assignment"] == "multiclass" and row["manual"] == "0/20"
    assert float(row["auto"]) == float(row["score"]) == float(row["pytest"]) == deserved, row
    assert float(row["kernel"]) <= deserved if example.fails else float(row["kernel"]) == deserved, row
    cells = grades(course_dir, student)
    assert {name for name in CHECKS if cells[f"test_{name}"]["auto_score"] < CHECKS[name].points} == set(example.fails)


@pytest.mark.slow
@pytest.mark.parametrize("student", ["mc_perfect", "mc_backward_wrong_sign"])
def test_the_recorded_score_is_python_m_autograder_grades(course, student, tmp_path):
    course_dir, table, _ = course
    out = tmp_path / "results.json"
    proc = run(course_dir, "grade", os.path.join(SUBMISSIONS, student + ".ipynb"), "--json", str(out))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(out.read_text())["score"] == float(table[student]["auto"])


@pytest.mark.slow
def test_one_run_grades_both_assignments_and_one_export_holds_them(course):
    course_dir, table, stdout = course
    assert table["perfect"]["assignment"] == "mlp" and table["perfect"]["score"] == "100"
    assert table["invalid_json"]["score"] == "0" and "not valid notebook JSON" in table["invalid_json"]["reason"]
    assert "release: nbgrader generate_assignment mlp" in stdout
    assert "release: nbgrader generate_assignment multiclass" in stdout
    rows = exported(course_dir)
    students = set(MC_STUDENTS) | set(MLP)
    assert set(rows) == {(s, a) for s in students for a in ("mlp", "multiclass")}, "a row per student per assignment"
    assert float(rows[("perfect", "mlp")]["raw_score"]) == 100
    for example in EXAMPLES:
        assert os.path.exists(os.path.join(course_dir, "feedback", example.name, "multiclass", "multiclass.html"))
    assert f"written: feedback/<student>/multiclass/multiclass.html for {len(MC_STUDENTS)} of the " \
           f"{len(MC_STUDENTS)} " in stdout
    assert "1 submission(s) need manual grading in Formgrader" in stdout      # mc_perfect: the others wrote none


@pytest.mark.slow
def test_formgrader_lists_the_answers_for_grading(course):
    from nbgrader.apps.api import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    course_dir, _, _ = course
    api = NbGraderAPI(coursedir=CourseDirectory(root=course_dir, course_id=COURSE_ID))
    submissions = {s["student"]: s for s in api.get_submissions("multiclass")}
    assert submissions["mc_perfect"]["autograded"] and submissions["mc_perfect"]["needs_manual_grade"]
    assert submissions["mc_perfect"]["max_score"] == 100 and submissions["mc_perfect"]["score"] == AUTO


@pytest.mark.slow
def test_a_manual_score_joins_the_export_and_a_second_sync_keeps_it(course):
    """Runs last: grades mc_perfect's answers as Formgrader's grading view does (manual_score on each
    answer's Grade), then export: 80 + 20; `sync-gradebook multiclass` again: the manual points stay."""
    from autograder.gradebook import open_gradebook
    course_dir, _, _ = course
    with open_gradebook(os.path.join(course_dir, "gradebook.db"), COURSE_ID) as gb:
        for answer in ANSWERS:
            grade = gb.find_grade(answer, "multiclass", "multiclass", "mc_perfect")
            grade.manual_score, grade.needs_manual_grade = 4, False
        gb.db.commit()
    assert nbgrader(course_dir, "export", "--to", "grades.csv").returncode == 0
    assert float(exported(course_dir)[("mc_perfect", "multiclass")]["raw_score"]) == AUTO + 20
    proc = run(course_dir, "sync-gradebook", "multiclass", "--student", "mc_perfect")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    line = next(l for l in proc.stdout.splitlines() if l.startswith("mc_perfect "))
    assert line.split()[1:5] == ["multiclass", "100", "100", "20/20"], line
    assert all(grades(course_dir, "mc_perfect")[a]["manual_score"] == 4 for a in ANSWERS)
    assert nbgrader(course_dir, "export", "--to", "grades.csv").returncode == 0
    assert float(exported(course_dir)[("mc_perfect", "multiclass")]["raw_score"]) == AUTO + 20
