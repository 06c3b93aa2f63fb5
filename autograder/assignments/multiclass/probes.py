"""Probes of the multiclass assignment: run the student's code on fixed inputs, return plain data.

As for mlp (see ``autograder/assignments/mlp/probes.py``): a probe only returns data of the form
it declares (``@probe(name, returns=schema)``); the judges decide, outside the sandbox, against
the reference in ``src/``. Inputs, seeds, learning rates and the recipe of the spiral run are
module constants here, which the grading side imports from its own copy of this module.

Parts do not cascade: the forward and backward checks run the student's model with a correct
softmax in place of theirs (``oracles.correct_softmax``), backward gets the caches and
probabilities of a correct forward pass, and the optimiser checks run on a stand-in model.

``torch`` is imported here, at the top, so that a grading server imports it once at start-up.
This module must import nothing from ``src`` or ``judges``: it is loaded into the sandbox.
"""
import contextlib

import numpy as np
import torch
import torch.nn.functional as F

from autograder.probing import Probes, StudentCodeError, call, lookup, plain
from autograder.protocol import Arr, Flag, Map, Opt, Rec, Seq

from .oracles import GRAD_KEYS, PARAM_NAMES, ParamBox, correct_activation, correct_softmax, mc_params, spiral_run

_probes = Probes()
PROBES, SCHEMAS = _probes.probes, _probes.schemas    # check name -> probe, and -> the schema of its data
probe, run_probe = _probes.probe, _probes.run

GRADS = Map(GRAD_KEYS, Arr())       # a student's dict of gradients (missing keys: the judge's to report)
PARAMS = Map(PARAM_NAMES, Arr())    # a dict of parameters


def grads_plain(grads, what):
    if not isinstance(grads, dict):
        raise StudentCodeError(f"{what} must return a dict of gradients, got {type(grads).__name__}")
    return {key: plain(grads[key], f"{what}['{key}']") for key in GRAD_KEYS if key in grads}


def params_plain(params, what):
    if not isinstance(params, dict):
        raise StudentCodeError(f"{what} must return a dict, got {type(params).__name__}")
    return {k: plain(params[k], f"{what}['{k}']") for k in PARAM_NAMES if k in params}


def _unchanged(argument, original):
    return not isinstance(argument, np.ndarray) or bool(np.array_equal(argument, original))


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


def _unless_overflow(softmax, argument):
    """softmax(argument), or None if it overflowed (or computed 0/0, inf − inf)."""
    with np.errstate(over="raise", invalid="raise"):
        try:
            return softmax(argument)
        except FloatingPointError:
            return None


@probe("mc_softmax", returns=Rec({f"{key}_{i}": {"probs": Opt(Arr()), "kept": Flag(), "overflow": Flag()}[key]
                                  for i in range(len(SOFTMAX_INPUTS)) for key in ("probs", "kept", "overflow")}))
def probe_softmax(ns, inputs):
    """softmax on each input. An overflow (e.g. exp(1e4)) is recorded, with no probabilities, for the judge
    to report: a stable softmax never exponentiates a large positive number."""
    softmax = lookup(ns, "softmax")
    out = {}
    for i, z in enumerate(softmax_inputs()):
        argument = z.copy()
        probs = call("softmax", _unless_overflow, softmax, argument)
        out[f"probs_{i}"] = None if probs is None else plain(probs, "softmax")
        out[f"overflow_{i}"] = probs is None
        out[f"kept_{i}"] = _unchanged(argument, z)
    return out


def cross_entropy_cases():
    """[(label, probs, y)] of the cross-entropy check: probabilities (not logits) and integer labels."""
    rng = np.random.default_rng(5)
    batch = correct_softmax(rng.standard_normal((6, 4)) * 2)
    wide = correct_softmax(rng.standard_normal((3, 5)))
    confident = np.array([[1 - 2e-9, 1e-9, 1e-9], [5e-10, 5e-10, 1 - 1e-9]])
    return [("a batch of 6 samples, K = 4", batch, np.array([0, 3, 1, 1, 2, 3])),
            ("one sample of shape (K,) with an integer label", correct_softmax(np.array([0.5, -1.0, 2.0])), 2),
            ("a batch of 3 samples, K = 5", wide, np.array([4, 0, 2], dtype=np.int64)),
            ("confident correct predictions (loss near 0)", confident, np.array([0, 2])),
            ("a batch of one sample", correct_softmax(np.array([[2.0, 1.0, 0.1]])), np.array([1]))]


@probe("mc_cross_entropy", returns=Seq(Arr(), length=len(cross_entropy_cases())))
def probe_cross_entropy(ns, inputs):
    cross_entropy = lookup(ns, "cross_entropy")
    return [plain(call("cross_entropy", cross_entropy, probs.copy(), y.copy() if isinstance(y, np.ndarray) else y),
                  "cross_entropy") for _, probs, y in cross_entropy_cases()]


# --- the model ------------------------------------------------------------------------------------

@contextlib.contextmanager
def correct_softmax_in(ns):
    """Run the student's model with a correct softmax in place of theirs, then restore theirs."""
    saved = ns.get("softmax")
    ns["softmax"] = correct_softmax
    try:
        yield
    finally:
        if saved is None:
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
FORWARD = Rec({"probs": Arr(), "a1": Arr(), "h1": Arr()})
FORWARD_SEED, BACKWARD_SEED = 11, 23


def forward_record(model, X):
    probs = call("forward", model.forward, X)
    return {"probs": plain(probs, "forward"),
            "a1": plain(getattr(model, "a1_cache", None), "a1_cache"),
            "h1": plain(getattr(model, "h1_cache", None), "h1_cache")}


@probe("mc_forward", returns=Rec({a: Seq(FORWARD, length=N_MODEL_CASES) for a in ACTIVATIONS}))
def probe_forward(ns, inputs):
    out = {}
    with correct_softmax_in(ns):
        for activation in ACTIVATIONS:
            out[activation] = []
            for params, cases in model_cases(FORWARD_SEED):
                model = student_model(ns, params, activation)
                out[activation] += [forward_record(model, X) for X, _ in cases]
    return out


def correct_forward(params, X, activation):
    """(a1, h1, probs) of a correct forward pass, computed here, not by the student."""
    W1, b1, W2, b2 = (np.array(params[k], dtype=float) for k in PARAM_NAMES)
    a1 = np.asarray(X, dtype=float) @ W1.T + b1
    h1, _ = correct_activation(activation, a1)
    return a1, h1, correct_softmax(h1 @ W2.T + b2)


def backward_round(model, params, activation, X, y):
    """forward(X) (its errors ignored: forward has its own check), then backward(X, y, probs) on the
    caches and probabilities of a correct forward pass."""
    try:
        model.forward(X)
    except Exception:  # noqa: BLE001 - graded by the forward check
        pass
    a1, h1, probs = correct_forward(params, X, activation)
    model.a1_cache, model.h1_cache = a1, h1
    labels = y.copy() if isinstance(y, np.ndarray) else y
    return grads_plain(call("backward", model.backward, X.copy(), labels, probs.copy()), "backward")


@probe("mc_backward", returns=Rec({a: Seq(GRADS, length=N_MODEL_CASES) for a in ACTIVATIONS}))
def probe_backward(ns, inputs):
    out = {}
    with correct_softmax_in(ns):
        for activation in ACTIVATIONS:
            out[activation] = []
            for params, cases in model_cases(BACKWARD_SEED):
                model = student_model(ns, params, activation)   # one model, several rounds: a stale cache shows
                out[activation] += [backward_round(model, params, activation, X, y) for X, y in cases]
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


def _step(optimizer, box, grads, reverse):
    given = dict(reversed(list(grads.items()))) if reverse else dict(grads)
    copies = {k: v.copy() for k, v in grads.items()}
    call("MomentumSGD.step", optimizer.step, box, given)
    kept = all(np.array_equal(given[k], copies[k]) for k in copies)
    return params_plain(box.get_parameters(), "the model"), kept


@probe("mc_momentum", returns=Rec({**{case: Seq(PARAMS, length=steps) for case, (_, _, steps, _)
                                      in MOMENTUM_CASES.items()},
                                   "side_by_side": Seq(PARAMS, length=len(side_by_side_schedule())),
                                   "grads_kept": Flag()}))
def probe_momentum(ns, inputs):
    """The parameters of a stand-in model after each step of the student's MomentumSGD."""
    MomentumSGD = lookup(ns, "MomentumSGD")
    out, kept = {}, True
    for k, (case, (lr, mu, steps, seed)) in enumerate(MOMENTUM_CASES.items()):
        box = ParamBox(momentum_params(seed))
        optimizer = call("MomentumSGD(learning_rate=..., momentum=...)", MomentumSGD, learning_rate=lr, momentum=mu)
        out[case] = []
        for step in range(steps):
            params, ok = _step(optimizer, box, momentum_grads(seed, step), reverse=bool(k % 2))
            out[case].append(params)
            kept = kept and ok
    lr, mu, seed = SIDE_BY_SIDE
    boxes = {"a": ParamBox(momentum_params(seed)), "b": ParamBox(momentum_params(seed + 1))}
    optimizers = {w: call("MomentumSGD(...)", MomentumSGD, learning_rate=lr, momentum=mu) for w in "ab"}
    out["side_by_side"] = []
    for which, step in side_by_side_schedule():
        params, ok = _step(optimizers[which], boxes[which], momentum_grads(seed + (which == "b"), step), False)
        out["side_by_side"].append(params)
        kept = kept and ok
    out["grads_kept"] = kept
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


@probe("mc_l2", returns=Seq(Rec({"penalty": Arr(), "grads": GRADS, "kept": Flag()}), length=len(L2_LAMBDAS)))
def probe_l2(ns, inputs):
    l2_penalty, l2_gradients = lookup(ns, "l2_penalty"), lookup(ns, "l2_gradients")
    out = []
    for lam in L2_LAMBDAS:
        params, grads = l2_inputs()
        penalty = call("l2_penalty", l2_penalty, params, lam)
        new = call("l2_gradients", l2_gradients, params, grads, lam)
        original_params, original_grads = l2_inputs()
        kept = (set(params) == set(original_params) and set(grads) == set(original_grads)
                and all(np.array_equal(params[k], original_params[k]) for k in original_params)
                and all(np.array_equal(grads[k], original_grads[k]) for k in original_grads))
        out.append({"penalty": plain(penalty, "l2_penalty"), "grads": grads_plain(new, "l2_gradients"), "kept": kept})
    return out


# --- end to end ----------------------------------------------------------------------------------

# The recipe of the spiral threshold study (docs/spiral-threshold-study.md): over 200 seeds every correct
# implementation reaches >= 0.89 validation accuracy, the separable near misses <= 0.79; pass at 0.84.
SPIRAL_SETUP = {"n_samples": 300, "n_classes": 3, "hidden_dim": 32, "activation": "relu", "learning_rate": 0.1,
                "momentum": 0.9, "n_epochs": 20, "batch_size": 32}
SPIRAL_SEEDS = (0, 1)             # data, initial weights and shuffling; validation data: seed 10000 + s
SPIRAL_RUN = Rec({"initial": PARAMS, "params": PARAMS})


@probe("mc_spiral_training", returns=Seq(SPIRAL_RUN, length=len(SPIRAL_SEEDS)))
def probe_spiral_training(ns, inputs):
    """The student's SoftmaxMLP and MomentumSGD trained by the grader's loop (oracles.spiral_run) on the
    grader's spiral data; the parameters before and after. The judge scores them on validation data."""
    s = SPIRAL_SETUP
    out = []
    for seed, run in zip(SPIRAL_SEEDS, inputs["runs"], strict=True):
        X, y = np.array(run["X"], dtype=float), np.array(run["y"], dtype=np.int64)
        model = call("SoftmaxMLP(...)", lookup(ns, "SoftmaxMLP"), input_dim=2, hidden_dim=s["hidden_dim"],
                     n_classes=s["n_classes"], activation=s["activation"], seed=seed)
        initial = params_plain(call("get_parameters", model.get_parameters), "get_parameters")
        optimizer = call("MomentumSGD(...)", lookup(ns, "MomentumSGD"), learning_rate=s["learning_rate"],
                         momentum=s["momentum"])
        call("training (forward, backward, MomentumSGD.step)", spiral_run, model, optimizer, X, y,
             s["n_epochs"], s["batch_size"], seed)
        out.append({"initial": initial,
                    "params": params_plain(call("get_parameters", model.get_parameters), "get_parameters")})
    return out


# --- the PyTorch twin -------------------------------------------------------------------------------

TWIN_CASES = ((2, 5, 3, 8, 81), (4, 3, 6, 5, 82), (3, 7, 2, 1, 83))    # (d, h, K, n, seed)
TWIN = Rec({"logits": Arr(), "grads": GRADS, "float64": Flag()})
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
            "float64": logits.dtype == torch.float64 and all(t.dtype == torch.float64 for t in tensors)}


@probe("mc_torch_twin", returns=Rec({a: Seq(TWIN, length=len(TWIN_CASES)) for a in ACTIVATIONS}))
def probe_torch_twin(ns, inputs):
    """The student's module with FIXED parameters: its logits, and the autograd gradients of the mean
    cross-entropy computed here with torch.nn.functional (never the student's loss)."""
    cls = lookup(ns, "TorchSoftmaxMLP")
    return {activation: [twin_record(cls, activation, case) for case in TWIN_CASES] for activation in ACTIVATIONS}
