"""grade-all (autograder/batch.py) on one assignment (mlp): statuses, resume, --force, atomic results,
shards, merge, gradebook; and the per-unit pieces (units, totals, headers, fingerprints) without grading.

Every grading test grades real notebooks (copies of examples/submissions/) in the real sandbox, with a
short per-check time limit where a submission loops forever. A class of both assignments is graded in
tests/test_batch_course.py.
"""
import csv
import json
import io
import os
import re
import shutil
import subprocess
import sys
import time

import pytest

from autograder import batch, sandbox
from autograder.__main__ import main as cli
from autograder.assignments.mlp.checks import CHECKS
from autograder.grade import NO_CODE_RAN
from autograder.assignments.mlp.judges import Verdict
from autograder.sandbox import ROOT
from examples.catalogue import BY_NAME

EXAMPLES = os.path.join(ROOT, "examples", "submissions")


def deserved(example):
    """The score an example submission deserves: 100 minus the points of the checks it must fail."""
    return f"{100 - sum(CHECKS[name].points for name in BY_NAME[example].fails):g}"


def make_class(directory, students):
    """DIR/<student>/mlp/mlp.ipynb from {student: example name or raw bytes}."""
    for student, what in students.items():
        folder = os.path.join(directory, student, "mlp")
        os.makedirs(folder, exist_ok=True)
        target = os.path.join(folder, "mlp.ipynb")
        if isinstance(what, bytes):
            with open(target, "wb") as f:
                f.write(what)
        else:
            shutil.copy(os.path.join(EXAMPLES, what + ".ipynb"), target)
    return str(directory)


def read_csv(path):
    with open(path, newline="") as f:
        return {row["student"]: row for row in csv.DictReader(f)}


def grade_all(tmp_path, directory, *extra, out="grades.csv"):
    """Run the CLI in-process (cwd: tmp_path, so no stray ./gradebook.db is picked up)."""
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        return cli(["grade-all", directory, "--jobs", "2", "--out", out, "--results-dir", "results", *extra])
    finally:
        os.chdir(cwd)


def run_main(tmp_path, directory, **options):
    """batch.main (the options the CLI may not pass yet: assignment, totals) in cwd tmp_path, 2 workers."""
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        return batch.main(str(directory), jobs=2, results_dir="results", **options)
    finally:
        os.chdir(cwd)


def record(tmp_path, student, assignment="mlp"):
    with open(tmp_path / "results" / assignment / student / "results.json") as f:
        return json.load(f)


def test_statuses_scores_and_gradescope_results(tmp_path):
    directory = make_class(tmp_path / "class", {
        "ann": "perfect", "ben": "no_relu_mask", "cat": "os_exit", "dan": "invalid_json",
        "eve": "endless_loop", "fay": b"", "gus": "syntax_error"})
    assert grade_all(tmp_path, directory, "--timeout", "2") == 0
    rows = read_csv(tmp_path / "grades.csv")
    got = {s: (r["score"], r["status"]) for s, r in rows.items()}
    assert got == {"ann": ("100", "graded"), "ben": (deserved("no_relu_mask"), "graded"),
                   "cat": (deserved("os_exit"), "crashed"), "dan": ("0", "invalid"),
                   "eve": (deserved("endless_loop"), "timeout"), "fay": ("0", "invalid"),
                   "gus": (deserved("syntax_error"), "graded")}
    assert "os._exit" in rows["cat"]["reason"] and "cell 'evaluate'" in rows["cat"]["reason"]
    assert "time limit of 2 s" in rows["eve"]["reason"] and "train_loop" in rows["eve"]["reason"]
    assert "invalid JSON" in rows["dan"]["reason"] and "empty" in rows["fay"]["reason"]
    assert rows["ann"]["reason"] == rows["ben"]["reason"] == ""
    isolation = rows["ann"]["isolation"]
    assert isolation and isolation != "unknown"
    assert {s: r["isolation"] for s, r in rows.items()} == {
        s: NO_CODE_RAN if s in ("dan", "fay") else isolation for s in rows}
    ann = record(tmp_path, "ann")
    assert ann["assignment"] == "mlp" and ann["student"] == "ann"
    assert {r["assignment"] for r in rows.values()} == {"mlp"}
    assert ann["score"] == 100 and ann["max_score"] == 100 and len(ann["tests"]) == 13
    assert {t["status"] for t in ann["tests"]} == {"passed"} and ann["isolation"] == isolation
    assert (record(tmp_path, "dan")["status"], record(tmp_path, "dan")["isolation"]) == ("invalid", NO_CODE_RAN)
    with open(os.path.join(directory, "ann", "mlp", "mlp.ipynb"), "rb") as f:
        import hashlib
        assert ann["submission_sha256"] == hashlib.sha256(f.read()).hexdigest()
    eve = record(tmp_path, "eve")
    failed = {t["name"] for t in eve["tests"] if t["status"] == "failed"}
    assert len(failed) == 2 and all("time limit" in t["output"] for t in eve["tests"] if t["status"] == "failed")
    # atomic writes leave no temporary files behind
    leftovers = [n for _, _, files in os.walk(tmp_path) for n in files if ".tmp" in n]
    assert leftovers == []


def test_the_progress_names_a_student_that_takes_long(tmp_path, capsys):
    """An endless loop with a 6 s limit per check keeps eve graded for more than 5 s: the progress says so."""
    directory = make_class(tmp_path / "class", {"eve": "endless_loop"})
    assert grade_all(tmp_path, directory, "--timeout", "6") == 0
    err = capsys.readouterr().err
    assert re.search(r"^  still grading eve/mlp: \d+ s$", err, re.M), err


def test_resume_grades_only_the_rest_and_regrades_a_changed_notebook(tmp_path, capsys):
    directory = tmp_path / "class"
    make_class(directory, {"ann": "perfect", "ben": "no_relu_mask"})
    assert grade_all(tmp_path, str(directory)) == 0
    stamp = {s: os.stat(tmp_path / "results" / "mlp" / s / "results.json").st_mtime_ns for s in ("ann", "ben")}
    capsys.readouterr()
    # "the interrupted run": two more students arrive, ben resubmits
    make_class(directory, {"cat": "sgd_sign_error", "dan": "blank", "ben": "perfect"})
    assert grade_all(tmp_path, str(directory)) == 0
    out = capsys.readouterr().out
    assert "graded now: 3, already graded (resumed): 1" in out
    assert os.stat(tmp_path / "results" / "mlp" / "ann" / "results.json").st_mtime_ns == stamp["ann"]
    assert os.stat(tmp_path / "results" / "mlp" / "ben" / "results.json").st_mtime_ns != stamp["ben"]
    rows = read_csv(tmp_path / "grades.csv")
    assert {s: r["score"] for s, r in rows.items()} == {"ann": "100", "ben": "100",
                                                      "cat": deserved("sgd_sign_error"), "dan": "0"}
    # nothing left to do: nothing regraded; --force regrades all
    assert grade_all(tmp_path, str(directory)) == 0
    assert "graded now: 0, already graded (resumed): 4" in capsys.readouterr().out
    assert grade_all(tmp_path, str(directory), "--force") == 0
    assert "graded now: 4, already graded (resumed): 0" in capsys.readouterr().out


def test_a_record_from_another_grader_version_is_regraded(tmp_path, capsys):
    directory = make_class(tmp_path / "class", {"ann": "blank"})
    grade_all(tmp_path, directory)
    path = tmp_path / "results" / "mlp" / "ann" / "results.json"
    data = json.loads(path.read_text())
    data["grader_sha256"] = "0" * 64
    path.write_text(json.dumps(data))
    capsys.readouterr()
    grade_all(tmp_path, directory)
    assert "graded now: 1, already graded (resumed): 0" in capsys.readouterr().out
    assert record(tmp_path, "ann")["grader_sha256"] == batch.grader_sha256("mlp")


def test_force_regrade_of_a_now_broken_submission_does_not_keep_the_old_score(tmp_path):
    directory = make_class(tmp_path / "class", {"ann": "perfect"})
    grade_all(tmp_path, directory)
    assert read_csv(tmp_path / "grades.csv")["ann"]["score"] == "100"
    make_class(tmp_path / "class", {"ann": "invalid_json"})
    grade_all(tmp_path, directory, "--force")
    row = read_csv(tmp_path / "grades.csv")["ann"]
    assert (row["score"], row["status"]) == ("0", "invalid")
    assert record(tmp_path, "ann")["score"] == 0


def test_a_grader_failure_during_a_regrade_leaves_an_error_not_the_old_score(tmp_path, monkeypatch):
    directory = make_class(tmp_path / "class", {"ann": "perfect"})
    grade_all(tmp_path, directory)

    def broken(*args, **kwargs):
        raise RuntimeError("the sandbox fork server exited")
    monkeypatch.setattr(batch, "grade_unit", broken)   # the grader breaks, not the student's code
    assert grade_all(tmp_path, directory, "--force") == 1
    row = read_csv(tmp_path / "grades.csv")["ann"]
    assert (row["score"], row["status"]) == ("", "error") and "fork server exited" in row["reason"]
    monkeypatch.undo()
    assert grade_all(tmp_path, directory) == 0                 # an error record is retried on resume
    assert read_csv(tmp_path / "grades.csv")["ann"]["score"] == "100"


def test_a_judge_reporting_a_grader_error_makes_the_student_error_not_a_lower_score(tmp_path, monkeypatch):
    directory = make_class(tmp_path / "class", {"ann": "perfect", "ben": "no_relu_mask"})
    from autograder.assignments.mlp import judges as mlp_judges
    real = mlp_judges.run_judge

    def judge(name, data, inputs):
        if name == "evaluate":
            return Verdict(False, "grader error (not your mistake): the judge broke", grader_error=True)
        return real(name, data, inputs)
    monkeypatch.setattr(mlp_judges, "run_judge", judge)
    assert grade_all(tmp_path, directory) == 1
    rows = read_csv(tmp_path / "grades.csv")
    for student in ("ann", "ben"):
        assert (rows[student]["score"], rows[student]["status"]) == ("", "error")
        assert "grader error (not the student's)" in rows[student]["reason"]
        assert "check 'evaluate'" in rows[student]["reason"]
    tests = record(tmp_path, "ann")["tests"]
    assert [t["status"] for t in tests if t["name"] == CHECKS["evaluate"].title] == ["failed"]
    monkeypatch.undo()
    assert grade_all(tmp_path, directory) == 0                 # an error is regraded on the next run
    assert read_csv(tmp_path / "grades.csv")["ann"]["score"] == "100"


def test_no_isolation_stops_grade_all_with_its_one_line_reason(tmp_path, monkeypatch, capsys):
    directory = make_class(tmp_path / "class", {"ann": "perfect", "ben": b"{"})
    monkeypatch.setattr(sandbox, "bwrap_path", lambda: None)          # a machine without bubblewrap
    assert grade_all(tmp_path, directory) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("cannot sandbox student code") and "--trust-submissions" in err
    assert not os.path.exists(tmp_path / "grades.csv")


def test_trust_submissions_is_passed_to_every_fork_server(tmp_path, monkeypatch):
    directory = make_class(tmp_path / "class", {"ann": "perfect", "ben": "blank"})
    monkeypatch.setattr(sandbox, "bwrap_path", lambda: None)          # trusted: no sandbox is needed
    assert grade_all(tmp_path, directory, "--trust-submissions") == 0
    rows = read_csv(tmp_path / "grades.csv")
    assert rows["ann"]["score"] == "100" and rows["ben"]["score"] == "0"
    assert {row["isolation"] for row in rows.values()} == {sandbox.TRUSTED}


def descendants(pid):
    """pids of every live descendant of `pid`."""
    children = {}
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
            children.setdefault(int(stat[stat.rindex(")") + 2:].split()[1]), []).append(int(entry))
        except (OSError, ValueError):
            pass
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1][0] != "Z"
    except OSError:
        return False


@pytest.mark.slow                                   # ~9 s: a subprocess grader, killed and rerun
def test_a_killed_run_leaves_complete_results_no_sandbox_and_resumes(tmp_path):
    students = {f"s{i:02d}": "perfect" for i in range(4)}
    students["zz_loop"] = "endless_loop"          # graded last, and loops for 30 s
    directory = make_class(tmp_path / "class", students)
    command = [sys.executable, "-m", "autograder", "grade-all", directory, "--jobs", "1",
               "--out", str(tmp_path / "grades.csv"), "--results-dir", str(tmp_path / "results")]
    proc = subprocess.Popen(command + ["--timeout", "30"], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not os.path.exists(tmp_path / "results" / "mlp" / "s03" / "results.json") and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)                               # the endless loop is running in a sandbox now
    sandbox = descendants(proc.pid)
    assert len(sandbox) >= 3                      # fork server, the cells process, the check process
    proc.kill()                                   # SIGKILL: no chance to clean up
    proc.wait()
    deadline = time.monotonic() + 5
    while any(alive(p) for p in sandbox) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(alive(p) for p in sandbox)     # the sandbox died with its grader
    done = sorted(s for s in students if os.path.exists(tmp_path / "results" / "mlp" / s / "results.json"))
    assert done == ["s00", "s01", "s02", "s03"]
    assert all(record(tmp_path, s)["score"] == 100 for s in done)
    stamps = {s: os.stat(tmp_path / "results" / "mlp" / s / "results.json").st_mtime_ns for s in done}
    assert subprocess.run(command + ["--timeout", "1"], cwd=ROOT, capture_output=True).returncode == 0
    assert all(os.stat(tmp_path / "results" / "mlp" / s / "results.json").st_mtime_ns == stamps[s] for s in done)
    rows = read_csv(tmp_path / "grades.csv")
    assert {s: (r["score"], r["status"]) for s, r in rows.items()} == {
        **{s: ("100", "graded") for s in done}, "zz_loop": (deserved("endless_loop"), "timeout")}


def test_shards_partition_the_class_deterministically():
    ids = [f"student{i:03d}" for i in range(200)] + ["zoë", "o'brien", "a-b"]
    for n in (1, 2, 3, 4, 7):
        shards = [batch.shard_of(s, n) for s in ids]
        assert set(shards) <= set(range(1, n + 1))
        assert shards == [batch.shard_of(s, n) for s in ids]            # deterministic
        if n > 1:
            sizes = [shards.count(i) for i in range(1, n + 1)]
            assert min(sizes) > len(ids) / n / 2                         # no empty or tiny shard
    assert batch.parse_shard("2/4") == (2, 4)
    for bad in ("0/4", "5/4", "2", "a/b"):
        with pytest.raises(ValueError):
            batch.parse_shard(bad)


def test_shard_runs_merge_to_the_full_run(tmp_path, capsys):
    students = {f"s{i:02d}": ("blank" if i % 3 else "no_relu_mask") for i in range(9)}
    students.update({"bad1": b"{", "bad2": b""})
    directory = make_class(tmp_path / "class", students)
    outs = []
    for i in (1, 2, 3):
        assert grade_all(tmp_path, directory, "--shard", f"{i}/3", out=f"grades-{i}.csv") == 0
        outs.append(str(tmp_path / f"grades-{i}.csv"))
    per_shard = [set(read_csv(p)) for p in outs]
    assert sum(len(s) for s in per_shard) == len(students) and set().union(*per_shard) == set(students)
    assert batch.merge_main(outs, str(tmp_path / "merged.csv"), totals=str(tmp_path / "merged-totals.csv")) == 0
    assert "merged 3 file(s): 11 submission(s) of 11 student(s)" in capsys.readouterr().out
    assert run_main(tmp_path, directory, out="full.csv", totals="full-totals.csv") == 0
    for merged, full in (("merged.csv", "full.csv"), ("merged-totals.csv", "full-totals.csv")):
        with open(tmp_path / merged) as a, open(tmp_path / full) as b:
            assert a.read() == b.read()
    # a student in two shards with different grades is refused
    rows = list(read_csv(outs[0]).values())
    rows[0] = dict(rows[0], score="99")
    batch.write_csv_atomically(rows, str(tmp_path / "conflict.csv"))
    with pytest.raises(ValueError, match="appears in two shards"):
        batch.merge_csvs([outs[0], str(tmp_path / "conflict.csv")], str(tmp_path / "x.csv"))
    # a CSV of a grader without the isolation column, and one without the assignment column, are refused
    with open(tmp_path / "older.csv", "w") as f:
        f.write("student,score,max_score,status,reason,nbgrader_score\nzed,1,100,graded,,\n")
    with pytest.raises(ValueError, match="isolation"):
        batch.merge_csvs([outs[0], str(tmp_path / "older.csv")], str(tmp_path / "x.csv"))
    with open(tmp_path / "old.csv", "w") as f:
        f.write("student,score,max_score,status,reason,nbgrader_score,isolation\nzed,1,100,graded,,,x\n")
    with pytest.raises(ValueError, match="earlier grade-all"):
        batch.merge_csvs([outs[0], str(tmp_path / "old.csv")], str(tmp_path / "x.csv"))


def make_gradebook(path, scores):
    """A tiny nbgrader gradebook: assignment mlp, one 100-point grade cell, the given auto scores."""
    bin_dir = os.path.dirname(sys.executable)
    os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{path}") as gb:
        gb.add_assignment("mlp")
        gb.add_notebook("mlp", "mlp")
        gb.add_grade_cell("test_all", "mlp", "mlp", max_score=100, cell_type="code")
        for student, score in scores.items():
            gb.add_student(student)
            gb.add_submission("mlp", student)
            gb.find_grade("test_all", "mlp", "mlp", student).auto_score = score
        gb.db.commit()


@pytest.mark.slow                                   # ~10 s: nbgrader's gradebook runs alembic
@pytest.mark.filterwarnings("ignore::Warning")
def test_scores_that_differ_from_the_gradebook_are_listed(tmp_path, capsys):
    directory = make_class(tmp_path / "class", {"ann": "perfect", "ben": "no_relu_mask", "cat": "blank"})
    make_gradebook(str(tmp_path / "gradebook.db"), {"ann": 100, "ben": 100, "cat": 0})  # ben: 100 in nbgrader
    assert batch.gradebook_scores(str(tmp_path / "gradebook.db")) == {
        ("ann", "mlp"): 100.0, ("ben", "mlp"): 100.0, ("cat", "mlp"): 0.0}
    capsys.readouterr()
    assert grade_all(tmp_path, directory) == 0           # ./gradebook.db is found by default
    out = capsys.readouterr().out
    assert "3 of 3 submission(s) compared (auto-graded points), 1 whose scores differ" in out
    assert f"ben/mlp: grade-all {deserved('no_relu_mask')}, nbgrader 100" in out
    assert "ann/mlp:" not in out.split("scores differ")[1]
    rows = read_csv(tmp_path / "grades.csv")
    assert {s: r["nbgrader_score"] for s, r in rows.items()} == {"ann": "100", "ben": "100", "cat": "0"}


def test_the_class_workflow_fans_out_over_every_shard_and_merges():
    import yaml
    with open(os.path.join(ROOT, ".github", "workflows", "grade-class.yml")) as f:
        workflow = yaml.safe_load(f)
    shards = int(workflow["env"]["SHARDS"])
    assert workflow["jobs"]["grade"]["strategy"]["matrix"]["shard"] == list(range(1, shards + 1))
    grade = " ".join(step.get("run", "") for step in workflow["jobs"]["grade"]["steps"])
    assert "grade-all" in grade and "--shard ${{ matrix.shard }}/${{ env.SHARDS }}" in grade
    merge = " ".join(step.get("run", "") for step in workflow["jobs"]["merge"]["steps"])
    assert "merge-csv" in merge and workflow["jobs"]["merge"]["needs"] == "grade"


def test_the_summary_says_how_many_units_were_compared_with_the_gradebook(tmp_path):
    records = {("ann", "mlp"): {"score": 100, "status": "graded"}, ("ben", "mlp"): {"score": 50, "status": "graded"},
               ("ben", "multiclass"): {"score": 80, "status": "graded"}}
    assert batch.comparison_lines(records, None, None, None) == [
        "nbgrader gradebook: none (no --gradebook, no ./gradebook.db): no score compared"]
    none = batch.comparison_lines(records, "gradebook.db", {("zed", "mlp"): 10.0}, [])
    assert none == ["nbgrader gradebook gradebook.db: none of these 3 submission(s) is in it (assignments mlp, "
                    "multiclass): no score compared"]
    gradebook = {("ben", "mlp"): 60.0, ("ben", "multiclass"): 80.0, ("ann", "multiclass"): 10.0}
    some = batch.comparison_lines(records, "gradebook.db", gradebook, batch.score_mismatches(records, gradebook))
    assert some[0] == "nbgrader gradebook gradebook.db: 2 of 3 submission(s) compared (auto-graded points), " \
                      "1 whose scores differ (a tampering signal)"
    assert some[1:] == ["  ben/mlp: grade-all 50, nbgrader 60"]


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_names_the_students_that_take_long():
    clock, log = FakeClock(), io.StringIO()
    progress = batch.Progress(3, stream=log, clock=clock)
    progress.started("ann")
    progress.started("eve")
    clock.now += 3
    progress.update("graded", "ann")
    progress.tick()
    assert "still grading" not in log.getvalue(), "3 s is not slow"
    clock.now += 3                              # eve: 6 s
    progress.tick()
    progress.tick()
    assert log.getvalue().count("  still grading eve: 6 s\n") == 1, "said once, not at every tick"
    clock.now += 5                              # 11 s: the next line comes at twice the last (12 s)
    progress.tick()
    assert "11 s" not in log.getvalue()
    clock.now += 2
    progress.tick()
    assert log.getvalue().endswith("  still grading eve: 13 s\n")
    term = Terminal()
    bar = batch.Progress(2, stream=term, clock=clock)
    bar.started("eve")
    clock.now += 41
    bar.tick()
    assert term.getvalue().endswith("slow: eve 41 s")
    bar.update("timeout", "eve")
    assert "slow:" not in term.getvalue().rsplit("\r", 1)[1], "a finished student is no longer named"


NBGRADER_EXPORT = ("assignment,duedate,timestamp,student_id,last_name,first_name,email,raw_score,"
                   "late_submission_penalty,score,max_score\nmlp,,,ann,,,,100.0,0.0,100.0,100.0\n")


def test_no_command_overwrites_another_commands_csv(tmp_path, capsys):
    """grade-all's default is sandbox-grades.csv; nbgrader export's grades.csv is refused as --out (before
    grading) unless --overwrite; merge-csv likewise."""
    directory = make_class(tmp_path / "class", {"ann": b""})
    exported = tmp_path / "grades.csv"
    exported.write_text(NBGRADER_EXPORT)
    assert grade_all(tmp_path, directory, out="grades.csv") == 2
    err = capsys.readouterr().err
    assert "was not written by grade-all" in err and "--overwrite" in err
    assert exported.read_text() == NBGRADER_EXPORT and not (tmp_path / "results").exists(), "nothing graded"
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        assert cli(["grade-all", directory, "--jobs", "1"]) == 0            # the default --out
        assert exported.read_text() == NBGRADER_EXPORT
        assert read_csv(tmp_path / "sandbox-grades.csv")["ann"]["status"] == "invalid"
        assert cli(["merge-csv", "sandbox-grades.csv", "--out", "grades.csv"]) == 2
        assert exported.read_text() == NBGRADER_EXPORT
        assert cli(["merge-csv", "sandbox-grades.csv", "--out", "grades.csv", "--overwrite"]) == 0
        assert read_csv(exported)["ann"]["status"] == "invalid"
        assert cli(["merge-csv", "sandbox-grades.csv", "--out", "grades.csv"]) == 0, "its own file: replaced"
    finally:
        os.chdir(cwd)


# --- units, totals and headers (no grading) --------------------------------------------------------

def test_units_are_student_and_assignment_and_a_missing_assignment_has_none(tmp_path):
    """DIR/<student>/<assignment>/: one unit per entry; no entry, no unit; a symlinked student folder is
    invalid for every assignment graded (what it holds is never looked at); other folders are ignored."""
    directory = tmp_path / "class"
    make_class(directory, {"ann": "perfect", "ben": "blank"})
    for student in ("ann", "cat"):
        os.makedirs(directory / student / "multiclass")
        (directory / student / "multiclass" / "answers.ipynb").write_text("{}")     # the only notebook there
    os.makedirs(directory / "dan" / "homework")                                      # not an assignment
    os.symlink(directory / "ann", directory / "eve")
    units = batch.find_units(str(directory))
    assert [(u.student, u.assignment) for u in units] == [
        ("ann", "mlp"), ("ann", "multiclass"), ("ben", "mlp"), ("cat", "multiclass"),
        ("eve", "mlp"), ("eve", "multiclass")]
    by_key = {u.key: u for u in units}
    assert by_key["cat", "multiclass"].notebook.endswith(os.path.join("cat", "multiclass", "answers.ipynb"))
    assert by_key["eve", "mlp"].notebook is None and "symlink" in by_key["eve", "multiclass"].problem
    assert by_key["ann", "mlp"].label == "ann/mlp"
    assert [u.key for u in batch.find_units(str(directory), ["multiclass"])] == [
        ("ann", "multiclass"), ("cat", "multiclass"), ("eve", "multiclass")]
    with pytest.raises(ValueError, match="no assignment 'nope' in this course"):
        batch.find_units(str(directory), ["nope"])
    assert batch.in_shard(units, None) == units
    for n in (2, 3):
        shards = [batch.in_shard(units, f"{i}/{n}") for i in range(1, n + 1)]
        assert sorted((u for s in shards for u in s), key=lambda u: u.key) == units
        for shard in shards:                            # a student's units are never split over shards
            assert not {u.student for u in shard} & {u.student for s in shards if s is not shard for u in s}


def test_an_unknown_assignment_or_a_bad_shard_stops_grade_all_before_grading(tmp_path, capsys):
    directory = make_class(tmp_path / "class", {"ann": "perfect"})
    with pytest.raises(ValueError, match="it has: mlp, multiclass"):
        run_main(tmp_path, directory, assignment=["mlp", "nope"])
    assert cli(["grade-all", directory, "--shard", "4/3", "--out", str(tmp_path / "x.csv")]) == 2
    assert "1 <= i <= N" in capsys.readouterr().err
    with pytest.raises(ValueError, match="same file"):
        run_main(tmp_path, directory, out="both.csv", totals="both.csv")
    assert run_main(tmp_path, directory, assignment="multiclass") == 2       # nobody submitted multiclass
    assert "no submissions found under" in capsys.readouterr().err
    assert not (tmp_path / "results").exists()


def test_totals_count_a_missing_assignment_and_a_unit_without_score_as_zero():
    rows = [{"student": "ann", "assignment": "mlp", "score": "100", "max_score": "100"},
            {"student": "ann", "assignment": "multiclass", "score": "72", "max_score": "80"},
            {"student": "ben", "assignment": "multiclass", "score": "", "max_score": "80"},      # error
            {"student": "cat", "assignment": "mlp", "score": "12.5", "max_score": "100"}]
    maxima = batch.maxima_of_rows(rows)
    assert maxima == {"mlp": "100", "multiclass": "80"}
    assert batch.totals_fields(maxima) == ("student", "mlp", "multiclass", "total", "max_total", "missing")
    assert batch.totals_rows(rows, maxima) == [
        {"student": "ann", "mlp": "100", "multiclass": "72", "total": "172", "max_total": "180", "missing": ""},
        {"student": "ben", "mlp": "", "multiclass": "", "total": "0", "max_total": "180", "missing": "mlp"},
        {"student": "cat", "mlp": "12.5", "multiclass": "", "total": "12.5", "max_total": "180",
         "missing": "multiclass"}]


def test_grade_alls_own_headers_old_and_new_are_recognised_and_no_other(tmp_path):
    cases = {"new.csv": ",".join(batch.CSV_FIELDS),
             "one_assignment.csv": "student,score,max_score,status,reason,nbgrader_score,isolation",
             "totals.csv": "student,mlp,multiclass,total,max_total,missing",
             "export.csv": NBGRADER_EXPORT.splitlines()[0],
             "other.csv": "student,total"}
    for name, header in cases.items():
        (tmp_path / name).write_text(header + "\n")
    assert {name: batch.foreign_file(str(tmp_path / name)) == "" for name in cases} == {
        "new.csv": True, "one_assignment.csv": True, "totals.csv": True, "export.csv": False, "other.csv": False}
    with pytest.raises(ValueError, match="Choose another --totals"):
        batch.refuse_to_overwrite(str(tmp_path / "export.csv"), False, "--totals")
    batch.refuse_to_overwrite(str(tmp_path / "export.csv"), True, "--totals")


def test_merge_is_keyed_by_student_and_assignment(tmp_path):
    def row(student, assignment, score):
        return {"student": student, "assignment": assignment, "score": score, "max_score": "100",
                "status": "graded", "reason": "", "nbgrader_score": "", "isolation": "bwrap"}
    batch.write_csv_atomically([row("ann", "mlp", "100"), row("ann", "multiclass", "80")], str(tmp_path / "a.csv"))
    batch.write_csv_atomically([row("ann", "mlp", "100"), row("ben", "multiclass", "8")], str(tmp_path / "b.csv"))
    rows = batch.merge_csvs([str(tmp_path / "a.csv"), str(tmp_path / "b.csv")], str(tmp_path / "m.csv"),
                            str(tmp_path / "t.csv"))
    assert [(r["student"], r["assignment"]) for r in rows] == [("ann", "mlp"), ("ann", "multiclass"),
                                                              ("ben", "multiclass")]
    with open(tmp_path / "t.csv", newline="") as f:
        totals = {r["student"]: (r["total"], r["missing"]) for r in csv.DictReader(f)}
    assert totals == {"ann": ("180", ""), "ben": ("8", "mlp")}
    batch.write_csv_atomically([row("ann", "multiclass", "79")], str(tmp_path / "c.csv"))
    with pytest.raises(ValueError, match="student ann, assignment multiclass appears in two shards"):
        batch.merge_csvs([str(tmp_path / "a.csv"), str(tmp_path / "c.csv")], str(tmp_path / "x.csv"))
    assert not (tmp_path / "x.csv").exists()


def test_editing_one_assignment_changes_only_its_fingerprint(tmp_path, monkeypatch):
    """Resume compares grader_sha256(assignment): a change to multiclass's files regrades multiclass only;
    a change to the shared grader regrades both."""
    for top in ("autograder", "src", "release"):
        shutil.copytree(os.path.join(ROOT, top), tmp_path / top, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(batch, "ROOT", str(tmp_path))
    before = {name: batch.grader_sha256(name) for name in ("mlp", "multiclass", None)}
    assert len(set(before.values())) == 3
    with open(tmp_path / "autograder" / "assignments" / "multiclass" / "hints.py", "a") as f:
        f.write("\n# edited\n")
    after = {name: batch.grader_sha256(name) for name in ("mlp", "multiclass", None)}
    assert after["mlp"] == before["mlp"] and after["multiclass"] != before["multiclass"]
    assert after[None] != before[None]
    with open(tmp_path / "autograder" / "batch.py", "a") as f:
        f.write("\n# edited\n")
    assert all(batch.grader_sha256(name) != after[name] for name in after)
