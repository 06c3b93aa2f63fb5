"""release/ is exactly what `nbgrader generate_assignment` makes from source/, and reveals nothing."""
import filecmp
import os
import re

import nbformat
import pytest

from nbgrader_course import ROOT, make_course, nbgrader

RELEASE = os.path.join(ROOT, "release", "mlp")
SOURCE_NB = os.path.join(ROOT, "source", "mlp", "mlp.ipynb")


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory):
    course = make_course(str(tmp_path_factory.mktemp("course")))
    proc = nbgrader(course, "generate_assignment", "mlp", "--force")
    assert proc.returncode == 0, proc.stderr[-2000:]
    return os.path.join(course, "release", "mlp")


def test_committed_release_is_the_regenerated_one(regenerated):
    assert sorted(os.listdir(regenerated)) == sorted(os.listdir(RELEASE))
    _, mismatch, errors = filecmp.cmpfiles(regenerated, RELEASE, os.listdir(RELEASE), shallow=False)
    assert not mismatch and not errors, f"release/ is stale: run `nbgrader generate_assignment mlp --force` ({mismatch})"


def test_release_holds_only_the_notebook_and_the_given_helpers():
    assert sorted(os.listdir(RELEASE)) == ["data.py", "mlp.ipynb", "visualization.py"]
    for helper in ("data.py", "visualization.py"):
        text = open(os.path.join(RELEASE, helper)).read()
        assert "backward" not in text and "OneHiddenLayerMLP" not in text, f"{helper} reveals the model"


def solution_lines(path):
    """Every non-trivial line inside a solution block of the instructor notebook."""
    lines = []
    for cell in nbformat.read(path, as_version=4).cells:
        for block in re.findall(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", cell.source, re.S):
            lines += [line.strip() for line in block.splitlines() if len(line.strip()) > 12]
    return lines


def test_release_contains_no_solution_code_and_no_hidden_tests():
    text = open(os.path.join(RELEASE, "mlp.ipynb")).read()
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS", "run_check",
                   "autograder"):
        assert marker not in text
    leaked = [line for line in solution_lines(SOURCE_NB) if line in text]
    assert solution_lines(SOURCE_NB) and not leaked, leaked
