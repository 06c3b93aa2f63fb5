"""The adversarial corpus (tests/adversarial/corpus.py), graded in one batch with honest neighbours.

Each hostile case must get exactly the grade its honest content deserves (100 minus the points of
the checks in ``fails``), the expected status and a readable reason; the honest submissions must
get the same grade next to the hostile ones as alone; nothing a case starts may outlive grading;
and no case can write the results.
"""
import csv
import json
import os
import time

import pytest

from autograder import batch
from autograder.checks import CHECKS
from autograder.sandbox import ForkServer, Limits
from autograder.submission import Submission
from tests.adversarial.corpus import CASES

LIMITS = Limits(wall_seconds=6)          # the endless loops cost 6 s per affected check, not 20 (and a
#                                         loaded CI machine still fills the memory limit well within it)


def deserved(case):
    return 0 if case.fails is None else 100 - sum(CHECKS[name].points for name in case.fails)


def orphans_of_sandbox_uids(settle_seconds=3.0):
    """Live processes of a sandbox uid whose parent is init: what a grader failed to clean up.

    A process the grader has just SIGKILLed may still be exiting (or be a zombie waiting for
    init to reap it): it is dead, so zombies are ignored and the scan is repeated for a moment.
    """
    deadline = time.monotonic() + settle_seconds
    while True:
        found = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                uid = os.stat(f"/proc/{pid}").st_uid
                with open(f"/proc/{pid}/stat") as f:
                    state, ppid = f.read().rsplit(")", 1)[1].split()[:2]
            except (OSError, ValueError, IndexError):
                continue
            if 60000 <= uid < 61000 and int(ppid) == 1 and state not in ("Z", "X"):
                found.append(int(pid))
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Grade the whole corpus in one batch (2 workers): {case: (record, per-check results)}."""
    from tests.adversarial.corpus import write_corpus
    root = tmp_path_factory.mktemp("adversarial")
    results_dir = str(root / "results")
    write_corpus(str(root / "class"), results_dir)
    students = batch.find_students(str(root / "class"))
    records, skipped = batch.grade_class(students, results_dir, jobs=2, limits=LIMITS)
    rows = batch.csv_rows(records)
    batch.write_csv_atomically(rows, str(root / "grades.csv"))
    with open(root / "grades.csv", newline="") as f:
        table = {row["student"]: row for row in csv.DictReader(f)}
    return {"records": records, "table": table, "root": root, "orphans": orphans_of_sandbox_uids()}


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_each_case_gets_what_its_honest_content_deserves(graded, case):
    record, row = graded["records"][case.name], graded["table"][case.name]
    assert (record["status"], record["score"]) == (case.status, deserved(case)), row["reason"]
    assert row["status"] == case.status and row["score"] == f"{deserved(case):g}"
    if case.fails is not None:
        failed = {t["name"] for t in record["tests"] if t["status"] == "failed"}
        assert failed == {CHECKS[name].title for name in case.fails}
    if case.reason:
        assert case.reason in row["reason"]
    else:
        assert row["reason"] == ""
    assert record["submission_sha256"] and record["grader_sha256"]      # written by the grader, not forged


def test_honest_neighbours_grade_the_same_alone(graded):
    """The honest submissions' per-check results are identical to grading each alone."""
    from tests.adversarial.corpus import BY_CASE
    with ForkServer() as server:
        for name in ("honest_perfect", "honest_wrong_relu"):
            path = os.path.join(graded["root"], "class", name, "mlp", "mlp.ipynb")
            alone = Submission.load(path).grade_all(server, limits=LIMITS)
            together = graded["records"][name]["tests"]
            assert [(r.title, r.points, r.message or "passed") for r in alone] == \
                   [(t["name"], t["score"], t["output"]) for t in together]
            assert sum(r.points for r in alone) == deserved(BY_CASE[name])


def test_no_process_a_case_started_survives_grading(graded):
    assert graded["orphans"] == []


def test_no_case_could_write_its_results_file(graded):
    path = os.path.join(graded["root"], "results", "fake_results", "results.json")
    with open(path) as f:
        record = json.load(f)
    assert record["score"] == 94 and record["student"] == "fake_results"
    assert not os.path.exists(os.path.join(graded["root"], "results.json"))


def test_the_pytest_path_ignores_test_cells_entirely(graded):
    """Deleting, editing, duplicating, retyping test cells or changing their points changes nothing:
    the graded cells are the release's setup cell and the student's solution cells."""
    from tests.adversarial.corpus import notebook_bytes, BY_CASE
    reference = Submission.load(os.path.join(graded["root"], "class", "honest_wrong_relu", "mlp", "mlp.ipynb"))
    for name in ("delete_tests", "edit_tests", "duplicate_tests", "retype_tests", "tamper_metadata"):
        tampered = Submission.load(os.path.join(graded["root"], "class", name, "mlp", "mlp.ipynb"))
        assert tampered.cells == reference.cells and tampered.missing == []
        assert notebook_bytes(BY_CASE[name]) != notebook_bytes(BY_CASE["honest_wrong_relu"])
