"""The grading rule: every check, the part of the assignment it grades, and its points.

This table is the single source of truth for both grading paths:
- nbgrader: each test cell of ``source/mlp/mlp.ipynb`` calls ``run_check(name, globals())``
  and carries these points in its metadata (a test keeps the two in sync);
- pytest: ``tests/hidden/test_submission.py`` runs one test per check.

A check = a probe (``probes.py``, runs student code, returns data of the form it declares)
+ a judge (``judges.py``, validates that data, the student's output, against the declared
form and compares it with the reference in ``src/``; every parameter of its judgement comes
from the grading side, never from the data).
Points sum to 100. Each check is all-or-nothing, as an nbgrader test cell is.
"""
from autograder.assignments import Check

NOTEBOOK = "mlp"     # release/mlp/mlp.ipynb

CHECKS = {c.name: c for c in [
    Check("relu", "activations", 6, "ReLU forward and derivative"),
    Check("sigmoid", "activations", 8, "Sigmoid forward and derivative, stable for |z| up to 1e4"),
    Check("forward_appendix_a", "forward", 8, "forward pass on the Appendix A example"),
    Check("forward_random", "forward", 8, "forward pass on random parameters, single sample and batch"),
    Check("backward_appendix_a", "backward", 8, "backward pass on the Appendix A example"),
    Check("backward_relu", "backward", 8, "backward pass, ReLU, random parameters and batches"),
    Check("backward_sigmoid", "backward", 8, "backward pass, Sigmoid, random parameters and batches"),
    Check("numerical_gradient", "gradient_check", 6, "centred-difference numerical gradient"),
    Check("gradient_check", "gradient_check", 8, "check_all_gradients passes right and catches wrong"),
    Check("sgd_step", "optimization", 6, "one exact SGD step"),
    Check("evaluate", "evaluation", 7, "evaluate: loss and accuracy at a threshold"),
    Check("train_loop", "optimization", 9, "training loop: mini-batches, steps and loss history"),
    Check("xor_training", "end_to_end", 10, "your model learns XOR (seeded, validation accuracy)"),
]}

MAX_SCORE = sum(c.points for c in CHECKS.values())
assert MAX_SCORE == 100, MAX_SCORE
