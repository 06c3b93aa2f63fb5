"""What of a submitted notebook is graded, and how a graded check is assembled.

The pytest path executes, in notebook order:
- the release's ``setup`` cell (imports and the given helpers), taken from the release, and
- every solution cell (nbgrader ``solution: true``), taken from the student's notebook by
  ``grade_id``; a solution cell the student deleted is replaced by the release's stub.
Test cells, demo cells and cells the student added are not run: test cells are the
instructor's, and only solution cells are the student's answer (this is what the
assignment's introduction tells students).

``Submission.grade(name, server)`` grades one check (one sandbox for it alone: the hidden
pytest suite); ``Submission.grade_all(server)`` grades every check with the cells run once
and one fresh fork per check (the batch grader). Both judge with the same code here.
"""
import functools
import json
import os
from dataclasses import dataclass, field

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
    for i, cell in enumerate(raw["cells"]):
        source = cell.get("source", "") if isinstance(cell, dict) else None
        if not (isinstance(source, str) or (isinstance(source, list) and all(isinstance(s, str) for s in source))):
            raise InvalidSubmission(f"not a notebook: cell {i} is not a cell with text source")
    return raw


def _nbgrader(cell):
    meta = cell.get("metadata")
    meta = meta.get("nbgrader") if isinstance(meta, dict) else None
    return meta if isinstance(meta, dict) else {}


def _grade_id(cell):
    gid = _nbgrader(cell).get("grade_id")
    return gid if isinstance(gid, str) else None


def _source(cell):
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def graded_cells(student_nb, release_nb):
    """[(label, source)] to execute, in release order; also notes on the solution cells the student
    lost or duplicated (of two cells with one grade_id the first is graded, as nbgrader does)."""
    student, twice = {}, set()
    for cell in student_nb["cells"]:
        gid = _grade_id(cell)
        if cell.get("cell_type") == "code" and gid:
            if gid in student:
                twice.add(gid)
            else:
                student[gid] = _source(cell)
    cells, missing = [], []
    for cell in release_nb["cells"]:
        gid, meta = _grade_id(cell), _nbgrader(cell)
        if gid in GIVEN_CELLS:
            cells.append((gid, _source(cell)))
        elif meta.get("solution"):
            if gid not in student:
                missing.append(f"solution cell '{gid}' is missing from your notebook (graded as the blank stub)")
            elif gid in twice:
                missing.append(f"your notebook has two cells with grade_id '{gid}': only the first is graded")
            cells.append((gid, student.get(gid, _source(cell))))
    return cells, missing


@functools.lru_cache(maxsize=None)
def _helper_files():
    return tuple((name, open(os.path.join(RELEASE_DIR, name), encoding="utf-8").read())
                 for name in sorted(os.listdir(RELEASE_DIR)) if name.endswith(".py"))


def helper_files():
    """The release's non-notebook files (data.py, visualization.py): what the setup cell imports.
    Read once per grading process."""
    return dict(_helper_files())


@functools.lru_cache(maxsize=None)
def _inputs_json(name):
    return json.dumps(make_inputs(name))


def check_inputs(name):
    """make_inputs(name), computed once per grading process (a fresh copy each call)."""
    return json.loads(_inputs_json(name))


@dataclass
class CheckResult:
    name: str
    title: str
    points: float
    max_points: int
    message: str = ""                 # why points were lost ("" when full marks)
    status: str = "graded"            # graded | timeout | crashed: timeout/crashed when the student's
                                      # process hit a limit or died, in a cell (then the check was
                                      # regraded on the cells before it) or in the check itself
    reason: str = ""                  # for timeout/crashed: what stopped the student's process


@dataclass
class Submission:
    """A notebook prepared for grading: the cells to run and the jobs to send to the sandbox."""
    path: str
    cells: list
    missing: list = field(default_factory=list)    # notes on lost or duplicated solution cells

    @classmethod
    def load(cls, path):
        cells, missing = graded_cells(read_notebook(path), read_notebook(RELEASE_NOTEBOOK))
        return cls(path, cells, missing)

    def job(self, name, cells=None, limits=Limits()):
        return {"cells": cells if cells is not None else self.cells, "check": name,
                "inputs": check_inputs(name), "files": helper_files(), "limits": limits.__dict__}

    def jobs(self, names, cells=None, limits=Limits()):
        """One sandbox job for several checks: the cells run once, each check in its own fork."""
        return {"cells": cells if cells is not None else self.cells, "checks": list(names),
                "inputs": {name: check_inputs(name) for name in names}, "files": helper_files(),
                "limits": limits.__dict__}

    def grade(self, name, server, limits=Limits()):
        """Run check `name` in the sandbox (a fresh sandbox for this check alone) and judge it here."""
        check = CHECKS[name]
        outcome = server.run(self.job(name, limits=limits))
        if outcome["status"] in ("crashed", "timeout") and outcome.get("failed_cell") is not None:
            retry = server.run(self.job(name, cells=self.cells[:outcome["failed_cell"]], limits=limits))
            outcome = self._after_regrade(outcome, retry)
        return self._judge(check, outcome)

    def grade_all(self, server, names=None, limits=Limits()):
        """[CheckResult] for `names` (default: every check, in CHECKS order), judged here.

        The sandbox runs the cells once and forks one fresh process per check; when a cell kills
        the process, the checks are regraded on the cells before it, as `grade` does."""
        names = list(names or CHECKS)
        outcomes = server.run(self.jobs(names, limits=limits))
        failed = {}
        for name in names:
            if outcomes[name]["status"] in ("crashed", "timeout") and outcomes[name].get("failed_cell") is not None:
                failed.setdefault(outcomes[name]["failed_cell"], []).append(name)
        for cell, again in failed.items():
            retries = server.run(self.jobs(again, cells=self.cells[:cell], limits=limits))
            for name in again:
                outcomes[name] = self._after_regrade(outcomes[name], retries[name])
        return [self._judge(CHECKS[name], outcomes[name]) for name in names]

    @staticmethod
    def _after_regrade(first, retry):
        """A cell killed the process: keep what the cells before it earned, say why, keep the status."""
        retry = dict(retry)
        retry["cell_errors"] = [{"cell": "", "error": first["reason"]}] + list(retry.get("cell_errors", []))
        if retry["status"] in ("ok", "error"):
            retry["killed"], retry["killed_reason"] = first["status"], first["reason"]
        return retry

    def _judge(self, check, outcome):
        name = check.name
        reason = outcome.get("killed_reason", "")
        if outcome["status"] == "ok":
            verdict = run_judge(name, outcome["data"], check_inputs(name))
            message, status = verdict.message, outcome.get("killed", "graded")
        elif outcome["status"] == "error":
            message, status = outcome["data"], outcome.get("killed", "graded")
        else:
            message, status, reason = outcome["reason"], outcome["status"], outcome["reason"]
        if message:
            notes = [e["error"] if not e["cell"] else f"cell '{e['cell']}' failed: {e['error']}"
                     for e in outcome.get("cell_errors", [])]
            notes += self.missing
            message = "\n".join([message] + notes[:3])
        return CheckResult(name, check.title, 0 if message else check.points, check.points, message, status, reason)
