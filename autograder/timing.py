"""Time limits calibrated on the grading machine: the reference solution's own time per check.

A flat limit (20 s a check) makes every endless loop cost 20 s per check it reaches; a limit
relative to what the reference solution takes on *this* machine, under *this* load, stops it in
seconds while still leaving correct code in any style far more time than it needs:

    limit(check) = max(FLOOR_SECONDS, MULTIPLIER × reference seconds for that check)

The cells keep the flat `Limits.wall_seconds` (nbgrader's own per-cell limit is the same 20 s,
and a student may run demo code at the top of a solution cell). Measured (docs/grading-quality.md):
the reference takes 0.01-0.05 s a check here, and the slowest correct alternative (explicit Python
loops) 0.27 s on the XOR check, about 5× the reference; the floor alone is 60× that.
"""
import dataclasses
import os

from autograder.sandbox import ROOT, Limits

FLOOR_SECONDS = 3.0
MULTIPLIER = 50.0


def reference_notebook(assignment="mlp", notebook="mlp"):
    """The instructor's notebook: its solution cells are the reference solution."""
    return os.path.join(ROOT, "source", assignment, notebook + ".ipynb")


def calibrated(server, base=Limits(), notebook=None):
    """`base` with a wall limit per check from one run of the reference solution in `server`.
    Falls back to `base` (flat limits) if the reference does not pass cleanly: never a tighter
    limit than the reference itself needs."""
    from autograder.checks import CHECKS
    from autograder.submission import Submission
    reference = Submission.load(notebook or reference_notebook())
    outcomes = server.run(reference.jobs(list(CHECKS), limits=base))
    if any(o["status"] != "ok" for o in outcomes.values()):
        return base
    limits = {name: round(max(FLOOR_SECONDS, MULTIPLIER * max(0.0, o["seconds"] - o["cells_seconds"])), 2)
              for name, o in outcomes.items()}
    return dataclasses.replace(base, check_seconds=tuple(sorted(limits.items())))
