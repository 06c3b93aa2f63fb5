"""The nbgrader path: what a hidden test cell calls inside the student's kernel.

    from autograder.notebook import run_check
    assert run_check("backward_relu", globals())

It runs the check's probe on the notebook's namespace, judges the data against
``src/`` and, when the check passes, prints "✓ title (points)" and returns True. When it
fails it raises ``CheckFailed``: the cell fails, so nbgrader scores it 0 in its own kernel
run (kept as a tampering signal: the recorded score is the sandbox's, gradebook.py), and
the cell's only error output is the verdict itself, wrapped to ``WIDTH`` columns, with no
Python traceback after it (IPython renders an exception's ``_render_traceback_``).

Warnings and stderr from the student's code are swallowed while the probe runs: nbgrader
zeroes any test cell that writes to stderr, and a numerically correct answer must not lose
points for a warning. The kernel's random state (``np.random``'s global generator and the
``random`` module) is put back as it was: the probes call student code that draws from it,
and a hidden cell must not change the numbers the student's later cells get (the feedback
must show what the student saw in their own Run All).

This path runs in the student's process, so it trusts it; the pytest path
(``python -m autograder grade``) runs probes in a sandbox and judges outside it.
"""
import contextlib
import random
import textwrap

import numpy as np

from autograder import assignments

WIDTH = 88          # columns of a verdict: Jupyter and the feedback HTML show it without clipping sideways


class CheckFailed(Exception):
    """A failed check. Its text is the verdict; IPython shows only that (no traceback), and the cell fails."""

    def _render_traceback_(self):
        return str(self).splitlines()


def wrap(text, width=WIDTH):
    """`text` with each line longer than `width` wrapped at spaces, continuation lines indented two
    more columns than the line they continue (an array printed over several lines keeps its layout)."""
    out = []
    for line in str(text).splitlines() or [""]:
        if len(line) <= width:
            out.append(line)
            continue
        indent = line[:len(line) - len(line.lstrip())]
        out += textwrap.wrap(line, width, initial_indent="", subsequent_indent=indent + "  ",
                             break_long_words=False, break_on_hyphens=False, drop_whitespace=True) or [line]
    return "\n".join(out)


def failure_text(title, points, message):
    """What a student reads for a failed check: the title, the points lost, the judge's message."""
    return wrap(f"✗ {title} (0 of {points} points):\n{message}")


@contextlib.contextmanager
def kept_random_state():
    """Run the block, then put np.random's global state and the random module's state back."""
    np_state, py_state = np.random.get_state(), random.getstate()
    try:
        yield
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)


def verdict_message(task, name, namespace):
    """The judge's message on check `name` of assignment `task` run on `namespace` ("" when it passed)."""
    with kept_random_state(), np.printoptions(precision=6, linewidth=WIDTH - 4, threshold=12):
        inputs = task.judges.make_inputs(name)
        status, data = task.probes.run_probe(name, namespace, inputs)
        return data if status == "error" else task.judges.run_judge(name, data, inputs).message


def run_check(name, namespace, assignment=None):
    """Grade check `name` on the notebook's namespace: print "✓ ..." and return True if it passed,
    raise CheckFailed (the verdict as its text) if not. `assignment`: the check's assignment id (by
    default the one assignment that has a check of that name: check names are unique in the course)."""
    task = assignments.get(assignment) if assignment else assignments.find_check(name)
    check = task.checks[name]
    message = verdict_message(task, name, namespace)
    if message:
        raise CheckFailed(failure_text(check.title, check.points, message))
    print(f"✓ {check.title} ({check.points} points)")
    return True
