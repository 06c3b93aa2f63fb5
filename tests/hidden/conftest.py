"""Fixtures of the hidden grading suite: the submission under test and a sandbox fork server."""
import pytest

from autograder.sandbox import ForkServer
from autograder.submission import Submission


@pytest.fixture(scope="session")
def submission(request):
    return Submission.load(request.config.getoption("submission"))


@pytest.fixture(scope="session")
def sandbox():
    with ForkServer() as server:
        yield server
