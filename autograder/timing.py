"""Time limits calibrated on the grading machine: the reference solution's own time per check.

A flat limit (20 s a check) makes every endless loop cost 20 s per check it reaches; a limit
relative to what the reference solution takes on *this* machine, under *this* load, stops it in
seconds while still leaving correct code in any style far more time than it needs:

    limit(check) = max(FLOOR_SECONDS, MULTIPLIER × reference seconds for that check)
    limit(cells) = max(CELLS_FLOOR_SECONDS, MULTIPLIER × reference seconds for the cells)

Measured here: the reference takes 5-25 ms a check and 25 ms for all its cells; the slowest
correct alternative (explicit Python loops) 0.27 s on the XOR check, about 5× the reference. The
floors leave correct code 100× the reference's time or more, and demo code at the top of a
solution cell (training XOR for a thousand epochs takes under a second) room to run; an endless
loop costs 2 s in a check and 5 s in a cell.
"""
import dataclasses

from autograder.sandbox import Limits

FLOOR_SECONDS = 2.0
CELLS_FLOOR_SECONDS = 5.0
MULTIPLIER = 50.0


def calibrated(server, assignment, base=Limits(), notebook=None):
    """`base` with a wall limit per check of `assignment` from one run of its reference solution (the
    instructor's notebook, source/<id>/) in `server`. Falls back to `base` (flat limits) if the
    reference does not pass cleanly: never a tighter limit than the reference itself needs."""
    from autograder.submission import Submission
    reference = Submission.load(notebook or assignment.source_notebook, assignment=assignment)
    outcomes = server.run(reference.jobs(list(assignment.checks), limits=base))
    if any(o["status"] != "ok" for o in outcomes.values()):
        return base
    limits = {name: round(max(FLOOR_SECONDS, MULTIPLIER * max(0.0, o["seconds"] - o["cells_seconds"])), 2)
              for name, o in outcomes.items()}
    cells = max(o["cells_seconds"] for o in outcomes.values())
    return dataclasses.replace(base, check_seconds=tuple(sorted(limits.items())),
                               cells_seconds=round(max(CELLS_FLOOR_SECONDS, MULTIPLIER * cells), 2))
