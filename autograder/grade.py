"""The pytest path: grade one notebook by running the hidden suite (tests/hidden/) against it.

    python -m autograder grade PATH.ipynb --json results.json

prints a per-check table and writes Gradescope's results.json. Exit status: 0 when
grading ran (whatever the score), 2 when the file is missing or not a notebook.
"""
import json
import os

import pytest

from autograder.checks import CHECKS, MAX_SCORE
from autograder.sandbox import ROOT
from autograder.submission import CheckResult, Submission

HIDDEN_SUITE = os.path.join(ROOT, "tests", "hidden")


class _Collector:
    """pytest plugin: picks up the CheckResult each hidden test records."""

    def __init__(self):
        self.results = {}

    def pytest_runtest_logreport(self, report):
        props = dict(report.user_properties)
        if report.when == "call" and "check_result" in props:
            result = CheckResult(**props["check_result"])
            self.results[result.name] = result


def run_hidden_suite(path):
    """[CheckResult] for every check, in CHECKS order. Raises RuntimeError if the suite itself broke."""
    collector = _Collector()
    args = [HIDDEN_SUITE, f"--submission={os.path.abspath(path)}", f"--rootdir={ROOT}",
            "-c", os.path.join(ROOT, "pytest.ini"), "-p", "no:cacheprovider", "-p", "no:terminal"]
    pytest.main(args, plugins=[collector])
    missing = [name for name in CHECKS if name not in collector.results]
    if missing:
        raise RuntimeError(f"the hidden test suite did not report {missing}: grader error, not the student's")
    return [collector.results[name] for name in CHECKS]


def gradescope_results(results):
    """Gradescope's results.json schema."""
    score = sum(r.points for r in results)
    return {
        "score": score,
        "max_score": MAX_SCORE,
        "output": f"{score:g} / {MAX_SCORE} points",
        "tests": [{"name": r.title, "score": r.points, "max_score": r.max_points,
                   "status": "passed" if not r.message else "failed",
                   "output": r.message or "passed"} for r in results],
    }


def table(results):
    lines = [f"{'check':<22} {'points':>9}  feedback"]
    for r in results:
        first = r.message.splitlines()[0] if r.message else "ok"
        lines.append(f"{r.name:<22} {r.points:>4g} / {r.max_points:<2}  {first[:110]}")
    lines.append(f"{'total':<22} {sum(r.points for r in results):>4g} / {MAX_SCORE}")
    return "\n".join(lines)


def write_json_atomically(data, path):
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2)
    os.replace(tmp, path)


def main(path, json_out=None):
    Submission.load(path)  # raises InvalidSubmission (exit 2) before any grading
    results = run_hidden_suite(path)
    print(table(results))
    if json_out:
        write_json_atomically(gradescope_results(results), json_out)
    return 0
