"""The grading-quality corpus: wrong implementations (mutants.py) and correct-but-different ones
(alternatives.py), as student notebooks in tests/corpus/notebooks/.

    python -m tests.corpus        # rewrites tests/corpus/notebooks/*.ipynb from the release + solution

tests/test_grading_quality.py grades them in both paths; scripts/grading_quality.py measures
them into docs/grading-quality.md.
"""
import os

from examples.catalogue import build
from tests.corpus.alternatives import ALTERNATIVES
from tests.corpus.mutants import HINTS, MUTANTS

NOTEBOOKS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "notebooks")
CORPUS = MUTANTS + ALTERNATIVES
BY_NAME = {e.name: e for e in CORPUS}
assert len(BY_NAME) == len(CORPUS), "corpus names must be unique"
assert set(HINTS) <= {m.name for m in MUTANTS}


def path(example):
    return os.path.join(NOTEBOOKS, example.name + ".ipynb")


def write_all(directory=NOTEBOOKS):
    os.makedirs(directory, exist_ok=True)
    for name in os.listdir(directory):
        if name.endswith(".ipynb") and name[:-len(".ipynb")] not in BY_NAME:
            os.remove(os.path.join(directory, name))
    for example in CORPUS:
        with open(os.path.join(directory, example.name + ".ipynb"), "w", encoding="utf-8") as f:
            f.write(build(example))
