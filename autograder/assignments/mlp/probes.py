"""Probes: run the student's code on fixed inputs and return plain data.

A probe is the only part of the grader that touches student code. It takes the
namespace the student's notebook cells were executed in and the check's inputs
(plain data made by the grading side), calls the student's functions, and
returns JSON-able data (nested dicts/lists of floats, ints, bools, strings).
It decides nothing: the judges in ``judges.py`` compare that data with the
reference in ``src/``, outside the student's process.

Each probe declares the form of its data (``@probe(name, returns=schema)``, schema types
from ``protocol.py``; ``SCHEMAS`` holds them). The grader validates the data against it
before judging: whatever arrives from the sandbox is the student's output (student code
runs in the probe's process and may rewrite it), so the data holds only what the student's
code produced, never a parameter of the judgement. Inputs, seeds, learning rates and the
like are module constants and functions here, which the grading side imports from its own,
untampered copy of this module.

This module must import nothing from ``src`` or ``judges``: it is loaded into
the sandbox where student code runs (see ``sandbox.py``).
"""
import contextlib

import numpy as np

from autograder.probing import Probes, StudentCodeError, call, lookup, plain
from autograder.protocol import Arr, Flag, Map, Num, Opt, Rec, Seq

from .oracles import (TanhNet, TableActivation, CountingTanhStep, LinearNet, linear_net_params,
                      PARAM_NAMES)

_probes = Probes()
PROBES, SCHEMAS = _probes.probes, _probes.schemas    # check name -> probe, and -> the schema of its data
probe, run_probe = _probes.probe, _probes.run
GRAD_KEYS = tuple("dL_d" + p for p in PARAM_NAMES)


def grads_plain(grads, what):
    if not isinstance(grads, dict):
        raise StudentCodeError(f"{what} must return a dict of gradients, got {type(grads).__name__}")
    return {key: plain(grads[key], f"{what}['{key}']") for key in GRAD_KEYS if key in grads}


def params_plain(params, what):
    if not isinstance(params, dict):
        raise StudentCodeError(f"{what} must return a dict, got {type(params).__name__}")
    return {k: plain(params[k], f"{what}['{k}']") for k in PARAM_NAMES if k in params}


def _accept_any(self, *args, **kwargs):
    pass


ACTIVATION_CLASSES = {"relu": "ReLU", "sigmoid": "Sigmoid"}    # activation name -> the notebook's class


def shielded(stand_in, theirs):
    """A class whose instances are the stand-in activation `stand_in` (a TableActivation), as a
    subclass of the student's own class when that is a class (a model that checks
    isinstance(self.activation, ReLU) still recognises it); every method the model may call
    (forward, derivative, __call__, __init__) is the stand-in's."""
    methods = {"name": stand_in.name, "forward": lambda self, z: stand_in.forward(z),
               "derivative": lambda self, z: stand_in.derivative(z), "__call__": lambda self, z: stand_in.forward(z),
               "__init__": _accept_any}
    if isinstance(theirs, type):
        try:
            return type(theirs.__name__, (theirs,), methods)
        except Exception:  # noqa: BLE001 - a class that cannot be subclassed: the plain stand-in
            pass
    return type(ACTIVATION_CLASSES[stand_in.name], (), methods)


@contextlib.contextmanager
def table_activations(ns, activation, table):
    """Build the student's model with stand-in activations (the grader's `table` for `activation`,
    an empty table for the other), then restore theirs."""
    saved = {cls: ns.get(cls) for cls in ACTIVATION_CLASSES.values()}
    for name, cls in ACTIVATION_CLASSES.items():
        ns[cls] = shielded(TableActivation(name, table if name == activation else None), saved[cls])
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                ns.pop(k, None)
            else:
                ns[k] = v


def student_model(ns, params, activation, table):
    """The student's OneHiddenLayerMLP, with the given parameters and the stand-in activation
    whose values are `table` (made by the grading side, judges.make_inputs)."""
    cls = lookup(ns, "OneHiddenLayerMLP")
    d, h = np.shape(params["W1"])[1], np.shape(params["W1"])[0]
    with table_activations(ns, activation, table):
        model = call("OneHiddenLayerMLP(...)", cls, input_dim=d, hidden_dim=h, activation=activation)
    call("set_parameters", model.set_parameters, {k: np.array(v, dtype=float) for k, v in params.items()})
    return model


# --- the forms of data several probes share (protocol schemas) ----------------------------------
GRADS = Map(GRAD_KEYS, Arr())                        # a student's dict of gradients (missing keys: the judge's)
PARAMS = Map(PARAM_NAMES, Arr())                     # a dict of parameters
HISTORY = Map(("train_loss", "val_loss"), Opt(Arr()))  # train's history (val_loss may be None or absent)
FORWARD = Rec({"f": Arr(), "a1": Arr(), "h1": Arr()})


def forward_record(model, x):
    f = call("forward", model.forward, x)
    return {
        "f": plain(f, "forward"),
        "a1": plain(getattr(model, "a1_cache", None), "a1_cache"),
        "h1": plain(getattr(model, "h1_cache", None), "h1_cache"),
    }


APPENDIX_A = {
    "params": {"W1": [[1.0, -2.0], [0.5, 1.0]], "b1": [0.0, 0.0], "W2": [[1.0, -1.0]], "b2": [0.0]},
    "x": [1.0, -1.0],
    "y": 2.0,
}


RANDOM_SHAPES = ((3, 4, ("x", "x", 6, 5)),     # (d, h, cases): a hidden layer wider than the input ...
                 (5, 2, ("x", 1, 5)),         # ... and narrower; a batch of one; n = d
                 (1, 1, ("x", 3)))            # one input, one hidden unit


def random_cases(seed):
    """Fixed inputs for the random forward/backward checks: [(params, [(x, y), ...]), ...], one
    entry per shape of RANDOM_SHAPES; a case is a single sample ("x") or a batch of n."""
    rng = np.random.default_rng(seed)
    out = []
    for k, (d, h, sizes) in enumerate(RANDOM_SHAPES):
        params = linear_net_params(d, h, seed + 1000 * k)
        cases = [(rng.standard_normal(d), float(rng.standard_normal())) if n == "x" else
                 (rng.standard_normal((n, d)), rng.standard_normal(n)) for n in sizes]
        out.append((params, cases))
    return out


N_RANDOM_CASES = sum(len(sizes) for _, _, sizes in RANDOM_SHAPES)


# --- activations -------------------------------------------------------------

ACTIVATION_INPUTS = ("edge values", "a random (3, 4) array", "a Python float", "a Python int")


def activation_inputs(key):
    """Fixed z for the activation checks (ACTIVATION_INPUTS): edge values (0, tiny, huge), a random
    (3, 4) array, and the scalars the spec allows."""
    edges = {"relu": [-3.0, -1.0, -1e-12, 0.0, 1e-12, 2.0, 5.0],
             "sigmoid": [-1e4, -710.0, -50.0, -5.0, -1.0, 0.0, 1.0, 5.0, 50.0, 710.0, 1e4]}
    scalars = {"relu": (0.7, -3), "sigmoid": (-2.5, 3)}
    return (np.array(edges[key]), np.random.default_rng(7).standard_normal((3, 4)) * 3) + scalars[key]


def _unchanged(argument, original):
    return not isinstance(argument, np.ndarray) or bool(np.array_equal(argument, original))


def activation_probe(ns, class_name, key):
    """Forward and derivative on the fixed inputs; an overflow (e.g. exp(1e4)) is an error, as the
    notebook's visible test says: a stable sigmoid never computes exp of a large positive number."""
    act = call(f"{class_name}()", lookup(ns, class_name))
    out = {}
    with np.errstate(over="raise", invalid="raise"):
        for part in ("forward", "derivative"):
            for i, z in enumerate(activation_inputs(key)):
                argument = z.copy() if isinstance(z, np.ndarray) else z
                out[f"{part}_{i}"] = plain(call(f"{class_name}.{part}", getattr(act, part), argument),
                                           f"{class_name}.{part}")
                out[f"{part}_{i}_kept"] = _unchanged(argument, z)      # the argument left as it was
    return out


ACTIVATION = Rec({f"{part}_{i}{suffix}": (Arr() if not suffix else Flag())
                  for part in ("forward", "derivative") for i in range(4) for suffix in ("", "_kept")})


@probe("relu", returns=ACTIVATION)
def probe_relu(ns, inputs):
    return activation_probe(ns, "ReLU", "relu")


@probe("sigmoid", returns=ACTIVATION)
def probe_sigmoid(ns, inputs):
    return activation_probe(ns, "Sigmoid", "sigmoid")


# --- forward / backward -------------------------------------------------------

@probe("forward_appendix_a", returns=FORWARD)
def probe_forward_appendix_a(ns, inputs):
    model = student_model(ns, APPENDIX_A["params"], "relu", inputs["tables"]["relu"])
    return forward_record(model, np.array(APPENDIX_A["x"]))


@probe("forward_random", returns=Rec({a: Seq(FORWARD, length=N_RANDOM_CASES) for a in ("relu", "sigmoid")}))
def probe_forward_random(ns, inputs):
    out = {}
    for activation in ("relu", "sigmoid"):
        out[activation] = []
        for params, cases in random_cases(seed=11):
            model = student_model(ns, params, activation, inputs["tables"][activation])
            out[activation] += [forward_record(model, x) for x, _ in cases]
    return out


def backward_round(model, x, y, cache):
    """forward(x), then backward(x, y, f) on the caches and f of a correct forward pass.

    `cache` is [a1, h1, f] of the reference's forward pass, computed on the grading side
    (judges.make_inputs). The student's forward runs first (it may cache more than a1 and h1),
    but its output and caches are replaced by these, and its errors are ignored: forward has its
    own checks, and a wrong forward must not cost the backward points (as a wrong backward costs
    no forward points)."""
    try:
        model.forward(x)
    except Exception:  # noqa: BLE001 - graded by the forward checks
        pass
    a1, h1, f = (np.array(v, dtype=float) for v in cache)
    model.a1_cache, model.h1_cache = a1, h1
    f = float(f) if np.ndim(x) == 1 else f
    return grads_plain(call("backward", model.backward, x, y, f), "backward")


@probe("backward_appendix_a", returns=GRADS)
def probe_backward_appendix_a(ns, inputs):
    model = student_model(ns, APPENDIX_A["params"], "relu", inputs["table"])
    return backward_round(model, np.array(APPENDIX_A["x"]), APPENDIX_A["y"], inputs["caches"][0])


def backward_probe(ns, activation, inputs):
    """backward on every case of random_cases(23), with the grader's table and caches (`inputs`)."""
    out, caches = [], iter(inputs["caches"])
    for params, cases in random_cases(seed=23):
        model = student_model(ns, params, activation, inputs["table"])
        # one model, several forward/backward rounds: a stale cache shows up
        out += [backward_round(model, x, y, next(caches)) for x, y in cases]
    return out


@probe("backward_relu", returns=Seq(GRADS, length=N_RANDOM_CASES))
def probe_backward_relu(ns, inputs):
    return backward_probe(ns, "relu", inputs)


@probe("backward_sigmoid", returns=Seq(GRADS, length=N_RANDOM_CASES))
def probe_backward_sigmoid(ns, inputs):
    return backward_probe(ns, "sigmoid", inputs)


# --- gradient checking ---------------------------------------------------------

def cubic(theta):
    """Test function for numerical_gradient: sum(theta^3) + (sum theta)^2."""
    return float(np.sum(theta ** 3) + np.sum(theta) ** 2)


NUMERICAL_EPSILON = 1e-5


def numerical_gradient_theta():
    """The fixed θ at which numerical_gradient is probed (and judged)."""
    return np.random.default_rng(5).standard_normal((2, 3)) * 2


LARGE_EPSILON = 1e-3      # centred differences of the cubic are off by ε² here: an ignored ε shows


@probe("numerical_gradient", returns=Rec({"grad": Arr(), "restored": Flag(), "grad_large_epsilon": Arr(),
                                          "grad_default": Arr()}))
def probe_numerical_gradient(ns, inputs):
    numerical_gradient = lookup(ns, "numerical_gradient")
    theta = numerical_gradient_theta()
    grad = call("numerical_gradient", numerical_gradient, cubic, theta, epsilon=NUMERICAL_EPSILON)
    restored = bool(np.array_equal(theta, numerical_gradient_theta()))
    large = call("numerical_gradient", numerical_gradient, cubic, numerical_gradient_theta(), epsilon=LARGE_EPSILON)
    default = call("numerical_gradient", numerical_gradient, cubic, numerical_gradient_theta())
    return {"grad": plain(grad, "numerical_gradient"), "restored": restored,
            "grad_large_epsilon": plain(large, "numerical_gradient"), "grad_default": plain(default, "numerical_gradient")}


GRADIENT_CHECK_CASES = {
    # name: (params seed, param scale, x, y, grad_scale, model, keyword arguments of check_all_gradients)
    "correct": (1, 1.0, [0.0, 1.0, -2.0], 0.5, None, "linear", {}),         # x[0] = 0: dL/dW1[:, 0] is 0
    "correct_large": (2, 30.0, [1.0, -2.0, 0.5], 3.0, None, "linear", {}),  # big gradients: needs a relative error
    "correct_batch": (3, 1.0, [[1.0, 0.5, -1.0], [0.2, -0.3, 2.0], [0.0, 1.0, 1.0]], [1.0, -1.0, 0.0], None,
                      "linear", {}),
    "wrong_b1": (4, 1.0, [0.5, -1.5, 1.0], -1.0, {"b1": 2.0}, "linear", {}),    # doubles dL/db1: error 1/3
    "slightly_wrong": (5, 1.0, [1.0, 0.5, -0.5], 1.0, {"W2": 1 + 4e-6}, "linear", {}),   # error 2e-6
    "too_small": (6, 1.0, [-1.0, 2.0, 0.5], 0.0, {"W1": 0.5}, "linear", {}),   # halves dL/dW1: 1/3
    "sign_flipped": (7, 1.0, [0.3, -0.7, 1.1], 2.0, {"b2": -1.0}, "linear", {}),  # -dL/db2: error 1
    "loose_threshold": (8, 1.0, [0.9, 0.1, -1.0], -0.5, {"W2": 1.001}, "linear", {"threshold": 1e-2}),
    "large_step": (9, 1.0, [0.8, -1.2, 0.4], 0.3, None, "tanh", {"epsilon": 0.1}),   # ε matters on tanh
}
GRADIENT_MODELS = {"linear": LinearNet, "tanh": TanhNet}
RELATIVE_ERROR_CASES = (     # (a, b, keyword arguments): relative_error probed on its own
    ([1.0, -2.0, 3.0, 0.0], [1.1, -2.0, 2.5, 0.0], {}),          # 0 where both are 0
    ([[1e-13, 2.0], [-3.0, 0.5]], [[-1e-13, 2.0], [3.0, 0.25]], {}),
    ([1e-4, -1e-4], [2e-4, 1e-4], {"eps": 1e-3}),                # the denominator's floor matters
)


def gradient_check_model(case):
    seed, scale, x, y, grad_scale, kind, kwargs = GRADIENT_CHECK_CASES[case]
    return GRADIENT_MODELS[kind](linear_net_params(3, 4, seed, scale), grad_scale), np.array(x), np.array(y), kwargs


GRADIENT_CHECK = Rec({**{case: Rec({"result": Map(PARAM_NAMES, Rec({"passed": Flag(), "error": Arr()})),
                                     "restored": Flag()})
                          for case in GRADIENT_CHECK_CASES},
                      "relative_error": Seq(Arr(), length=len(RELATIVE_ERROR_CASES))})


@probe("gradient_check", returns=GRADIENT_CHECK)
def probe_gradient_check(ns, inputs):
    check_all_gradients = lookup(ns, "check_all_gradients")
    relative_error = lookup(ns, "relative_error")
    out = {"relative_error": [plain(call("relative_error", relative_error, np.array(a), np.array(b), **kw),
                                    "relative_error") for a, b, kw in RELATIVE_ERROR_CASES]}
    for case in GRADIENT_CHECK_CASES:
        model, x, y, kwargs = gradient_check_model(case)
        before = model.get_parameters()
        result = call("check_all_gradients", check_all_gradients, model, x, y, **kwargs)
        if not isinstance(result, dict):
            raise StudentCodeError(f"check_all_gradients must return a dict, got {type(result).__name__}")
        after = model.get_parameters()
        out[case] = {
            "result": {k: {"passed": bool(v.get("passed")), "error": plain(v.get("error"), "error")}
                       for k, v in result.items() if k in PARAM_NAMES and isinstance(v, dict)},
            "restored": all(np.array_equal(before[k], after[k]) for k in PARAM_NAMES),
        }
    return out


# --- optimisation ----------------------------------------------------------------

SGD_CASES = ((0.1, 31), (0.025, 32))     # (learning rate, seed of the model and its gradients)


def sgd_inputs(seed):
    """(parameters, gradients) of one sgd_step case: seeded LinearNet-shaped arrays."""
    grads = {"dL_d" + k: v for k, v in linear_net_params(3, 4, seed + 100).items()}
    return linear_net_params(3, 4, seed), grads


@probe("sgd_step", returns=Seq(PARAMS, length=len(SGD_CASES)))
def probe_sgd_step(ns, inputs):
    """The parameters after one step of the student's SGD, per case of SGD_CASES."""
    SGD = lookup(ns, "SGD")
    out = []
    for k, (lr, seed) in enumerate(SGD_CASES):
        params, grads = sgd_inputs(seed)
        if k % 2:                                   # any order of the dict's keys is accepted
            grads = dict(reversed(list(grads.items())))
        model = LinearNet(params)
        optimizer = call("SGD(learning_rate=...)", SGD, learning_rate=lr)
        call("SGD.step", optimizer.step, model, grads)
        out.append(params_plain(model.get_parameters(), "model"))
    return out


def history_plain(history):
    if not isinstance(history, dict):
        raise StudentCodeError(f"train must return a dict history, got {type(history).__name__}")
    return {k: plain(history[k], f"history['{k}']") if history.get(k) is not None else None
            for k in ("train_loss", "val_loss") if k in history}


TRAIN_SETUP = {"n": 50, "n_val": 20, "lr": 0.05, "init_seed": 42, "init_scale": 0.5}
TRAIN_RUNS = {      # run -> how train is called on TRAIN_SETUP's data
    "with_val": {"epochs": 4, "batch_size": 16, "validation": True},
    "no_val": {"epochs": 2, "batch_size": 50, "validation": False},
    "verbose": {"epochs": 3, "batch_size": 7, "validation": True, "verbose": True},   # printing each epoch
}
MAX_BACKWARD_CALLS = 1000     # the record of a run is at most this many batches of at most MAX_BATCH_ROWS rows
MAX_BATCH_ROWS = 1000


def train_data():
    """(X, y, X_val, y_val) of the train_loop check: a noisy linear target, seeded (rows of X distinct)."""
    s = TRAIN_SETUP
    rng = np.random.default_rng(41)
    X, X_val = rng.standard_normal((s["n"], 2)), rng.standard_normal((s["n_val"], 2))
    w = np.array([1.5, -2.0])
    y, y_val = X @ w + 0.1 * rng.standard_normal(s["n"]), X_val @ w + 0.1 * rng.standard_normal(s["n_val"])
    return X, y, X_val, y_val


def train_initial_params():
    """The parameters of the stand-in model every train_loop run starts from."""
    return linear_net_params(2, 3, TRAIN_SETUP["init_seed"], scale=TRAIN_SETUP["init_scale"])


def batch_rows(model, X):
    """Each recorded backward batch as a list of row indices into X (-1: a row that is not a row of X)."""
    if len(model.batches) > MAX_BACKWARD_CALLS:
        raise StudentCodeError(f"train called backward {len(model.batches)} times on {len(X)} samples "
                               f"(more than the grader records, {MAX_BACKWARD_CALLS}): is an epoch a loop over "
                               "mini-batches of the data?")
    index = {row.tobytes(): i for i, row in enumerate(X)}
    out = []
    for batch in model.batches:
        batch = np.atleast_2d(batch)
        if len(batch) > MAX_BATCH_ROWS:
            raise StudentCodeError(f"train passed backward a batch of {len(batch)} rows, but X has only {len(X)}")
        out.append([index.get(row.tobytes(), -1) for row in batch])
    return out


TRAIN_RECORD = Rec({
    "history": HISTORY,                       # what train returned
    "batches": Seq(Seq(Num(), max_length=MAX_BATCH_ROWS), max_length=MAX_BACKWARD_CALLS),  # rows of X per backward
    "steps": Num(),                           # optimizer.step calls
    "params": PARAMS,                         # the stand-in model's parameters after train
})


@probe("train_loop", returns=Rec({run: TRAIN_RECORD for run in TRAIN_RUNS}))
def probe_train_loop(ns, inputs):
    """The record of the student's train on a stand-in model with a stand-in optimiser (not SGD): which rows of X each
    backward call received, in order, how many optimizer steps it took, the model's final parameters
    and the history it returned. The judge replays the batches to know what all of it should be."""
    train = lookup(ns, "train")
    X, y, X_val, y_val = train_data()
    out = {}
    for run, setup in TRAIN_RUNS.items():
        model = LinearNet(train_initial_params())
        optimizer = CountingTanhStep(TRAIN_SETUP["lr"])
        kwargs = dict(n_epochs=setup["epochs"], batch_size=setup["batch_size"])
        if setup["validation"]:
            kwargs.update(X_val=X_val, y_val=y_val)
        if setup.get("verbose"):
            kwargs.update(verbose=True, print_every=1)
        history = call("train", train, model, X, y, optimizer, **kwargs)
        out[run] = {"history": history_plain(history), "batches": batch_rows(model, X),
                    "steps": int(optimizer.steps), "params": params_plain(model.get_parameters(), "the model")}
    return out


EVALUATE_SEED = 51


def evaluate_inputs():
    rng = np.random.default_rng(EVALUATE_SEED)
    X = rng.standard_normal((40, 2))
    y = (rng.random(40) < 0.5).astype(int)
    model = LinearNet(linear_net_params(2, 3, EVALUATE_SEED, scale=0.4))
    model.b2 = np.array([0.45])
    return model, X, y


EVALUATE_LABELS = {"default": {}, "t0.5": {"threshold": 0.5}, "t0.3": {"threshold": 0.3},   # label -> kwargs
                   "tie": {"threshold": 1.0}}       # on integer inputs: outputs exactly at the threshold


def evaluate_tie_inputs():
    """A model and data in small integers, so every output is an exact integer in any order of
    arithmetic, and some equal the threshold 1.0: the threshold is inclusive (f >= threshold)."""
    params = {"W1": [[1.0, -1.0], [0.0, 2.0], [1.0, 1.0]], "b1": [0.0, -1.0, 1.0], "W2": [[1.0, -1.0, 1.0]],
              "b2": [-1.0]}
    X = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [2.0, -1.0], [-1.0, 1.0], [1.0, 1.0], [3.0, 2.0], [0.0, -2.0]])
    y = np.array([1, 1, 0, 1, 0, 1, 1, 0])
    return LinearNet(params), X, y


@probe("evaluate", returns=Rec({label: Rec({"loss": Arr(), "accuracy": Arr()}) for label in EVALUATE_LABELS}))
def probe_evaluate(ns, inputs):
    evaluate = lookup(ns, "evaluate")
    out = {}
    for label, kwargs in EVALUATE_LABELS.items():
        model, X, y = evaluate_tie_inputs() if label == "tie" else evaluate_inputs()
        metrics = call("evaluate", evaluate, model, X, y, **kwargs)
        if not isinstance(metrics, dict):
            raise StudentCodeError(f"evaluate must return a dict, got {type(metrics).__name__}")
        out[label] = {k: plain(metrics.get(k), f"evaluate(...)['{k}']") for k in ("loss", "accuracy")}
    return out


# --- end to end --------------------------------------------------------------------

# Measured (scripts/measure_thresholds.py, docs/grading-quality.md), over 200 init seeds: every
# correct implementation ends at >= 98% validation accuracy; an SGD that ignores its learning rate
# (a step of 1 diverges on a layer this wide) or ascends ends at <= 72%; a train that uses only the
# first mini-batch of each epoch (3 steps) fails on 197 of 200 seeds (the other 3 start from an
# initialisation that already nearly solves XOR; train_loop fails it on every seed).
XOR_SETUP = {"hidden_dim": 32, "learning_rate": 0.02, "n_epochs": 3, "batch_size": 1}


@probe("xor_training", returns=Rec({"initial_params": PARAMS, "params": PARAMS, "history": HISTORY}))
def probe_xor_training(ns, inputs):
    """The student's whole pipeline (model, SGD, train) on XOR, seeded.

    XOR_SETUP is chosen by measurement (docs/grading-quality.md): the seed's setting (hidden 8,
    learning rate 0.5, batches of 32) left one correct run in five stuck near 75%, and at
    learning rate 0.2 a train that uses only the first mini-batch of each epoch, or an SGD that
    ignores its learning rate, still passed on many seeds.
    """
    X, y = np.array(inputs["X_train"]), np.array(inputs["y_train"])
    X_val, y_val = np.array(inputs["X_val"]), np.array(inputs["y_val"])
    np.random.seed(inputs["seed"])
    model = call("OneHiddenLayerMLP(...)", lookup(ns, "OneHiddenLayerMLP"), input_dim=2,
                 hidden_dim=XOR_SETUP["hidden_dim"], activation="relu")
    initial = params_plain(call("get_parameters", model.get_parameters), "get_parameters")
    optimizer = call("SGD(...)", lookup(ns, "SGD"), learning_rate=XOR_SETUP["learning_rate"])
    history = call("train", lookup(ns, "train"), model, X, y, optimizer,
                   n_epochs=XOR_SETUP["n_epochs"], batch_size=XOR_SETUP["batch_size"], X_val=X_val, y_val=y_val)
    return {"initial_params": initial,
            "params": params_plain(call("get_parameters", model.get_parameters), "get_parameters"),
            "history": history_plain(history)}
