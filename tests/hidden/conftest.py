"""Fixtures of the hidden grading suite: the submission under test, graded once in the sandbox.

`graded` starts the sandbox (or records why it cannot: IsolationUnavailable), calibrates the time
limits on the reference solution of the submission's assignment (autograder/timing.py), then runs
every check of the submission in it (its cells run once, then one fresh fork per check: see
Submission.grade_all); each test reads its own check's result, and records the isolation used for
results.json. The tests are one per check of the assignment (`--assignment`, or recognised from the
notebook's nbgrader cells).
"""
import pytest

from autograder import timing
from autograder.sandbox import ForkServer, IsolationUnavailable
from autograder.submission import Submission


def _submission(config):
    if not hasattr(config, "_graded_submission"):
        config._graded_submission = Submission.load(config.getoption("submission"),
                                                    assignment=config.getoption("assignment"))
    return config._graded_submission


def pytest_generate_tests(metafunc):
    if "name" in metafunc.fixturenames:
        metafunc.parametrize("name", list(_submission(metafunc.config).checks))


@pytest.fixture(scope="session")
def graded(request):
    submission = _submission(request.config)
    try:
        server = ForkServer(trust=request.config.getoption("trust_submissions"),
                            assignments=[submission.assignment.name])
    except IsolationUnavailable as e:
        return {"isolation_unavailable": str(e)}
    with server:
        results = submission.grade_all(server, limits=timing.calibrated(server, submission.assignment))
        return dict({result.name: result for result in results}, isolation=server.isolation)
