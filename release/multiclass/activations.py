"""Elementwise activation functions.

Every method takes a scalar or an array z of any shape and returns float64 of the
same shape. `derivative(z)` is d phi / d z evaluated at the pre-activation z.
"""
import numpy as np

# exp(-700) ~ 1e-304 is still a normal float64; clipping |z| here keeps np.exp from
# underflowing. Where |z| >= 700, sigmoid(z) is 1.0 or (to within 1e-304) 0.0.
_SIGMOID_CLIP = 700.0


class ReLU:
    """phi(z) = max(0, z); phi'(z) = 1 if z > 0 else 0 (so phi'(0) = 0)."""

    name = 'relu'

    def forward(self, z):
        return np.maximum(0.0, np.asarray(z, dtype=float))

    def derivative(self, z):
        return (np.asarray(z, dtype=float) > 0).astype(float)

    def __repr__(self):
        return 'ReLU()'


class Sigmoid:
    """phi(z) = 1 / (1 + exp(-z)); phi'(z) = phi(z) (1 - phi(z)).

    Numerically stable: only exp(-|z|), which lies in (0, 1], is ever computed,
    so no overflow (or underflow) warning occurs for any finite z.
    """

    name = 'sigmoid'

    def forward(self, z):
        z = np.asarray(z, dtype=float)
        abs_z = np.abs(z)
        e = np.exp(-np.minimum(abs_z, _SIGMOID_CLIP))  # e^{-|z|}
        s_pos = 1.0 / (1.0 + e)                          # sigmoid(|z|)
        s_neg = np.where(abs_z < _SIGMOID_CLIP, e * s_pos, 0.0)  # sigmoid(-|z|)
        return np.where(z >= 0, s_pos, s_neg)

    def derivative(self, z):
        s = self.forward(z)
        return s * (1.0 - s)

    def __repr__(self):
        return 'Sigmoid()'


_ACTIVATIONS = {'relu': ReLU, 'sigmoid': Sigmoid}


def get_activation(name):
    """Return a new activation instance for name in {'relu', 'sigmoid'}."""
    if name not in _ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; expected one of {sorted(_ACTIVATIONS)}")
    return _ACTIVATIONS[name]()
