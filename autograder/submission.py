"""What of a submitted notebook is graded, and how a graded check is assembled.

The pytest path executes, in notebook order:
- the release's ``setup`` cell (imports and the given helpers), taken from the release, and
- every solution cell (nbgrader ``solution: true``), taken from the student's notebook by
  ``grade_id``; a solution cell the student deleted is replaced by the release's stub.
Test cells, demo cells and cells the student added are not run: test cells are the
instructor's, and only solution cells are the student's answer (this is what the
assignment's introduction tells students).
"""
import json
import os
from dataclasses import dataclass, field

import nbformat

from autograder.checks import ASSIGNMENT, CHECKS, NOTEBOOK
from autograder.judges import make_inputs, run_judge
from autograder.sandbox import ROOT, Limits

RELEASE_DIR = os.path.join(ROOT, "release", ASSIGNMENT)
RELEASE_NOTEBOOK = os.path.join(RELEASE_DIR, NOTEBOOK + ".ipynb")
GIVEN_CELLS = ("setup",)


class InvalidSubmission(Exception):
    """The file cannot be graded at all (missing, not JSON, not a notebook). One-line message."""


def read_notebook(path):
    if not os.path.isfile(path):
        raise InvalidSubmission(f"no such file: {path}")
    try:
        with open(path, encoding="utf-8") as f:
            raw = json.load(f)
    except (UnicodeDecodeError, ValueError) as e:
        raise InvalidSubmission(f"not a notebook: invalid JSON ({str(e)[:120]})") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("cells"), list):
        raise InvalidSubmission("not a notebook: no list of cells")
    try:
        return nbformat.from_dict(raw)
    except Exception as e:  # noqa: BLE001
        raise InvalidSubmission(f"not a notebook: {str(e)[:120]}") from None


def _grade_id(cell):
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def _source(cell):
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def graded_cells(student_nb, release_nb):
    """[(label, source)] to execute, in release order; also the solution cells the student lost."""
    student = {}
    for cell in student_nb.cells:
        if cell.get("cell_type") == "code" and _grade_id(cell) and _grade_id(cell) not in student:
            student[_grade_id(cell)] = _source(cell)
    cells, missing = [], []
    for cell in release_nb.cells:
        gid, meta = _grade_id(cell), cell.metadata.get("nbgrader", {})
        if gid in GIVEN_CELLS:
            cells.append((gid, _source(cell)))
        elif meta.get("solution"):
            if gid not in student:
                missing.append(gid)
            cells.append((gid, student.get(gid, _source(cell))))
    return cells, missing


def helper_files():
    """The release's non-notebook files (data.py, visualization.py): what the setup cell imports."""
    return {name: open(os.path.join(RELEASE_DIR, name), encoding="utf-8").read()
            for name in sorted(os.listdir(RELEASE_DIR)) if name.endswith(".py")}


@dataclass
class CheckResult:
    name: str
    title: str
    points: float
    max_points: int
    message: str = ""                 # why points were lost ("" when full marks)
    status: str = "graded"            # graded | timeout | crashed


@dataclass
class Submission:
    """A notebook prepared for grading: the cells to run and the jobs to send to the sandbox."""
    path: str
    cells: list
    missing: list = field(default_factory=list)

    @classmethod
    def load(cls, path):
        cells, missing = graded_cells(read_notebook(path), nbformat.read(RELEASE_NOTEBOOK, as_version=4))
        return cls(path, cells, missing)

    def job(self, name, cells=None, limits=Limits()):
        return {"cells": cells if cells is not None else self.cells, "check": name,
                "inputs": make_inputs(name), "files": helper_files(), "limits": limits.__dict__}

    def grade(self, name, server, limits=Limits()):
        """Run check `name` in the sandbox and judge it here. Returns a CheckResult."""
        check = CHECKS[name]
        outcome = server.run(self.job(name, limits=limits))
        if outcome["status"] in ("crashed", "timeout") and outcome.get("failed_cell") is not None:
            # a cell killed the process: grade what the cells before it earned, and say why
            first_reason = outcome["reason"]
            outcome = server.run(self.job(name, cells=self.cells[:outcome["failed_cell"]], limits=limits))
            outcome.setdefault("cell_errors", []).insert(0, {"cell": "", "error": first_reason})
        if outcome["status"] == "ok":
            verdict = run_judge(name, outcome["data"], make_inputs(name))
            message, status = verdict.message, "graded"
        elif outcome["status"] == "error":
            message, status = outcome["data"], "graded"
        else:
            message, status = outcome["reason"], outcome["status"]
        if message:
            notes = [e["error"] if not e["cell"] else f"cell '{e['cell']}' failed: {e['error']}"
                     for e in outcome.get("cell_errors", [])]
            notes += [f"solution cell '{gid}' is missing from your notebook" for gid in self.missing]
            message = "\n".join([message] + notes[:3])
        return CheckResult(name, check.title, 0 if message else check.points, check.points, message, status)
