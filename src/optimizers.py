"""Extensions of plain SGD for the second assignment: momentum, learning-rate schedules, L2.

Everything here is duck-typed like src.optimization.SGD: a model exposes
get_parameters() -> {name: array} (copies) and set_parameters({name: array}), and
gradients come keyed 'dL_d' + name (as returned by the models' backward).
Weights are the parameters whose name starts with 'W'; every other one (b1, b2) is a bias.
"""
import numbers

import numpy as np


def is_weight(name):
    """True for weight matrices ('W1', 'W2', ...), False for biases: L2 only acts on weights."""
    return name.startswith('W')


def _check_nonnegative(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


class MomentumSGD:
    """Classical (heavy-ball) momentum, one velocity v per parameter p:

        v <- momentum * v - learning_rate * dL/dp
        p <- p + v

    Velocities start as zeros of the parameter's shape, created lazily on the first
    step() that sees a parameter, and are kept across steps (and epochs) in
    self.velocities {name: float64 array}. momentum=0 is plain SGD. learning_rate may be
    changed between steps (that is how a schedule is applied, see train_multiclass).
    """

    def __init__(self, learning_rate=0.1, momentum=0.9):
        self.learning_rate = _check_nonnegative('learning_rate', learning_rate)
        self.momentum = _check_nonnegative('momentum', momentum)
        if self.momentum >= 1:
            raise ValueError(f"momentum must be in [0, 1), got {momentum!r}")
        self.velocities = {}

    def step(self, model, grads):
        """Update every parameter of model from grads['dL_d' + name], in place of the model's state.

        The model receives new arrays (p + v): neither the velocities nor the caller's
        grads are handed to the model, so later updates cannot alias its parameters.
        """
        params = model.get_parameters()
        new = {}
        for name, p in params.items():
            key = 'dL_d' + name
            if key not in grads:
                raise ValueError(f"missing gradient {key!r}; got {sorted(grads)}")
            g = np.asarray(grads[key], dtype=float)
            if g.shape != np.shape(p):
                raise ValueError(f"{key}: expected shape {np.shape(p)}, got {g.shape}")
            v = self.velocities.get(name, np.zeros(np.shape(p)))
            v = self.momentum * v - self.learning_rate * g
            self.velocities[name] = v
            new[name] = p + v
        model.set_parameters(new)

    def reset(self):
        """Forget all velocities (the next step starts from v = 0 again)."""
        self.velocities = {}

    def __repr__(self):
        return f"MomentumSGD(learning_rate={self.learning_rate}, momentum={self.momentum})"


# --- learning-rate schedules -------------------------------------------------------
# A schedule is a callable t -> learning rate for epoch t = 0, 1, 2, ... . It is used by
# setting optimizer.learning_rate = schedule(t) at the start of epoch t
# (train_multiclass(..., schedule=...) does exactly that).

def _check_epoch(t):
    if isinstance(t, bool) or not isinstance(t, numbers.Integral) or t < 0:
        raise ValueError(f"the epoch t must be an integer >= 0, got {t!r}")
    return int(t)


class StepDecay:
    """eta_t = initial * drop ** floor(t / every): multiply by `drop` every `every` epochs."""

    def __init__(self, initial, drop=0.5, every=10):
        self.initial = _check_nonnegative('initial', initial)
        self.drop = _check_nonnegative('drop', drop)
        if not 0 < self.drop <= 1:
            raise ValueError(f"drop must be in (0, 1], got {drop!r}")
        if isinstance(every, bool) or not isinstance(every, numbers.Integral) or every < 1:
            raise ValueError(f"every must be an integer >= 1, got {every!r}")
        self.every = int(every)

    def __call__(self, t):
        return self.initial * self.drop ** (_check_epoch(t) // self.every)

    def __repr__(self):
        return f"step_decay(initial={self.initial}, drop={self.drop}, every={self.every})"


class InverseTimeDecay:
    """eta_t = initial / (1 + decay * t)."""

    def __init__(self, initial, decay=0.01):
        self.initial = _check_nonnegative('initial', initial)
        self.decay = _check_nonnegative('decay', decay)

    def __call__(self, t):
        return self.initial / (1.0 + self.decay * _check_epoch(t))

    def __repr__(self):
        return f"inverse_time_decay(initial={self.initial}, decay={self.decay})"


def step_decay(initial, drop=0.5, every=10):
    """Schedule t -> initial * drop ** floor(t / every) (t = epoch, from 0)."""
    return StepDecay(initial, drop, every)


def inverse_time_decay(initial, decay=0.01):
    """Schedule t -> initial / (1 + decay * t) (t = epoch, from 0)."""
    return InverseTimeDecay(initial, decay)


# --- L2 regularization ---------------------------------------------------------------

def l2_penalty(params, lam):
    """lam / 2 * sum over WEIGHTS of ||W||^2 (squared Frobenius norm), as a float.

    Only names starting with 'W' count: biases are not regularized (they do not
    scale the input, so shrinking them does not make the function smoother).
    """
    lam = _check_nonnegative('lam', lam)
    return float(0.5 * lam * sum(np.sum(np.square(p)) for name, p in params.items() if is_weight(name)))


def l2_gradients(params, grads, lam):
    """New grads of (loss + l2_penalty(params, lam)): lam * W added to each 'dL_dW*' gradient.

    Bias gradients are copied unchanged; the input dicts are not modified.
    """
    lam = _check_nonnegative('lam', lam)
    out = {}
    for key, g in grads.items():
        name = key[len('dL_d'):] if key.startswith('dL_d') else None
        if name is None or name not in params:
            raise ValueError(f"gradient {key!r} has no matching parameter in {sorted(params)}")
        g = np.array(g, dtype=float)
        out[key] = g + lam * np.asarray(params[name], dtype=float) if is_weight(name) else g
    return out
