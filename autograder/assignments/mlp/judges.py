"""Judges: decide a check from the plain data its probe returned, against the reference in ``src/``.

A judge never runs student code: it reads numbers and compares them with what
the reference implementation computes on the same fixed inputs. Its message
says what is wrong in terms of the math (which quantity, which entry, expected
versus got) and never shows solution code.

The data is the student's output and nothing more: student code runs in the probe's
process and can rewrite the probe or its report. So ``run_judge`` first validates it
against the probe's declared schema (``probes.SCHEMAS``), and a judge takes every
parameter of its judgement (inputs, seeds, learning rates, epochs, batch sizes, initial
parameters) from the grading side: this process's own copy of ``probes.py``, never the data.

Also here: ``make_inputs(name)``, the data a check hands to its probe.
"""
import math

import numpy as np

from autograder.judging import Judges, Unreadable, Verdict  # noqa: F401 - Verdict: part of this module's API

from . import hints, probes
from .oracles import PARAM_NAMES, CountingTanhStep, LinearNet
from src.activations import ReLU, Sigmoid
from src.data import generate_xor_data
from src.models import OneHiddenLayerMLP
from src.gradient_check import check_all_gradients, numerical_gradient, relative_error
from src.optimization import evaluate

# Tolerances, measured in docs/grading-quality.md (scripts/grading_quality.py): the largest deviation
# of any correct alternative from the reference, and the smallest of any mutant, for each comparison.
RTOL, ATOL = 1e-7, 1e-10                       # activations, forward, backward
NUMERICAL_RTOL, NUMERICAL_ATOL = 1e-7, 1e-7    # centred differences vs the exact gradient of the cubic
EXACT_RTOL, EXACT_ATOL = 1e-12, 1e-12          # one SGD step; evaluate's loss and accuracy
HISTORY_RTOL, HISTORY_ATOL = 1e-9, 1e-12       # train's loss history and final parameters vs the replay
XOR_MIN_ACCURACY = 0.85           # the seed's bar; see docs/grading-quality.md for the measured margins
XOR_MIN_CHANGE = 0.023          # ... and come from training: ||Δθ|| / ||θ_init||; measured likewise
XOR_DATA = {"train_seed": 0, "val_seed": 1, "init_seed": 0, "n_train": 200, "n_val": 100, "noise": 0.1}

_judges = Judges(probes.SCHEMAS)
JUDGES, judge, run_judge = _judges.judges, _judges.judge, _judges.run


def make_inputs(name):
    """Plain data the probe of check `name` receives (made here, on the grading side)."""
    if name in STAND_IN_CHECKS:
        return stand_in_inputs(name)
    if name != "xor_training":
        return {}
    d = XOR_DATA
    X, y = generate_xor_data(n_samples=d["n_train"], noise=d["noise"], seed=d["train_seed"])
    X_val, y_val = generate_xor_data(n_samples=d["n_val"], noise=d["noise"], seed=d["val_seed"])
    return {"X_train": X.tolist(), "y_train": y.tolist(), "X_val": X_val.tolist(), "y_val": y_val.tolist(),
            "seed": d["init_seed"]}


# --- the activation values and caches the forward/backward probes receive -------------------------

class RecordingActivation:
    """The reference activation `name`, recording every point at which φ or φ' is evaluated."""

    def __init__(self, name):
        self.reference = ReLU() if name == "relu" else Sigmoid()
        self.points = []

    def forward(self, z):
        self.points.append(np.ravel(np.asarray(z, dtype=float)))
        return self.reference.forward(z)

    def derivative(self, z):
        self.points.append(np.ravel(np.asarray(z, dtype=float)))
        return self.reference.derivative(z)


def activation_table(activation, cases):
    """The table of oracles.TableActivation for `activation` on `cases` [(params, x, y)]: φ and φ' at
    every point where the reference, or a known mistake of hints.py, evaluates the activation (so
    the stand-in answers wherever a correct or a recognisably wrong model asks)."""
    recorder = RecordingActivation(activation)
    for params, x, y in cases:
        for mistake in (None, *hints.FORWARD_MISTAKES):
            hints.forward_with(params, x, activation, mistake, act=recorder)
        for mistake in (None, *hints.BACKWARD_MISTAKES):
            hints.backward_with(params, x, y, activation, mistake, act=recorder)
    z = np.unique(np.concatenate(recorder.points)) if recorder.points else np.zeros(0)
    with np.errstate(all="ignore"):
        return {"z": z.tolist(), "forward": recorder.reference.forward(z).tolist(),
                "derivative": recorder.reference.derivative(z).tolist()}


def reference_cache(params, activation, x):
    """[a1, h1, f] of the reference's forward pass on x, as plain lists (backward's inputs)."""
    model = reference_model(params, activation)
    f = model.forward(x)
    return [np.asarray(model.a1_cache).tolist(), np.asarray(model.h1_cache).tolist(), np.asarray(f).tolist()]


def stand_in_cases(name):
    """(activations, [(params, x, y)]) of a forward/backward check, in its probe's order."""
    a = probes.APPENDIX_A
    appendix = [(a["params"], np.array(a["x"]), a["y"])]
    seeded = {"forward_random": 11, "backward_relu": 23, "backward_sigmoid": 23}
    cases = appendix if name.endswith("appendix_a") else [(p, x, y) for _, p, x, y in shaped_cases(seeded[name])]
    activations = {"forward_random": ("relu", "sigmoid"), "backward_sigmoid": ("sigmoid",)}.get(name, ("relu",))
    return activations, cases


STAND_IN_CHECKS = ("forward_appendix_a", "forward_random", "backward_appendix_a", "backward_relu", "backward_sigmoid")


def stand_in_inputs(name):
    """Inputs of a forward/backward probe: the stand-in activation's table of values (forward checks:
    one per activation) and, for backward, the reference's caches [a1, h1, f] of each case."""
    activations, cases = stand_in_cases(name)
    if name.startswith("forward"):
        return {"tables": {act: activation_table(act, cases) for act in activations}}
    (activation,) = activations
    return {"table": activation_table(activation, cases),
            "caches": [reference_cache(params, activation, x) for params, x, _ in cases]}


# --- comparing numbers -----------------------------------------------------------

def as_array(got):
    """A validated array record as a NumPy array."""
    try:
        return np.array(got["values"], dtype=float).reshape(got["shape"])
    except (ValueError, OverflowError, MemoryError):
        raise Unreadable(f"an array of shape {tuple(got['shape'])} is not an array NumPy can hold") from None


def fmt(v):
    return np.array2string(np.asarray(v), precision=6, separator=", ", threshold=12)


def compare(label, got, expected, rtol=RTOL, atol=ATOL, candidates=(), hint_tol=(hints.RTOL, hints.ATOL)):
    """None if `got` (probe data) matches `expected`; else one sentence about the first difference.

    `candidates`: a function returning [(value, hint)] of known mistakes (see hints.py), called
    only when the value is wrong; when the student's value equals one of them (to `hint_tol`),
    its one-line hint follows the sentence."""
    expected = np.asarray(expected, dtype=float)
    if got is None:
        return f"{label}: missing"
    values = as_array(got)
    hint = None
    if values.shape != expected.shape or not np.allclose(values, expected, rtol=rtol, atol=atol):
        known = list(candidates()) if callable(candidates) else list(candidates)
        hint = hints.first_match(values, expected, known + hints.generic(expected), *hint_tol)
    if values.shape != expected.shape:
        if expected.ndim == 0 and not hint:
            return f"{label}: expected a scalar, got an array of shape {values.shape}"
        return f"{label}: expected shape {expected.shape}, got {values.shape}" + (f" — {hint}" if hint else "")
    if np.allclose(values, expected, rtol=rtol, atol=atol):
        return None
    if expected.ndim == 0:
        msg = f"{label}: expected {float(expected):.6g}, got {float(values):.6g}"
    else:
        bad = tuple(int(i) for i in np.argwhere(~np.isclose(values, expected, rtol=rtol, atol=atol))[0])
        msg = f"{label}, entry {list(bad)}: expected {expected[bad]:.6g}, got {values[bad]:.6g}"
        if expected.size <= 8:
            msg += f" (expected {fmt(expected)}, got {fmt(values)})"
    return msg + (f" — {hint}" if hint else "")


def reference_model(params, activation):
    model = OneHiddenLayerMLP(input_dim=np.shape(params["W1"])[1], hidden_dim=np.shape(params["W1"])[0],
                              activation=activation, seed=0)
    model.set_parameters({k: np.array(v, dtype=float) for k, v in params.items()})
    return model


def describe(x):
    return "single sample" if np.ndim(x) == 1 else f"batch of {np.shape(x)[0]}"


# --- activations -------------------------------------------------------------------

def judge_activation(data, cls, key):
    ref = cls()
    out = []
    for i, (z, what) in enumerate(zip(probes.activation_inputs(key), probes.ACTIVATION_INPUTS, strict=True)):
        for part in ("forward", "derivative"):
            out.append(compare(f"{cls.__name__}.{part} on {what}", data[f"{part}_{i}"], getattr(ref, part)(z),
                               candidates=lambda: hints.activation(cls.__name__, part, z)))
            if not data[f"{part}_{i}_kept"]:
                out.append(f"{cls.__name__}.{part} on {what} changed its argument z in place: "
                           f"{hints.IN_PLACE}")
    return out


@judge("relu")
def judge_relu(data, inputs):
    return judge_activation(data, ReLU, "relu")


@judge("sigmoid")
def judge_sigmoid(data, inputs):
    return judge_activation(data, Sigmoid, "sigmoid")


# --- forward / backward -------------------------------------------------------------------

def appendix_a_forward():
    """{quantity: value} of the reference's forward pass on the Appendix A example."""
    a = probes.APPENDIX_A
    model = reference_model(a["params"], "relu")
    f = model.forward(np.array(a["x"]))
    return {"f": f, "a1": model.a1_cache, "h1": model.h1_cache}


def compare_forward(label, got, params, activation, x, appendix=None):
    model = reference_model(params, activation)
    expected = {"f": model.forward(x), "a1": model.a1_cache, "h1": model.h1_cache}
    names = {"f": "f", "a1": "a1_cache", "h1": "h1_cache"}
    return [compare(f"{label}: {names[q]}", got[q], expected[q],
                    candidates=lambda: hints.forward(params, x, activation, q, appendix and appendix[q]))
            for q in ("f", "a1", "h1")]


@judge("forward_appendix_a")
def judge_forward_appendix_a(data, inputs):
    a = probes.APPENDIX_A
    return compare_forward("Appendix A", data, a["params"], "relu", np.array(a["x"]))


def shaped_cases(seed):
    """[(label prefix, params, x, y)] of probes.random_cases, flattened in the probe's order."""
    return [(f"d={np.shape(params['W1'])[1]}, h={np.shape(params['W1'])[0]}", params, x, y)
            for params, cases in probes.random_cases(seed) for x, y in cases]


@judge("forward_random")
def judge_forward_random(data, inputs):
    appendix = appendix_a_forward()
    out = []
    for activation in ("relu", "sigmoid"):
        for got, (shape, params, x, _) in zip(data[activation], shaped_cases(11), strict=True):
            out += compare_forward(f"{activation}, {shape}, {describe(x)}", got, params, activation, x, appendix)
    return out


def appendix_a_gradients():
    a = probes.APPENDIX_A
    model = reference_model(a["params"], "relu")
    return model.backward(np.array(a["x"]), a["y"], model.forward(np.array(a["x"])))


def compare_grads(label, got, params, activation, x, y, appendix=None):
    """The probe ran backward on the caches and f of the reference's forward pass (make_inputs,
    probes.backward_round)."""
    model = reference_model(params, activation)
    expected = model.backward(x, y, model.forward(x))
    missing = [k for k in expected if k not in got]
    if missing:
        return [f"{label}: backward's dict has no {', '.join(missing)} (keys must be dL_dW1, dL_db1, dL_dW2, dL_db2)"]
    return [compare(f"{label}: {k.replace('dL_d', 'dL/d')}", got[k], v,
                    candidates=lambda: hints.backward(params, x, y, activation, k, appendix and appendix[k]))
            for k, v in expected.items()]


@judge("backward_appendix_a")
def judge_backward_appendix_a(data, inputs):
    a = probes.APPENDIX_A
    return compare_grads("Appendix A", data, a["params"], "relu", np.array(a["x"]), a["y"])


def judge_backward(data, activation):
    appendix = appendix_a_gradients()
    out = []
    for got, (shape, params, x, y) in zip(data, shaped_cases(23), strict=True):
        out += compare_grads(f"{activation}, {shape}, {describe(x)}", got, params, activation, x, y, appendix)
    return out


@judge("backward_relu")
def judge_backward_relu(data, inputs):
    return judge_backward(data, "relu")


@judge("backward_sigmoid")
def judge_backward_sigmoid(data, inputs):
    return judge_backward(data, "sigmoid")


# --- gradient checking ------------------------------------------------------------------------

@judge("numerical_gradient")
def judge_numerical_gradient(data, inputs):
    theta = probes.numerical_gradient_theta()
    exact = 3 * theta ** 2 + 2 * theta.sum()
    return [compare("numerical_gradient of sum(θ³) + (sum θ)² at a fixed θ", data["grad"], exact,
                    rtol=NUMERICAL_RTOL, atol=NUMERICAL_ATOL,
                    candidates=lambda: hints.numerical_gradient(probes.cubic, theta, probes.NUMERICAL_EPSILON, exact),
                    hint_tol=(1e-6, 1e-6)),
            None if data["restored"] else
            "numerical_gradient left θ changed: restore each entry after perturbing it",
            compare(f"numerical_gradient(f, θ, epsilon={probes.LARGE_EPSILON:g}) of the same function (centred "
                    "differences with this step are off by about ε²: use the epsilon you are given)",
                    data["grad_large_epsilon"], numerical_gradient(probes.cubic, theta, probes.LARGE_EPSILON),
                    rtol=NUMERICAL_RTOL, atol=NUMERICAL_ATOL),
            compare("numerical_gradient(f, θ) with the default epsilon", data["grad_default"], exact,
                    rtol=NUMERICAL_RTOL, atol=NUMERICAL_ATOL)]


GRADIENT_CHECK_LABELS = {
    "correct": "a correct model (one input is 0, so some gradients are exactly 0)",
    "correct_large": "a correct model with large gradients (~1e5)",
    "correct_batch": "a correct model on a batch of 3",
    "wrong_b1": "a model whose backward doubles dL/db1",
    "slightly_wrong": "a model whose dL/dW2 is 4e-6 too large (relative error 2e-6)",
    "too_small": "a model whose dL/dW1 is half what it should be",
    "sign_flipped": "a model whose dL/db2 has the wrong sign",
    "loose_threshold": "threshold=1e-2 on a model whose dL/dW2 is 0.1% off",
    "large_step": "epsilon=0.1 on a correct tanh network (such a step is too coarse for W1 and b1)",
}
STABLE_ERROR = 1e-4      # above it a relative error is far from rounding: it must match the reference's


def reference_gradient_check(case):
    model, x, y, kwargs = probes.gradient_check_model(case)
    return check_all_gradients(model, x, y, **kwargs), kwargs.get("threshold", 1e-7)


@judge("gradient_check")
def judge_gradient_check(data, inputs):
    out = [compare(f"relative_error(a, b{''.join(f', {k}={v:g}' for k, v in kw.items())}) for a = {fmt(a)}, "
                   f"b = {fmt(b)}", got, relative_error(np.array(a), np.array(b), **kw), rtol=1e-9, atol=1e-15,
                   candidates=lambda: hints.relative_error(a, b, kw))
           for got, (a, b, kw) in zip(data["relative_error"], probes.RELATIVE_ERROR_CASES, strict=True)]
    pattern = {}
    for case, label in GRADIENT_CHECK_LABELS.items():
        got, (expected, threshold) = data[case], reference_gradient_check(case)
        label = f"check_all_gradients on {label}"
        if not got["restored"]:
            out.append(f"{label}: the model's parameters changed; restore every entry after perturbing it")
        missing = [k for k in PARAM_NAMES if k not in got["result"]]
        if missing:
            out.append(f"{label}: result has no entry for {', '.join(missing)}")
            continue
        pattern[case] = {"should_pass": {}, "passed": {}, "error": {}}
        for name in PARAM_NAMES:
            passed, error = got["result"][name]["passed"], as_array(got["result"][name]["error"])
            should_pass, reference = expected[name]["passed"], expected[name]["error"]
            if error.size != 1 or not np.isfinite(error).all():
                out.append(f"{label}: error for {name} is {fmt(error)}, "
                           "not a finite number (is the relative error defined when both gradients are 0?)")
                continue
            error = error.item()
            pattern[case]["should_pass"][name] = should_pass
            pattern[case]["passed"][name] = passed
            pattern[case]["error"][name] = error
            if passed != should_pass:
                out.append(f"{label}: {name} should {'pass' if should_pass else 'fail'} (relative error "
                           f"{reference:.3g}, threshold {threshold:g}), but got passed={passed}, error={error:.3g}")
            elif reference >= STABLE_ERROR and not np.isclose(error, reference, rtol=1e-3, atol=0):
                out.append(f"{label}: the relative error for {name} should be {reference:.6g}, got {error:.6g} "
                           "(max over entries of |a − b| / max(eps, |a| + |b|))")
            elif passed != (error < threshold):
                out.append(f"{label}: {name} has error={error:.3g} but passed={passed}: passed means "
                           f"error < threshold ({threshold:g})")
    hint = hints.gradient_check(pattern) if any(out) else None
    return [f"{out[0]} — {hint}"] + out[1:] if hint else out


# --- optimisation -------------------------------------------------------------------------------

@judge("sgd_step")
def judge_sgd_step(data, inputs):
    out = []
    for after, (lr, seed) in zip(data, probes.SGD_CASES, strict=True):
        before, grads = probes.sgd_inputs(seed)
        for k in PARAM_NAMES:
            grad = grads["dL_d" + k]
            out.append(compare(f"{k} after one step with learning_rate={lr}", after.get(k),
                               before[k] - lr * grad, rtol=EXACT_RTOL, atol=EXACT_ATOL,
                               candidates=lambda: hints.sgd(before[k], grad, lr)))
    return out


def count(value):
    """A validated number shown as the count it should be."""
    return int(value) if float(value).is_integer() else value


def batches_problem(batches, steps, setup):
    """The first way the recorded mini-batches break train's contract, or None.

    Contract: one backward call before each optimizer step; in each epoch the batches are a
    partition of the rows of X into batches of batch_size, only the last one smaller."""
    n, bs, epochs = probes.TRAIN_SETUP["n"], setup["batch_size"], setup["epochs"]
    per_epoch = -(-n // bs)
    if not all(float(i).is_integer() and 0 <= i < n for batch in batches for i in batch):
        return ("backward received rows that are not rows of the training set X: train should pass "
                "backward mini-batches X[batch] of the X it is given, unchanged")
    if len(batches) != steps:
        return (f"train should call backward once before each optimizer step: it made {len(batches)} "
                f"backward calls and {count(steps)} optimizer steps")
    for e in range(min(epochs, len(batches) // per_epoch)):
        epoch = [[int(i) for i in b] for b in batches[e * per_epoch:(e + 1) * per_epoch]]
        seen = sorted(i for b in epoch for i in b)
        if seen != list(range(n)):
            return (f"epoch {e + 1}: the mini-batches should use every training sample exactly once per "
                    f"epoch; they used {len(set(seen))} distinct of {n}, {len(seen)} rows in all")
        if any(len(b) != bs for b in epoch[:-1]):
            return (f"epoch {e + 1}: mini-batch sizes {[len(b) for b in epoch]}, expected batches of {bs} "
                    "(the last one may be smaller)")
    if len(batches) != epochs * per_epoch:
        return (f"{len(batches)} mini-batches, expected {epochs * per_epoch} ({epochs} epochs × {per_epoch}): "
                "each epoch goes once through the whole training set")
    orders = [[int(i) for b in batches[e * per_epoch:(e + 1) * per_epoch] for i in b] for e in range(epochs)]
    if orders[0] == list(range(n)):
        return f"the samples were not shuffled: {hints.NOT_SHUFFLED}"
    if epochs > 1 and all(order == orders[0] for order in orders):
        return f"every epoch visited the samples in the same order: {hints.SAME_SHUFFLE}"
    return None


def tanh_step_replay(params, X, y, batches, learning_rate, target_rows=None):
    """[parameters after each step] of the stand-in optimiser (oracles.CountingTanhStep) on a LinearNet
    from `params`, one step per mini-batch (a list of row indices into X and y), each with the
    gradient at the current parameters: what ``train`` must have done with the batches it was
    recorded using. `target_rows`: other rows of y for each batch (the result of a known mistake).
    Here on the grading side, so the expected values never pass through the sandbox."""
    model, optimizer, out = LinearNet(params), CountingTanhStep(learning_rate), []
    for rows, target in zip(batches, batches if target_rows is None else target_rows, strict=True):
        X_batch, y_batch = X[rows], y[target]
        optimizer.step(model, model.backward(X_batch, y_batch, model.forward(X_batch)))
        out.append(model.get_parameters())
    return out


def replay_train(batches, setup):
    """(expected history {key: [loss after each epoch]}, loss before training {key: value}, final
    parameters) of the stand-in optimiser's steps, from the grader's initial parameters, on the
    recorded batches."""
    X, y, X_val, y_val = probes.train_data()
    sets = {"train_loss": (X, y), **({"val_loss": (X_val, y_val)} if setup["validation"] else {})}
    initial = probes.train_initial_params()
    trajectory = tanh_step_replay(initial, X, y, batches, probes.TRAIN_SETUP["lr"])
    per_epoch = len(batches) // setup["epochs"]
    ends = [LinearNet(trajectory[(e + 1) * per_epoch - 1]) for e in range(setup["epochs"])]
    expected = {key: [model.loss(*data) for model in ends] for key, data in sets.items()}
    before = {key: LinearNet(initial).loss(*data) for key, data in sets.items()}
    return expected, before, trajectory[-1]


def final_params_mistakes(batches, setup, key):
    """Candidates for the final value of parameter `key` (see hints.py): no step reached the model;
    each batch's targets taken in order, y[start:start + batch_size], while X was shuffled."""
    X, y, _, _ = probes.train_data()
    initial = probes.train_initial_params()
    per_epoch = len(batches) // setup["epochs"]
    in_order = []
    for first in range(0, len(batches), per_epoch):
        start = 0
        for batch in batches[first:first + per_epoch]:
            in_order.append(list(range(start, start + len(batch))))
            start += len(batch)
    y_in_order = tanh_step_replay(initial, X, y, batches, probes.TRAIN_SETUP["lr"], target_rows=in_order)[-1]
    return [(initial[key], hints.PARAMETERS_UNCHANGED), (y_in_order[key], hints.Y_NOT_SHUFFLED)]


def judge_train_run(run, label, setup):
    """Judge one recorded train run (probes.probe_train_loop) against a replay of its batches."""
    n, epochs, bs = probes.TRAIN_SETUP["n"], setup["epochs"], setup["batch_size"]
    per_epoch = -(-n // bs)
    out = []
    if run["steps"] != epochs * per_epoch:
        hint = f" — {hints.FIRST_BATCH_ONLY}" if run["steps"] == epochs and per_epoch > 1 else ""
        out.append(f"{label}: expected {epochs * per_epoch} optimizer steps ({epochs} epochs × "
                   f"{per_epoch} mini-batches of at most {bs} from {n} samples), got {count(run['steps'])}{hint}")
    problem = batches_problem(run["batches"], run["steps"], setup)
    if problem:
        out.append(f"{label}, {problem}")
    history = run["history"]
    n_values = {"train_loss": epochs, "val_loss": epochs if setup["validation"] else 0}
    shaped = {}
    for key, n_key in n_values.items():      # no validation data: an empty (or absent, or None) val_loss
        got = history.get(key)
        if got is None:
            if n_key:
                out.append(f"{label}: history has no '{key}' list")
        elif got["shape"] != [n_key]:
            hint = f" — {hints.PER_BATCH_HISTORY}" if n_key and got["shape"] == [run["steps"]] else ""
            out.append(f"{label}: history['{key}'] should hold one value per epoch ({n_key}), "
                       f"got shape {tuple(got['shape'])}{hint}")
        elif n_key:
            shaped[key] = got
    if out:           # the record does not replay into epochs: nothing more can be compared
        return out
    batches = [[int(i) for i in b] for b in run["batches"]]
    expected, before, final = replay_train(batches, setup)
    for k in PARAM_NAMES:     # the steps first: a history that follows wrong steps is wrong too
        wrong = compare(f"the model's {k} after training", run["params"].get(k), final[k],
                        rtol=HISTORY_RTOL, atol=HISTORY_ATOL,
                        candidates=lambda: final_params_mistakes(batches, setup, k))
        if wrong:
            return [f"{label}: {hints.STEP_GRADIENTS.format(steps=count(run['steps']))}: {wrong}"]
    return [compare(f"{label}: history['{key}'] (mean ½(f−y)² over the whole set after each epoch)",
                    got, expected[key], rtol=HISTORY_RTOL, atol=HISTORY_ATOL,
                    candidates=lambda: hints.history(key, expected[key], before[key], expected["train_loss"]))
            for key, got in shaped.items()]


@judge("train_loop")
def judge_train_loop(data, inputs):
    labels = {"with_val": "train with validation data", "no_val": "train without validation data",
              "verbose": "train(..., verbose=True, print_every=1)"}
    return [p for run, setup in probes.TRAIN_RUNS.items() for p in judge_train_run(data[run], labels[run], setup)]


@judge("evaluate")
def judge_evaluate(data, inputs):
    out = []
    for label, kwargs in probes.EVALUATE_LABELS.items():
        model, X, y = probes.evaluate_tie_inputs() if label == "tie" else probes.evaluate_inputs()
        f = model.forward(X)
        threshold = kwargs.get("threshold", 0.5)
        expected = evaluate(model, X, y, threshold=threshold)
        call = "evaluate(model, X, y)" if label == "default" else f"evaluate(model, X, y, threshold={threshold})"
        where = " with some outputs exactly at the threshold" if label == "tie" else ""
        for k in ("loss", "accuracy"):
            out.append(compare(f"{call}['{k}']{where}", data[label][k], expected[k], rtol=EXACT_RTOL, atol=EXACT_ATOL,
                               candidates=lambda: hints.evaluate(f, y, threshold, k)))
    return out


# --- end to end ----------------------------------------------------------------------------------

def xor_scores(data, inputs):
    """(validation accuracy, final training loss, relative parameter change) of the XOR run, computed
    with the reference model on the parameters the probe returned. The change is
    ||θ_final − θ_initial|| / ||θ_initial|| over all parameters: how much training moved the model."""
    params = {k: as_array(v) for k, v in data["params"].items()}
    initial = {k: as_array(v) for k, v in data["initial_params"].items()}
    model = reference_model(params, "relu")
    accuracy = evaluate(model, np.array(inputs["X_val"]), np.array(inputs["y_val"]))["accuracy"]
    loss = evaluate(model, np.array(inputs["X_train"]), np.array(inputs["y_train"]))["loss"]
    change = (np.sqrt(sum(np.sum((params[k] - initial[k]) ** 2) for k in PARAM_NAMES))
              / np.sqrt(sum(np.sum(initial[k] ** 2) for k in PARAM_NAMES)))
    return accuracy, _finite(loss), _finite(change)


def _finite(value):
    return float(value) if np.isfinite(value) else float("inf")


XOR_SHAPES = {"W1": (probes.XOR_SETUP["hidden_dim"], 2), "b1": (probes.XOR_SETUP["hidden_dim"],),
              "W2": (1, probes.XOR_SETUP["hidden_dim"]), "b2": (1,)}


def xor_shape_problems(got, when):
    params = {k: as_array(v) for k, v in got.items()}
    wrong = [f"{k} has shape {params[k].shape if k in params else 'missing'}, expected {s}"
             for k, s in XOR_SHAPES.items() if k not in params or params[k].shape != s]
    if not wrong and not all(np.isfinite(params[k]).all() for k in PARAM_NAMES):
        wrong = ["some parameters are not finite numbers (NaN or inf)"]
    return [f"{when}: " + "; ".join(wrong)] if wrong else []


@judge("xor_training")
def judge_xor_training(data, inputs):
    """The student's own model, SGD and train on XOR: the parameters they report are their output
    (what their code computed), judged by the reference model on the grader's validation data."""
    wrong = (xor_shape_problems(data["initial_params"], "the model's parameters before training")
             + xor_shape_problems(data["params"], "after training"))
    if wrong:
        return wrong
    accuracy, _, change = xor_scores(data, inputs)
    out = []
    if not accuracy > XOR_MIN_ACCURACY:
        out.append(f"XOR validation accuracy after {probes.XOR_SETUP['n_epochs']} epochs (seeded) is {accuracy:.1%}; it must exceed "
                   f"{XOR_MIN_ACCURACY:.0%}. Check backward, the SGD step and the training loop.")
    elif not math.isfinite(change):
        out.append("the model's parameters before training are all 0, so training's effect cannot be measured: "
                   "initialise the weights randomly (zero weights never learn)")
    elif not change >= XOR_MIN_CHANGE:
        out.append(f"training barely changed the model (its parameters moved by {change:.1%} of their size; "
                   f"correct training moves them by at least {XOR_MIN_CHANGE:.1%}): this accuracy comes from the "
                   "initialisation. Check that train goes through every mini-batch of every epoch.")
    history = data["history"].get("train_loss")
    if history is None or len(history["values"]) < 2 or not history["values"][-1] < history["values"][0]:
        out.append("history['train_loss'] should decrease over training")
    return out
