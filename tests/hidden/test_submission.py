"""The hidden grading suite: one test per check of the submission's assignment (its checks.py).

Each check's probe runs on the submission inside the sandbox and its data is judged against
the reference in src/ (see autograder/submission.py). The test's result, with points and
feedback, is recorded for results.json.
"""
import dataclasses

import pytest


def test_check(name, graded, record_property):
    if "isolation_unavailable" in graded:
        record_property("isolation_unavailable", graded["isolation_unavailable"])
        pytest.fail(graded["isolation_unavailable"], pytrace=False)
    record_property("isolation", graded["isolation"])
    result = graded[name]
    record_property("check_result", dataclasses.asdict(result))
    if result.message:
        pytest.fail(result.message, pytrace=False)
