"""The example submissions of the second assignment, `multiclass`: what each is and which checks it fails.

Like examples/catalogue.py for mlp, every example is a student notebook made from the *release*:

    perfect   every solution cell filled with the instructor's solution (the code, the experiments and
              the five written answers), without nbgrader's markers: full automatic marks (80), and
              answers for the instructor to grade in Formgrader (20 points)
    blank     the release, submitted untouched
    wrong     a mutant of tests/multiclass_corpus.py (exact text edits on the instructor's solution, the
              experiment cells and answers left as released), failing exactly that mutant's checks; its
              answers, left as released, are scored 0 by nbgrader itself (nothing to grade by hand)

They are written as flat files examples/submissions/mc_<name>.ipynb, next to mlp's examples, so that
`python -m autograder nbgrader-run` (default --submissions examples/submissions) grades both
assignments; nbgrader-run recognises them as multiclass from their nbgrader grade ids.

    python -m examples.multiclass_catalogue      # rewrites examples/submissions/mc_*.ipynb

`fails` is the exact set of automatic checks the example must fail in both grading paths.
"""
import copy
import json
import os
import sys
from dataclasses import dataclass

import nbformat

from examples.catalogue import SUBMISSIONS, solution_code

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCE = os.path.join(ROOT, "source", "multiclass", "multiclass.ipynb")
RELEASE = os.path.join(ROOT, "release", "multiclass", "multiclass.ipynb")
PREFIX = "mc_"                 # student ids of these examples: mc_<name>
ASSIGNMENT = "multiclass"      # the examples' assignment (this catalogue is the multiclass one)


@dataclass(frozen=True)
class MulticlassExample:
    name: str                  # the student id (file examples/submissions/<name>.ipynb)
    kind: str                  # perfect | blank | wrong
    description: str
    mutant: str = ""           # wrong: the tests/multiclass_corpus.py mutant it is
    fails: frozenset = frozenset()

    @property
    def path(self):
        return os.path.join(SUBMISSIONS, self.name + ".ipynb")


def _mutant(name):
    """The corpus mutant `name` (imported late: the corpus lives with the tests)."""
    from tests.multiclass_corpus import BY_NAME
    return BY_NAME[name]


def _wrong(mutant):
    example = _mutant(mutant)
    return MulticlassExample(PREFIX + mutant, "wrong", example.description, mutant, example.fails)


def _examples():
    """The catalogue: perfect, blank and four corpus mutants, one per part of the assignment."""
    from autograder.assignments import get
    checks = get(ASSIGNMENT).checks
    return [
        MulticlassExample(PREFIX + "perfect", "perfect", "the instructor's solution (code, experiments, answers)"),
        MulticlassExample(PREFIX + "blank", "blank", "the release, submitted untouched", fails=frozenset(checks)),
        _wrong("softmax_without_max_subtraction"),
        _wrong("backward_wrong_sign"),
        _wrong("momentum_velocity_reset"),
        _wrong("l2_penalty_on_biases"),
    ]


EXAMPLES = _examples()
BY_NAME = {e.name: e for e in EXAMPLES}


def _grade_id(cell):
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def perfect():
    """The release with every solution cell (code and markdown) replaced by the instructor's, markers removed."""
    solutions = {_grade_id(c): solution_code(c.source) for c in nbformat.read(SOURCE, as_version=4).cells
                 if c.metadata.get("nbgrader", {}).get("solution")}
    nb = nbformat.read(RELEASE, as_version=4)
    for cell in nb.cells:
        if _grade_id(cell) in solutions:
            cell.source = solutions[_grade_id(cell)]
    return nbformat.writes(nb)


def build(example):
    """The example's notebook as text."""
    if example.kind == "perfect":
        return perfect()
    if example.kind == "blank":
        return nbformat.writes(nbformat.read(RELEASE, as_version=4))
    from tests.multiclass_corpus import build as build_mutant
    return build_mutant(copy.deepcopy(_mutant(example.mutant)))


def write_all(directory=SUBMISSIONS):
    """Write every example to DIR/<name>.ipynb (mlp's are left as they are) and the examples' README."""
    os.makedirs(directory, exist_ok=True)
    for example in EXAMPLES:
        with open(os.path.join(directory, example.name + ".ipynb"), "w", encoding="utf-8") as f:
            f.write(build(example))
    from examples.catalogue import write_readme
    write_readme(directory)


if __name__ == "__main__":
    write_all(sys.argv[1] if len(sys.argv) > 1 else SUBMISSIONS)
    print(json.dumps([e.name for e in EXAMPLES]))
