"""Generated mutants (scripts/generate_mutants.py): the grader must catch wrong code nobody here wrote.

For every assignment with generated mutants (an ``autograder/assignments/<id>/differential.py`` and a
committed ``tests/generated/<id>/mutants.json``): mutants.json holds the single-point AST mutants of the
instructor's solution cells; classification.json says which are equivalent to src/ (differential
testing) and, for the others, the first input on which they differ. Regenerate both with
`python scripts/generate_mutants.py --assignment <id>` after changing the solution, src/, the battery
(differential.py) or the generator.

The slow tests grade every non-equivalent mutant with the batch grader (the pytest path) and a fixed
sample with the real `nbgrader autograde`; each must score below the assignment's auto-graded maximum
on at least 98% of them.
"""
import os
import random
import shutil
import sys
import tempfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import generate_mutants as gm  # noqa: E402

KILL_RATE = 0.98
MIN_MUTANTS = {"mlp": 300, "multiclass": 200}
# notebooks graded by the real nbgrader (kernels): a multiclass notebook takes seconds, so its sample is small
NBGRADER_SAMPLE = {"mlp": 60, "multiclass": 16}
ASSIGNMENTS = gm.generated_names()


def test_every_assignment_with_a_battery_has_generated_mutants():
    assert ASSIGNMENTS == gm.names() and {"mlp", "multiclass"} <= set(ASSIGNMENTS)


@pytest.fixture(scope="module", params=ASSIGNMENTS)
def target(request):
    return gm.target(request.param)


@pytest.fixture(scope="module")
def mutants(target):
    return gm.load_mutants(target)


@pytest.fixture(scope="module")
def classification(target):
    data = gm.load_classification(target)
    assert data is not None, (f"tests/generated/{target.name}/classification.json is missing or stale (the solution, "
                              f"src/, the battery or the generator changed): run "
                              f"`python scripts/generate_mutants.py --assignment {target.name}`")
    return data["mutants"]


def non_equivalent(mutants, classification):
    return [m for m in mutants if not classification[m["id"]]["equivalent"]]


def test_enough_mutants_every_operator_and_every_cell(target, mutants):
    assert len(mutants) >= MIN_MUTANTS[target.name]
    assert {m["operator"] for m in mutants} == set(gm.OPERATORS)
    assert {m["cell"] for m in mutants} == set(target.cells)
    assert len({m["id"] for m in mutants}) == len(mutants)
    assert len({(m["cell"], m["code"]) for m in mutants}) == len(mutants), "duplicate mutants"


def test_generation_is_deterministic_and_committed(target, mutants):
    first = gm.sample(target, gm.generate_all(target))
    assert first == gm.sample(target, gm.generate_all(target))
    assert [(m["id"], m["code"]) for m in first] == [(m["id"], m["code"]) for m in mutants], \
        f"tests/generated/{target.name}/mutants.json is stale: run " \
        f"`python scripts/generate_mutants.py --assignment {target.name}`"


def test_every_mutant_is_one_change_inside_a_solution_region(target, mutants):
    cells = gm.solution_cells(target)
    for m in mutants:
        original, region = cells[m["cell"]]
        assert m["code"] != original
        assert m["line"] in region, m["id"]


def test_classification_covers_every_mutant_and_mostly_non_equivalent(mutants, classification):
    assert set(classification) == {m["id"] for m in mutants}
    for m in non_equivalent(mutants, classification):
        assert classification[m["id"]]["witness"], f"{m['id']}: a non-equivalent mutant needs a witness"
    assert len(non_equivalent(mutants, classification)) >= 0.8 * len(mutants)


def test_classification_is_reproducible(target, mutants, classification):
    """Rerun the differential test on every equivalent mutant and a fixed sample of the others."""
    sample = [m for m in mutants if classification[m["id"]]["equivalent"]]
    others = non_equivalent(mutants, classification)
    sample += random.Random(gm.SEED).sample(others, min(40, len(others)))
    again = gm.classify(target, sample + [gm.original(target)], jobs=2, progress=False)
    assert again.pop("__original__")["equivalent"], "the instructor's solution must be equivalent to src/"
    for m in sample:
        want, got = classification[m["id"]], again[m["id"]]
        assert (got["equivalent"], got["witness"]) == (want["equivalent"], want["witness"]), m["id"]


def _report(survivors, classification, total):
    lines = [f"{len(survivors)} of {total} non-equivalent mutants survive (full auto-graded marks):"]
    lines += [f"  {m['id']}: {m['diff']}\n      witness: {classification[m['id']]['witness']}" for m in survivors]
    return "\n".join(lines)


@pytest.mark.slow
def test_pytest_path_kills_the_non_equivalent_mutants(target, mutants, classification):
    targets = non_equivalent(mutants, classification)
    with tempfile.TemporaryDirectory() as work:
        grades = gm.grade(target, targets, work, jobs=2)
    assert set(grades) == {m["id"] for m in targets}
    assert all(g["status"] != "error" for g in grades.values()), "grader errors"
    assert all(g["max_score"] == target.assignment.max_score for g in grades.values())
    survivors = [m for m in targets if not gm.killed(grades[m["id"]])]
    rate = 1 - len(survivors) / len(targets)
    print(f"\n{target.name} pytest path: {len(targets) - len(survivors)}/{len(targets)} generated mutants killed")
    assert rate >= KILL_RATE, _report(survivors, classification, len(targets))


def spread_sample(candidates, n):
    """A fixed sample of n spread over the cells: each cell's mutants shuffled (seed gm.SEED), then
    taken one per cell in turn (a plain random sample of 16 can miss a whole cell)."""
    rng = random.Random(gm.SEED)
    by_cell = {}
    for m in candidates:
        by_cell.setdefault(m["cell"], []).append(m)
    queues = [rng.sample(group, len(group)) for _, group in sorted(by_cell.items())]
    sample = []
    while len(sample) < n and any(queues):
        for queue in queues:
            if queue and len(sample) < n:
                sample.append(queue.pop(0))
    return sample


def _full_marks(course, target, student):
    """True when every auto-graded test cell of the student's notebook earned its points (None: nothing recorded)."""
    from nbgrader_course import cell_scores
    cells = cell_scores(course, student, target.name)
    if not cells:
        return None
    missing = {f"test_{name}" for name in target.assignment.checks} - set(cells)
    assert not missing, f"{student}: no test cell named test_<check> for {sorted(missing)} (a grade id renamed?)"
    return all((cells.get(f"test_{name}") or 0) >= check.points for name, check in target.assignment.checks.items())


@pytest.mark.slow
def test_nbgrader_path_kills_a_sample_of_the_non_equivalent_mutants(target, mutants, classification,
                                                                     tmp_path_factory):
    from nbgrader_course import autograde, make_course
    sample = spread_sample(non_equivalent(mutants, classification), NBGRADER_SAMPLE[target.name])
    assert {m["cell"] for m in sample} == set(target.cells)
    course = make_course(str(tmp_path_factory.mktemp(f"generated_course_{target.name}")))
    folder = tmp_path_factory.mktemp(f"generated_notebooks_{target.name}")
    for m in sample:
        (folder / f"{m['id']}.ipynb").write_text(gm.build_notebook(target, m), encoding="utf-8")
    proc = autograde(course, {m["id"]: str(folder / f"{m['id']}.ipynb") for m in sample}, assignment=target.name)
    recorded = {m["id"]: _full_marks(course, target, m["id"]) for m in sample}
    missing = [k for k, v in recorded.items() if v is None]
    assert not missing, f"nbgrader recorded no grades for {missing}: {proc.stderr[-3000:]}"
    survivors = [m for m in sample if recorded[m["id"]]]
    for folder in (course, course + ".shard1"):
        shutil.rmtree(folder, ignore_errors=True)
    rate = 1 - len(survivors) / len(sample)
    print(f"\n{target.name} nbgrader path: {len(sample) - len(survivors)}/{len(sample)} generated mutants killed")
    assert rate >= KILL_RATE, "nbgrader path: " + _report(survivors, classification, len(sample))
