"""Generated mutants (scripts/generate_mutants.py): the grader must catch wrong code nobody here wrote.

tests/generated/mutants.json holds every single-point AST mutant of the instructor's solution cells;
tests/generated/classification.json says which are equivalent to src/ (differential testing) and,
for the others, the first input on which they differ. Regenerate both with
`python scripts/generate_mutants.py` after changing the solution, src/ or the generator.

The slow tests grade every non-equivalent mutant with the batch grader (the pytest path) and a fixed
sample with the real `nbgrader autograde`; each must score < 100 on at least 98% of them.
"""
import os
import random
import sys
import tempfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import generate_mutants as gm  # noqa: E402

KILL_RATE = 0.98
NBGRADER_SAMPLE = 60


@pytest.fixture(scope="module")
def mutants():
    return gm.load_mutants()


@pytest.fixture(scope="module")
def classification():
    data = gm.load_classification()
    assert data is not None, ("tests/generated/classification.json is missing or stale (the solution, src/ or the "
                              "generator changed): run `python scripts/generate_mutants.py`")
    return data["mutants"]


def non_equivalent(mutants, classification):
    return [m for m in mutants if not classification[m["id"]]["equivalent"]]


def test_enough_mutants_every_operator_and_every_cell(mutants):
    assert len(mutants) >= 300
    assert {m["operator"] for m in mutants} == set(gm.OPERATORS)
    assert {m["cell"] for m in mutants} == set(gm.CELL_ORDER)
    assert len({m["id"] for m in mutants}) == len(mutants)
    assert len({(m["cell"], m["code"]) for m in mutants}) == len(mutants), "duplicate mutants"


def test_generation_is_deterministic_and_committed(mutants):
    first = gm.sample(gm.generate_all())
    assert first == gm.sample(gm.generate_all())
    assert [(m["id"], m["code"]) for m in first] == [(m["id"], m["code"]) for m in mutants], \
        "tests/generated/mutants.json is stale: run `python scripts/generate_mutants.py`"


def test_every_mutant_is_one_change_inside_a_solution_region(mutants):
    cells = gm.solution_cells()
    for m in mutants:
        original, region = cells[m["cell"]]
        assert m["code"] != original
        assert m["line"] in region, m["id"]


def test_classification_covers_every_mutant_and_mostly_non_equivalent(mutants, classification):
    assert set(classification) == {m["id"] for m in mutants}
    for m in non_equivalent(mutants, classification):
        assert classification[m["id"]]["witness"], f"{m['id']}: a non-equivalent mutant needs a witness"
    assert len(non_equivalent(mutants, classification)) >= 0.8 * len(mutants)


def test_classification_is_reproducible(mutants, classification):
    """Rerun the differential test on every equivalent mutant and a fixed sample of the others."""
    sample = [m for m in mutants if classification[m["id"]]["equivalent"]]
    sample += random.Random(gm.SEED).sample(non_equivalent(mutants, classification), 40)
    original = {"id": "__original__", "cell": "train", "code": gm.solution_cells()["train"][0]}
    again = gm.classify(sample + [original], jobs=2, progress=False)
    assert again.pop("__original__")["equivalent"], "the instructor's solution must be equivalent to src/"
    for m in sample:
        want, got = classification[m["id"]], again[m["id"]]
        assert (got["equivalent"], got["witness"]) == (want["equivalent"], want["witness"]), m["id"]


def _report(survivors, classification, total):
    lines = [f"{len(survivors)} of {total} non-equivalent mutants survive (score 100):"]
    lines += [f"  {m['id']}: {m['diff']}\n      witness: {classification[m['id']]['witness']}" for m in survivors]
    return "\n".join(lines)


@pytest.mark.slow
def test_pytest_path_kills_the_non_equivalent_mutants(mutants, classification):
    targets = non_equivalent(mutants, classification)
    with tempfile.TemporaryDirectory() as work:
        grades = gm.grade(targets, work, jobs=2, wall_seconds=6)
    assert set(grades) == {m["id"] for m in targets}
    assert all(g["status"] != "error" for g in grades.values()), "grader errors"
    survivors = [m for m in targets if not gm.killed(grades[m["id"]])]
    rate = 1 - len(survivors) / len(targets)
    assert rate >= KILL_RATE, _report(survivors, classification, len(targets))


@pytest.mark.slow
def test_nbgrader_path_kills_a_sample_of_the_non_equivalent_mutants(mutants, classification, tmp_path_factory):
    from autograder.assignments.mlp.checks import CHECKS
    from nbgrader_course import autograde, cell_scores, make_course
    sample = random.Random(gm.SEED).sample(non_equivalent(mutants, classification), NBGRADER_SAMPLE)
    folder = tmp_path_factory.mktemp("generated_notebooks")
    paths = {}
    for m in sample:
        paths[m["id"]] = str(folder / f"{m['id']}.ipynb")
        with open(paths[m["id"]], "w", encoding="utf-8") as f:
            f.write(gm.build_notebook(m))
    course = make_course(str(tmp_path_factory.mktemp("generated_course")))
    autograde(course, paths)
    survivors = []
    for m in sample:
        cells = cell_scores(course, m["id"])
        full = cells and all(cells.get(f"test_{name}", 0) >= check.points for name, check in CHECKS.items())
        if full:
            survivors.append(m)
    rate = 1 - len(survivors) / len(sample)
    assert rate >= KILL_RATE, "nbgrader path: " + _report(survivors, classification, len(sample))
