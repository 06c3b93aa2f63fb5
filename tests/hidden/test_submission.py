"""The hidden grading suite: one test per check of autograder/checks.py.

Each test runs the check's probe on the submission inside the sandbox and judges
the returned data against the reference in src/ (see autograder/submission.py).
The test's result, with points and feedback, is recorded for results.json.
"""
import dataclasses

import pytest

from autograder.checks import CHECKS


@pytest.mark.parametrize("name", list(CHECKS))
def test_check(name, submission, sandbox, record_property):
    result = submission.grade(name, sandbox)
    record_property("check_result", dataclasses.asdict(result))
    if result.message:
        pytest.fail(result.message, pytrace=False)
