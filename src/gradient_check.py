"""Numerical gradient checking with centred differences (CS231n style)."""
import numpy as np

from src.optimization import mse_loss


def relative_error(a, b, eps=1e-12):
    """max_i |a_i - b_i| / max(eps, |a_i| + |b_i|); 0.0 where both are zero."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b) / np.maximum(eps, np.abs(a) + np.abs(b))))


def numerical_gradient(f, theta, epsilon=1e-5):
    """Centred-difference gradient of the scalar f(theta) w.r.t. the float64 array theta.

    theta is perturbed in place, one entry at a time, and each entry is written
    back to its exact original value. Returns an array of theta's shape.
    """
    grad = np.zeros_like(theta)
    for i in np.ndindex(theta.shape):
        old = theta[i]
        theta[i] = old + epsilon
        f_plus = f(theta)
        theta[i] = old - epsilon
        f_minus = f(theta)
        theta[i] = old
        grad[i] = (f_plus - f_minus) / (2 * epsilon)
    return grad


def check_all_gradients(model, x, y, epsilon=1e-5, threshold=1e-7):
    """Compare model.backward with numerical gradients of mean 1/2 (forward(x) - y)^2.

    Uses only model.forward / backward / get_parameters / set_parameters, and
    restores the parameters bitwise before returning.
    Returns {name: {'passed': error < threshold, 'error': relative error}}.
    """
    analytic = model.backward(x, y, model.forward(x))
    params = model.get_parameters()
    results = {}
    try:
        for name, theta in params.items():
            def loss(value):
                model.set_parameters({**params, name: value})
                return mse_loss(model.forward(x), y)
            error = relative_error(analytic['dL_d' + name], numerical_gradient(loss, theta, epsilon))
            results[name] = {'passed': bool(error < threshold), 'error': error}
    finally:
        model.set_parameters(params)
    return results
