"""The assignment's structure: the notebook's test cells, the check table, probes and judges agree."""
import json
import re

import nbformat
import pytest

from autograder.assignments.mlp.checks import CHECKS, MAX_SCORE
from autograder.assignments.mlp.judges import JUDGES
from autograder.assignments.mlp.probes import PROBES
from autograder.assignments import get as get_assignment

RELEASE_NOTEBOOK = get_assignment("mlp").release_notebook
from examples.catalogue import SOURCE


def nbgrader_cells(path):
    return {c.metadata["nbgrader"]["grade_id"]: c for c in nbformat.read(path, as_version=4).cells
            if "nbgrader" in c.metadata}


def test_every_check_has_a_probe_a_judge_and_points_summing_to_100():
    assert set(PROBES) == set(JUDGES) == set(CHECKS)
    assert MAX_SCORE == 100


def test_each_check_is_one_test_cell_with_the_table_points():
    cells = nbgrader_cells(SOURCE)
    tests = {gid: c for gid, c in cells.items() if c.metadata["nbgrader"].get("grade")}
    assert set(tests) == {f"test_{name}" for name in CHECKS}
    for name, check in CHECKS.items():
        cell = tests[f"test_{name}"]
        assert cell.metadata["nbgrader"]["points"] == check.points, name
        assert cell.metadata["nbgrader"]["locked"] and not cell.metadata["nbgrader"]["solution"]
        calls = re.findall(r'run_check\("(\w+)", globals\(\)\)', cell.source)
        assert calls == [name], f"test_{name} must call run_check({name!r}) once, inside the hidden block"
        hidden = cell.source.split("### BEGIN HIDDEN TESTS")[1].split("### END HIDDEN TESTS")[0]
        assert "run_check" in hidden


def test_solution_cells_carry_no_points_and_stub_out_in_the_release():
    source, release = nbgrader_cells(SOURCE), nbgrader_cells(RELEASE_NOTEBOOK)
    solutions = [gid for gid, c in source.items() if c.metadata["nbgrader"].get("solution")]
    assert solutions == ["activations", "model", "gradient_check", "sgd", "evaluate", "train"]
    for gid in solutions:
        assert not source[gid].metadata["nbgrader"].get("grade")
        assert "### BEGIN SOLUTION" in source[gid].source
        assert "raise NotImplementedError()" in release[gid].source


@pytest.mark.parametrize("path", [SOURCE, RELEASE_NOTEBOOK])
def test_notebooks_are_committed_without_outputs(path):
    nb = json.load(open(path))
    assert all(not c.get("outputs") and not c.get("execution_count") for c in nb["cells"] if c["cell_type"] == "code")
