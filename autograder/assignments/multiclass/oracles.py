"""Stand-ins with known-correct behaviour that the multiclass probes hand to the student's code.

They let one part of a submission be graded without depending on another (parts do not cascade),
and they are deliberately not the assignment's solution text:

- ``correct_softmax`` replaces the student's ``softmax`` while the forward and backward checks run
  the student's model (a broken softmax costs the softmax check only).
- ``ParamBox`` is a model that only holds parameters (get_parameters / set_parameters): the
  momentum check runs the student's optimiser on it.
- ``spiral_run`` is the grader's training loop (the recipe of the spiral threshold study:
  shuffling with np.random.default_rng(seed), mini-batches, backward, step), run on the student's
  model and optimiser in the end-to-end check.
- ``mc_params`` makes reproducible parameters of a d -> h -> K classifier.

Shapes: W1 (h, d), b1 (h,), W2 (K, h), b2 (K,); X (d,) or (n, d); y integer labels.
This module is loaded into the sandbox: it imports nothing from ``src`` or the judges.
"""
import numpy as np

PARAM_NAMES = ("W1", "b1", "W2", "b2")
GRAD_KEYS = tuple("dL_d" + p for p in PARAM_NAMES)


def correct_softmax(logits):
    """softmax along the last axis, stable for any finite logits (log-sum-exp form)."""
    z = np.asarray(logits, dtype=float)
    top = np.max(z, axis=-1, keepdims=True)
    log_norm = top + np.log(np.sum(np.exp(z - top), axis=-1, keepdims=True))
    return np.exp(z - log_norm)


def correct_activation(name, z):
    """(phi(z), phi'(z)) of the course's activations."""
    z = np.asarray(z, dtype=float)
    if name == "relu":
        return np.maximum(z, 0.0), (z > 0).astype(float)
    e = np.exp(-np.abs(z))
    s = np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    return s, s * (1.0 - s)


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


def spiral_run(model, optimizer, X, y, n_epochs, batch_size, seed):
    """The grader's training loop (train_multiclass of the study, without schedule or L2)."""
    X, y = np.asarray(X, dtype=float), np.asarray(y)
    rng = np.random.default_rng(seed)
    for _ in range(n_epochs):
        order = rng.permutation(len(X))
        for start in range(0, len(X), batch_size):
            batch = order[start:start + batch_size]
            optimizer.step(model, model.backward(X[batch], y[batch], model.forward(X[batch])))
