"""Misconception hints of the multiclass assignment (see the mlp hints for the method).

A candidate is a pair (value, hint): the value a known wrong formula gives on the check's fixed
input, computed here from the reference's quantities (never from the student's code). When the
student's value equals a candidate (and not the expected value) its one-line hint follows the
judge's message. The mutant corpus (tests/multiclass_corpus.py, HINTS) tests these signatures.
"""
import numpy as np

from src.multiclass import cross_entropy_from_logits, softmax
from src.optimizers import l2_gradients, l2_penalty

from .oracles import softmax_stand_in

RTOL, ATOL = 1e-7, 1e-10


def matches(got, value, rtol=RTOL, atol=ATOL):
    got, value = np.asarray(got, dtype=float), np.asarray(value, dtype=float)
    return got.shape == value.shape and bool(np.allclose(got, value, rtol=rtol, atol=atol))


def first_match(got, expected, candidates, rtol=RTOL, atol=ATOL):
    """Hint of the first candidate equal to `got` (and not to `expected`); None if none matches."""
    for value, hint in candidates:
        if value is not None and matches(got, value, rtol, atol) and not matches(expected, value, rtol, atol):
            return hint
    return None


def generic(expected):
    expected = np.asarray(expected, dtype=float)
    if expected.ndim != 2:
        return []
    return [(expected.T, "this is the transpose of the expected value: check the order of the product "
                         "(a gradient has the shape of its parameter)")]


# --- softmax and cross-entropy ------------------------------------------------------------------

COLUMNS = ("each COLUMN sums to 1 here: softmax normalises each row (one sample's K logits), along the last axis, "
           "not along axis 0")
WHOLE_ARRAY = "the whole batch sums to 1 here: normalise each row separately (sum along the last axis, keepdims=True)"
NEGATED = "this is softmax(−z): the largest logit should get the largest probability, p_k ∝ exp(+z_k)"
NO_EXP = "this is z / sum(z): softmax exponentiates first, p_k = exp(z_k) / sum_j exp(z_j)"
OVERFLOW = ("exp(1e4) is inf in float64, and a row whose every exp underflows to 0 gives 0/0. Softmax is "
            "shift-invariant: subtract each row's own maximum, exp(z − max z) along the last axis, so every exponent "
            "is ≤ 0 and the largest is e⁰ = 1")


def softmax_mistakes(z):
    z = np.asarray(z, dtype=float)
    with np.errstate(all="ignore"):
        e, er = np.exp(z - np.max(z)), np.exp(z - np.max(z, axis=-1, keepdims=True))
        out = [(softmax(-z), NEGATED), (e / np.sum(e), WHOLE_ARRAY), (er / np.sum(er), WHOLE_ARRAY),
               (z / np.sum(z, axis=-1, keepdims=True), NO_EXP)]
        if z.ndim == 2 and len(z) > 1:
            ec = np.exp(z - z.max(axis=0, keepdims=True))
            out[:0] = [(ec / ec.sum(axis=0, keepdims=True), COLUMNS), (er / er.sum(axis=0, keepdims=True), COLUMNS)]
    return out


CE_SUM = "{n}× the expected loss: the cross-entropy of a batch is the MEAN of −log p[i, y_i], not the sum"
CE_LOGITS = ("this treats the probabilities as logits (softmax applied again): cross_entropy receives "
             "probabilities already, so the loss is −log p[y] itself")
CE_ALL_ENTRIES = ("this averages −log p over every class of every sample: only the probability of each sample's "
                  "true class, p[i, y_i], enters the loss")
CE_SIGN = "the loss has the wrong sign: −log p is ≥ 0 for probabilities"
CE_LOG10 = "this uses log base 10 (or 2): the cross-entropy uses the natural logarithm"
CE_ONEHOT_MEAN = ("this is the mean over all n·K entries of −onehot(y)·log p, i.e. the loss divided by K: "
                  "sum over the classes, average over the samples")


def cross_entropy_mistakes(probs, y):
    p = np.atleast_2d(np.asarray(probs, dtype=float))
    labels = np.atleast_1d(np.asarray(y)).astype(int)
    n, k = p.shape
    picked = p[np.arange(n), labels]
    loss = -np.mean(np.log(picked))
    with np.errstate(all="ignore"):
        out = [(cross_entropy_from_logits(p, labels), CE_LOGITS), (-np.mean(np.log(p)), CE_ALL_ENTRIES),
               (-loss, CE_SIGN), (-np.mean(np.log10(picked)), CE_LOG10), (-np.mean(np.log2(picked)), CE_LOG10),
               (loss / k, CE_ONEHOT_MEAN)]
    if n > 1:
        out.insert(0, (n * loss, CE_SUM.format(n=n)))
    return out


# --- the model ----------------------------------------------------------------------------------------

FORWARD_MISTAKES = {
    "logits": "these are the logits z = W2 h1 + b2: forward returns the probabilities softmax(z)",
    "no_b1": "the bias b1 is missing: a1 = W1 x + b1",
    "no_b2": "the bias b2 is missing: z = W2 h1 + b2",
    "no_activation": "the activation is skipped: h1 = φ(a1), then z = W2 h1 + b2",
}


def _act(name, z):
    z = np.asarray(z, dtype=float)
    if name == "relu":
        return np.maximum(z, 0.0), (z > 0).astype(float)
    s = 1.0 / (1.0 + np.exp(-np.clip(z, -700, 700)))
    return s, s * (1 - s)


def _params(params):
    return tuple(np.array(params[k], dtype=float) for k in ("W1", "b1", "W2", "b2"))


def forward_with(params, X, activation, mistake):
    W1, b1, W2, b2 = _params(params)
    X = np.asarray(X, dtype=float)
    a1 = X @ W1.T + (0 if mistake == "no_b1" else b1)
    h1 = a1 if mistake == "no_activation" else _act(activation, a1)[0]
    z = h1 @ W2.T + (0 if mistake == "no_b2" else b2)
    return {"a1": a1, "h1": h1, "z": z, "probs": z if mistake == "logits" else softmax(z)}


def forward(params, X, activation, key):
    """Candidates for forward's `key`: a1, h1, or its "output" with softmax replaced by the stand-in
    z -> 2z - 1 (the mistake's z through the stand-in, or through a softmax computed inline; the logits
    themselves when softmax is never applied)."""
    if key != "output":
        return [(forward_with(params, X, activation, m)[key], hint) for m, hint in FORWARD_MISTAKES.items()]
    out = []
    for m, hint in FORWARD_MISTAKES.items():
        z = forward_with(params, X, activation, m)["z"]
        out += [(z, hint)] if m == "logits" else [(softmax_stand_in(z), hint), (softmax(z), hint)]
    return out


BACKWARD_MISTAKES = {
    "summed": "{n}× the expected gradient: L is the MEAN over the batch, so dL/dz = (p − onehot(y)) / n",
    "no_derivative": "dL/da1 misses the factor φ'(a1): dL/da1 = (W2ᵀ dL/dz) ⊙ φ'(a1)",
    "derivative_at_h1": "φ' is evaluated at h1 = φ(a1); it must be evaluated at the pre-activation a1",
    "sign": "every gradient has the wrong sign: dL/dz = p − onehot(y), not onehot(y) − p",
    "no_onehot": "dL/dz is p − onehot(y): the one-hot of the labels is missing (this is p / n alone)",
    "a1_for_dW2": "dL/dW2 uses a1 instead of h1: dL/dW2 = Σ_i dL/dz_i h1_iᵀ",
    "bias_mean_twice": "the bias gradient is divided by n twice: dL/dz already holds the 1/n, so dL/db = Σ_i dL/dz_i",
}


def backward_with(params, X, y, activation, mistake):
    W1, b1, W2, b2 = _params(params)
    X = np.atleast_2d(np.asarray(X, dtype=float))
    n = len(X)
    labels = np.atleast_1d(np.asarray(y)).astype(int)
    a1 = X @ W1.T + b1
    h1, d1 = _act(activation, a1)
    if mistake == "derivative_at_h1":
        d1 = _act(activation, h1)[1]
    p = softmax(h1 @ W2.T + b2)
    onehot = np.zeros_like(p)
    onehot[np.arange(n), labels] = 1.0
    dz = {"sign": onehot - p, "no_onehot": p}.get(mistake, p - onehot) / (1 if mistake == "summed" else n)
    da1 = (dz @ W2) * (1.0 if mistake == "no_derivative" else d1)
    scale = n if mistake == "bias_mean_twice" else 1
    return {"dL_dW1": da1.T @ X, "dL_db1": da1.sum(axis=0) / scale,
            "dL_dW2": dz.T @ (a1 if mistake == "a1_for_dW2" else h1), "dL_db2": dz.sum(axis=0) / scale}


def backward(params, X, y, activation, key):
    n = len(np.atleast_2d(X))
    return [(backward_with(params, X, y, activation, m)[key], hint.format(n=n))
            for m, hint in BACKWARD_MISTAKES.items() if not (n == 1 and m in ("summed", "bias_mean_twice"))]


# --- optimisers ------------------------------------------------------------------------------------------

MOMENTUM_MISTAKES = {
    "reset": ("the velocity is not kept between steps: every step here is a plain SGD step −η g. Keep each "
              "parameter's v in self.velocities and update it, v ← μ v − η g"),
    "ascent": "the step goes uphill: v ← μ v − η ∂L/∂p (minus the gradient), then p ← p + v",
    "dampened": "this is v ← μ v − (1 − μ) η g: the classical momentum of this course is v ← μ v − η g",
    "late": ("the parameter moved by the previous velocity: update v first, v ← μ v − η g, then p ← p + v "
             "with the new v"),
    "no_lr_in_v": "the learning rate is ignored: v ← μ v − η ∂L/∂p",
}


def momentum_trajectory(params, grads_seq, lr, mu, mistake=None):
    """[parameters after each step] of momentum (or of a known mistake) from `params` on `grads_seq`."""
    p = {k: np.array(v, dtype=float) for k, v in params.items()}
    v = {k: np.zeros_like(x) for k, x in p.items()}
    out = []
    for grads in grads_seq:
        for k in p:
            g = np.asarray(grads["dL_d" + k], dtype=float)
            old = v[k]
            if mistake == "reset":
                v[k] = -lr * g
            elif mistake == "ascent":
                v[k] = mu * old + lr * g
            elif mistake == "dampened":
                v[k] = mu * old - (1 - mu) * lr * g
            elif mistake == "no_lr_in_v":
                v[k] = mu * old - g
            else:
                v[k] = mu * old - lr * g
            p[k] = p[k] + (old if mistake == "late" else v[k])
        out.append({k: x.copy() for k, x in p.items()})
    return out


STEP_OFF_BY_ONE = ("the schedule is one epoch ahead: the first epoch is t = 0 and uses the initial rate "
                   "(this is the rate of epoch t + 1)")
STEP_EVERY_IGNORED = "the rate drops every epoch: η_t = η_0 · drop^⌊t / every⌋ drops once every `every` epochs"
INVERSE_WRONG = "η_t = η_0 / (1 + decay · t): divide the initial rate by (1 + decay · t)"
EXPONENTIAL = "this is exponential decay η_0 · e^(−decay · t); the inverse-time decay is η_0 / (1 + decay · t)"


def schedule(fn, args, kwargs, epochs, reference):
    """Candidates for the rates of a schedule (reference: the schedule factory of src)."""
    t = np.asarray(epochs, dtype=float)
    ahead = [reference(*args, **kwargs)(int(e) + 1) for e in epochs]
    out = [(ahead, STEP_OFF_BY_ONE)]
    initial = args[0]
    if fn == "step_decay":
        drop = kwargs.get("drop", 0.5)
        out.append((initial * drop ** t, STEP_EVERY_IGNORED))
    else:
        decay = kwargs.get("decay", 0.01)
        out += [(initial * (1 - decay * t), INVERSE_WRONG),
                (initial / (1 + decay) ** t, INVERSE_WRONG), (initial * np.exp(-decay * t), EXPONENTIAL)]
    return out


L2_BIASES = ("the biases are regularised too: the L2 penalty sums ‖W‖² over the weight matrices W1, W2 only "
             "(names starting with W); biases are excluded")
L2_NO_HALF = "twice the expected value: the penalty is λ/2 · Σ‖W‖², whose gradient is λ W"
L2_HALF_GRAD = "the L2 term added is λ/2 · W: the gradient of λ/2 · ‖W‖² is λ W"
L2_SUBTRACTED = "λ W is subtracted: the gradient of loss + λ/2 ‖W‖² is ∂L/∂W + λ W"
L2_NOT_ADDED = "the L2 term is missing: add λ W to each weight gradient"


def l2_penalty_mistakes(params, lam):
    everything = 0.5 * lam * sum(np.sum(np.square(p)) for p in params.values())
    return [(everything, L2_BIASES), (2 * l2_penalty(params, lam), L2_NO_HALF)]


def l2_gradient_mistakes(params, grads, lam, key):
    name = key[len("dL_d"):]
    g, p = np.asarray(grads[key], dtype=float), np.asarray(params[name], dtype=float)
    expected = l2_gradients(params, grads, lam)[key]
    out = [(g + lam * p, L2_BIASES)] if not name.startswith("W") else []
    if name.startswith("W"):
        out += [(g + 2 * lam * p, L2_NO_HALF), (g + 0.5 * lam * p, L2_HALF_GRAD), (g - lam * p, L2_SUBTRACTED),
                (g, L2_NOT_ADDED)]
    return [(v, h) for v, h in out if not matches(v, expected)]
