"""The second assignment, `multiclass`: its structure, its release, its grading, and its mutant corpus.

Fast: the check table, probes, judges and schemas agree with the notebook's test cells and points
table; the manually graded answer cells; the release is what nbgrader generates and reveals nothing;
the solution passes every visible test (quickly) and every check in-process.
Slow (@pytest.mark.slow): `python -m autograder grade` (sandboxed) gives the solution 80/80 and the
blank release 0; the corpus (tests/multiclass_corpus.py), graded in one batch by one sandbox server:
every mutant fails exactly its checks (with its hint), every correct alternative gets 80/80.
"""
import contextlib
import filecmp
import io
import json
import os
import re
import subprocess
import sys
import time

import nbformat
import pytest

from autograder import assignments
from autograder.assignments.multiclass import checks, judges, probes
from autograder.protocol import Schema
from nbgrader_course import ROOT, make_course, nbgrader
from tests.multiclass_corpus import ALTERNATIVES, CORPUS, HINTS, MUTANTS, PARTS, SPIRAL, build

TASK = assignments.get("multiclass")
SOURCE = TASK.source_notebook
RELEASE_DIR = TASK.release_dir
RELEASE = TASK.release_notebook
SOLUTION_CELLS = ["softmax", "model", "optimizers", "torch_model", "experiment_hidden_sizes", "experiment_activations",
                  "experiment_learning_rates", "experiment_batch_sizes", "experiment_gradient_norms"]
ANSWERS = ["answer_hidden_sizes", "answer_activations", "answer_learning_rates", "answer_batch_sizes",
           "answer_gradient_norms"]
HELPERS = ["activations.py", "data.py", "training.py", "visualization.py"]


def nbgrader_cells(path):
    return {c.metadata["nbgrader"]["grade_id"]: c for c in nbformat.read(path, as_version=4).cells
            if "nbgrader" in c.metadata}


# --- the rule table ---------------------------------------------------------------------------------

def test_every_check_has_a_probe_a_judge_a_schema_and_80_points():
    assert set(probes.PROBES) == set(judges.JUDGES) == set(probes.SCHEMAS) == set(checks.CHECKS)
    assert all(isinstance(s, Schema) for s in probes.SCHEMAS.values())
    assert checks.MAX_SCORE == TASK.max_score == 80 and checks.MANUAL_POINTS == 20
    assert TASK.notebook == "multiclass" and os.path.isfile(SOURCE) and os.path.isfile(RELEASE)


def test_check_names_are_unique_across_the_course():
    names = [name for a in assignments.all_assignments() for name in a.checks]
    assert len(names) == len(set(names))
    assert all(assignments.find_check(name).name == "multiclass" for name in checks.CHECKS)


def test_each_check_is_one_test_cell_with_the_table_points():
    cells = nbgrader_cells(SOURCE)
    tests = {gid: c for gid, c in cells.items() if c.metadata["nbgrader"].get("grade") and c.cell_type == "code"}
    assert set(tests) == {f"test_{name}" for name in checks.CHECKS}
    for name, check in checks.CHECKS.items():
        cell = tests[f"test_{name}"]
        assert cell.metadata["nbgrader"]["points"] == check.points, name
        assert cell.metadata["nbgrader"]["locked"] and not cell.metadata["nbgrader"]["solution"]
        assert re.findall(r'run_check\("(\w+)", globals\(\)\)', cell.source) == [name]
        hidden = cell.source.split("### BEGIN HIDDEN TESTS")[1].split("### END HIDDEN TESTS")[0]
        assert "run_check" in hidden


def test_the_points_table_lists_every_check_and_answer_with_its_points():
    intro = nbformat.read(SOURCE, as_version=4).cells[0].source
    assert "\n\n| part | check |" in intro, "a blank line must precede the table"
    rows = {}
    for line in intro.splitlines():
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        if len(cells) == 4 and cells[1].startswith("`"):
            rows[cells[1].strip("`").split("`")[0]] = int(cells[3])
    assert rows == {**{n: c.points for n, c in checks.CHECKS.items()}, **{a: 4 for a in ANSWERS}}
    assert "80 automatic + 20 by hand" in intro


def test_manually_graded_answers_are_markdown_cells_worth_20_points():
    source, release = nbgrader_cells(SOURCE), nbgrader_cells(RELEASE)
    manual = {gid: c for gid, c in source.items() if c.cell_type == "markdown" and c.metadata["nbgrader"].get("grade")}
    assert list(manual) == ANSWERS
    for gid, cell in manual.items():
        meta = cell.metadata["nbgrader"]
        assert meta["solution"] and not meta["locked"] and meta["points"] == 4
        assert release[gid].source == "YOUR ANSWER HERE"
    assert sum(c.metadata["nbgrader"]["points"] for c in manual.values()) == checks.MANUAL_POINTS
    text = nbformat.read(SOURCE, as_version=4)
    rubrics = [c.source for c in text.cells if c.cell_type == "markdown" and "**Rubric (4 points):**" in c.source]
    assert len(rubrics) == len(ANSWERS)
    assert not any(c.metadata.get("nbgrader", {}).get("task") for c in text.cells)


def test_solution_cells_carry_no_points_and_stub_out_in_the_release():
    source, release = nbgrader_cells(SOURCE), nbgrader_cells(RELEASE)
    solutions = [gid for gid, c in source.items() if c.metadata["nbgrader"].get("solution") and c.cell_type == "code"]
    assert solutions == SOLUTION_CELLS
    for gid in solutions:
        assert not source[gid].metadata["nbgrader"].get("grade")
        assert "### BEGIN SOLUTION" in source[gid].source
        assert "raise NotImplementedError()" in release[gid].source
    assert source["setup"].metadata["nbgrader"]["locked"] and "import torch" in source["setup"].source


@pytest.mark.parametrize("path", [SOURCE, RELEASE])
def test_notebooks_are_committed_without_outputs(path):
    nb = json.load(open(path))
    assert all(not c.get("outputs") and not c.get("execution_count") for c in nb["cells"] if c["cell_type"] == "code")


def test_notebooks_are_recognised_as_their_assignment():
    for path, name in ((SOURCE, "multiclass"), (RELEASE, "multiclass"), (assignments.get("mlp").release_notebook, "mlp")):
        assert assignments.detect(json.load(open(path))).name == name


# --- the release -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def regenerated(tmp_path_factory):
    course = make_course(str(tmp_path_factory.mktemp("course")))
    proc = nbgrader(course, "generate_assignment", "multiclass", "--force")
    assert proc.returncode == 0, proc.stderr[-2000:]
    return os.path.join(course, "release", "multiclass")


def test_committed_release_is_the_regenerated_one(regenerated):
    assert sorted(os.listdir(regenerated)) == sorted(os.listdir(RELEASE_DIR))
    _, mismatch, errors = filecmp.cmpfiles(regenerated, RELEASE_DIR, os.listdir(RELEASE_DIR), shallow=False)
    assert not mismatch and not errors, f"release/ is stale: run `nbgrader generate_assignment multiclass --force`"


def test_release_holds_only_the_notebook_and_the_given_helpers():
    assert sorted(os.listdir(RELEASE_DIR)) == sorted(HELPERS + ["multiclass.ipynb"])
    for helper in HELPERS:
        text = open(os.path.join(RELEASE_DIR, helper)).read()
        for solution in ("def softmax", "def cross_entropy", "class SoftmaxMLP", "class MomentumSGD", "def step_decay",
                         "def inverse_time_decay", "def l2_", "class TorchSoftmaxMLP", "log_softmax", "onehot"):
            assert solution not in text, f"{helper} reveals {solution}"
    source_helpers = os.path.join(ROOT, "source", "multiclass")
    for helper in ("activations.py", "data.py", "visualization.py"):
        assert os.readlink(os.path.join(source_helpers, helper)) == f"../../src/{helper}"


def solution_lines(path):
    lines = []
    for cell in nbformat.read(path, as_version=4).cells:
        for block in re.findall(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", cell.source, re.S):
            lines += [line.strip() for line in block.splitlines() if len(line.strip()) > 12]
    return lines


def test_release_contains_no_solution_code_no_model_answers_and_no_hidden_tests():
    text = open(RELEASE).read()
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS", "run_check",
                   "autograder"):
        assert marker not in text
    leaked = [line for line in solution_lines(SOURCE) if line in text]
    assert solution_lines(SOURCE) and not leaked, leaked
    answers = nbgrader_cells(SOURCE)
    assert not [gid for gid in ANSWERS if answers[gid].source[:60] in text]


# --- the solution ------------------------------------------------------------------------------------

def code_cells(path, keep_hidden):
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type == "code":
            source = cell.source if keep_hidden else re.sub(r"### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS", "",
                                                             cell.source, flags=re.S)
            yield cell.metadata.get("nbgrader", {}).get("grade_id"), source


@contextlib.contextmanager
def in_notebook_folder():
    import matplotlib
    matplotlib.use("Agg")
    folder, cwd = os.path.dirname(SOURCE), os.getcwd()
    sys.path.insert(0, folder)
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(cwd)
        sys.path.remove(folder)
        for helper in ("training", "activations", "data", "visualization"):
            sys.modules.pop(helper, None)


@pytest.fixture(scope="module")
def solution_namespace():
    """Every code cell of the instructor's notebook run top to bottom, with the hidden blocks removed
    (as a student runs it), each test cell timed."""
    import matplotlib.pyplot as plt
    ns, seconds = {}, {}
    with in_notebook_folder(), contextlib.redirect_stdout(io.StringIO()):
        for gid, source in code_cells(SOURCE, keep_hidden=False):
            start = time.perf_counter()
            exec(compile(source, f"<cell {gid}>", "exec"), ns)
            seconds[gid] = time.perf_counter() - start
            plt.close("all")
    return ns, seconds


def test_the_solution_passes_every_visible_test_quickly(solution_namespace):
    _, seconds = solution_namespace
    tests = {gid: s for gid, s in seconds.items() if gid and gid.startswith("test_")}
    assert set(tests) == {f"test_{name}" for name in checks.CHECKS}
    assert max(tests.values()) < 2.0, tests
    assert sum(s for gid, s in seconds.items() if gid and gid.startswith("experiment_")) < 20.0, seconds


def test_the_solution_passes_every_check_in_process(solution_namespace):
    ns, _ = solution_namespace
    for name in checks.CHECKS:
        inputs = judges.make_inputs(name)
        status, data = probes.run_probe(name, ns, inputs)
        assert status == "ok", (name, data)
        verdict = judges.run_judge(name, data, inputs)
        assert verdict.passed, (name, verdict.message)


def test_malformed_data_fails_its_check_with_a_reason_never_a_crash():
    for name in checks.CHECKS:
        for junk in (None, 1.5, "text", [], {"unexpected": 1}, {"shape": [2], "values": [1.0]}):
            verdict = judges.run_judge(name, junk, judges.make_inputs(name))
            assert not verdict.passed and verdict.message and not verdict.grader_error, (name, junk)


def test_spiral_check_takes_its_recipe_from_the_study():
    study = json.load(open(os.path.join(ROOT, "docs", "spiral-threshold-study.json"))) \
        if os.path.exists(os.path.join(ROOT, "docs", "spiral-threshold-study.json")) else None
    assert judges.SPIRAL_MIN_ACCURACY == 0.84 and judges.VALIDATION_SEED_OFFSET == 10000
    if study is not None:
        recipe = study["recipe"]
        for key in ("n_samples", "n_classes", "hidden_dim", "activation", "learning_rate", "momentum", "n_epochs",
                    "batch_size"):
            assert probes.SPIRAL_SETUP[key] == recipe[key], key


# --- sandboxed grading (slow) -------------------------------------------------------------------------

def grade_cli(path):
    proc = subprocess.run([sys.executable, "-m", "autograder", "grade", path], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)
    total = re.search(r"^total\s+(\d+) / (\d+)", proc.stdout, re.M)
    assert total, proc.stdout[-2000:] + proc.stderr[-2000:]
    return int(total.group(1)), int(total.group(2)), proc.stdout


@pytest.mark.slow
def test_the_solution_scores_80_of_80_sandboxed():
    score, out_of, report = grade_cli(SOURCE)
    assert (score, out_of) == (80, 80), report


@pytest.mark.slow
def test_the_blank_release_scores_0_sandboxed():
    score, out_of, report = grade_cli(RELEASE)
    assert (score, out_of) == (0, 80), report


# --- the corpus ------------------------------------------------------------------------------------------

def parts_of(names):
    return {checks.CHECKS[n].part for n in names if n != SPIRAL}


def test_the_corpus_is_big_enough_and_each_mutant_stays_in_its_part():
    assert len(MUTANTS) >= 20 and len(ALTERNATIVES) >= 10
    assert set(PARTS) == {m.name for m in MUTANTS}
    assert set().union(*PARTS.values()) >= {c.part for c in checks.CHECKS.values()} - {"end_to_end"}
    for m in MUTANTS:
        assert m.fails and m.fails <= set(checks.CHECKS), m.name
        assert parts_of(m.fails) == PARTS[m.name], f"{m.name}: fails {sorted(m.fails)} outside its part"


@pytest.mark.parametrize("example", CORPUS, ids=lambda e: e.name)
def test_every_corpus_notebook_builds(example):
    nbformat.reads(build(example), as_version=4)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """The whole corpus graded in one batch by one sandbox server (production limits)."""
    from autograder.sandbox import ForkServer, Limits
    from autograder.submission import Submission
    folder = tmp_path_factory.mktemp("multiclass_corpus")
    results = {}
    with ForkServer(assignments=["multiclass"]) as server:
        for example in CORPUS:
            path = os.path.join(folder, example.name + ".ipynb")
            with open(path, "w", encoding="utf-8") as f:
                f.write(build(example))
            submission = Submission.load(path, assignment="multiclass")
            results[example.name] = {r.name: r for r in submission.grade_all(server, limits=Limits())}
    return results


@pytest.mark.slow
def test_the_corpus_grades_as_measured(graded):
    """One assertion over the whole batch, so a failure lists every disagreement at once."""
    wrong = {}
    for example in CORPUS:
        results = graded[example.name]
        failed = {name for name, r in results.items() if r.points < r.max_points}
        if failed != set(example.fails):
            wrong[example.name] = {"failed": sorted(failed), "expected": sorted(example.fails),
                                   "messages": {n: results[n].message[:300] for n in failed ^ set(example.fails)}}
    killed = sum(1 for m in MUTANTS if any(graded[m.name][n].points < graded[m.name][n].max_points for n in checks.CHECKS))
    false_failures = [a.name for a in ALTERNATIVES if sum(r.points for r in graded[a.name].values()) != 80]
    print(f"\nmulticlass corpus: {killed}/{len(MUTANTS)} mutants killed, {len(false_failures)} false failures "
          f"among {len(ALTERNATIVES)} alternatives")
    assert wrong == {}
    assert killed == len(MUTANTS) and false_failures == []


@pytest.mark.slow
@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda e: e.name)
def test_each_mutant_loses_exactly_its_checks_with_a_reason(mutant, graded):
    results = graded[mutant.name]
    failed = {name for name, r in results.items() if r.points < r.max_points}
    assert failed == set(mutant.fails), mutant.description
    assert all(r.points == 0 and r.message and r.status != "error" for r in results.values() if r.name in failed)
    assert all(r.points == r.max_points and not r.message for r in results.values() if r.name not in failed)
    if mutant.name in HINTS:
        feedback = "\n".join(r.message for r in results.values())
        assert HINTS[mutant.name] in feedback, f"{mutant.name} should get the hint {HINTS[mutant.name]!r}"


@pytest.mark.slow
@pytest.mark.parametrize("alternative", ALTERNATIVES, ids=lambda e: e.name)
def test_each_correct_alternative_gets_full_marks(alternative, graded):
    results = graded[alternative.name]
    assert {n: r.message for n, r in results.items() if r.message} == {}
    assert sum(r.points for r in results.values()) == checks.MAX_SCORE


@pytest.mark.slow
def test_hints_name_only_the_misconception_they_match(graded):
    for owner, hint in HINTS.items():
        shown_to = {name for name, results in graded.items() if any(hint in r.message for r in results.values())}
        assert owner in shown_to
        assert not shown_to & {a.name for a in ALTERNATIVES}
        assert len(shown_to) <= 3, f"the hint {hint!r} is shown to {sorted(shown_to)}"


# --- the nbgrader path (slow) ------------------------------------------------------------------------------

@pytest.mark.slow
def test_nbgrader_autograde_gives_the_solution_80_automatic_points_and_the_blank_0(tmp_path_factory):
    """The real `nbgrader autograde` (kernels, visible and hidden tests): every test cell of the solution
    earns its points, the blank release none; the five answer cells await a manual grade."""
    import shutil

    from examples.catalogue import Example
    from nbgrader.api import Gradebook
    course = make_course(str(tmp_path_factory.mktemp("multiclass_course")))
    assert nbgrader(course, "generate_assignment", "multiclass", "--force").returncode == 0
    students = {"solution": Example("solution", "perfect", "the instructor's solution"),
                "blank": Example("blank", "blank", "the release, untouched")}
    for student, example in students.items():
        dest = os.path.join(course, "submitted", student, "multiclass")
        os.makedirs(dest)
        nb = nbformat.reads(build(example), as_version=4)
        if student == "solution":      # the model answers, as a student who answered would submit them
            answers = nbgrader_cells(SOURCE)
            for cell in nb.cells:
                if cell.metadata.get("nbgrader", {}).get("grade_id") in ANSWERS:
                    cell.source = answers[cell.metadata["nbgrader"]["grade_id"]].source
        nbformat.write(nb, os.path.join(dest, "multiclass.ipynb"))
    proc = nbgrader(course, "autograde", "multiclass", "--force")
    assert proc.returncode == 0, proc.stderr[-3000:]
    with Gradebook(f"sqlite:///{os.path.join(course, 'gradebook.db')}", course_id="nn-from-scratch") as gb:
        for student, expected in (("solution", 80), ("blank", 0)):
            notebook = gb.find_submission_notebook("multiclass", "multiclass", student)
            tests = {g.name: g.auto_score for g in notebook.grades if g.name.startswith("test_")}
            assert set(tests) == {f"test_{name}" for name in checks.CHECKS}
            assert sum(tests.values()) == expected, (student, tests)
            answers = {g.name: g for g in notebook.grades if g.name.startswith("answer_")}
            assert set(answers) == set(ANSWERS)
            assert all(g.max_score == 4 for g in answers.values())
            if student == "solution":       # answered: awaiting the instructor's manual grade
                assert all(g.auto_score is None and g.needs_manual_grade for g in answers.values())
            else:                           # left as released: nbgrader scores an unchanged answer 0
                assert all(g.score == 0 for g in answers.values())
    shutil.rmtree(course, ignore_errors=True)
