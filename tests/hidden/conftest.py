"""Fixtures of the hidden grading suite: the submission under test, graded once in the sandbox.

`graded` runs every check of the submission in one sandbox (its cells run once, then one fresh
fork per check: see Submission.grade_all); each test reads its own check's result.
"""
import pytest

from autograder.sandbox import ForkServer
from autograder.submission import Submission


@pytest.fixture(scope="session")
def graded(request):
    submission = Submission.load(request.config.getoption("submission"))
    with ForkServer() as server:
        return {result.name: result for result in submission.grade_all(server)}
