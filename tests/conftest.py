"""Shared pytest setup.

tests/hidden/ is the hidden grading suite: it grades ONE submission and needs
`--submission PATH.ipynb` (`python -m autograder grade` passes it). Without that
option it is not collected, so `pytest` runs only the course's own tests.
"""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


def pytest_addoption(parser):
    parser.addoption("--submission", default=None, help="notebook graded by tests/hidden/")
    parser.addoption("--assignment", default=None,
                     help="tests/hidden/: the submission's assignment id (default: recognised from the notebook)")
    parser.addoption("--trust-submissions", action="store_true", default=False,
                     help="tests/hidden/: run student code without a sandbox (the instructor vouches for it)")


def pytest_ignore_collect(collection_path, config):
    if collection_path.name == "hidden" and not config.getoption("submission"):
        return True
    return None
