"""Stand-ins the multiclass probes hand to the student's code, and the recipe of the spiral run.

They let one part of a submission be graded without depending on another (parts do not cascade).
None of them implements a graded function (softmax, cross-entropy, forward, backward, momentum,
schedules, L2): this module is loaded into the sandbox, where a notebook can import it.

- ``softmax_stand_in`` replaces the student's ``softmax`` while the forward and backward checks run
  the student's model. It is deliberately NOT a softmax (an affine map of the logits, z -> 2z - 1),
  so the judge can tell the logits, the stand-in's output and real probabilities apart; a broken
  softmax costs the softmax check only.
- ``ParamBox`` is a model that only holds parameters (get_parameters / set_parameters): the
  momentum check runs the student's optimiser on it.
- ``train_epochs`` is the given training loop's recipe (release/multiclass/training.py, without
  schedule or L2): per epoch ``rng.permutation``, mini-batches, backward of forward, step. The spiral
  check runs it on the student's model and optimiser; the judge replays its first epoch with the
  reference.
- ``mc_params`` makes reproducible parameters of a d -> h -> K classifier.

Shapes: W1 (h, d), b1 (h,), W2 (K, h), b2 (K,); X (d,) or (n, d); y integer labels.
This module imports nothing from ``src`` or the judges.
"""
import contextlib

import numpy as np

PARAM_NAMES = ("W1", "b1", "W2", "b2")
GRAD_KEYS = tuple("dL_d" + p for p in PARAM_NAMES)
STAND_IN_SCALE, STAND_IN_SHIFT = 2.0, -1.0      # softmax_stand_in(z) = 2 z - 1, elementwise


def softmax_stand_in(logits):
    """2 z - 1 elementwise: NOT probabilities. What the student's forward returns in place of softmax(z)."""
    return STAND_IN_SCALE * np.array(logits, dtype=float) + STAND_IN_SHIFT


def mc_params(input_dim, hidden_dim, n_classes, seed, scale=1.0):
    """Reproducible parameters (plain dict of float64 arrays)."""
    rng = np.random.default_rng(seed)
    return {"W1": scale * rng.standard_normal((hidden_dim, input_dim)),
            "b1": scale * rng.standard_normal(hidden_dim),
            "W2": scale * rng.standard_normal((n_classes, hidden_dim)),
            "b2": scale * rng.standard_normal(n_classes)}


class ParamBox:
    """A model that only holds parameters: what an optimiser sees."""

    def __init__(self, params):
        self.set_parameters(params)

    def get_parameters(self):
        return {k: v.copy() for k, v in self._params.items()}

    def set_parameters(self, params):
        self._params = {k: np.array(v, dtype=float) for k, v in params.items()}


def train_epochs(model, optimizer, X, y, n_epochs, batch_size, rng, guard=contextlib.nullcontext):
    """`n_epochs` epochs of the given loop, shuffling with `rng` (np.random.default_rng(seed), shared
    across calls so that epochs continue where the last call stopped); `guard()` wraps each backward."""
    for _ in range(n_epochs):
        order = rng.permutation(len(X))
        for start in range(0, len(X), batch_size):
            batch = order[start:start + batch_size]
            probs = model.forward(X[batch])
            with guard():
                grads = model.backward(X[batch], y[batch], probs)
            optimizer.step(model, grads)
