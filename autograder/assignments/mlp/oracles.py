"""Stand-ins with known-correct behaviour that probes hand to the student's code.

They let one part of a submission be graded without depending on another part
(a broken ``backward`` must not cost the points for ``train``), and they are
deliberately *not* the assignment's solution:

- ``CorrectReLU`` / ``CorrectSigmoid`` are injected while a probe builds the
  student's model, so the forward/backward checks do not inherit a broken
  activation (as subclasses of the student's classes, see ``probes.shielded``).
  They run only inside the check that needs them.
- ``LinearNet`` is a two-layer *linear* network (no activation) with the MLP's
  parameter names and shapes. The gradient-check, SGD, training and
  evaluation checks run the student's code on it. It records the input of every
  ``backward`` call, so the train check can report which mini-batches ``train`` used.
- ``CountingSGD`` is a correct SGD step that counts its calls: the optimiser ``train``
  is graded with.
- ``sgd_replay`` runs on the grading side: correct SGD steps on recorded mini-batches, so
  the train check computes its expected values itself instead of trusting the sandbox.

Shapes: W1 (h, d), b1 (h,), W2 (1, h), b2 (1,); x (d,) or X (n, d).
"""
import numpy as np

PARAM_NAMES = ("W1", "b1", "W2", "b2")


class CorrectReLU:
    name = "relu"

    def forward(self, z):
        return np.maximum(np.asarray(z, dtype=float), 0.0)

    def derivative(self, z):
        return (np.asarray(z, dtype=float) > 0).astype(float)

    def __call__(self, z):
        return self.forward(z)


class CorrectSigmoid:
    name = "sigmoid"

    def forward(self, z):
        z = np.asarray(z, dtype=float)
        e = np.exp(-np.abs(z))
        return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))

    def derivative(self, z):
        s = self.forward(z)
        return s * (1.0 - s)

    def __call__(self, z):
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


class CountingSGD:
    """p ← p − η ∂L/∂p for every parameter (a correct step), counting the calls."""

    def __init__(self, learning_rate):
        self.learning_rate = learning_rate
        self.steps = 0

    def step(self, model, grads):
        self.steps += 1
        params = model.get_parameters()
        model.set_parameters({k: params[k] - self.learning_rate * np.asarray(grads["dL_d" + k])
                              for k in PARAM_NAMES})


def sgd_replay(params, X, y, batches, learning_rate, target_rows=None):
    """[parameters after each step] of correct SGD on a LinearNet from `params`, one step per
    mini-batch (a list of row indices into X and y), each with the gradient at the current
    parameters: what ``train`` must have done with the batches it was recorded using.
    `target_rows`: other rows of y for each batch (to compute the result of a known mistake)."""
    model, optimizer, out = LinearNet(params), CountingSGD(learning_rate), []
    for rows, target in zip(batches, batches if target_rows is None else target_rows, strict=True):
        X_batch, y_batch = X[rows], y[target]
        optimizer.step(model, model.backward(X_batch, y_batch, model.forward(X_batch)))
        out.append(model.get_parameters())
    return out


def linear_net_params(input_dim, hidden_dim, seed, scale=1.0):
    """Reproducible LinearNet parameters (plain dict of float64 arrays)."""
    rng = np.random.default_rng(seed)
    return {
        "W1": scale * rng.standard_normal((hidden_dim, input_dim)),
        "b1": scale * rng.standard_normal(hidden_dim),
        "W2": scale * rng.standard_normal((1, hidden_dim)),
        "b2": scale * rng.standard_normal(1),
    }
