"""The visible tests teach: `nbgrader validate` (the real CLI behind the Validate button) passes
every correct notebook, fails the blank release and the wrong ones, and its messages speak of the math.

One batch of validations per assignment, 2 at a time (scripts/validate_rate.py). CI validates a
fixed, deterministic subset of each corpus (validating all of it costs minutes per assignment):

- mlp: the perfect example, the blank release, the no_relu_mask example, every third correct
  alternative and every third mutant (ALTERNATIVES[::3], MUTANTS[::3]);
- multiclass: the perfect example, the blank release, every correct alternative and every fourth
  mutant (MUTANTS[::4], which spans softmax, the model, the optimisers and the twin).

The catch-rate threshold (validate_rate.GOAL) applies to the sampled mutants; the rate over the whole
corpus is the script's (`python scripts/validate_rate.py`, saved in tests/corpus/validate_rate.md and
tests/multiclass_validate_rate.md).
"""
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))

import validate_rate  # noqa: E402
from autograder import assignments  # noqa: E402

EXAMPLES = os.path.join(ROOT, "examples", "submissions")
# the Appendix A message of the backward test: what the student must read when the ReLU mask is missing
NO_MASK_MESSAGE = "dL/db1 = dL/da1 = (W2ᵀ dL/df) ⊙ φ'(a1)"
SAMPLES = {   # assignment -> (every k-th alternative, every k-th mutant) validated in CI
    "mlp": (3, 3),
    "multiclass": (1, 4),
}

pytestmark = pytest.mark.slow


def sample(assignment):
    """The fixed subset CI validates: (alternatives, mutants) of the assignment's corpus."""
    mutants, alternatives = validate_rate.corpus(assignment)
    every_alternative, every_mutant = SAMPLES[assignment]
    return alternatives[::every_alternative], mutants[::every_mutant]


def validate_sample(assignment, folder, extra=()):
    """{name: Outcome}: the perfect example, the blank release, `extra` and the sampled corpus."""
    alternatives, mutants = sample(assignment)
    items = ([("perfect", validate_rate.PERFECT[assignment]), ("blank", assignments.get(assignment).release_notebook)]
             + list(extra) + validate_rate.notebooks(assignment, alternatives + mutants, str(folder)))
    return validate_rate.validate_all(items, workers=2, assignment=assignment)


EXTRA = {"mlp": [("no_relu_mask", os.path.join(EXAMPLES, "no_relu_mask.ipynb"))]}   # validated with the sample
_OUTCOMES = {}        # assignment -> its batch of outcomes (one batch per assignment per session)


@pytest.fixture(params=sorted(validate_rate.CORPORA))
def assignment(request, tmp_path_factory):
    """(assignment id, its outcomes): every assignment with a validate corpus (validate_rate.CORPORA)."""
    name = request.param
    if name not in _OUTCOMES:
        _OUTCOMES[name] = validate_sample(name, tmp_path_factory.mktemp(name), EXTRA.get(name, ()))
    return name, _OUTCOMES[name]


def test_every_assignment_has_a_validate_corpus_and_a_sample():
    assert set(validate_rate.CORPORA) == set(assignments.names()) == set(SAMPLES) == set(validate_rate.PERFECT)


def test_the_perfect_example_passes(assignment):
    _, outcomes = assignment
    assert outcomes["perfect"].verdict == "passed", outcomes["perfect"].output[-3000:]


def test_the_blank_release_fails_every_graded_cell(assignment):
    """Every test cell fails, and every written answer left as released is "no response"."""
    name, outcomes = assignment
    expected = validate_rate.blank_failures(name)
    assert expected > 0
    assert outcomes["blank"].verdict == "failed", outcomes["blank"].output[-3000:]
    assert outcomes["blank"].failed_cells == expected, outcomes["blank"].output[-3000:]


def test_every_sampled_correct_alternative_passes(assignment):
    name, outcomes = assignment
    alternatives, _ = sample(name)
    failing = {a.name: outcomes[a.name].output[-1500:] for a in alternatives if outcomes[a.name].verdict != "passed"}
    assert not failing, failing


def test_validate_flags_at_least_three_quarters_of_the_sampled_mutants(assignment):
    name, outcomes = assignment
    _, mutants = sample(name)
    verdicts = {m.name: outcomes[m.name].verdict for m in mutants}
    assert "error" not in verdicts.values(), {n: outcomes[n].output[-1500:] for n, v in verdicts.items() if v == "error"}
    flagged = [n for n, v in verdicts.items() if v == "failed"]
    missed = sorted(set(verdicts) - set(flagged))
    assert len(flagged) / len(mutants) >= validate_rate.GOAL, f"validate passes {missed}"


@pytest.mark.parametrize("assignment", ["mlp"], indirect=True)
def test_a_missing_relu_mask_fails_with_the_chain_rule(assignment):
    outcome = assignment[1]["no_relu_mask"]
    assert outcome.verdict == "failed", outcome.output[-3000:]
    assert NO_MASK_MESSAGE in outcome.output, outcome.output[-3000:]


def test_the_samples_span_every_part_of_multiclass():
    """The fixed mutant sample is not one part's: it holds a mutant of each part of the assignment."""
    from tests.multiclass_corpus import PARTS
    _, mutants = sample("multiclass")
    assert set().union(*(PARTS[m.name] for m in mutants)) >= {"softmax", "model", "optimizers", "pytorch"}


def test_written_answers_come_from_the_perfect_example():
    """Validate fails an unanswered written answer: the corpus copies get the perfect example's."""
    import nbformat
    from tests.multiclass_corpus import BY_NAME, build
    text = validate_rate.with_written_answers(build(BY_NAME["softmax_logsumexp"]), validate_rate.PERFECT["multiclass"])
    answers = [c.source for c in nbformat.reads(text, as_version=4).cells
               if c.cell_type == "markdown" and c.metadata.get("nbgrader", {}).get("grade")]
    assert len(answers) == 5 and all(a.strip() and "YOUR ANSWER HERE" not in a for a in answers), answers


def test_the_helpers_are_the_release_folders_other_files():
    names = {a: sorted(os.path.basename(p) for p in validate_rate.release_helpers(a)) for a in ("mlp", "multiclass")}
    assert names["mlp"] == ["data.py", "visualization.py"]
    assert "training.py" in names["multiclass"] and not any(n.endswith(".ipynb") for n in names["multiclass"])


def test_the_verdict_is_read_from_the_output_not_the_exit_code():
    assert validate_rate.verdict("Success! Your notebook passes all the tests.\n") == ("passed", 0)
    assert validate_rate.verdict("VALIDATION FAILED ON 3 CELL(S)! If you submit ...") == ("failed", 3)
    assert validate_rate.verdict("[ValidateApp | ERROR] nbgrader encountered a fatal error") == ("error", 0)
