"""The pytest path on every example submission: the exact checks each one fails, and the CLI contract."""
import json
import os
import subprocess
import sys

import pytest

from autograder import grade as grading
from autograder import sandbox
from autograder.__main__ import main as cli
from autograder.assignments.mlp.checks import CHECKS, MAX_SCORE
from autograder.assignments.mlp.judges import Verdict
from autograder.sandbox import ForkServer, Limits
from autograder.submission import Submission
from examples.catalogue import EXAMPLES, SUBMISSIONS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GRADABLE = [e for e in EXAMPLES if e.broken != "invalid_json"]
FAST = Limits(wall_seconds=4)   # same limits as production except the wall clock, so the endless loop is quick


@pytest.fixture(scope="module")
def server():
    with ForkServer() as s:
        yield s


def grade_all(path, server):
    submission = Submission.load(path)
    return {name: submission.grade(name, server, limits=FAST) for name in CHECKS}


@pytest.mark.parametrize("example", GRADABLE, ids=lambda e: e.name)
def test_example_fails_exactly_the_checks_it_breaks(example, server):
    results = grade_all(os.path.join(SUBMISSIONS, example.name + ".ipynb"), server)
    failed = {name for name, r in results.items() if r.points < r.max_points}
    if example.kind == "perfect" or example.broken == "delete_test_cell":
        assert sum(r.points for r in results.values()) == MAX_SCORE
    elif example.kind == "blank":
        assert failed == set(CHECKS), "the blank release must score 0 on every check"
        assert all("not implemented" in r.message for r in results.values())
    else:
        assert failed == set(example.fails), example.description
    assert all(r.message for r in results.values() if r.name in failed), "every lost point needs a reason"
    assert all(r.passed == (r.name not in failed) for r in results.values())


def test_endless_loop_and_os_exit_are_reported_with_a_reason(server):
    loop = grade_all(os.path.join(SUBMISSIONS, "endless_loop.ipynb"), server)
    assert loop["train_loop"].status == "timeout" and "time limit" in loop["train_loop"].message
    died = grade_all(os.path.join(SUBMISSIONS, "os_exit.ipynb"), server)
    assert "os._exit" in died["evaluate"].message and "cell 'evaluate'" in died["evaluate"].message
    assert died["sgd_step"].points == CHECKS["sgd_step"].points, "cells before the fatal one still earn points"


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "autograder", *args], cwd=ROOT, capture_output=True, text=True)


def test_cli_writes_gradescope_results_and_a_table(tmp_path):
    out = tmp_path / "results.json"
    proc = run_cli("grade", os.path.join(SUBMISSIONS, "sgd_sign_error.ipynb"), "--json", str(out))
    assert proc.returncode == 0, proc.stderr
    results = json.loads(out.read_text())
    assert results["max_score"] == MAX_SCORE
    assert results["score"] == MAX_SCORE - CHECKS["sgd_step"].points - CHECKS["xor_training"].points
    assert {t["name"] for t in results["tests"]} == {c.title for c in CHECKS.values()}
    for test in results["tests"]:
        assert set(test) >= {"name", "score", "max_score", "output"}
    failed = [t for t in results["tests"] if t["score"] < t["max_score"]]
    assert any("learning_rate" in t["output"] for t in failed)
    assert all(t["status"] == ("failed" if t in failed else "passed") for t in results["tests"])
    assert "sgd_step" in proc.stdout and "total" in proc.stdout
    assert (results["status"], results["reason"]) == ("graded", "")
    assert results["isolation"] and results["isolation"] != "unknown"


@pytest.mark.parametrize("path, reason", [("examples/submissions/invalid_json.ipynb", "invalid JSON"),
                                          ("no/such/notebook.ipynb", "no such file"),
                                          ("README.md", "invalid JSON")])
def test_cli_exits_2_with_one_line_when_not_a_notebook(path, reason, tmp_path):
    if path == "README.md":
        path = str(tmp_path / "notes.ipynb")
        open(path, "w").write("# not json")
    proc = run_cli("grade", path, "--json", str(tmp_path / "r.json"), "--assignment", "mlp")
    assert proc.returncode == 2
    assert reason in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    results = json.loads((tmp_path / "r.json").read_text())       # written all the same, for Gradescope
    assert (results["score"], results["max_score"], results["status"], results["tests"]) == (0, MAX_SCORE, "invalid", [])
    assert results["assignment"] == "mlp"
    unnamed = run_cli("grade", path, "--json", str(tmp_path / "u.json"))    # which assignment: unknown
    assert unnamed.returncode == 2 and json.loads((tmp_path / "u.json").read_text())["max_score"] == 0
    assert reason in results["reason"] and reason in results["output"]
    assert results["isolation"] == grading.NO_CODE_RAN


PERFECT = os.path.join(SUBMISSIONS, "perfect.ipynb")


def grade_in_process(tmp_path, *args):
    """`python -m autograder grade PERFECT --json OUT` in this process (so the test can patch it)."""
    out = tmp_path / "results.json"
    return cli(["grade", PERFECT, "--json", str(out), *args]), out


def test_a_grader_error_in_a_judge_is_the_graders_not_the_students(tmp_path, monkeypatch, capsys):
    from autograder.assignments.mlp import judges as mlp_judges
    real = mlp_judges.run_judge

    def judge(name, data, inputs):
        if name == "sgd_step":
            return Verdict(False, "grader error (not your mistake): the judge broke", grader_error=True)
        return real(name, data, inputs)
    monkeypatch.setattr(mlp_judges, "run_judge", judge)
    code, out = grade_in_process(tmp_path)
    assert code == 1
    results = json.loads(out.read_text())
    assert results["status"] == "error" and "check 'sgd_step'" in results["reason"]
    assert "grader error" in results["reason"]
    sgd = next(t for t in results["tests"] if t["name"] == CHECKS["sgd_step"].title)
    assert sgd["status"] == "failed" and "grader error" in sgd["output"] and "regrade" in sgd["output"]
    assert all(t["status"] == "passed" for t in results["tests"] if t is not sgd)


def test_no_isolation_exits_2_with_its_one_line_reason_and_a_results_json(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sandbox, "bwrap_path", lambda: None)          # a machine without bubblewrap
    code, out = grade_in_process(tmp_path)
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("cannot sandbox student code") and "--trust-submissions" in err
    results = json.loads(out.read_text())
    assert (results["status"], results["score"]) == ("error", 0) and "bubblewrap" in results["reason"]


def test_trust_submissions_reaches_the_hidden_suites_fork_server(tmp_path, monkeypatch):
    monkeypatch.setattr(sandbox, "bwrap_path", lambda: None)          # trusted: no sandbox is needed
    code, out = grade_in_process(tmp_path, "--trust-submissions")
    assert code == 0
    results = json.loads(out.read_text())
    assert results["score"] == MAX_SCORE and results["isolation"].startswith("none: --trust-submissions")


def test_results_record_the_sandbox_used(tmp_path):
    code, out = grade_in_process(tmp_path)
    assert code == 0 and json.loads(out.read_text())["isolation"].startswith("bwrap:")