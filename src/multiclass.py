"""A one-hidden-layer softmax classifier for K classes, written out by hand in NumPy.

    a1 = W1 x + b1        (h,)   first affine
    h1 = phi(a1)          (h,)   activation (ReLU or sigmoid, src.activations)
    z  = W2 h1 + b2       (K,)   logits
    p  = softmax(z)       (K,)   class probabilities
    L  = -log p[y]               cross-entropy of the integer label y in {0, ..., K-1}

For a batch X (n, d) the same equations hold row by row and L is the MEAN over the
batch, so every gradient is the mean of the per-sample gradients. The key identity:
dL/dz_i = (p_i - onehot(y_i)) / n.
"""
import numbers

import numpy as np

from src import training
from src.activations import get_activation
from src.gradient_check import numerical_gradient, relative_error
from src.optimizers import l2_gradients, l2_penalty

PARAMETER_NAMES = ('W1', 'b1', 'W2', 'b2')

# exp(-700) ~ 1e-304 is still a normal float64 (as in src/activations.py). Shifted logits below
# -700 get exp = 0 exactly: they differ from the true value by < 1e-304, and a row sum (>= 1,
# the maximum contributes exp(0)) cannot see them, so no underflow warning is ever raised.
_EXP_FLOOR = -700.0


def _shifted_exp(logits):
    """(z - max z, exp(z - max z) with entries below _EXP_FLOOR set to exactly 0), last axis."""
    z = np.asarray(logits, dtype=float)
    if z.ndim not in (1, 2) or z.shape[-1] == 0:
        raise ValueError(f"logits must have shape (K,) or (n, K) with K >= 1, got {z.shape}")
    shifted = z - z.max(axis=-1, keepdims=True)
    return shifted, np.where(shifted > _EXP_FLOOR, np.exp(np.maximum(shifted, _EXP_FLOOR)), 0.0)


def softmax(logits):
    """exp(z) / sum(exp(z)) along the last axis: (K,) -> (K,), (n, K) -> (n, K), float64.

    The row maximum is subtracted first (softmax is shift-invariant), so exp never
    overflows, and entries more than 700 below the maximum are exactly 0 (no underflow):
    any finite logits, even +-1e4, give rows that sum to 1 without floating-point warnings.
    """
    _, e = _shifted_exp(logits)
    return e / e.sum(axis=-1, keepdims=True)


def log_softmax(logits):
    """log softmax(z) along the last axis, computed as z - max - log(sum(exp(z - max))).

    Exact for large logits where log(softmax(z)) would give log(0) = -inf.
    """
    shifted, e = _shifted_exp(logits)
    return shifted - np.log(e.sum(axis=-1, keepdims=True))


def check_labels(y, n, n_classes):
    """y as an int64 array of shape (n,) with values in [0, n_classes); ValueError otherwise."""
    y = np.asarray(y)
    if y.ndim == 0:
        y = y.reshape(1)
    if y.shape != (n,):
        raise ValueError(f"y must hold {n} integer label(s), got shape {y.shape}")
    if y.size and not (np.issubdtype(y.dtype, np.integer)
                       or (np.issubdtype(y.dtype, np.floating) and np.all(y == np.round(y)))):
        raise ValueError(f"y must be integer class labels, got dtype {y.dtype}")
    y = y.astype(np.int64)
    if y.size and (y.min() < 0 or y.max() >= n_classes):
        raise ValueError(f"labels must lie in [0, {n_classes}), got values in [{y.min()}, {y.max()}]")
    return y


def cross_entropy(probs, y):
    """Mean over the batch of -log probs[i, y_i], as a float. Takes PROBABILITIES, not logits.

    probs (n, K) rows of softmax output (or (K,) for one sample with a scalar y); y integer
    labels (n,). Probabilities are clipped below at the smallest positive float64
    (~2.2e-308) so a probability that underflowed to 0 gives a large finite loss (~708)
    instead of inf. For logits use cross_entropy_from_logits (exact, no clipping).
    """
    p = np.atleast_2d(np.asarray(probs, dtype=float))
    if np.ndim(probs) not in (1, 2):
        raise ValueError(f"probs must have shape (K,) or (n, K), got {np.shape(probs)}")
    y = check_labels(y, len(p), p.shape[1])
    picked = p[np.arange(len(p)), y]
    return float(-np.mean(np.log(np.maximum(picked, np.finfo(float).tiny))))


def cross_entropy_from_logits(logits, y):
    """Mean over the batch of -log softmax(logits)[i, y_i], via log_softmax (stable for any finite logits)."""
    z = np.atleast_2d(np.asarray(logits, dtype=float))
    if np.ndim(logits) not in (1, 2):
        raise ValueError(f"logits must have shape (K,) or (n, K), got {np.shape(logits)}")
    y = check_labels(y, len(z), z.shape[1])
    return float(-np.mean(log_softmax(z)[np.arange(len(z)), y]))


class SoftmaxMLP:
    """d -> h -> K softmax classifier. Parameters (float64): W1 (h, d), b1 (h,), W2 (K, h), b2 (K,).

    Initialisation as OneHiddenLayerMLP: weights ~ N(0, 1) * sqrt(gain / fan_in) with gain 2
    for ReLU (He) and 1 for sigmoid (LeCun); biases zero; W1 drawn before W2. With seed=None
    the draws come from the global np.random state, otherwise from np.random.default_rng(seed).
    """

    def __init__(self, input_dim, hidden_dim, n_classes, activation='relu', seed=None):
        for name, value, low in (('input_dim', input_dim, 1), ('hidden_dim', hidden_dim, 1),
                                 ('n_classes', n_classes, 2)):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
        self.input_dim, self.hidden_dim, self.n_classes = int(input_dim), int(hidden_dim), int(n_classes)
        self.activation = get_activation(activation)
        normal = np.random.standard_normal if seed is None else np.random.default_rng(seed).standard_normal
        gain = 2.0 if self.activation.name == 'relu' else 1.0
        self.W1 = normal((self.hidden_dim, self.input_dim)) * np.sqrt(gain / self.input_dim)
        self.b1 = np.zeros(self.hidden_dim)
        self.W2 = normal((self.n_classes, self.hidden_dim)) * np.sqrt(gain / self.hidden_dim)
        self.b2 = np.zeros(self.n_classes)
        self.x_cache = self.a1_cache = self.h1_cache = self.logits_cache = None

    def logits(self, X):
        """X (d,) -> z (K,), or X (n, d) -> z (n, K). Caches x_cache, a1_cache, h1_cache
        ((h,) or (n, h)) and logits_cache for backward."""
        X = np.asarray(X, dtype=float)
        if X.ndim not in (1, 2) or X.shape[-1] != self.input_dim:
            raise ValueError(f"X must have shape ({self.input_dim},) or (n, {self.input_dim}), got {X.shape}")
        self.x_cache = X
        self.a1_cache = X @ self.W1.T + self.b1
        self.h1_cache = self.activation.forward(self.a1_cache)
        self.logits_cache = self.h1_cache @ self.W2.T + self.b2
        return self.logits_cache

    def forward(self, X):
        """Class probabilities softmax(z): X (d,) -> (K,), X (n, d) -> (n, K); rows sum to 1.

        Caches what backward needs (see logits)."""
        return softmax(self.logits(X))

    def backward(self, X, y, probs):
        """Gradients of the mean cross-entropy L = mean_i -log probs[i, y_i] w.r.t. every parameter.

        Same contract as OneHiddenLayerMLP.backward(x, y, f): forward(X) must have been
        called on this same X just before (the cached a1, h1 are reused) and probs is what it
        returned. X (d,) with an integer y, or X (n, d) with integer labels y (n,).
        dL/dz = (probs - onehot(y)) / n; then the chain rule through W2, phi and W1.
        Returns {'dL_dW1': (h, d), 'dL_db1': (h,), 'dL_dW2': (K, h), 'dL_db2': (K,)}, float64.
        """
        X = np.asarray(X, dtype=float)
        if self.x_cache is None or self.x_cache.shape != X.shape:
            raise ValueError("call forward(X) on the same X before backward(X, y, probs)")
        Xb = X.reshape(-1, self.input_dim)                       # (n, d)
        n = len(Xb)
        P = np.asarray(probs, dtype=float)
        if P.size != n * self.n_classes:
            raise ValueError(f"probs must be forward(X)'s output of shape {self.x_cache.shape[:-1] + (self.n_classes,)}, "
                             f"got {P.shape}")
        P = P.reshape(n, self.n_classes)
        y = check_labels(y, n, self.n_classes)
        dz = P.copy()
        dz[np.arange(n), y] -= 1.0
        dz /= n                                                  # dL/dz, (n, K)
        A1 = self.a1_cache.reshape(n, self.hidden_dim)
        H1 = self.h1_cache.reshape(n, self.hidden_dim)
        da1 = (dz @ self.W2) * self.activation.derivative(A1)    # dL/da1, (n, h)
        return {
            'dL_dW1': da1.T @ Xb,
            'dL_db1': da1.sum(axis=0),
            'dL_dW2': dz.T @ H1,
            'dL_db2': dz.sum(axis=0),
        }

    def loss(self, X, y):
        """Mean cross-entropy over X, as a float (computed from the logits, so exact)."""
        return cross_entropy_from_logits(self.logits(X), y)

    def predict(self, X):
        """Predicted class argmax_k z_k: X (d,) -> int, X (n, d) -> int64 (n,)."""
        z = self.logits(X)
        return int(np.argmax(z)) if z.ndim == 1 else np.argmax(z, axis=1)

    def get_parameters(self):
        """Return {'W1', 'b1', 'W2', 'b2'} as copies."""
        return {name: getattr(self, name).copy() for name in PARAMETER_NAMES}

    def set_parameters(self, params):
        """Copy params (all four keys, matching shapes, finite or not) into the model as float64."""
        unknown = set(params) - set(PARAMETER_NAMES)
        if unknown:
            raise ValueError(f"unknown parameter(s) {sorted(unknown)}; expected {list(PARAMETER_NAMES)}")
        new = {}
        for name in PARAMETER_NAMES:
            if name not in params:
                raise ValueError(f"missing parameter {name!r}")
            value = np.array(params[name], dtype=float)
            expected = getattr(self, name).shape
            if value.shape != expected:
                raise ValueError(f"{name}: expected shape {expected}, got {value.shape}")
            new[name] = value
        for name, value in new.items():
            setattr(self, name, value)

    @property
    def n_params(self):
        """Total number of scalar parameters."""
        return sum(getattr(self, name).size for name in PARAMETER_NAMES)

    def __repr__(self):
        return (f"SoftmaxMLP(input_dim={self.input_dim}, hidden_dim={self.hidden_dim}, "
                f"n_classes={self.n_classes}, activation={self.activation.name!r}, n_params={self.n_params})")


def accuracy(model, X, y):
    """Fraction of rows of X whose model.predict equals the label y, as a float."""
    return float(np.mean(np.asarray(model.predict(X)) == np.asarray(y)))


def check_multiclass_gradients(model, X, y, epsilon=1e-5, threshold=1e-7, lam=0.0):
    """Compare model.backward (+ l2_gradients when lam > 0) with centred differences of
    model.loss(X, y) + l2_penalty(params, lam); the cross-entropy analogue of
    src.gradient_check.check_all_gradients. Parameters are restored bitwise.
    Returns {name: {'passed': error < threshold, 'error': relative error}}.
    """
    params = model.get_parameters()
    analytic = l2_gradients(params, model.backward(X, y, model.forward(X)), lam)
    results = {}
    try:
        for name, theta in params.items():
            def objective(value):
                trial = {**params, name: value}
                model.set_parameters(trial)
                return model.loss(X, y) + l2_penalty(trial, lam)
            error = relative_error(analytic['dL_d' + name], numerical_gradient(objective, theta, epsilon))
            results[name] = {'passed': bool(error < threshold), 'error': error}
    finally:
        model.set_parameters(params)
    return results


def train_multiclass(model, X, y, optimizer, n_epochs=100, batch_size=32, seed=None, l2=0.0,
                     schedule=None, record_grad_norms=False, X_val=None, y_val=None):
    """Mini-batch training of a softmax model on X (n, d), integer labels y (n,).

    Per epoch t = 0 .. n_epochs-1: if schedule is given, optimizer.learning_rate = schedule(t);
    the samples are shuffled with np.random.default_rng(seed) (global np.random when seed
    is None) and cut into batches of batch_size (the last may be smaller); for each batch
    grads = backward of the mean cross-entropy, plus lam * W on the weights when l2 > 0
    (l2_gradients), then optimizer.step(model, grads).
    Returns a history of per-epoch lists, measured at the parameters after the epoch:
      'train_loss'     mean cross-entropy on the full training set (WITHOUT the L2 term)
      'train_accuracy' accuracy on the full training set
      'learning_rate'  the optimizer's learning rate used during the epoch
      'val_loss', 'val_accuracy'  the same on (X_val, y_val), or [] when not given
      'grad_norms'     only if record_grad_norms: {name: [mean over the epoch's batches of the
                       Euclidean (Frobenius) norm of the cross-entropy gradient dL/d name,
                       before the L2 term]} for W1, b1, W2, b2
    """
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or len(X) == 0:
        raise ValueError(f"X must have shape (n, d) with n >= 1, got {X.shape}")
    y = check_labels(y, len(X), model.n_classes)
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    if isinstance(n_epochs, bool) or not isinstance(n_epochs, numbers.Integral) or n_epochs < 0:
        raise ValueError(f"n_epochs must be an integer >= 0, got {n_epochs!r}")
    if (X_val is None) != (y_val is None):
        raise ValueError("give both X_val and y_val, or neither")
    if X_val is not None:
        X_val = np.asarray(X_val, dtype=float)
        if X_val.ndim != 2 or X_val.shape[1] != X.shape[1]:
            raise ValueError(f"X_val must have shape (m, {X.shape[1]}), got {X_val.shape}")
        y_val = check_labels(y_val, len(X_val), model.n_classes)       # (m, 1) labels would broadcast to (m, m)
    transform = None if not l2 else (lambda params, grads: l2_gradients(params, grads, l2))
    return training.train(model, X, y, optimizer, n_epochs=n_epochs, batch_size=batch_size, seed=seed,
                          schedule=schedule, grad_transform=transform, X_val=X_val, y_val=y_val,
                          record_grad_norms=record_grad_norms)


# src.visualization.plot_decision_boundary draws the f = 0.5 contour of a scalar output, so it does not
# apply to a K-class model whose forward returns (n, K): this one colours the regions of model.predict.
plot_multiclass_decision_boundary = training.plot_decision_regions
