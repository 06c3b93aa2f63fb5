"""Every assignment's structure: its notebook's test cells, its check table, probes and judges agree."""
import json
import re

import nbformat
import pytest

from autograder import assignments
from autograder.assignments.mlp.checks import MAX_SCORE as MLP_MAX_SCORE

ALL = assignments.all_assignments()
IDS = [a.name for a in ALL]


def nbgrader_cells(path):
    return {c.metadata["nbgrader"]["grade_id"]: c for c in nbformat.read(path, as_version=4).cells
            if "nbgrader" in c.metadata}


def test_the_course_has_its_assignments_and_check_names_are_unique():
    assert IDS == ["mlp", "multiclass"]
    names = [name for a in ALL for name in a.checks]
    assert len(names) == len(set(names)), "run_check(name) finds a check's assignment by its name"
    assert MLP_MAX_SCORE == 100


@pytest.mark.parametrize("task", ALL, ids=IDS)
def test_every_check_has_a_probe_a_judge_and_points(task):
    assert set(task.probes.PROBES) == set(task.judges.JUDGES) == set(task.checks) == set(task.probes.SCHEMAS)
    assert all(check.points > 0 and check.part and check.title for check in task.checks.values())


@pytest.mark.parametrize("task", ALL, ids=IDS)
def test_each_check_is_one_test_cell_with_the_table_points(task):
    cells = nbgrader_cells(task.source_notebook)
    graded = {gid: c for gid, c in cells.items() if c.metadata["nbgrader"].get("grade")}
    auto = {gid: c for gid, c in graded.items() if c.cell_type == "code"}
    called = {}
    for gid, cell in auto.items():
        calls = re.findall(r'run_check\("(\w+)", globals\(\)', cell.source)
        assert len(calls) == 1, f"{gid} must call run_check once, inside its hidden block"
        hidden = cell.source.split("### BEGIN HIDDEN TESTS")[1].split("### END HIDDEN TESTS")[0]
        assert "run_check" in hidden
        assert cell.metadata["nbgrader"]["locked"] and not cell.metadata["nbgrader"]["solution"]
        called[calls[0]] = cell
    assert set(called) == set(task.checks)
    for name, check in task.checks.items():
        assert called[name].metadata["nbgrader"]["points"] == check.points, name
    for gid, cell in graded.items():       # the rest are answers graded by hand: markdown solution cells
        if gid not in auto:
            assert cell.cell_type == "markdown" and cell.metadata["nbgrader"]["solution"], gid


@pytest.mark.parametrize("task", ALL, ids=IDS)
def test_notebooks_are_recognised_as_their_assignment(task):
    for path in (task.source_notebook, task.release_notebook):
        assert assignments.detect(json.load(open(path))) == task


def test_mlp_solution_cells_carry_no_points_and_stub_out_in_the_release():
    mlp = assignments.get("mlp")
    source, release = nbgrader_cells(mlp.source_notebook), nbgrader_cells(mlp.release_notebook)
    solutions = [gid for gid, c in source.items() if c.metadata["nbgrader"].get("solution")]
    assert solutions == ["activations", "model", "gradient_check", "sgd", "evaluate", "train"]
    for gid in solutions:
        assert not source[gid].metadata["nbgrader"].get("grade")
        assert "### BEGIN SOLUTION" in source[gid].source
        assert "raise NotImplementedError()" in release[gid].source


@pytest.mark.parametrize("path", [p for a in ALL for p in (a.source_notebook, a.release_notebook)])
def test_notebooks_are_committed_without_outputs(path):
    nb = json.load(open(path))
    assert all(not c.get("outputs") and not c.get("execution_count") for c in nb["cells"] if c["cell_type"] == "code")
