"""End to end with the real nbgrader CLI: the main job on every mlp example submission.

Runs the main job, `python -m autograder nbgrader-run --assignment mlp` (release, autograde, the sandbox's scores into the
gradebook, feedback, export, table) in a copy of the course and checks each student's per-cell
grades in the gradebook, the table, that the recorded score is the pytest path's, and that the
in-kernel run agreed on these honest submissions. Slow (real kernels, one endless loop): marked
`slow`, and run in CI. Hostile submissions: tests/test_gradebook_sync.py; the multiclass examples in the
same folder (torch in every kernel): tests/test_nbgrader_multiclass.py.
"""
import csv
import os
import re
import subprocess
import sys

import nbformat
import pytest

from autograder.assignments.mlp.checks import CHECKS, MAX_SCORE
from examples.catalogue import EXAMPLES, SUBMISSIONS
from nbgrader_course import autograde, cell_scores, make_course

pytestmark = pytest.mark.slow
NOT_A_NOTEBOOK = {"invalid_json": "not valid notebook JSON"}
KERNEL_DIED = {"os_exit": "kernel died"}       # the test cells after it did not run in the kernel: 0 there


def nbgrader_run(course, only):
    """The main job in `course` on examples/submissions for the assignments `only`: what `python -m autograder
    nbgrader-run --assignment ID ...` runs (nbgrader_run.main, called as the CLI calls it)."""
    code = ("import sys; from autograder import nbgrader_run; "
            f"sys.exit(nbgrader_run.main({SUBMISSIONS!r}, only={only!r}))")
    return subprocess.run([sys.executable, "-c", code], cwd=course, capture_output=True, text=True)


def parse_table(stdout, students):
    """{student: row} of the grade table: student assignment score max auto manual kernel pytest reason."""
    table = {}
    for line in stdout.splitlines():
        parts = line.split(None, 8)
        if len(parts) >= 8 and parts[0] in students:
            table[parts[0]] = {"assignment": parts[1], "score": float(parts[2]), "max": int(parts[3]),
                               "auto": parts[4], "manual": parts[5], "kernel": parts[6], "pytest": parts[7],
                               "reason": parts[8] if len(parts) > 8 else ""}
    return table


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    course = make_course(str(tmp_path_factory.mktemp("course")))
    proc = nbgrader_run(course, ["mlp"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    return course, parse_table(proc.stdout, {e.name for e in EXAMPLES}), proc.stdout


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e.name)
def test_each_submission_gets_the_grade_its_code_deserves(course, example):
    course_dir, table, _ = course
    row = table[example.name]
    assert row["max"] == MAX_SCORE and row["assignment"] == "mlp" and row["manual"] == "-"
    if example.name in NOT_A_NOTEBOOK:
        assert row["score"] == 0 and NOT_A_NOTEBOOK[example.name] in row["reason"]
        assert row["kernel"] == row["pytest"] == "-"
        assert set(cell_scores(course_dir, example.name).values()) == {0}, "recorded as 0, not left empty"
        return
    cells = cell_scores(course_dir, example.name)
    assert set(cells) == {f"test_{name}" for name in CHECKS}
    if example.kind == "blank":
        expected_failures = set(CHECKS)
    elif example.kind == "perfect" or example.broken == "delete_test_cell":
        expected_failures = set()
    else:
        expected_failures = set(example.fails)
    failed = {gid[len("test_"):] for gid, score in cells.items() if score < CHECKS[gid[len("test_"):]].points}
    assert failed == expected_failures
    assert all(score == 0 for gid, score in cells.items() if gid[len("test_"):] in failed), "cells are all-or-nothing"
    expected_score = MAX_SCORE - sum(CHECKS[name].points for name in expected_failures)
    assert row["score"] == float(row["auto"]) == expected_score
    assert float(row["pytest"]) == expected_score, "the recorded score is the pytest path's"
    if example.name in KERNEL_DIED:
        # the kernel's run scores the cells it never ran 0: here that is what the sandbox says too
        assert float(row["kernel"]) == expected_score and KERNEL_DIED[example.name] in row["reason"]
        assert "overruled" not in row["reason"], "a dead kernel is not a tampering signal"
        return
    assert float(row["kernel"]) == expected_score, "the in-kernel run agrees on an honest submission"
    assert bool(row["reason"]) == (example.name == "endless_loop")


def test_outputs_of_the_main_job(course):
    course_dir, table, stdout = course
    assert set(table) == {e.name for e in EXAMPLES}
    with open(os.path.join(course_dir, "grades.csv")) as f:
        exported = {(row["student_id"], row["assignment"]): float(row["raw_score"]) for row in csv.DictReader(f)}
    assert exported == {(name, "mlp"): row["score"] for name, row in table.items()}, "only mlp was touched"
    # os_exit: an autograded notebook made without running a kernel; invalid_json: the release under a note
    for student in ("perfect", "os_exit", "invalid_json"):
        assert os.path.exists(os.path.join(course_dir, "feedback", student, "mlp", "mlp.html"))
    unreadable = open(os.path.join(course_dir, "feedback", "invalid_json", "mlp", "mlp.html")).read()
    assert "could not be graded: it is not a readable notebook" in unreadable
    assert re.search(rf"written: feedback/<student>/mlp/mlp.html for {len(EXAMPLES)} of the {len(EXAMPLES)} mlp ", stdout)
    assert "invalid_json.ipynb: cannot tell its assignment (not valid notebook JSON): graded for 'mlp'" in stdout
    assert re.search(r"^\d+ submission\(s\) of other assignments than mlp left out", stdout, re.M)
    assert not os.path.exists(os.path.join(course_dir, "submitted", "mc_perfect")), "multiclass not collected"
    feedback = open(os.path.join(course_dir, "feedback", "no_relu_mask", "mlp", "mlp.html")).read()
    assert "dL/dW1" in feedback, "the judge's message reaches the student's feedback"
    # every student given was autograded, with one progress line each, and only they are in the table
    assert f"autograde: {len(EXAMPLES)} submission(s)" in stdout
    assert len(re.findall(rf"^  \[\d+/{len(EXAMPLES)}\] ", stdout, re.M)) == len(EXAMPLES)
    # only a file that is not a notebook stops nbgrader; a kernel that dies does not (SurvivingExecute)
    assert re.search(r"nbgrader autograde could not run 1 of \d+ submission\(s\) in a kernel \(invalid_json/mlp\)", stdout)
    for name, row in table.items():
        if row["kernel"] == "-" or name in NOT_A_NOTEBOOK:
            assert row["reason"], f"{name}: a non-normal outcome carries its reason"


def test_nbgrader_run_refuses_to_collect_from_submitted_itself(capsys):
    """It copies --submissions DIR into submitted/ (removing each student's old copy first): DIR cannot be
    submitted/, whose notebooks it would delete. The message gives the commands for that case."""
    from autograder import nbgrader_run
    assert nbgrader_run.main(os.path.join(nbgrader_run.ROOT, "submitted")) == 2
    err = capsys.readouterr().err
    assert "cannot be submitted/ itself" in err and "sync-gradebook" in err


def test_no_false_checksum_warning_for_test_cells_left_as_released(tmp_path):
    """nbgrader stores test cells with their hidden tests; a student's notebook holds them without. A test
    cell left as released is not reported as changed; one the student edited still is."""
    course = make_course(str(tmp_path / "course"))
    edited = nbformat.read(os.path.join(SUBMISSIONS, "perfect.ipynb"), as_version=4)
    cell = next(c for c in edited.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "test_relu")
    cell.source = "assert True  # the student emptied this test"
    nbformat.write(edited, str(tmp_path / "edited.ipynb"))
    proc = autograde(course, {"blank": os.path.join(SUBMISSIONS, "blank.ipynb"),
                              "perfect": os.path.join(SUBMISSIONS, "perfect.ipynb"),
                              "edited": str(tmp_path / "edited.ipynb")})
    changed = re.findall(r"Attribute '(\w+)' for cell (\w+) has changed", proc.stderr)
    assert changed == [("checksum", "test_relu")], changed
