"""Judges: decide a check from the plain data its probe returned, against the reference in ``src/``.

A judge never runs student code: it reads numbers and compares them with what
the reference implementation computes on the same fixed inputs. Its message
says what is wrong in terms of the math (which quantity, which entry, expected
versus got) and never shows solution code.

Also here: ``make_inputs(name)``, the data a check hands to its probe.
"""
from dataclasses import dataclass

import numpy as np

from autograder import probes
from autograder.hints import hint_for
from autograder.oracles import PARAM_NAMES, LinearNet, linear_net_params
from src.activations import ReLU, Sigmoid
from src.data import generate_xor_data
from src.models import OneHiddenLayerMLP
from src.optimization import evaluate

RTOL, ATOL = 1e-7, 1e-10          # equivalent formulas agree to ~1e-15; wrong ones are off by far more
XOR_MIN_ACCURACY = 0.85           # the seed's bar; see docs/grading-quality.md for the measured margin
XOR_DATA = {"train_seed": 0, "val_seed": 1, "init_seed": 0, "n_train": 200, "n_val": 100, "noise": 0.1}
JUDGES = {}


@dataclass
class Verdict:
    passed: bool
    message: str        # what the student reads; "" when passed


def judge(name):
    def register(fn):
        JUDGES[name] = fn
        return fn
    return register


def make_inputs(name):
    """Plain data the probe of check `name` receives (made here, on the grading side)."""
    if name != "xor_training":
        return {}
    d = XOR_DATA
    X, y = generate_xor_data(n_samples=d["n_train"], noise=d["noise"], seed=d["train_seed"])
    X_val, y_val = generate_xor_data(n_samples=d["n_val"], noise=d["noise"], seed=d["val_seed"])
    return {"X_train": X.tolist(), "y_train": y.tolist(), "X_val": X_val.tolist(), "y_val": y_val.tolist(),
            "seed": d["init_seed"]}


def run_judge(name, data, inputs):
    try:
        problems = [p for p in JUDGES[name](data, inputs) if p]
    except (KeyError, TypeError, ValueError, IndexError) as e:  # data of an unexpected shape
        problems = [f"your code returned results of an unexpected form ({type(e).__name__}: {e})"]
    return Verdict(not problems, "\n".join(problems[:4]) + ("\n..." if len(problems) > 4 else ""))


# --- comparing numbers -----------------------------------------------------------

def as_array(got):
    return np.array(got["values"], dtype=float).reshape(got["shape"])


def fmt(v):
    return np.array2string(np.asarray(v), precision=6, separator=", ", threshold=12)


def compare(label, got, expected, batch_size=None, rtol=RTOL, atol=ATOL):
    """None if `got` (probe data) matches `expected`; else one sentence about the first difference."""
    expected = np.asarray(expected, dtype=float)
    if got is None:
        return f"{label}: missing"
    values = as_array(got)
    if values.shape != expected.shape:
        if expected.ndim == 0:
            return f"{label}: expected a scalar, got an array of shape {values.shape}"
        hint = hint_for(values, expected, batch_size)
        return f"{label}: expected shape {expected.shape}, got {values.shape}" + (f" — {hint}" if hint else "")
    if np.allclose(values, expected, rtol=rtol, atol=atol):
        return None
    hint = hint_for(values, expected, batch_size)
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
    for i, z in enumerate(probes.activation_inputs(key)):
        for part in ("forward", "derivative"):
            what = "edge values" if i == 0 else "a random (3, 4) array"
            out.append(compare(f"{cls.__name__}.{part} on {what}", data[f"{part}_{i}"], getattr(ref, part)(z)))
    return out


@judge("relu")
def judge_relu(data, inputs):
    return judge_activation(data, ReLU, "relu")


@judge("sigmoid")
def judge_sigmoid(data, inputs):
    return judge_activation(data, Sigmoid, "sigmoid")


# --- forward / backward -------------------------------------------------------------------

def compare_forward(label, got, model, x):
    f = model.forward(x)
    return [compare(f"{label}: f", got["f"], f),
            compare(f"{label}: a1_cache", got["a1"], model.a1_cache),
            compare(f"{label}: h1_cache", got["h1"], model.h1_cache)]


@judge("forward_appendix_a")
def judge_forward_appendix_a(data, inputs):
    model = reference_model(probes.APPENDIX_A["params"], "relu")
    return compare_forward("Appendix A", data, model, np.array(probes.APPENDIX_A["x"]))


@judge("forward_random")
def judge_forward_random(data, inputs):
    params, cases = probes.random_cases(seed=11)
    out = []
    for activation in ("relu", "sigmoid"):
        model = reference_model(params, activation)
        for got, (x, _) in zip(data[activation], cases):
            out += compare_forward(f"{activation}, {describe(x)}", got, model, x)
    return out


def compare_grads(label, got, model, x, y):
    expected = model.backward(x, y, model.forward(x))
    n = np.shape(x)[0] if np.ndim(x) == 2 else None
    missing = [k for k in expected if k not in got]
    if missing:
        return [f"{label}: backward's dict has no {', '.join(missing)} (keys must be dL_dW1, dL_db1, dL_dW2, dL_db2)"]
    return [compare(f"{label}: {k.replace('dL_d', 'dL/d')}", got[k], v, batch_size=n) for k, v in expected.items()]


@judge("backward_appendix_a")
def judge_backward_appendix_a(data, inputs):
    a = probes.APPENDIX_A
    return compare_grads("Appendix A", data, reference_model(a["params"], "relu"), np.array(a["x"]), a["y"])


def judge_backward(data, activation):
    params, cases = probes.random_cases(seed=23)
    model = reference_model(params, activation)
    out = []
    for got, (x, y) in zip(data, cases):
        out += compare_grads(f"{activation}, {describe(x)}", got, model, x, y)
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
    theta = as_array(data["theta"])
    exact = 3 * theta ** 2 + 2 * theta.sum()
    return [compare("numerical_gradient of sum(θ³) + (sum θ)² at a fixed θ", data["grad"], exact,
                    rtol=1e-7, atol=1e-7),
            None if data["restored"] else
            "numerical_gradient left θ changed: restore each entry after perturbing it"]


@judge("gradient_check")
def judge_gradient_check(data, inputs):
    out = []
    for case, (_, _, x, _, grad_scale) in probes.GRADIENT_CHECK_CASES.items():
        got = data[case]
        label = {"correct": "a correct model (one input is 0, so some gradients are exactly 0)",
                 "correct_large": "a correct model with large gradients (~1e5)",
                 "correct_batch": "a correct model on a batch of 3",
                 "wrong_b1": "a model whose backward doubles dL/db1"}[case]
        if not got["restored"]:
            out.append(f"check_all_gradients on {label}: the model's parameters changed; "
                       "restore every entry after perturbing it")
        missing = [k for k in PARAM_NAMES if k not in got["result"]]
        if missing:
            out.append(f"check_all_gradients on {label}: result has no entry for {', '.join(missing)}")
            continue
        for name in PARAM_NAMES:
            should_pass = not (grad_scale and name in grad_scale)
            passed, error = got["result"][name]["passed"], as_array(got["result"][name]["error"])
            if error.size != 1 or not np.isfinite(error).all():
                out.append(f"check_all_gradients on {label}: error for {name} is {fmt(error)}, "
                           "not a finite number (is the relative error defined when both gradients are 0?)")
            elif should_pass and (not passed or float(error) >= 1e-7):
                out.append(f"check_all_gradients on {label}: {name} should pass, but got passed={passed}, "
                           f"error={float(error):.3g} (centred differences with 2ε give a relative error "
                           "below 1e-7 here)")
            elif not should_pass and (passed or float(error) < 1e-3):
                out.append(f"check_all_gradients on {label}: {name} should fail, but got passed={passed}, "
                           f"error={float(error):.3g}")
    return out


# --- optimisation -------------------------------------------------------------------------------

@judge("sgd_step")
def judge_sgd_step(data, inputs):
    out = []
    for run in data:
        before = linear_net_params(3, 4, run["seed"])
        grads = linear_net_params(3, 4, run["seed"] + 100)
        for k in PARAM_NAMES:
            out.append(compare(f"{k} after one step with learning_rate={run['lr']}", run["after"].get(k),
                               before[k] - run["lr"] * grads[k], rtol=1e-12, atol=1e-12))
    return out


def judge_history(run, label):
    out = []
    epochs, n, bs = run["epochs"], run["n"], run["batch_size"]
    per_epoch = -(-n // bs)
    if run["steps"] != epochs * per_epoch:
        out.append(f"{label}: expected {epochs * per_epoch} optimizer steps ({epochs} epochs × "
                   f"{per_epoch} mini-batches of at most {bs} from {n} samples), got {run['steps']}")
    batches = run["batches"]
    for e in range(min(epochs, len(batches) // per_epoch)):
        epoch = batches[e * per_epoch:(e + 1) * per_epoch]
        seen = sorted(i for b in epoch for i in b)
        if seen != list(range(n)):
            out.append(f"{label}, epoch {e + 1}: the mini-batches should use every training sample "
                       f"exactly once per epoch; they used {len(set(seen))} distinct of {n}")
            break
        if sorted(len(b) for b in epoch)[1:] != [bs] * (per_epoch - 1):
            out.append(f"{label}, epoch {e + 1}: mini-batch sizes {[len(b) for b in epoch]}, expected "
                       f"batches of {bs} (the last one may be smaller)")
            break
    if not all(run["fresh_grads"]):
        out.append(f"{label}: optimizer.step should get the gradients of the backward call just before it")
    history = run["history"]
    for key, after_step in (("train_loss", run["train_loss_after_step"]), ("val_loss", run["val_loss_after_step"])):
        n_values = epochs if after_step else 0       # no validation data: an empty (or absent) val_loss
        got = history.get(key)
        if got is None:
            if n_values:
                out.append(f"{label}: history has no '{key}' list")
        elif got["shape"] != [n_values]:
            out.append(f"{label}: history['{key}'] should hold one value per epoch ({n_values}), "
                       f"got shape {tuple(got['shape'])}")
        elif n_values and run["steps"] == epochs * per_epoch:
            expected = [after_step[(e + 1) * per_epoch - 1] for e in range(epochs)]
            out.append(compare(f"{label}: history['{key}'] (mean ½(f−y)² over the whole set after each epoch)",
                               got, expected, rtol=1e-9, atol=1e-12))
    return out


@judge("train_loop")
def judge_train_loop(data, inputs):
    return (judge_history(data["with_val"], "train with validation data")
            + judge_history(data["no_val"], "train without validation data"))


@judge("evaluate")
def judge_evaluate(data, inputs):
    model, X, y = probes.evaluate_inputs()
    out = []
    for label, threshold in (("default", 0.5), ("t0.5", 0.5), ("t0.3", 0.3)):
        expected = evaluate(model, X, y, threshold=threshold)
        call = "evaluate(model, X, y)" if label == "default" else f"evaluate(model, X, y, threshold={threshold})"
        for k in ("loss", "accuracy"):
            out.append(compare(f"{call}['{k}']", data[label][k], expected[k], rtol=1e-12, atol=1e-12))
    return out


# --- end to end ----------------------------------------------------------------------------------

@judge("xor_training")
def judge_xor_training(data, inputs):
    params = {k: as_array(v) for k, v in data["params"].items()}
    h = probes.XOR_SETUP["hidden_dim"]
    shapes = {"W1": (h, 2), "b1": (h,), "W2": (1, h), "b2": (1,)}
    wrong = [f"{k} has shape {params[k].shape if k in params else 'missing'}, expected {s}"
             for k, s in shapes.items() if k not in params or params[k].shape != s]
    if wrong:
        return ["after training: " + "; ".join(wrong)]
    X_val, y_val = np.array(inputs["X_val"]), np.array(inputs["y_val"])
    accuracy = evaluate(reference_model(params, "relu"), X_val, y_val)["accuracy"]
    out = []
    if not accuracy > XOR_MIN_ACCURACY:
        out.append(f"XOR validation accuracy after {probes.XOR_SETUP['n_epochs']} epochs (seeded) is {accuracy:.1%}; it must exceed "
                   f"{XOR_MIN_ACCURACY:.0%}. Check backward, the SGD step and the training loop.")
    loss = data["history"].get("train_loss")
    if loss is None or len(loss["values"]) < 2 or not loss["values"][-1] < loss["values"][0]:
        out.append("history['train_loss'] should decrease over training")
    return out
