"""The nbgrader path: what a hidden test cell calls inside the student's kernel.

    from autograder.notebook import run_check
    assert run_check("backward_relu", globals())

It runs the check's probe on the notebook's namespace, judges the data against
``src/``, prints the verdict and returns whether the check passed, so a failed
check fails the cell and nbgrader scores it 0. Warnings and stderr from the student's code are
swallowed while the probe runs: nbgrader zeroes any test cell that writes to
stderr, and a numerically correct answer must not lose points for a warning.

This path runs in the student's process, so it trusts it; the pytest path
(``python -m autograder grade``) runs probes in a sandbox and judges outside it.
"""
from autograder import assignments


def run_check(name, namespace, assignment=None):
    """Grade check `name` on the notebook's namespace; print the verdict and return True if it passed.

    The hidden cell says `assert run_check(...)`, so a failed check fails the cell with a
    three-line traceback, after the judge's message printed above it.
    """
    task = assignments.get(assignment) if assignment else assignments.find_check(name)
    check, judges = task.checks[name], task.judges
    inputs = judges.make_inputs(name)
    status, data = task.probes.run_probe(name, namespace, inputs)
    message = data if status == "error" else judges.run_judge(name, data, inputs).message
    if message:
        print(f"✗ {check.title} (0 of {check.points} points):\n{message}")
        return False
    print(f"✓ {check.title} ({check.points} points)")
    return True
