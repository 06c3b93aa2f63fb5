"""Misconception hints: name a known mistake when a wrong value matches its signature exactly.

A *candidate* is a pair (value, hint): the value a known wrong formula gives on the
check's fixed input, computed here from the reference's quantities (never from the
student's code), and the one-line hint the student reads when their value matches it.
``first_match(got, expected, candidates)`` returns the hint of the first candidate
that equals the student's value (same shape, equal to ~1e-7) and differs from the
expected value, or ``None``. Judges build the candidates with the functions below
and pass them to ``judges.compare``; the hints speak about the math only.

The mutant corpus (tests/corpus/mutants.py, ``HINTS``) is the test of these
signatures: each mutant with a known signature must get its hint.
"""
import numpy as np

from src.activations import ReLU, Sigmoid

RTOL, ATOL = 1e-7, 1e-10


def matches(got, value, rtol=RTOL, atol=ATOL):
    got, value = np.asarray(got, dtype=float), np.asarray(value, dtype=float)
    return got.shape == value.shape and bool(np.allclose(got, value, rtol=rtol, atol=atol))


def first_match(got, expected, candidates, rtol=RTOL, atol=ATOL):
    """Hint of the first candidate equal to `got` (and not to `expected`); None if none matches."""
    got = np.asarray(got, dtype=float)
    for value, hint in candidates:
        if value is None:
            continue
        if matches(got, value, rtol, atol) and not matches(expected, value, rtol, atol):
            return hint
    return None


def generic(expected):
    """Candidates that need no model: the transpose of a 2-D value."""
    expected = np.asarray(expected, dtype=float)
    if expected.ndim != 2:
        return []
    return [(expected.T, "this is the transpose of the expected value: check the order of the outer product "
                         "(a gradient has the shape of its parameter)")]


# --- activations -----------------------------------------------------------------------------

def activation(cls_name, part, z):
    z = np.asarray(z, dtype=float)
    if cls_name == "ReLU":
        if part == "derivative":
            return [(np.ones_like(z), "ReLU'(z) is 1 only where z > 0 and 0 elsewhere: this is 1 everywhere "
                                      "(the mask is missing)"),
                    ((z >= 0).astype(float), "ReLU'(0) is 0 (1 only where z > 0): this has 1 at z = 0"),
                    (ReLU().forward(z), "this is ReLU(z) itself, not its derivative")]
        return [(z, "this is z itself: ReLU(z) = max(0, z) sets the negative entries to 0"),
                (np.abs(z), "this is |z|: ReLU(z) = max(0, z) sets the negative entries to 0")]
    s = Sigmoid().forward(z)
    if part == "derivative":
        with np.errstate(all="ignore"):
            return [(s, "this is σ(z) itself: σ'(z) = σ(z)(1 − σ(z))"),
                    (z * (1 - z), "this is z(1 − z): the formula s(1 − s) needs s = σ(z), and the derivative "
                                  "receives the pre-activation z"),
                    (-s * (1 - s), "every entry has the wrong sign: σ'(z) = σ(z)(1 − σ(z)) > 0")]
    return [(Sigmoid().forward(-z), "this is σ(−z) = 1 / (1 + e^z): the sign in the exponent is flipped")]


# --- forward ------------------------------------------------------------------------------------

FORWARD_MISTAKES = {
    "W1_transposed": "W1 is used transposed: this is W1ᵀx + b1, but W1 has shape (h, d) and a1 = W1 x + b1",
    "no_b1": "the bias b1 is missing: a1 = W1 x + b1",
    "no_b2": "the bias b2 is missing: f = W2 h1 + b2",
    "activation_on_output": "this is φ(W2 h1 + b2): the output layer is linear, f = W2 h1 + b2 (no activation on f)",
    "no_activation": "the activation is skipped: h1 = φ(a1), then f = W2 h1 + b2",
}


def _params(params):
    return tuple(np.array(params[k], dtype=float) for k in ("W1", "b1", "W2", "b2"))


def _act(name):
    return ReLU() if name == "relu" else Sigmoid()


def forward_with(params, x, activation_name, mistake=None, act=None):
    """(a1, h1, f) of the MLP's forward pass with one known mistake; None if the shapes do not allow it.
    `act`: the activation object to use (default: the reference's; judges pass one that records
    where φ is evaluated, to build the probe's table of activation values)."""
    W1, b1, W2, b2 = _params(params)
    x = np.asarray(x, dtype=float)
    act = act or _act(activation_name)
    if mistake == "W1_transposed":
        if W1.shape[0] != W1.shape[1]:
            return None
        a1 = x @ W1 + b1
    else:
        a1 = x @ W1.T + (0.0 if mistake == "no_b1" else b1)
    h1 = a1 if mistake == "no_activation" else act.forward(a1)
    out = h1 @ W2[0] + (0.0 if mistake == "no_b2" else b2[0])
    f = act.forward(out) if mistake == "activation_on_output" else out
    return a1, h1, f


def forward(params, x, activation_name, quantity, appendix=None):
    """Candidates for `quantity` in ("f", "a1", "h1") of a forward pass on x."""
    index = {"a1": 0, "h1": 1, "f": 2}[quantity]
    out = []
    for mistake, hint in FORWARD_MISTAKES.items():
        result = forward_with(params, x, activation_name, mistake)
        if result is not None:
            out.append((result[index], hint))
    if appendix is not None:
        out.append((appendix, HARD_CODED))
    return out


HARD_CODED = ("this is the Appendix A value, but this input is different: compute it from the input and "
              "the parameters instead of hard-coding it")


# --- backward -----------------------------------------------------------------------------------

BACKWARD_MISTAKES = {
    "no_mask": "the factor φ'(a1) is missing: dL/da1 = (W2ᵀ dL/df) ⊙ φ'(a1) ({derivative})",
    "derivative_at_h1": "φ' is evaluated at h1 = φ(a1): the derivative must be taken at the pre-activation, φ'(a1)",
    "a1_for_dW2": "dL/dW2 uses a1: the output layer's input is h1 = φ(a1), so dL/dW2 = dL/df · h1ᵀ",
    "outer_transposed": "this is the transpose: dL/dW1 = dL/da1 · xᵀ has the shape of W1, (h, d)",
    "double": "every entry is twice the expected value: L = ½(f − y)², so dL/df = f − y (the ½ cancels the 2)",
    "sign": "every entry has the wrong sign: dL/df = f − y, not y − f",
    "summed": "every entry is n× the expected value (n = {n}): the batch gradient is the mean over the batch, "
              "not the sum",
}


# What φ'(a1) is, said for the activation the check uses (a ReLU word in a Sigmoid check misleads).
DERIVATIVE_OF = {"relu": "for ReLU, φ'(a1) is the mask a1 > 0",
                 "sigmoid": "for the sigmoid, φ'(a1) = σ(a1)(1 − σ(a1))"}


def backward_with(params, x, y, activation_name, mistake=None, act=None):
    """The four gradients of mean ½(f − y)² from a correct forward pass, with one known mistake.
    `act`: as for forward_with."""
    W1, b1, W2, b2 = _params(params)
    x = np.asarray(x, dtype=float)
    act = act or _act(activation_name)
    X = x.reshape(-1, W1.shape[1])
    n = len(X)
    A1 = X @ W1.T + b1
    H1 = act.forward(A1)
    f = H1 @ W2[0] + b2[0]
    r = f - np.reshape(y, n)
    df = {"double": 2 * r / n, "sign": -r / n, "summed": r}.get(mistake, r / n)
    G = np.outer(df, W2[0])
    da1 = G if mistake == "no_mask" else G * act.derivative(H1 if mistake == "derivative_at_h1" else A1)
    return {
        "dL_dW1": X.T @ da1 if mistake == "outer_transposed" else da1.T @ X,
        "dL_db1": da1.sum(axis=0),
        "dL_dW2": (df @ (A1 if mistake == "a1_for_dW2" else H1))[None, :],
        "dL_db2": np.array([df.sum()]),
    }


def backward(params, x, y, activation_name, key, appendix=None):
    """Candidates for the gradient `key` ("dL_dW1", ...) of a backward pass on (x, y)."""
    n = np.shape(x)[0] if np.ndim(x) == 2 else 1
    out = []
    for mistake, hint in BACKWARD_MISTAKES.items():
        if mistake == "summed" and n == 1:
            continue
        derivative = DERIVATIVE_OF.get(activation_name, "φ' is the activation's derivative")
        out.append((backward_with(params, x, y, activation_name, mistake)[key],
                    hint.format(n=n, derivative=derivative)))
    if appendix is not None:
        out.append((appendix, HARD_CODED))
    return out


# --- gradient checking ------------------------------------------------------------------------------

def numerical_gradient(fn, theta, epsilon, exact):
    """Candidates for a numerical gradient of fn at theta: one-sided differences, ε instead of 2ε."""
    theta = np.array(theta, dtype=float)
    forward_diff, backward_diff = np.zeros_like(theta), np.zeros_like(theta)
    f0 = fn(theta)
    for i in np.ndindex(theta.shape):
        old = theta[i]
        theta[i] = old + epsilon
        f_plus = fn(theta)
        theta[i] = old - epsilon
        f_minus = fn(theta)
        theta[i] = old
        forward_diff[i] = (f_plus - f0) / epsilon
        backward_diff[i] = (f0 - f_minus) / epsilon
    one_sided = ("this is the one-sided difference (f(θ + ε) − f(θ)) / ε, accurate only to O(ε): use the centred "
                 "difference (f(θ + ε) − f(θ − ε)) / (2ε)")
    return [(2 * np.asarray(exact), "every entry is twice the gradient: the centred difference "
                                    "(f(θ + ε) − f(θ − ε)) is divided by 2ε, not by ε"),
            (forward_diff, one_sided), (backward_diff, one_sided.replace("(f(θ + ε) − f(θ)) / ε", "(f(θ) − f(θ − ε)) / ε"))]


ONE_THIRD = ("the relative error is 1/3 for every correct parameter, i.e. |g − 2g| / (|g| + |2g|): the numerical "
             "gradient is twice the analytic one, so the centred difference is divided by ε instead of 2ε")
NO_DENOMINATOR = ("only the model with large gradients (~1e5) fails: the error grows with the size of the "
                  "gradients, so it is an absolute difference; the relative error divides |a − b| by |a| + |b|")
ALWAYS_PASSES = "passed should be (error < threshold): here it is True although the error is far above the threshold"


def relative_error(a, b, kw):
    """Candidates for relative_error(a, b, **kw): the usual wrong formulas."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    eps, diff = kw.get("eps", 1e-12), np.abs(a - b)
    norms = np.linalg.norm(a) + np.linalg.norm(b)
    with np.errstate(all="ignore"):
        return [(np.max(diff), "this is max |a − b|: it is an absolute difference; divide each |a_i − b_i| by "
                               "max(eps, |a_i| + |b_i|)"),
                (np.max(diff / np.maximum(eps, np.maximum(np.abs(a), np.abs(b)))),
                 "the denominator is |a| + |b|, not max(|a|, |b|)"),
                (np.linalg.norm(a - b) / norms if norms else 0.0,
                 "the relative error is the largest entrywise ratio, not a ratio of norms"),
                (np.max(diff / np.maximum(1e-12, np.abs(a) + np.abs(b))), "use the eps you are given"),
                (np.min(diff / np.maximum(eps, np.abs(a) + np.abs(b))), "the largest ratio (max), not the smallest")]


def gradient_check(cases):
    """A hint from the pattern of the checker's results over the fixed cases, or None.

    `cases` = {case: {"should_pass": {name: bool}, "passed": {name: bool}, "error": {name: float}}}."""
    correct = [c for c in cases if all(cases[c]["should_pass"].values())]
    errors = [cases[c]["error"][k] for c in correct for k in cases[c]["error"]]
    if errors and sum(abs(e - 1 / 3) < 1e-4 for e in errors) >= len(errors) // 2 + 1:
        return ONE_THIRD
    for c in cases:
        for k, should in cases[c]["should_pass"].items():
            if not should and cases[c]["passed"].get(k) and cases[c]["error"].get(k, 0.0) >= 1e-3:
                return ALWAYS_PASSES
    failing = [c for c in correct if any(not cases[c]["passed"].get(k) or cases[c]["error"][k] >= 1e-7
                                         for k in cases[c]["error"])]
    if failing == ["correct_large"]:
        return NO_DENOMINATOR
    return None


# --- optimisation -------------------------------------------------------------------------------------

def sgd(before, grad, lr, default_lr=0.1):
    before, grad = np.asarray(before, dtype=float), np.asarray(grad, dtype=float)
    out = [(before + lr * grad, "the step goes uphill: gradient descent subtracts, p ← p − η ∂L/∂p"),
           (before - grad, "the learning rate is ignored: the step is −∂L/∂p instead of −η ∂L/∂p"),
           (before, "the parameter did not change: the updated value never reached the model")]
    if lr != default_lr:
        out.append((before - default_lr * grad, f"this step uses the learning rate {default_lr}, not the "
                                                f"learning_rate given to SGD ({lr})"))
    return out


FIRST_BATCH_ONLY = ("one optimizer step per epoch: only the first mini-batch of each epoch is used; an epoch "
                    "steps through all ⌈n / batch_size⌉ mini-batches")
PER_BATCH_HISTORY = ("one value per optimizer step: the history holds one loss per epoch, recorded after the "
                     "epoch's last mini-batch")
BEFORE_EPOCH = ("these are the losses before each epoch's steps: record the loss after the epoch's last "
                "mini-batch")
VAL_IS_TRAIN = "history['val_loss'] holds the training loss: compute it on the validation set"
STEP_GRADIENTS = ("after train's {steps} optimizer steps the model's parameters are not those that the given "
                  "optimizer's steps on the mini-batches backward received give: each optimizer.step(model, grads) should get, "
                  "unchanged, the gradients of the backward call just before it (computed at the current "
                  "parameters, on the batch's rows of X and their targets in y)")
PARAMETERS_UNCHANGED = ("the parameters never changed: the optimizer's steps did not reach the model train was "
                        "given")
Y_NOT_SHUFFLED = ("the targets of each mini-batch are y[start:start + batch_size] in order while X was shuffled: "
                  "take the same rows of X and y, X[batch] and y[batch]")


def history(key, expected, loss_before_training, train_expected=None):
    """Candidates for history[key] (expected: the loss after each epoch)."""
    expected = list(expected)
    out = [([loss_before_training] + expected[:-1], BEFORE_EPOCH)]
    if key == "val_loss" and train_expected is not None:
        out.append((list(train_expected), VAL_IS_TRAIN))
    return out


# --- evaluation ---------------------------------------------------------------------------------------

def evaluate(f, y, threshold, key):
    f, y = np.asarray(f, dtype=float), np.asarray(y, dtype=float)
    n = len(y)
    if key == "loss":
        loss = float(np.mean(0.5 * (f - y) ** 2))
        return [(2 * loss, "twice the expected loss: the loss is the mean of ½(f − y)²"),
                (n * loss, "n× the expected loss: the loss is the mean over the samples, not the sum")]
    out = [(float(np.mean((f[:, None] >= threshold) == y[None, :])),
            "this accuracy averages an (n, n) table: a column of shape (n, 1) compared with y of shape (n,) "
            "broadcasts; compare two vectors of shape (n,)")]
    for t in (0.5, 0.0):
        if t != threshold:
            out.append((float(np.mean((f >= t) == y)), f"this is the accuracy at threshold {t:g}, not at the "
                                                       f"threshold given ({threshold:g})"))
    out.append((float(np.sum((f >= threshold) == y)), "this is the number of correct predictions: accuracy is "
                                                       "their fraction"))
    if np.any(f == threshold):
        out.append((float(np.mean((f > threshold) == y)), "an output equal to the threshold counts as 1: the "
                                                           "prediction is f >= threshold, not f > threshold"))
    return out


# --- contracts the probes check beyond values ----------------------------------------------------
IN_PLACE = "compute into a new array (np.maximum, np.where, z.copy()); the caller's z must stay as it was"
NOT_SHUFFLED = ("each epoch takes the samples in a random order (a permutation of range(n)), here they came "
                "in the order of X")
SAME_SHUFFLE = ("draw a new permutation at the start of each epoch, from one generator made once (a "
                "shuffle made once before the loop, or a generator seeded anew each epoch, repeats the order)")
