"""Fixtures of the hidden grading suite: the submission under test, graded once in the sandbox.

`graded` starts the sandbox (or records why it cannot: IsolationUnavailable), calibrates the time
limits on the reference solution (autograder/timing.py), then runs every check of the submission
in it (its cells run once, then one fresh fork per check: see Submission.grade_all); each test
reads its own check's result, and records the isolation used for results.json.
"""
import pytest

from autograder import timing
from autograder.sandbox import ForkServer, IsolationUnavailable
from autograder.submission import Submission


@pytest.fixture(scope="session")
def graded(request):
    submission = Submission.load(request.config.getoption("submission"))
    try:
        server = ForkServer(trust=request.config.getoption("trust_submissions"))
    except IsolationUnavailable as e:
        return {"isolation_unavailable": str(e)}
    with server:
        results = submission.grade_all(server, limits=timing.calibrated(server))
        return dict({result.name: result for result in results}, isolation=server.isolation)
