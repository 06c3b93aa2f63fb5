"""Toy 2-D classification data sets.

With seed=None the draws come from the global np.random state (so np.random.seed
makes them reproducible); otherwise from np.random.default_rng(seed).
"""
import numpy as np


def _rng(seed):
    return np.random if seed is None else np.random.default_rng(seed)


def generate_xor_data(n_samples=200, noise=0.1, seed=None):
    """XOR: corners {(0,0), (0,1), (1,0), (1,1)} picked uniformly, plus noise * N(0, 1).

    Returns X (n_samples, 2) float64 and y (n_samples,) int64 with y = bit0 XOR bit1.
    """
    rng = _rng(seed)
    corners = rng.choice(2, size=(n_samples, 2))
    X = corners + noise * rng.standard_normal((n_samples, 2))
    y = np.bitwise_xor(corners[:, 0], corners[:, 1])
    return X.astype(np.float64), y.astype(np.int64)


def generate_spiral_data(n_samples=300, n_classes=3, seed=None):
    """CS231n spirals: n_classes arms, n_samples points in total split as evenly as possible.

    Returns X (n_samples, 2) float64 and y (n_samples,) int64 in [0, n_classes).
    """
    rng = _rng(seed)
    X, y = [], []
    for k in range(n_classes):
        m = n_samples // n_classes + (k < n_samples % n_classes)
        r = np.linspace(0.0, 1.0, m)
        t = np.linspace(4.0 * k, 4.0 * (k + 1), m) + 0.2 * rng.standard_normal(m)
        X.append(np.column_stack([r * np.sin(t), r * np.cos(t)]))
        y.append(np.full(m, k))
    return np.concatenate(X).astype(np.float64), np.concatenate(y).astype(np.int64)
