"""Judges of the multiclass assignment: decide each check from its probe's data, against ``src/``.

As for mlp: a judge never runs student code; ``run_judge`` first validates the data (the student's
output) against the probe's declared schema; every parameter of a judgement (inputs, seeds, the
spiral recipe, thresholds) comes from the grading side: this process's own copy of ``probes.py``
and the constants here, never the data. Messages speak about the math and never show solution code.

Also here: ``make_inputs(name)``, the data a check hands to its probe (computed here, with the
reference: the cross-entropy check's probabilities, the backward check's caches and probabilities of
a correct forward pass, the spiral check's data and initial parameters).
"""
import numpy as np

from autograder.judging import Judges, Unreadable, Verdict  # noqa: F401 - Verdict: part of this module's API

from . import hints, probes
from .oracles import PARAM_NAMES, softmax_stand_in, train_epochs
from src.data import generate_spiral_data
from src.multiclass import SoftmaxMLP, accuracy, cross_entropy, cross_entropy_from_logits, softmax
from src.optimizers import MomentumSGD, inverse_time_decay, l2_gradients, l2_penalty, step_decay

RTOL, ATOL = 1e-7, 1e-10                 # softmax, cross-entropy, forward, backward
EXACT_RTOL, EXACT_ATOL = 1e-12, 1e-12    # optimiser steps, schedules, L2
TWIN_RTOL, TWIN_ATOL = 1e-10, 1e-10      # the PyTorch twin against the NumPy reference (float64)
# docs/spiral-threshold-study.md: worst correct run 0.890 over 200 seeds, best separable near miss 0.793.
SPIRAL_MIN_ACCURACY = 0.84
VALIDATION_SEED_OFFSET = 10000
# The spiral's first epoch (10 momentum steps from the grader's initial parameters) against the reference's
# replay (judges.replay_first_epoch): measured on the 12 correct alternatives of tests/multiclass_corpus.py,
# at most 3.3e-16 apart (absolute; 2e-14 relative on the smallest entries); the closest wrong training (the
# stale velocity of momentum_stale_velocity) is 2e-3 apart (relative).
REPLAY_RTOL, REPLAY_ATOL = 1e-8, 1e-10

_judges = Judges(probes.SCHEMAS)
JUDGES, judge, run_judge = _judges.judges, _judges.judge, _judges.run


def spiral_data(seed):
    s = probes.SPIRAL_SETUP
    return generate_spiral_data(s["n_samples"], s["n_classes"], seed=seed)


def spiral_initial(seed):
    """The grader's initial parameters of the spiral run of `seed` (the reference's initialisation)."""
    s = probes.SPIRAL_SETUP
    return SoftmaxMLP(2, s["hidden_dim"], s["n_classes"], s["activation"], seed=seed).get_parameters()


def cross_entropy_cases():
    """[(label, probs, y)] of the cross-entropy check: probabilities (not logits) and integer labels."""
    rng = np.random.default_rng(5)
    batch = softmax(rng.standard_normal((6, 4)) * 2)
    wide = softmax(rng.standard_normal((3, 5)))
    confident = np.array([[1 - 2e-9, 1e-9, 1e-9], [5e-10, 5e-10, 1 - 1e-9]])
    return [("a batch of 6 samples, K = 4", batch, np.array([0, 3, 1, 1, 2, 3])),
            ("one sample of shape (K,) with an integer label", softmax(np.array([0.5, -1.0, 2.0])), 2),
            ("a batch of 3 samples, K = 5", wide, np.array([4, 0, 2], dtype=np.int64)),
            ("confident correct predictions (loss near 0)", confident, np.array([0, 2])),
            ("a batch of one sample", softmax(np.array([[2.0, 1.0, 0.1]])), np.array([1]))]


def backward_caches(activation):
    """[{a1, h1, probs}] of a correct forward pass on each case of the backward check (reference model)."""
    out = []
    for _, params, X, _ in model_cases(probes.BACKWARD_SEED):
        model = reference_model(params, activation)
        probs = model.forward(X)
        out.append({"a1": model.a1_cache.tolist(), "h1": model.h1_cache.tolist(), "probs": probs.tolist()})
    return out


def make_inputs(name):
    """Plain data the probe of check `name` receives (made here, on the grading side)."""
    if name == "mc_cross_entropy":
        return {"cases": [{"probs": probs.tolist(), "y": y.tolist() if isinstance(y, np.ndarray) else y}
                          for _, probs, y in cross_entropy_cases()]}
    if name == "mc_backward":
        return {"caches": {activation: backward_caches(activation) for activation in probes.ACTIVATIONS}}
    if name == "mc_spiral_training":
        runs = []
        for seed in probes.SPIRAL_SEEDS:
            X, y = spiral_data(seed)
            runs.append({"X": X.tolist(), "y": y.tolist(),
                         "initial": {k: v.tolist() for k, v in spiral_initial(seed).items()}})
        return {"runs": runs}
    return {}


# --- comparing numbers -----------------------------------------------------------------------

def as_array(got):
    try:
        return np.array(got["values"], dtype=float).reshape(got["shape"])
    except (ValueError, OverflowError, MemoryError):
        raise Unreadable(f"an array of shape {tuple(got['shape'])} is not an array NumPy can hold") from None


def fmt(v):
    return np.array2string(np.asarray(v, dtype=float), precision=6, separator=", ", threshold=12)


def compare(label, got, expected, rtol=RTOL, atol=ATOL, candidates=()):
    """None if `got` (probe data) matches `expected`; else one sentence about the first difference,
    with the hint of a known mistake when the value is that mistake's (hints.first_match)."""
    expected = np.asarray(expected, dtype=float)
    if got is None:
        return f"{label}: missing"
    values = as_array(got)
    if values.shape == expected.shape and np.allclose(values, expected, rtol=rtol, atol=atol):
        return None
    known = list(candidates()) if callable(candidates) else list(candidates)
    hint = hints.first_match(values, expected, known + hints.generic(expected))
    tail = f" — {hint}" if hint else ""
    if values.shape != expected.shape:
        if expected.ndim == 0 and values.size == 1:
            values = values.reshape(())
        else:
            return f"{label}: expected shape {expected.shape}, got {values.shape}{tail}"
    if expected.ndim == 0:
        return f"{label}: expected {float(expected):.6g}, got {float(values):.6g}{tail}"
    bad = tuple(int(i) for i in np.argwhere(~np.isclose(values, expected, rtol=rtol, atol=atol))[0])
    msg = f"{label}, entry {list(bad)}: expected {expected[bad]:.6g}, got {values[bad]:.6g}"
    if expected.size <= 8:
        msg += f" (expected {fmt(expected)}, got {fmt(values)})"
    return msg + tail


def describe(X):
    return "single sample" if np.ndim(X) == 1 else f"batch of {np.shape(X)[0]}"


def reference_model(params, activation):
    (h, d), k = np.shape(params["W1"]), np.shape(params["W2"])[0]
    model = SoftmaxMLP(d, h, k, activation, seed=0)
    model.set_parameters({name: np.array(v, dtype=float) for name, v in params.items()})
    return model


# --- softmax and cross-entropy -----------------------------------------------------------------

def same_array(got, original):
    """True if probe data `got` holds exactly the array `original` (same shape, same values)."""
    values = as_array(got)
    return values.shape == np.shape(original) and bool(np.array_equal(values, original))


@judge("mc_softmax")
def judge_softmax(data, inputs):
    out = []
    for got, z, what in zip(data, probes.softmax_inputs(), probes.SOFTMAX_INPUTS, strict=True):
        if got["fp_error"] is not None or got["probs"] is None:
            out.append(f"softmax of {what} is not numerically stable (a floating-point overflow or an invalid "
                       f"operation): {hints.OVERFLOW}")
            continue
        out.append(compare(f"softmax of {what}", got["probs"], softmax(z),
                           candidates=lambda: hints.softmax_mistakes(z)))
        if not same_array(got["argument"], z):
            out.append(f"softmax of {what} changed its argument in place: the caller's logits must stay as they "
                       "were (subtracting the maximum in place modifies them), so compute into a new array")
    return out


@judge("mc_cross_entropy")
def judge_cross_entropy(data, inputs):
    return [compare(f"cross_entropy on {label}", got, cross_entropy(probs, y),
                    candidates=lambda: hints.cross_entropy_mistakes(probs, y))
            for got, (label, probs, y) in zip(data, cross_entropy_cases(), strict=True)]


# --- the model ----------------------------------------------------------------------------------

def model_cases(seed):
    """[(label, params, X, y)] of probes.model_cases, flattened in the probe's order."""
    return [(f"d={np.shape(p['W1'])[1]}, h={np.shape(p['W1'])[0]}, K={np.shape(p['W2'])[0]}", p, X, y)
            for p, cases in probes.model_cases(seed) for X, y in cases]


STAND_IN = "with softmax replaced by a stand-in that returns 2z − 1 (not a softmax), to grade forward alone"


@judge("mc_forward")
def judge_forward(data, inputs):
    """forward ran with oracles.softmax_stand_in (z -> 2z - 1) in place of the student's softmax: its output
    must be the stand-in of the reference's logits (or, for a forward that computes its softmax itself,
    the reference's probabilities); the caches the reference's."""
    out = []
    names = {"output": f"its output ({STAND_IN})", "a1": "a1_cache", "h1": "h1_cache"}
    for activation in probes.ACTIVATIONS:
        for got, (shape, params, X, _) in zip(data[activation], model_cases(probes.FORWARD_SEED), strict=True):
            model = reference_model(params, activation)
            logits = model.logits(X)
            expected = {"output": softmax_stand_in(logits), "a1": model.a1_cache, "h1": model.h1_cache}
            for q in ("output", "a1", "h1"):
                if q == "output" and hints.matches(as_array(got[q]), softmax(logits), RTOL, ATOL):
                    continue        # a forward that computes softmax itself (not through `softmax`): right too
                out.append(compare(f"forward, {activation}, {shape}, {describe(X)}: {names[q]}", got[q], expected[q],
                                   candidates=lambda: hints.forward(params, X, activation, q)))
    return out


@judge("mc_backward")
def judge_backward(data, inputs):
    out = []
    for activation in probes.ACTIVATIONS:
        for got, (shape, params, X, y) in zip(data[activation], model_cases(probes.BACKWARD_SEED), strict=True):
            label = f"backward, {activation}, {shape}, {describe(X)}"
            model = reference_model(params, activation)
            expected = model.backward(X, y, model.forward(X))
            missing = [k for k in expected if k not in got]
            if missing:
                out.append(f"{label}: backward's dict has no {', '.join(missing)} (keys must be dL_dW1, dL_db1, "
                           "dL_dW2, dL_db2)")
                continue
            out += [compare(f"{label}: {k.replace('dL_d', 'dL/d')}", got[k], v,
                            candidates=lambda: hints.backward(params, X, y, activation, k))
                    for k, v in expected.items()]
    return out


# --- optimisers ---------------------------------------------------------------------------------------

class _Box:
    def __init__(self, params):
        self.params = {k: np.array(v, dtype=float) for k, v in params.items()}

    def get_parameters(self):
        return {k: v.copy() for k, v in self.params.items()}

    def set_parameters(self, params):
        self.params = {k: np.array(v, dtype=float) for k, v in params.items()}


def reference_momentum(params, grads_seq, lr, mu):
    box, optimizer, out = _Box(params), MomentumSGD(lr, mu), []
    for grads in grads_seq:
        optimizer.step(box, grads)
        out.append(box.get_parameters())
    return out


def judge_trajectory(label, got, params, grads_seq, lr, mu):
    """Problems of the parameters after each step (`got`: probe data) against the reference's trajectory."""
    expected = reference_momentum(params, grads_seq, lr, mu)
    mistakes = {m: hints.momentum_trajectory(params, grads_seq, lr, mu, m) for m in hints.MOMENTUM_MISTAKES}
    for step, (after, want) in enumerate(zip(got, expected, strict=True)):
        for k in PARAM_NAMES:
            wrong = compare(f"{label}: {k} after step {step + 1}", after.get(k), want[k], EXACT_RTOL, EXACT_ATOL,
                            candidates=[(mistakes[m][step][k], hint) for m, hint in hints.MOMENTUM_MISTAKES.items()])
            if wrong:
                return [wrong]          # later steps follow from this one
    return []


SHARED_STATE = ("each MomentumSGD keeps its own velocities: the first optimiser here is right, later ones are not, "
                "so velocities leak from one optimiser to the next (create the dict in __init__, not as a class "
                "attribute shared by every instance)")


@judge("mc_momentum")
def judge_momentum(data, inputs):
    runs = []     # problems of each optimiser, in the order the probe made them
    given = []    # (the probe's record of a step, the gradients the probe handed to that step)
    for case, (lr, mu, steps, seed) in probes.MOMENTUM_CASES.items():
        grads_seq = [probes.momentum_grads(seed, s) for s in range(steps)]
        runs.append(judge_trajectory(f"learning_rate={lr}, momentum={mu}", [s["params"] for s in data[case]],
                                     probes.momentum_params(seed), grads_seq, lr, mu))
        given += [(s, g) for s, g in zip(data[case], grads_seq, strict=True)]
    lr, mu, seed = probes.SIDE_BY_SIDE
    schedule = probes.side_by_side_schedule()
    for which, offset in (("a", 0), ("b", 1)):
        picks = [i for i, (w, _) in enumerate(schedule) if w == which]
        grads_seq = [probes.momentum_grads(seed + offset, step) for w, step in schedule if w == which]
        runs.append(judge_trajectory(f"two optimisers used side by side, optimiser {which}",
                                     [data["side_by_side"][i]["params"] for i in picks],
                                     probes.momentum_params(seed + offset), grads_seq, lr, mu))
        given += [(data["side_by_side"][i], g) for i, g in zip(picks, grads_seq, strict=True)]
    out = [p for problems in runs for p in problems]
    if out and not runs[0]:
        out[0] += f" — {SHARED_STATE}"
    if not all(unchanged(step["grads"], step["grad_keys"], grads) for step, grads in given):
        out.append("MomentumSGD.step changed the gradients it was given: compute new arrays (v = μ v − η g), do not "
                   "update grads in place")
    return out


def unchanged(got, keys, original):
    """True if a dict the probe handed over (`original`) is, after the call, as it was: the same keys (`keys`,
    as text) and the same arrays (`got`, probe data)."""
    return (len(keys) == len(original) and set(keys) == set(original) and set(got) == set(original)
            and all(same_array(got[k], v) for k, v in original.items()))


SCHEDULES = {"step_decay": step_decay, "inverse_time_decay": inverse_time_decay}


@judge("mc_schedule")
def judge_schedule(data, inputs):
    out = []
    for case, (fn, args, kwargs, epochs) in probes.SCHEDULE_CASES.items():
        reference = SCHEDULES[fn](*args, **kwargs)
        call = f"{fn}({', '.join([repr(a) for a in args] + [f'{k}={v!r}' for k, v in kwargs.items()])})"
        got = data[case]
        if got["shape"] != [len(epochs)]:
            out.append(f"{call}: expected one rate per epoch, got shape {tuple(got['shape'])}")
            continue
        values, expected = as_array(got), np.array([reference(t) for t in epochs])
        bad = np.flatnonzero(~np.isclose(values, expected, rtol=EXACT_RTOL, atol=EXACT_ATOL))
        if len(bad):
            i = bad[0]
            hint = hints.first_match(values, expected,
                                     hints.schedule(fn, args, kwargs, epochs, SCHEDULES[fn]))
            out.append(f"{call} at epoch t = {epochs[i]}: expected {expected[i]:.6g}, got {values[i]:.6g} (epochs "
                       f"{list(epochs)}: expected {fmt(expected)}, got {fmt(values)})" + (f" — {hint}" if hint else ""))
    return out


@judge("mc_l2")
def judge_l2(data, inputs):
    out = []
    for got, lam in zip(data, probes.L2_LAMBDAS, strict=True):
        params, grads = probes.l2_inputs()
        out.append(compare(f"l2_penalty(params, lam={lam})", got["penalty"], l2_penalty(params, lam),
                           EXACT_RTOL, EXACT_ATOL, candidates=lambda: hints.l2_penalty_mistakes(params, lam)))
        expected = l2_gradients(params, grads, lam)
        missing = [k for k in expected if k not in got["grads"]]
        if missing:
            out.append(f"l2_gradients(params, grads, lam={lam}) has no {', '.join(missing)}: return every gradient, "
                       "the bias gradients unchanged")
        else:
            out += [compare(f"l2_gradients(params, grads, lam={lam})['{k}']", got["grads"][k], v, EXACT_RTOL,
                            EXACT_ATOL, candidates=lambda: hints.l2_gradient_mistakes(params, grads, lam, k))
                    for k, v in expected.items()]
        original_params, original_grads = probes.l2_inputs()
        if not (unchanged(got["params_after"], got["param_keys"], original_params)
                and unchanged(got["grads_after"], got["grad_keys"], original_grads)):
            out.append(f"l2_gradients(params, grads, lam={lam}) changed the dicts or arrays it was given: return a "
                       "new dict of new arrays")
    return out


# --- end to end ------------------------------------------------------------------------------------------

def spiral_shapes(got, when):
    s = probes.SPIRAL_SETUP
    shapes = {"W1": (s["hidden_dim"], 2), "b1": (s["hidden_dim"],), "W2": (s["n_classes"], s["hidden_dim"]),
              "b2": (s["n_classes"],)}
    params = {k: as_array(v) for k, v in got.items()}
    wrong = [f"{k} has shape {params[k].shape if k in params else 'missing'}, expected {shape}"
             for k, shape in shapes.items() if k not in params or params[k].shape != shape]
    if not wrong and not all(np.isfinite(params[k]).all() for k in PARAM_NAMES):
        wrong = ["some parameters are not finite numbers (NaN or inf): training diverged"]
    return ([f"{when}: " + "; ".join(wrong)] if wrong else []), params


def replay_first_epoch(seed):
    """The reference's parameters after the spiral run's first epoch: the grader's initial parameters, the
    given loop's shuffling (np.random.default_rng(seed)), the reference's backward and MomentumSGD."""
    s = probes.SPIRAL_SETUP
    X, y = spiral_data(seed)
    model = reference_model(spiral_initial(seed), s["activation"])
    train_epochs(model, MomentumSGD(s["learning_rate"], s["momentum"]), X, y, 1, s["batch_size"],
                 np.random.default_rng(seed))
    return model.get_parameters()


def replay_problem(label, got, expected):
    """None if the reported parameters after the first epoch are the replay's; else one sentence."""
    for k in PARAM_NAMES:
        if not np.allclose(got[k], expected[k], rtol=REPLAY_RTOL, atol=REPLAY_ATOL):
            bad = tuple(int(i) for i in np.argwhere(~np.isclose(got[k], expected[k], rtol=REPLAY_RTOL,
                                                                 atol=REPLAY_ATOL))[0])
            return (f"{label}: after the first epoch (10 steps of MomentumSGD from the grader's initial parameters), "
                    f"{k}{list(bad)} is {got[k][bad]:.6g}, expected {expected[k][bad]:.6g} (a correct model and "
                    "MomentumSGD trained the same way): check that forward returns softmax(z), backward (the mean "
                    "over the batch, φ'(a1)) and MomentumSGD (v ← μ v − η g, then p ← p + v, a velocity kept per "
                    "parameter and per optimiser)")
    return None


@judge("mc_spiral_training")
def judge_spiral_training(data, inputs):
    """The student's model and MomentumSGD, started from the grader's initial parameters and trained by the
    given loop: the parameters after the first epoch must be the reference's replay of that epoch (they
    follow from the student's code: pasted or pre-trained weights do not), then the final parameters are
    scored by the reference model on the grader's validation data."""
    s = probes.SPIRAL_SETUP
    out = []
    for seed, run in zip(probes.SPIRAL_SEEDS, data, strict=True):
        label = f"spiral, seed {seed}"
        wrong_epoch1, epoch1 = spiral_shapes(run["epoch1"], f"{label}, after the first epoch")
        wrong_final, params = spiral_shapes(run["params"], f"{label}, after training")
        if wrong_epoch1 or wrong_final:
            out += wrong_epoch1 + wrong_final
            continue
        wrong = replay_problem(label, epoch1, replay_first_epoch(seed))
        if wrong:
            out.append(wrong)
            continue
        initial = spiral_initial(seed)
        X, y = spiral_data(seed)
        X_val, y_val = spiral_data(VALIDATION_SEED_OFFSET + seed)
        model = reference_model(params, s["activation"])
        score = accuracy(model, X_val, y_val)
        before = cross_entropy_from_logits(reference_model(initial, s["activation"]).logits(X), y)
        after = cross_entropy_from_logits(model.logits(X), y)
        if not score >= SPIRAL_MIN_ACCURACY:
            out.append(f"{label}: validation accuracy after {s['n_epochs']} epochs is {score:.3f}; it must be at least "
                       f"{SPIRAL_MIN_ACCURACY} (a correct model and MomentumSGD reach 0.89 or more on every seed). "
                       "Check backward (the mean over the batch, φ'(a1)) and that MomentumSGD keeps its velocities")
        elif not after < before:
            out.append(f"{label}: the training loss did not decrease ({before:.4f} before, {after:.4f} after)")
    return out


# --- the PyTorch twin ------------------------------------------------------------------------------------

@judge("mc_torch_twin")
def judge_torch_twin(data, inputs):
    out = []
    for activation in probes.ACTIVATIONS:
        for got, case in zip(data[activation], probes.TWIN_CASES, strict=True):
            params, X, y = probes.twin_inputs(case)
            d, h, k, n, _ = case
            label = f"TorchSoftmaxMLP, {activation}, d={d}, h={h}, K={k}, batch of {n}"
            if any(dtype != "torch.float64" for dtype in got["dtypes"]):
                out.append(f"{label}: the module's parameters and logits must be float64 (nn.Linear(..., "
                           "dtype=torch.float64)) to agree with NumPy to 1e-10")
                continue
            model = reference_model(params, activation)
            logits = model.logits(X)
            wrong = compare(f"{label}: logits", got["logits"], logits, TWIN_RTOL, TWIN_ATOL,
                            candidates=[(softmax(logits), "these are probabilities: forward returns the logits "
                                                          "z = fc2(φ(fc1(x))); F.cross_entropy applies the softmax")])
            if wrong:
                out.append(wrong)
                continue
            expected = model.backward(X, y, model.forward(X))
            missing = [key for key in expected if key not in got["grads"]]
            if missing:
                out.append(f"{label}: autograd gives no gradient for {', '.join(missing)}: fc1 and fc2 must be "
                           "the layers forward uses")
                continue
            out += [compare(f"{label}: autograd {key.replace('dL_d', 'dL/d')}", got["grads"][key], v,
                            TWIN_RTOL, TWIN_ATOL) for key, v in expected.items()]
    return out
