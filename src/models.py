"""A one-hidden-layer MLP with a scalar output, written out by hand in NumPy.

    a1 = W1 x + b1      (h,)    first affine
    h1 = phi(a1)        (h,)    activation
    f  = W2 h1 + b2     scalar  output
    L  = 1/2 (f - y)^2          squared error

For a batch X of shape (n, d) the same equations hold row by row, and the
gradients are those of the MEAN loss over the batch.
"""
import numpy as np

from src.activations import get_activation
from src.optimization import mse_loss

PARAMETER_NAMES = ('W1', 'b1', 'W2', 'b2')


class OneHiddenLayerMLP:
    """d -> h -> 1 network. Parameters (float64): W1 (h, d), b1 (h,), W2 (1, h), b2 (1,).

    Initialisation: weights ~ N(0, 1) * sqrt(gain / fan_in) with gain 2 for ReLU (He)
    and 1 for sigmoid (LeCun); biases zero. With seed=None the draws come from the
    global np.random state (so np.random.seed makes them reproducible), otherwise
    from np.random.default_rng(seed).
    """

    def __init__(self, input_dim, hidden_dim, activation='relu', seed=None):
        self.input_dim, self.hidden_dim = input_dim, hidden_dim
        self.activation = get_activation(activation)
        normal = np.random.standard_normal if seed is None else np.random.default_rng(seed).standard_normal
        gain = 2.0 if self.activation.name == 'relu' else 1.0
        self.W1 = normal((hidden_dim, input_dim)) * np.sqrt(gain / input_dim)
        self.b1 = np.zeros(hidden_dim)
        self.W2 = normal((1, hidden_dim)) * np.sqrt(gain / hidden_dim)
        self.b2 = np.zeros(1)
        self.x_cache = self.a1_cache = self.h1_cache = None

    def forward(self, x):
        """x (d,) -> float f, or x (n, d) -> f (n,).

        Caches x_cache, a1_cache and h1_cache ((h,) or (n, h)) for backward.
        """
        x = np.asarray(x, dtype=float)
        if x.ndim not in (1, 2):
            raise ValueError(f"x must have shape (d,) or (n, d), got {x.shape}")
        self.x_cache = x
        self.a1_cache = x @ self.W1.T + self.b1
        self.h1_cache = self.activation.forward(self.a1_cache)
        f = (self.h1_cache @ self.W2.T + self.b2)[..., 0]
        return float(f) if x.ndim == 1 else f

    def backward(self, x, y, f):
        """Gradients of L = mean 1/2 (f - y)^2 w.r.t. every parameter.

        forward(x) must have been called on this same x just before: the cached
        a1 and h1 are reused. x (d,) or (n, d); y and f scalars or (n,).
        Returns {'dL_dW1': (h, d), 'dL_db1': (h,), 'dL_dW2': (1, h), 'dL_db2': (1,)}.
        """
        x = np.asarray(x, dtype=float)
        if self.x_cache is None or self.x_cache.shape != x.shape:
            raise ValueError("call forward(x) on the same x before backward(x, y, f)")
        X = x.reshape(-1, self.input_dim)                 # (n, d)
        n = len(X)
        A1 = self.a1_cache.reshape(n, self.hidden_dim)    # (n, h)
        H1 = self.h1_cache.reshape(n, self.hidden_dim)    # (n, h)
        df = (np.reshape(f, n) - np.reshape(y, n)) / n    # dL/df_i, (n,)
        da1 = np.outer(df, self.W2[0]) * self.activation.derivative(A1)  # dL/da1, (n, h)
        return {
            'dL_dW1': da1.T @ X,
            'dL_db1': da1.sum(axis=0),
            'dL_dW2': (df @ H1)[None, :],
            'dL_db2': np.array([df.sum()]),
        }

    def get_parameters(self):
        """Return {'W1', 'b1', 'W2', 'b2'} as copies."""
        return {name: getattr(self, name).copy() for name in PARAMETER_NAMES}

    def set_parameters(self, params):
        """Copy params (all four keys, matching shapes) into the model as float64."""
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

    def loss(self, x, y):
        """Mean 1/2 (f - y)^2 over x, as a float."""
        return mse_loss(self.forward(x), y)

    @property
    def n_params(self):
        """Total number of scalar parameters."""
        return sum(getattr(self, name).size for name in PARAMETER_NAMES)

    def __repr__(self):
        return (f"OneHiddenLayerMLP(input_dim={self.input_dim}, hidden_dim={self.hidden_dim}, "
                f"activation={self.activation.name!r}, n_params={self.n_params})")
