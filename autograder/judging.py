"""What every assignment's judges share: the verdict, the registry, and validating data first.

A judge never runs student code: it reads the data a probe returned (the student's output,
untrusted) and decides, taking every parameter of its judgement from the grading side. Each
assignment's ``judges.py`` makes one ``Judges(probes.SCHEMAS)`` and registers its judges on it:

    _judges = Judges(probes.SCHEMAS)
    JUDGES, judge, run_judge = _judges.judges, _judges.judge, _judges.run

    @judge("relu")
    def judge_relu(data, inputs):
        yield "..." for every problem found (nothing when the check passes)
"""
from dataclasses import dataclass

import numpy as np

from autograder.protocol import SchemaError, clean_text, safe_str, validate


@dataclass
class Verdict:
    passed: bool
    message: str                # what the student reads; "" when passed
    grader_error: bool = False  # the judge itself failed on valid data: a bug of the grader, not the student's


class Unreadable(Exception):
    """Valid-looking data that still cannot be read as numbers (e.g. an array of shape (0, 10³⁰))."""


def unreadable(reason):
    return Verdict(False, clean_text(f"the grader could not read what your code returned ({reason})"))


class Judges:
    """One assignment's judges: check name -> judge(data, inputs) yielding problems (strings)."""

    def __init__(self, schemas):
        self.schemas, self.judges = schemas, {}

    def judge(self, name):
        def register(fn):
            self.judges[name] = fn
            return fn
        return register

    def run(self, name, data, inputs):
        """The verdict of check `name` on its probe's `data` (untrusted) and the grader's `inputs`.

        Data that does not have the probe's declared form fails the check (the student's output);
        a judge that raises on data of that form is a grader bug, reported as such (never a raise)."""
        try:
            data = validate(self.schemas[name], data)
        except SchemaError as e:
            return unreadable(safe_str(e))
        except Exception as e:  # noqa: BLE001 - e.g. an integer too large for a float
            return unreadable(f"{type(e).__name__}: {safe_str(e)}")
        try:
            with np.errstate(all="ignore"):
                problems = [p for p in self.judges[name](data, inputs) if p]
        except Unreadable as e:
            return unreadable(safe_str(e))
        except Exception as e:  # noqa: BLE001 - a judge must never take the grading down
            return Verdict(False, clean_text(f"grader error (not your mistake): the check {name} failed to judge "
                                             f"your results ({type(e).__name__}: {safe_str(e)}); please report it"),
                           grader_error=True)
        return Verdict(not problems, "\n".join(problems[:4]) + ("\n..." if len(problems) > 4 else ""))
