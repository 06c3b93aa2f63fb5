"""The grading rule of the second assignment: every automatic check, its part and its points.

The single source of truth for both grading paths (as for mlp): each test cell of
``source/multiclass/multiclass.ipynb`` calls ``run_check(name, globals())`` and carries these
points; check names are unique across the course (prefix ``mc_``).
The automatic checks sum to 80; the notebook's five experiment answers (manually graded
nbgrader cells, 4 points each) make up the other 20.
"""
from autograder.assignments import Check

NOTEBOOK = "multiclass"     # release/multiclass/multiclass.ipynb

CHECKS = {c.name: c for c in [
    Check("mc_softmax", "softmax", 8, "softmax: rows sum to 1, 1-D and 2-D, stable for logits of ±1e4"),
    Check("mc_cross_entropy", "softmax", 6, "cross-entropy of probabilities: mean of −log p[y]"),
    Check("mc_forward", "model", 8, "SoftmaxMLP.forward: probabilities (n, K) and caches"),
    Check("mc_backward", "model", 12, "SoftmaxMLP.backward: gradients of the mean cross-entropy"),
    Check("mc_momentum", "optimizers", 8, "MomentumSGD: a velocity per parameter, kept across steps"),
    Check("mc_schedule", "optimizers", 6, "learning-rate schedules: step decay and inverse-time decay"),
    Check("mc_l2", "optimizers", 8, "L2 penalty and its gradient, on the weights only"),
    Check("mc_spiral_training", "end_to_end", 12, "your model and MomentumSGD learn the 3-class spiral"),
    Check("mc_torch_twin", "pytorch", 12, "TorchSoftmaxMLP: same logits and autograd gradients as the reference"),
]}

MAX_SCORE = sum(c.points for c in CHECKS.values())
MANUAL_POINTS = 20
assert MAX_SCORE == 80, MAX_SCORE
