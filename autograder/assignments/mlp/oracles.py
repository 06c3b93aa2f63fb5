"""Stand-ins the probes hand to the student's code.

They let one part of a submission be graded without depending on another part
(a broken ``backward`` must not cost the points for ``train``). This module is loaded into the
sandbox, where a notebook can import it, so none of it implements a graded function (ReLU,
sigmoid, forward, backward, the SGD step, train, evaluate):

- ``TableActivation`` is injected while a probe builds the student's model, so the
  forward/backward checks do not inherit a broken activation (as a subclass of the student's
  class, see ``probes.shielded``). It computes nothing: it looks its values up in a table the
  grading side computed and passed with the check's inputs.
- ``LinearNet`` is a two-layer *linear* network (no activation) with the MLP's
  parameter names and shapes. The gradient-check, SGD, training and
  evaluation checks run the student's code on it. It records the input of every
  ``backward`` call, so the train check can report which mini-batches ``train`` used.
- ``CountingTanhStep`` is the optimiser ``train`` is graded with: p ← p − η tanh(∂L/∂p), not
  SGD's step, counting its calls. The judge replays it on the recorded mini-batches.

Shapes: W1 (h, d), b1 (h,), W2 (1, h), b2 (1,); x (d,) or X (n, d).
"""
import numpy as np

PARAM_NAMES = ("W1", "b1", "W2", "b2")


TABLE_RTOL, TABLE_ATOL = 1e-9, 1e-12     # a student's a1 differs from the reference's by rounding only


class TableActivation:
    """An activation that knows only a table of values computed on the grading side.

    ``forward(z)`` / ``derivative(z)`` look each entry of z up among the table's points (the
    pre-activations at which the grader's reference, and each known mistake of hints.py, evaluate
    φ or φ'), to a tolerance that absorbs rounding; an entry not in the table becomes NaN. It stands
    in for the student's activation while the forward/backward checks run their model, so a broken
    activation costs the activation checks only, yet nothing here computes ReLU or the sigmoid: the
    numbers come with the check's inputs (judges.make_inputs). `name` is "relu" or "sigmoid".
    """

    def __init__(self, name, table=None):
        table = table or {"z": [], "forward": [], "derivative": []}
        z = np.asarray(table["z"], dtype=float)
        order = np.argsort(z, kind="stable")
        self.name = name
        self._z = z[order]
        self._values = {part: np.asarray(table[part], dtype=float)[order] for part in ("forward", "derivative")}

    def _look_up(self, part, z):
        """The table's `part` values at the entries of z (NaN where z is no point of the table)."""
        z = np.asarray(z, dtype=float)
        flat = z.ravel()
        if not len(self._z):
            return np.full(z.shape, np.nan)
        pos = np.searchsorted(self._z, flat)
        below, above = np.clip(pos - 1, 0, len(self._z) - 1), np.clip(pos, 0, len(self._z) - 1)
        nearest = np.where(np.abs(flat - self._z[below]) <= np.abs(self._z[above] - flat), below, above)
        found = np.isclose(flat, self._z[nearest], rtol=TABLE_RTOL, atol=TABLE_ATOL)
        return np.where(found, self._values[part][nearest], np.nan).reshape(z.shape)

    def forward(self, z):
        """φ(z) as the grader computed it (what the student's forward and backward call)."""
        return self._look_up("forward", z)

    def derivative(self, z):
        """φ'(z) as the grader computed it (what the student's backward calls)."""
        return self._look_up("derivative", z)

    def __call__(self, z):
        """φ(z): a model may call its activation directly."""
        return self.forward(z)


class LinearNet:
    """f = W2 (W1 x + b1) + b2, loss = mean of 1/2 (f - y)^2.

    ``grad_scale`` multiplies one parameter's analytic gradient, to build a
    model whose ``backward`` is wrong in a known place.
    """

    def __init__(self, params, grad_scale=None):
        self.set_parameters(params)
        self.grad_scale = grad_scale or {}
        self.batches = []      # X passed to each backward call

    def get_parameters(self):
        return {k: getattr(self, k).copy() for k in PARAM_NAMES}

    def set_parameters(self, params):
        for k in PARAM_NAMES:
            setattr(self, k, np.array(params[k], dtype=float))

    def forward(self, x):
        x = np.asarray(x, dtype=float)
        f = (x @ self.W1.T + self.b1) @ self.W2[0] + self.b2[0]
        return float(f) if x.ndim == 1 else f

    def loss(self, X, y):
        f = self.forward(X)
        return float(np.mean(0.5 * (np.asarray(f) - y) ** 2))

    def backward(self, x, y, f):
        x = np.asarray(x, dtype=float)
        self.batches.append(x.copy())
        X = np.atleast_2d(x)
        n = X.shape[0]
        df = (np.reshape(np.asarray(f, dtype=float), n) - np.reshape(np.asarray(y, dtype=float), n)) / n  # (n,)
        a1 = X @ self.W1.T + self.b1                           # (n, h)
        da1 = np.outer(df, self.W2[0])                         # (n, h)
        grads = {
            "dL_dW1": da1.T @ X,
            "dL_db1": da1.sum(axis=0),
            "dL_dW2": (df @ a1)[None, :],
            "dL_db2": np.array([df.sum()]),
        }
        for name, scale in self.grad_scale.items():
            grads["dL_d" + name] = grads["dL_d" + name] * scale
        return grads


class TanhNet(LinearNet):
    """f = W2 tanh(W1 x + b1) + b2: a loss that is not quadratic in each parameter, so a centred
    difference's error depends on its step ε (a gradient checker that ignores ε shows)."""

    def forward(self, x):
        x = np.asarray(x, dtype=float)
        f = np.tanh(x @ self.W1.T + self.b1) @ self.W2[0] + self.b2[0]
        return float(f) if x.ndim == 1 else f

    def backward(self, x, y, f):
        x = np.asarray(x, dtype=float)
        self.batches.append(x.copy())
        X = np.atleast_2d(x)
        n = X.shape[0]
        df = (np.reshape(np.asarray(f, dtype=float), n) - np.reshape(np.asarray(y, dtype=float), n)) / n
        h1 = np.tanh(X @ self.W1.T + self.b1)
        da1 = np.outer(df, self.W2[0]) * (1.0 - h1 ** 2)
        grads = {"dL_dW1": da1.T @ X, "dL_db1": da1.sum(axis=0), "dL_dW2": (df @ h1)[None, :],
                 "dL_db2": np.array([df.sum()])}
        for name, scale in self.grad_scale.items():
            grads["dL_d" + name] = grads["dL_d" + name] * scale
        return grads


class CountingTanhStep:
    """p ← p − η tanh(∂L/∂p) for every parameter, counting the calls: the optimiser ``train`` is
    graded with. Deliberately NOT an SGD step (tanh of the gradient): the judge replays the same
    update on the recorded mini-batches (judges.tanh_step_replay)."""

    def __init__(self, learning_rate):
        self.learning_rate = learning_rate
        self.steps = 0

    def step(self, model, grads):
        self.steps += 1
        params = model.get_parameters()
        model.set_parameters({k: params[k] - self.learning_rate * np.tanh(np.asarray(grads["dL_d" + k], dtype=float))
                              for k in PARAM_NAMES})


def linear_net_params(input_dim, hidden_dim, seed, scale=1.0):
    """Reproducible LinearNet parameters (plain dict of float64 arrays)."""
    rng = np.random.default_rng(seed)
    return {
        "W1": scale * rng.standard_normal((hidden_dim, input_dim)),
        "b1": scale * rng.standard_normal(hidden_dim),
        "W2": scale * rng.standard_normal((1, hidden_dim)),
        "b2": scale * rng.standard_normal(1),
    }
