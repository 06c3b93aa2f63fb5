"""The nbgrader path: what a hidden test cell calls inside the student's kernel.

    from autograder.notebook import run_check
    run_check("backward_relu", globals())

It runs the check's probe on the notebook's namespace, judges the data against
``src/`` and, on failure, raises ``CheckFailed`` with the judge's message, so
nbgrader scores the cell 0. Warnings and stderr from the student's code are
swallowed while the probe runs: nbgrader zeroes any test cell that writes to
stderr, and a numerically correct answer must not lose points for a warning.

This path runs in the student's process, so it trusts it; the pytest path
(``python -m autograder grade``) runs probes in a sandbox and judges outside it.
"""
from autograder.checks import CHECKS
from autograder.judges import make_inputs, run_judge
from autograder.probes import run_probe


class CheckFailed(AssertionError):
    pass


def run_check(name, namespace):
    __tracebackhide__ = True  # IPython hides this frame: the student sees the message, not grader code
    check = CHECKS[name]
    inputs = make_inputs(name)
    status, data = run_probe(name, namespace, inputs)
    message = data if status == "error" else run_judge(name, data, inputs).message
    if message:
        raise CheckFailed(f"{check.title}:\n{message}")
    print(f"✓ {check.title} ({check.points} points)")
