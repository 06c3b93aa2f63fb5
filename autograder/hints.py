"""Misconception hints: name a known mistake when a wrong value matches its signature exactly.

``hint_for(got, expected, batch_size)`` looks only at numbers (the student's
value and the reference value) and returns a one-line hint or ``None``.
"""
import numpy as np


def _same(a, b):
    return a.shape == b.shape and np.allclose(a, b, rtol=1e-7, atol=1e-10)


def hint_for(got, expected, batch_size=None):
    got, expected = np.asarray(got, dtype=float), np.asarray(expected, dtype=float)
    if expected.ndim == 2 and expected.shape != expected.T.shape and _same(got, expected.T):
        return "this is the transpose of the expected value: check the order of the outer product"
    if got.shape != expected.shape or not np.any(expected):
        return None
    if _same(got, 2 * expected):
        return "every entry is exactly twice the expected value: L = ½(f − y)², so dL/df = f − y"
    if _same(got, -expected):
        return "every entry has the wrong sign: dL/df = f − y, not y − f (or the update goes uphill)"
    if batch_size and _same(got, batch_size * expected):
        return (f"every entry is {batch_size}× the expected value: the batch gradient should be the mean "
                "over the batch, not the sum")
    return None
