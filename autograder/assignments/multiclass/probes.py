"""Probes of the multiclass assignment: run the student's code on fixed inputs, return plain data.

As for mlp (see ``autograder/assignments/mlp/probes.py``): a probe only returns data of the form
it declares (``@probe(name, returns=schema)``); the judges decide, outside the sandbox, against
the reference in ``src/``. Inputs, seeds, learning rates and the recipe of the spiral run are
module constants here, which the grading side imports from its own copy of this module.

Parts do not cascade: the forward and backward checks run the student's model with a stand-in in
place of their softmax (``oracles.softmax_stand_in``, deliberately not a softmax), backward gets the
caches and probabilities of a correct forward pass computed on the grading side (``judges.make_inputs``),
and the optimiser checks run on a stand-in model. Nothing in this module or in ``oracles`` implements
a graded function: a notebook can import both.

A probe reports raw observations, never a verdict: the argument after the call (not "was it kept?"),
the dtype names (not "is it float64?"), the floating-point error raised (not "did it overflow?");
the judges decide. While the student's backward runs (the backward and spiral checks), ``torch`` is
unavailable (``torch_unavailable``): the assignment asks for a hand-written NumPy backward.

``torch`` is imported here, at the top, so that a grading server imports it once at start-up.
This module must import nothing from ``src`` or ``judges``: it is loaded into the sandbox.
"""
import contextlib
import sys
import types

import numpy as np
import torch
import torch.nn.functional as F

from autograder.probing import Probes, StudentCodeError, call, lookup, plain
from autograder.protocol import Arr, Map, Opt, Rec, Seq, Text, safe_str

from .oracles import GRAD_KEYS, PARAM_NAMES, ParamBox, mc_params, softmax_stand_in, train_epochs

_probes = Probes()
PROBES, SCHEMAS = _probes.probes, _probes.schemas    # check name -> probe, and -> the schema of its data
probe, run_probe = _probes.probe, _probes.run

GRADS = Map(GRAD_KEYS, Arr())       # a student's dict of gradients (missing keys: the judge's to report)
PARAMS = Map(PARAM_NAMES, Arr())    # a dict of parameters
KEYS = Seq(Text(), max_length=len(PARAM_NAMES) + 1)   # the keys of a dict after a call (at most one extra shown)


def grads_plain(grads, what):
    if not isinstance(grads, dict):
        raise StudentCodeError(f"{what} must return a dict of gradients, got {type(grads).__name__}")
    return {key: plain(grads[key], f"{what}['{key}']") for key in GRAD_KEYS if key in grads}


def params_plain(params, what):
    if not isinstance(params, dict):
        raise StudentCodeError(f"{what} must return a dict, got {type(params).__name__}")
    return {k: plain(params[k], f"{what}['{k}']") for k in PARAM_NAMES if k in params}


def keys_plain(mapping):
    """The first keys of a dict, as text (the judge compares them with the keys it handed over)."""
    return [safe_str(k, 60) for k, _ in zip(mapping, range(len(PARAM_NAMES) + 1))]


# --- torch is not available in backward ------------------------------------------------------------

TORCH_UNAVAILABLE = "torch is not available in backward: write it with NumPy"


class NoTorch:
    """What `torch` (and each torch module or function the notebook bound) is while backward runs."""

    def __getattr__(self, name):
        raise RuntimeError(TORCH_UNAVAILABLE)

    def __call__(self, *args, **kwargs):
        raise RuntimeError(TORCH_UNAVAILABLE)

    def __repr__(self):
        return "<torch: not available in backward>"


def _torch_name(name):
    return isinstance(name, str) and (name == "torch" or name.startswith("torch."))


def _is_torch(value):
    """A torch module, or a function or class defined in torch (bound in the notebook's namespace)."""
    try:
        if isinstance(value, types.ModuleType):
            return _torch_name(value.__name__)
        if isinstance(value, (types.FunctionType, types.BuiltinFunctionType, type)):
            return _torch_name(value.__module__)
    except Exception:  # noqa: BLE001 - whatever a student's object does
        pass
    return False


@contextlib.contextmanager
def torch_unavailable(ns):
    """sys.modules["torch"] (and every "torch.*"), and every name of `ns` bound to torch, replaced by a
    NoTorch whose every use raises RuntimeError(TORCH_UNAVAILABLE); all restored afterwards."""
    stub = NoTorch()
    modules = {k: v for k, v in list(sys.modules.items()) if _torch_name(k)}
    names = {k: v for k, v in list(ns.items()) if _is_torch(v)}
    sys.modules.update(dict.fromkeys(modules, stub))
    ns.update(dict.fromkeys(names, stub))
    try:
        yield
    finally:
        sys.modules.update(modules)
        ns.update(names)


# --- softmax and cross-entropy ------------------------------------------------------------------

SOFTMAX_INPUTS = ("a vector of shape (K,)", "a random (5, 4) batch", "logits of ±1e4", "a batch of one row",
                  "a vector with logits near 1000 and −1e4")


def softmax_inputs():
    """The fixed logits of the softmax check (SOFTMAX_INPUTS)."""
    return (np.array([1.0, 2.0, 3.0, -1.0]),
            np.random.default_rng(3).standard_normal((5, 4)) * 3,
            np.array([[1e4, 0.0, -1e4], [-1e4, -1e4, -1e4], [1e4, 1e4, -5.0]]),
            np.array([[0.5, -0.5, 2.0]]),
            np.array([1000.0, 1001.0, 999.0, -1e4]))


def _catching_fp_errors(softmax, argument):
    """(softmax(argument), None), or (None, the message of the floating-point error it raised: an
    overflow, or an invalid operation such as 0/0 or inf − inf)."""
    with np.errstate(over="raise", invalid="raise"):
        try:
            return softmax(argument), None
        except FloatingPointError as e:
            return None, safe_str(e, 200) or "FloatingPointError"


SOFTMAX_RUN = Rec({"probs": Opt(Arr()), "fp_error": Opt(Text()), "argument": Arr()})


@probe("mc_softmax", returns=Seq(SOFTMAX_RUN, length=len(SOFTMAX_INPUTS)))
def probe_softmax(ns, inputs):
    """softmax on each input: its output (none if it raised a floating-point error, whose message is
    reported instead: a stable softmax never exponentiates a large positive number), and the argument
    as it is after the call (the judge compares it with the logits handed over)."""
    softmax = lookup(ns, "softmax")
    out = []
    for z in softmax_inputs():
        argument = z.copy()
        probs, error = call("softmax", _catching_fp_errors, softmax, argument)
        out.append({"probs": None if probs is None else plain(probs, "softmax"), "fp_error": error,
                    "argument": plain(argument, "softmax's argument")})
    return out


N_CROSS_ENTROPY_CASES = 5     # judges.cross_entropy_cases(): probabilities made on the grading side


@probe("mc_cross_entropy", returns=Seq(Arr(), length=N_CROSS_ENTROPY_CASES))
def probe_cross_entropy(ns, inputs):
    """cross_entropy on the probabilities and labels of inputs["cases"] (made by the judges)."""
    cross_entropy = lookup(ns, "cross_entropy")
    out = []
    for case in inputs["cases"]:
        probs, y = np.array(case["probs"], dtype=float), case["y"]
        labels = np.array(y, dtype=np.int64) if isinstance(y, list) else int(y)
        out.append(plain(call("cross_entropy", cross_entropy, probs, labels), "cross_entropy"))
    return out


# --- the model ------------------------------------------------------------------------------------

@contextlib.contextmanager
def softmax_stand_in_in(ns):
    """Run the student's model with oracles.softmax_stand_in (z -> 2z - 1, not a softmax) in place of
    their softmax, then restore theirs."""
    missing = object()
    saved = ns.get("softmax", missing)
    ns["softmax"] = softmax_stand_in
    try:
        yield
    finally:
        if saved is missing:
            ns.pop("softmax", None)
        else:
            ns["softmax"] = saved


def student_model(ns, params, activation):
    """The student's SoftmaxMLP with the given parameters."""
    cls = lookup(ns, "SoftmaxMLP")
    (h, d), k = np.shape(params["W1"]), np.shape(params["W2"])[0]
    model = call("SoftmaxMLP(...)", cls, input_dim=d, hidden_dim=h, n_classes=k, activation=activation)
    call("set_parameters", model.set_parameters, {k: np.array(v, dtype=float) for k, v in params.items()})
    return model


MODEL_SHAPES = ((2, 5, 3, ("x", 4)),        # (d, h, K, cases): a single sample ("x") or a batch of n
                (4, 3, 2, (6, "x")),        # two classes, hidden narrower than the input
                (3, 6, 5, (1, 7)))          # a batch of one; K > d


def model_cases(seed):
    """[(params, [(X, y), ...])] of the forward/backward checks, one entry per MODEL_SHAPES row;
    the last shape's parameters are large (logits in the tens: a softmax must still be exact)."""
    rng = np.random.default_rng(seed)
    out = []
    for k, (d, h, n_classes, sizes) in enumerate(MODEL_SHAPES):
        params = mc_params(d, h, n_classes, seed + 1000 * k, scale=3.0 if k == 2 else 1.0)
        cases = [(rng.standard_normal(d), int(rng.integers(n_classes))) if n == "x" else
                 (rng.standard_normal((n, d)), rng.integers(n_classes, size=n)) for n in sizes]
        out.append((params, cases))
    return out


N_MODEL_CASES = sum(len(sizes) for *_, sizes in MODEL_SHAPES)
ACTIVATIONS = ("relu", "sigmoid")
FORWARD = Rec({"output": Arr(), "a1": Arr(), "h1": Arr()})
FORWARD_SEED, BACKWARD_SEED = 11, 23


def forward_record(model, X):
    output = call("forward", model.forward, X)
    return {"output": plain(output, "forward"),
            "a1": plain(getattr(model, "a1_cache", None), "a1_cache"),
            "h1": plain(getattr(model, "h1_cache", None), "h1_cache")}


@probe("mc_forward", returns=Rec({a: Seq(FORWARD, length=N_MODEL_CASES) for a in ACTIVATIONS}))
def probe_forward(ns, inputs):
    """forward's output and caches, with softmax replaced by the stand-in z -> 2z - 1: the judge compares
    the output with the stand-in of the reference's logits (forward must return softmax(z))."""
    out = {}
    with softmax_stand_in_in(ns):
        for activation in ACTIVATIONS:
            out[activation] = []
            for params, cases in model_cases(FORWARD_SEED):
                model = student_model(ns, params, activation)
                out[activation] += [forward_record(model, X) for X, _ in cases]
    return out


def backward_round(ns, model, X, y, given):
    """forward(X) (its errors ignored: forward has its own check), then backward(X, y, probs) on `given`,
    the caches and probabilities of a correct forward pass (made by the judges); torch unavailable."""
    a1, h1, probs = (np.array(given[k], dtype=float) for k in ("a1", "h1", "probs"))
    labels = y.copy() if isinstance(y, np.ndarray) else y
    with torch_unavailable(ns):
        try:
            model.forward(X.copy())
        except Exception:  # noqa: BLE001 - graded by the forward check
            pass
        model.a1_cache, model.h1_cache = a1, h1
        grads = call("backward", model.backward, X.copy(), labels, probs)
    return grads_plain(grads, "backward")


@probe("mc_backward", returns=Rec({a: Seq(GRADS, length=N_MODEL_CASES) for a in ACTIVATIONS}))
def probe_backward(ns, inputs):
    out = {}
    with softmax_stand_in_in(ns):
        for activation in ACTIVATIONS:
            out[activation] = []
            given = iter(inputs["caches"][activation])
            for params, cases in model_cases(BACKWARD_SEED):
                model = student_model(ns, params, activation)   # one model, several rounds: a stale cache shows
                out[activation] += [backward_round(ns, model, X, y, next(given)) for X, y in cases]
    return out


# --- optimisers -------------------------------------------------------------------------------------

MOMENTUM_CASES = {      # name -> (learning rate, momentum, number of steps, seed of parameters and gradients)
    "lr0.1_mu0.9": (0.1, 0.9, 4, 61),
    "lr0.05_mu0.5": (0.05, 0.5, 3, 62),
    "lr0.2_mu0": (0.2, 0.0, 2, 63),
}
SIDE_BY_SIDE = (0.1, 0.9, 64)     # two optimisers, two models, steps interleaved a, b, a, b


def momentum_params(seed):
    return mc_params(3, 4, 2, seed)


def momentum_grads(seed, step):
    """The gradients of step `step` (from 0) of a momentum case."""
    return {"dL_d" + k: v for k, v in mc_params(3, 4, 2, seed + 100 + step, scale=0.5).items()}


def side_by_side_schedule():
    """[(which optimiser, step of its own)] of the side-by-side case."""
    return [("a", 0), ("b", 0), ("a", 1), ("b", 1), ("a", 2)]


MOMENTUM_STEP = Rec({"params": PARAMS, "grads": GRADS, "grad_keys": KEYS})


def _step(optimizer, box, grads, reverse):
    """One step: the model's parameters after it, and the gradients dict handed over, as it is after it."""
    given = dict(reversed(list(grads.items()))) if reverse else dict(grads)
    call("MomentumSGD.step", optimizer.step, box, given)
    return {"params": params_plain(box.get_parameters(), "the model"),
            "grads": grads_plain(given, "the gradients given to MomentumSGD.step"), "grad_keys": keys_plain(given)}


@probe("mc_momentum", returns=Rec({**{case: Seq(MOMENTUM_STEP, length=steps) for case, (_, _, steps, _)
                                      in MOMENTUM_CASES.items()},
                                   "side_by_side": Seq(MOMENTUM_STEP, length=len(side_by_side_schedule()))}))
def probe_momentum(ns, inputs):
    """The parameters of a stand-in model after each step of the student's MomentumSGD (and the gradients
    it was given, after the step)."""
    MomentumSGD = lookup(ns, "MomentumSGD")
    out = {}
    for k, (case, (lr, mu, steps, seed)) in enumerate(MOMENTUM_CASES.items()):
        box = ParamBox(momentum_params(seed))
        optimizer = call("MomentumSGD(learning_rate=..., momentum=...)", MomentumSGD, learning_rate=lr, momentum=mu)
        out[case] = [_step(optimizer, box, momentum_grads(seed, step), reverse=bool(k % 2)) for step in range(steps)]
    lr, mu, seed = SIDE_BY_SIDE
    boxes = {"a": ParamBox(momentum_params(seed)), "b": ParamBox(momentum_params(seed + 1))}
    optimizers = {w: call("MomentumSGD(...)", MomentumSGD, learning_rate=lr, momentum=mu) for w in "ab"}
    out["side_by_side"] = [_step(optimizers[which], boxes[which], momentum_grads(seed + (which == "b"), step), False)
                           for which, step in side_by_side_schedule()]
    return out


SCHEDULE_CASES = {    # name -> (function, positional args, keyword args, epochs t)
    "step_a": ("step_decay", (0.5,), {"drop": 0.5, "every": 3}, tuple(range(10))),
    "step_b": ("step_decay", (0.3,), {"drop": 0.1, "every": 1}, tuple(range(5))),
    "step_default": ("step_decay", (0.1,), {}, (0, 1, 9, 10, 11, 19, 20, 25)),
    "inverse_a": ("inverse_time_decay", (1.0,), {"decay": 0.5}, tuple(range(8))),
    "inverse_default": ("inverse_time_decay", (0.2,), {}, (0, 1, 10, 50, 100)),
}


@probe("mc_schedule", returns=Rec({case: Arr() for case in SCHEDULE_CASES}))
def probe_schedule(ns, inputs):
    out = {}
    for case, (fn, args, kwargs, epochs) in SCHEDULE_CASES.items():
        schedule = call(fn, lookup(ns, fn), *args, **kwargs)
        if not callable(schedule):
            raise StudentCodeError(f"{fn}(...) must return a schedule, a function of the epoch t; "
                                   f"got {type(schedule).__name__}")
        out[case] = plain([call(f"the schedule of {fn}", schedule, t) for t in epochs], f"{fn}'s schedule")
    return out


L2_LAMBDAS = (0.01, 0.5, 0.0)
L2_SEED = 71


def l2_inputs():
    """(params, grads) of the L2 check: a 3 -> 4 -> 5 parameter set and gradients of its shapes."""
    return mc_params(3, 4, 5, L2_SEED), {"dL_d" + k: v for k, v in mc_params(3, 4, 5, L2_SEED + 1, 0.3).items()}


L2_RUN = Rec({"penalty": Arr(), "grads": GRADS, "params_after": PARAMS, "param_keys": KEYS,
              "grads_after": GRADS, "grad_keys": KEYS})


@probe("mc_l2", returns=Seq(L2_RUN, length=len(L2_LAMBDAS)))
def probe_l2(ns, inputs):
    """l2_penalty and l2_gradients for each lambda, and the dicts they were given, as they are after the calls."""
    l2_penalty, l2_gradients = lookup(ns, "l2_penalty"), lookup(ns, "l2_gradients")
    out = []
    for lam in L2_LAMBDAS:
        params, grads = l2_inputs()
        penalty = call("l2_penalty", l2_penalty, params, lam)
        new = call("l2_gradients", l2_gradients, params, grads, lam)
        out.append({"penalty": plain(penalty, "l2_penalty"), "grads": grads_plain(new, "l2_gradients"),
                    "params_after": params_plain(params, "the params given to l2_penalty and l2_gradients"),
                    "param_keys": keys_plain(params),
                    "grads_after": grads_plain(grads, "the grads given to l2_gradients"),
                    "grad_keys": keys_plain(grads)})
    return out


# --- end to end ----------------------------------------------------------------------------------

# The recipe of the spiral threshold study (docs/spiral-threshold-study.md): over 200 seeds every correct
# implementation reaches >= 0.89 validation accuracy, the separable near misses <= 0.79; pass at 0.84.
SPIRAL_SETUP = {"n_samples": 300, "n_classes": 3, "hidden_dim": 32, "activation": "relu", "learning_rate": 0.1,
                "momentum": 0.9, "n_epochs": 20, "batch_size": 32}
SPIRAL_SEEDS = (0, 1)             # data, initial weights and shuffling; validation data: seed 10000 + s
SPIRAL_RUN = Rec({"epoch1": PARAMS, "params": PARAMS})


@probe("mc_spiral_training", returns=Seq(SPIRAL_RUN, length=len(SPIRAL_SEEDS)))
def probe_spiral_training(ns, inputs):
    """The student's SoftmaxMLP, started from the grader's initial parameters (inputs), and MomentumSGD,
    trained by the given loop (oracles.train_epochs, shuffled by np.random.default_rng(seed)) on the
    grader's spiral data, torch unavailable in backward; the parameters after the first epoch (the judge
    replays it with the reference) and after the last (the judge scores them on validation data)."""
    s = SPIRAL_SETUP
    out = []

    def guard():
        return torch_unavailable(ns)

    for seed, run in zip(SPIRAL_SEEDS, inputs["runs"], strict=True):
        X, y = np.array(run["X"], dtype=float), np.array(run["y"], dtype=np.int64)
        model = call("SoftmaxMLP(...)", lookup(ns, "SoftmaxMLP"), input_dim=2, hidden_dim=s["hidden_dim"],
                     n_classes=s["n_classes"], activation=s["activation"], seed=seed)
        call("set_parameters", model.set_parameters, {k: np.array(v, dtype=float) for k, v in run["initial"].items()})
        optimizer = call("MomentumSGD(...)", lookup(ns, "MomentumSGD"), learning_rate=s["learning_rate"],
                         momentum=s["momentum"])
        rng = np.random.default_rng(seed)
        what = "training (forward, backward, MomentumSGD.step)"
        call(what, train_epochs, model, optimizer, X, y, 1, s["batch_size"], rng, guard)
        epoch1 = params_plain(call("get_parameters", model.get_parameters), "get_parameters")
        call(what, train_epochs, model, optimizer, X, y, s["n_epochs"] - 1, s["batch_size"], rng, guard)
        out.append({"epoch1": epoch1,
                    "params": params_plain(call("get_parameters", model.get_parameters), "get_parameters")})
    return out


# --- the PyTorch twin -------------------------------------------------------------------------------

TWIN_CASES = ((2, 5, 3, 8, 81), (4, 3, 6, 5, 82), (3, 7, 2, 1, 83))    # (d, h, K, n, seed)
TWIN = Rec({"logits": Arr(), "grads": GRADS, "dtypes": Seq(Text(), length=1 + 4)})
LAYERS = (("fc1", "weight", "W1"), ("fc1", "bias", "b1"), ("fc2", "weight", "W2"), ("fc2", "bias", "b2"))


def twin_inputs(case):
    d, h, k, n, seed = case
    rng = np.random.default_rng(seed)
    return mc_params(d, h, k, seed), rng.standard_normal((n, d)), rng.integers(k, size=n)


def _layer_tensor(module, layer, attr):
    tensor = getattr(getattr(module, layer, None), attr, None)
    if not isinstance(tensor, torch.Tensor):
        raise StudentCodeError(f"TorchSoftmaxMLP has no {layer}.{attr}: the layers must be nn.Linear modules "
                               "named fc1 and fc2")
    return tensor


def twin_record(cls, activation, case):
    params, X, y = twin_inputs(case)
    d, h, k, _, _ = case
    module = call("TorchSoftmaxMLP(...)", cls, d, h, k, activation=activation)
    call("load_numpy_parameters", module.load_numpy_parameters, {name: v.copy() for name, v in params.items()})
    tensors = [_layer_tensor(module, layer, attr) for layer, attr, _ in LAYERS]
    dtype = tensors[0].dtype if tensors[0].is_floating_point() else torch.float64   # float32 layers: the judge says so
    logits = call("TorchSoftmaxMLP.forward", module, torch.tensor(X, dtype=dtype))
    if not isinstance(logits, torch.Tensor):
        raise StudentCodeError(f"TorchSoftmaxMLP.forward must return a tensor, got {type(logits).__name__}")
    loss = call("F.cross_entropy(your logits, y)", F.cross_entropy, logits, torch.tensor(y, dtype=torch.int64))
    grads = call("autograd of F.cross_entropy(your logits, y) (does forward keep the graph?)", torch.autograd.grad,
                 loss, tensors, allow_unused=True)
    return {"logits": plain(logits.detach().cpu().numpy(), "the logits"),
            "grads": {"dL_d" + name: plain(g.detach().cpu().numpy(), f"the gradient of {layer}.{attr}")
                      for (layer, attr, name), g in zip(LAYERS, grads) if g is not None},
            "dtypes": [safe_str(t.dtype, 60) for t in (logits, *tensors)]}


@probe("mc_torch_twin", returns=Rec({a: Seq(TWIN, length=len(TWIN_CASES)) for a in ACTIVATIONS}))
def probe_torch_twin(ns, inputs):
    """The student's module with FIXED parameters: its logits, the dtypes of the logits and of fc1/fc2's
    weight and bias, and the autograd gradients of the mean cross-entropy computed here with
    torch.nn.functional (never the student's loss)."""
    cls = lookup(ns, "TorchSoftmaxMLP")
    return {activation: [twin_record(cls, activation, case) for case in TWIN_CASES] for activation in ACTIVATIONS}
