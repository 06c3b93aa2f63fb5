"""The course's assignments: one folder each, ``autograder/assignments/<assignment id>/``.

A folder is an assignment when it holds ``checks.py``. Everything about that assignment lives there:

    checks.py    the rule table: NOTEBOOK (the notebook's name, without .ipynb) and CHECKS, every
                 check with its part and points
    probes.py    run the student's code in the sandbox, return data of a declared form (probing.py)
    judges.py    decide outside the sandbox: make_inputs(name), run_judge(name, data, inputs) (judging.py)
    hints.py     misconception hints (optional; used by the judges)
    oracles.py   stand-ins the probes and judges share (optional)

with the instructor notebook in ``source/<id>/<NOTEBOOK>.ipynb`` and the release in ``release/<id>/``.
The shared machinery (sandbox, runner, submission, batch, nbgrader glue) reaches an assignment only
through ``get``/``all_assignments``/``detect`` here, and names none.

This module is also loaded inside the sandbox (``probe_modules``): it imports nothing heavy at the top.
"""
import functools
import importlib
import json
import os
from dataclasses import dataclass

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))            # the course directory (grading side only)
SANDBOX_FILES = ("__init__.py", "probes.py", "oracles.py")  # of each folder: all the sandbox sees


@dataclass(frozen=True)
class Check:
    name: str
    part: str       # the part of the assignment the check grades (what a wrong answer costs)
    points: int
    title: str      # what the student sees in the per-check table


def names():
    """Every assignment id, sorted (the folders here with a checks.py)."""
    return sorted(d for d in os.listdir(HERE) if os.path.isfile(os.path.join(HERE, d, "checks.py")))


def probe_modules():
    """The probes module name of every assignment whose probes.py is present (in the sandbox: bound)."""
    return [f"{__name__}.{d}.probes" for d in sorted(os.listdir(HERE))
            if os.path.isfile(os.path.join(HERE, d, "probes.py"))]


class UnknownAssignment(ValueError):
    pass


@dataclass(frozen=True)
class Assignment:
    """One assignment: its id, notebook, rule table, and where its files are."""
    name: str
    notebook: str
    checks: dict      # check name -> Check, in grading order

    @property
    def max_score(self):
        return sum(c.points for c in self.checks.values())

    @property
    def release_dir(self):
        return os.path.join(ROOT, "release", self.name)

    @property
    def release_notebook(self):
        return os.path.join(self.release_dir, self.notebook + ".ipynb")

    @property
    def source_notebook(self):
        return os.path.join(ROOT, "source", self.name, self.notebook + ".ipynb")

    @property
    def judges(self):
        """The assignment's judges module (grading side only: it imports the reference in src/)."""
        return importlib.import_module(f"{__name__}.{self.name}.judges")

    @property
    def probes(self):
        return importlib.import_module(f"{__name__}.{self.name}.probes")


@functools.lru_cache(maxsize=None)
def get(name):
    """The assignment `name`; UnknownAssignment (one line, naming the course's assignments) if none."""
    if name not in names():
        raise UnknownAssignment(f"no assignment '{name}' in this course (it has: {', '.join(names())})")
    rules = importlib.import_module(f"{__name__}.{name}.checks")
    return Assignment(name, rules.NOTEBOOK, dict(rules.CHECKS))


def all_assignments():
    return [get(name) for name in names()]


def find_check(check):
    """The assignment that has a check named `check` (check names are unique across the course)."""
    found = [a for a in all_assignments() if check in a.checks]
    if len(found) != 1:
        raise UnknownAssignment(f"{len(found)} assignments have a check named '{check}'")
    return found[0]


@functools.lru_cache(maxsize=None)
def _release_cell_ids(name):
    with open(get(name).release_notebook, encoding="utf-8") as f:
        cells = json.load(f)["cells"]
    return frozenset(c.get("metadata", {}).get("nbgrader", {}).get("grade_id") for c in cells) - {None}


def detect(notebook):
    """The assignment a parsed notebook (dict) belongs to: the one whose release shares most of its
    nbgrader cell ids (a student's notebook keeps them). UnknownAssignment if it shares none."""
    cells = notebook.get("cells") if isinstance(notebook, dict) else None
    ids = set()
    for cell in cells if isinstance(cells, list) else []:
        meta = cell.get("metadata") if isinstance(cell, dict) else None
        nb = meta.get("nbgrader") if isinstance(meta, dict) else None
        if isinstance(nb, dict) and isinstance(nb.get("grade_id"), str):
            ids.add(nb["grade_id"])
    scores = sorted(((len(ids & _release_cell_ids(n)), n) for n in names()), reverse=True)
    if not scores or scores[0][0] == 0:
        raise UnknownAssignment("this notebook has none of the course's graded cells (nbgrader grade ids): "
                                "it is not one of the assignments' notebooks")
    if len(scores) > 1 and scores[1][0] == scores[0][0]:
        raise UnknownAssignment(f"this notebook matches assignments '{scores[0][1]}' and '{scores[1][1]}' "
                                "equally: say which with --assignment")
    return get(scores[0][1])
