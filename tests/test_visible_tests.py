"""The visible tests teach: `nbgrader validate` (the real CLI behind the Validate button) passes
every correct notebook, fails the blank release and the wrong ones, and its messages speak of the math.

One batch of validations, 2 at a time (scripts/validate_rate.py): the perfect example, the blank
release, the no_relu_mask example, every correct alternative and every mutant of the corpus.
"""
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))

import validate_rate  # noqa: E402
from tests.corpus import ALTERNATIVES, MUTANTS, path  # noqa: E402

EXAMPLES = os.path.join(ROOT, "examples", "submissions")
BLANK = os.path.join(ROOT, "release", "mlp", "mlp.ipynb")
# the Appendix A message of the backward test: what the student must read when the ReLU mask is missing
NO_MASK_MESSAGE = "dL/db1 = dL/da1 = (W2ᵀ dL/df) ⊙ φ'(a1)"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def outcomes():
    items = ([("perfect", os.path.join(EXAMPLES, "perfect.ipynb")), ("blank", BLANK),
              ("no_relu_mask", os.path.join(EXAMPLES, "no_relu_mask.ipynb"))]
             + [(e.name, path(e)) for e in ALTERNATIVES + MUTANTS])
    return validate_rate.validate_all(items, workers=2)


def test_the_perfect_example_passes(outcomes):
    assert outcomes["perfect"].verdict == "passed", outcomes["perfect"].output[-3000:]


def test_the_blank_release_fails_every_test_cell(outcomes):
    assert outcomes["blank"].verdict == "failed", outcomes["blank"].output[-3000:]
    assert outcomes["blank"].failed_cells == 13


def test_a_missing_relu_mask_fails_with_the_chain_rule(outcomes):
    outcome = outcomes["no_relu_mask"]
    assert outcome.verdict == "failed", outcome.output[-3000:]
    assert NO_MASK_MESSAGE in outcome.output, outcome.output[-3000:]


def test_every_correct_alternative_passes(outcomes):
    failing = {a.name: outcomes[a.name].output[-1500:] for a in ALTERNATIVES if outcomes[a.name].verdict != "passed"}
    assert not failing, failing


def test_validate_flags_at_least_three_quarters_of_the_mutants(outcomes):
    verdicts = {m.name: outcomes[m.name].verdict for m in MUTANTS}
    assert "error" not in verdicts.values(), {n: outcomes[n].output[-1500:] for n, v in verdicts.items() if v == "error"}
    flagged = [n for n, v in verdicts.items() if v == "failed"]
    missed = sorted(set(verdicts) - set(flagged))
    assert len(flagged) / len(MUTANTS) >= validate_rate.GOAL, f"validate passes {missed}"


def test_the_verdict_is_read_from_the_output_not_the_exit_code():
    assert validate_rate.verdict("Success! Your notebook passes all the tests.\n") == ("passed", 0)
    assert validate_rate.verdict("VALIDATION FAILED ON 3 CELL(S)! If you submit ...") == ("failed", 3)
    assert validate_rate.verdict("[ValidateApp | ERROR] nbgrader encountered a fatal error") == ("error", 0)
