"""The spiral threshold study: validation accuracy of correct and near-miss multiclass implementations.

    OPENBLAS_NUM_THREADS=1 python scripts/measure_spiral_threshold.py [--seeds 200] [--workers 2]

For each seed s the fixed RECIPE trains SoftmaxMLP(2, hidden_dim, 3, activation, seed=s) on
generate_spiral_data(300, 3, seed=s) with MomentumSGD and train_multiclass(seed=s), and scores
accuracy on a separate draw generate_spiral_data(300, 3, seed=VALIDATION_OFFSET + s).
The same is done for correct alternatives (must pass every seed) and for near-miss mistakes
(each a small, plausible bug that still trains: must fail every seed). The threshold is placed
between the worst correct run and the best near-miss run; the JSON and docs/spiral-threshold-study.md
state the margins. Results go to docs/spiral-threshold-study.json.
"""
import argparse
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from src.data import generate_spiral_data  # noqa: E402
from src.multiclass import SoftmaxMLP, accuracy, train_multiclass  # noqa: E402
from src.optimizers import MomentumSGD  # noqa: E402

RECIPE = {"n_samples": 300, "n_classes": 3, "hidden_dim": 32, "activation": "relu",
          "optimizer": "MomentumSGD", "learning_rate": 0.1, "momentum": 0.9,
          "n_epochs": 20, "batch_size": 32}
VALIDATION_OFFSET = 10_000
THRESHOLD = None  # set from the study below; see docs/spiral-threshold-study.md
STUDY = os.path.join(ROOT, "docs", "spiral-threshold-study.json")


# --- correct alternatives -------------------------------------------------------------

class MomentumSGDTorchForm(MomentumSGD):
    """The other textbook form, v <- mu v + g; p <- p - lr v (PyTorch's): equal for a constant lr."""

    def step(self, model, grads):
        params = model.get_parameters()
        for name in params:
            self.velocities[name] = self.momentum * self.velocities.get(name, 0.0) + grads['dL_d' + name]
        model.set_parameters({n: p - self.learning_rate * self.velocities[n] for n, p in params.items()})


class PerSampleLoopMLP(SoftmaxMLP):
    """backward as a Python loop over samples, averaging per-sample gradients (slow but correct)."""

    def backward(self, X, y, probs):
        X2, P, y2 = np.atleast_2d(X), np.atleast_2d(probs), np.atleast_1d(y)
        total = None
        for i in range(len(X2)):
            a1 = self.W1 @ X2[i] + self.b1
            h1 = self.activation.forward(a1)
            dz = P[i].copy()
            dz[y2[i]] -= 1.0
            da1 = (self.W2.T @ dz) * self.activation.derivative(a1)
            g = {'dL_dW1': np.outer(da1, X2[i]), 'dL_db1': da1, 'dL_dW2': np.outer(dz, h1), 'dL_db2': dz}
            total = g if total is None else {k: total[k] + g[k] for k in g}
        return {k: v / len(X2) for k, v in total.items()}


# --- near misses: each one line away from the reference ----------------------------------

class GradientSumNotMean(SoftmaxMLP):
    """dL/dz = probs - onehot, missing the 1/n: the gradient of the SUM, batch_size times too large."""

    def backward(self, X, y, probs):
        return {k: v * len(np.atleast_2d(X)) for k, v in super().backward(X, y, probs).items()}


class BiasGradientsAveragedTwice(SoftmaxMLP):
    """dL/db = mean over the batch of dL/dz (already divided by n): biases learn n times too slowly."""

    def backward(self, X, y, probs):
        grads = super().backward(X, y, probs)
        n = len(np.atleast_2d(X))
        return {**grads, 'dL_db1': grads['dL_db1'] / n, 'dL_db2': grads['dL_db2'] / n}


class MissingActivationDerivative(SoftmaxMLP):
    """dL/da1 = dL/dh1: phi'(a1) forgotten, so dead ReLU units still receive gradient."""

    def backward(self, X, y, probs):
        activation = self.activation
        derivative = activation.derivative
        try:
            activation.derivative = lambda z: np.ones_like(np.asarray(z, dtype=float))
            return super().backward(X, y, probs)
        finally:
            activation.derivative = derivative


class MomentumVelocityNotKept(MomentumSGD):
    """The velocity is recomputed from zero every step (v = -lr g): plain SGD, momentum lost."""

    def step(self, model, grads):
        self.velocities = {}
        super().step(model, grads)


class MomentumDampened(MomentumSGD):
    """v <- mu v - (1 - mu) lr g: an average of the gradients, so every step is 1 - mu = 0.1 times too short.

    Not classical momentum: with the same lr it moves (1 - mu) times as far."""

    def step(self, model, grads):
        super().step(model, {k: (1 - self.momentum) * g for k, g in grads.items()})


CORRECT = {
    "reference": (SoftmaxMLP, MomentumSGD),
    "momentum_torch_form": (SoftmaxMLP, MomentumSGDTorchForm),
    "backward_per_sample_loop": (PerSampleLoopMLP, MomentumSGD),
    "pytorch_twin": (SoftmaxMLP, "torch.optim.SGD"),
}
NEAR_MISSES = {
    "gradient_sum_not_mean": (GradientSumNotMean, MomentumSGD),
    "bias_gradients_averaged_twice": (BiasGradientsAveragedTwice, MomentumSGD),
    "missing_activation_derivative": (MissingActivationDerivative, MomentumSGD),
    "momentum_velocity_not_kept": (SoftmaxMLP, MomentumVelocityNotKept),
    "momentum_dampened": (SoftmaxMLP, MomentumDampened),
}
IMPLEMENTATIONS = {**CORRECT, **NEAR_MISSES}


def run_pytorch(seed, X, y, X_val, y_val, recipe):
    """The recipe on SoftmaxModuleMLP (float64, same initial weights) with torch.optim.SGD(momentum):
    an independent implementation (autograd, torch's own shuffling)."""
    import torch
    from src.pytorch_models import convert_softmax_to_pytorch, train_pytorch_softmax
    torch.set_num_threads(1)
    module = convert_softmax_to_pytorch(SoftmaxMLP(2, recipe["hidden_dim"], recipe["n_classes"],
                                                   recipe["activation"], seed=seed))
    history = train_pytorch_softmax(module, X, y, recipe["n_epochs"], recipe["learning_rate"], recipe["momentum"],
                                    recipe["batch_size"], seed=seed)
    with torch.no_grad():
        predicted = module(torch.from_numpy(X_val)).argmax(dim=1).numpy()
    return float(np.mean(predicted == y_val)), history["train_loss"][-1]


_TORCH_READY = []


def _warm_up_torch(recipe):
    """Run one tiny torch training per process before any clock starts: the first one pays for
    torch's lazy imports and initialisation (seconds), which is not the recipe's cost."""
    if not _TORCH_READY:
        X, y = generate_spiral_data(30, recipe["n_classes"], seed=0)
        run_pytorch(0, X, y, X, y, dict(recipe, n_epochs=1))
        _TORCH_READY.append(True)


def run(name, seed, recipe=RECIPE):
    """(validation accuracy, final training loss, seconds) of one recipe run; accuracy 0.0 if it raised."""
    model_cls, optimizer_cls = IMPLEMENTATIONS[name]
    X, y = generate_spiral_data(recipe["n_samples"], recipe["n_classes"], seed=seed)
    X_val, y_val = generate_spiral_data(recipe["n_samples"], recipe["n_classes"], seed=VALIDATION_OFFSET + seed)
    if name == "pytorch_twin":
        _warm_up_torch(recipe)
    start = time.perf_counter()
    if name == "pytorch_twin":
        acc, loss = run_pytorch(seed, X, y, X_val, y_val, recipe)
        return acc, loss, time.perf_counter() - start
    try:
        with np.errstate(all="ignore"):
            model = model_cls(2, recipe["hidden_dim"], recipe["n_classes"], recipe["activation"], seed=seed)
            history = train_multiclass(model, X, y, optimizer_cls(recipe["learning_rate"], recipe["momentum"]),
                                       n_epochs=recipe["n_epochs"], batch_size=recipe["batch_size"], seed=seed)
            acc, loss = accuracy(model, X_val, y_val), history["train_loss"][-1]
    except (ValueError, FloatingPointError, OverflowError):
        acc, loss = 0.0, float("inf")
    return acc, (loss if np.isfinite(loss) else None), time.perf_counter() - start


def _chunk(args):
    name, seeds = args
    return name, [run(name, s) for s in seeds]


def study(names, n_seeds, workers):
    """{name: [(accuracy, loss, seconds) for seeds 0 .. n_seeds-1]}, computed in worker processes."""
    chunks = [(n, list(range(s, min(s + 25, n_seeds)))) for n in names for s in range(0, n_seeds, 25)]
    out = {n: [] for n in names}
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for name, runs in pool.map(_chunk, chunks):
            out[name] += runs
    return out


def summarize(runs):
    acc = np.array([r[0] for r in runs])
    secs = np.array([r[2] for r in runs])
    return {"runs": len(runs), "acc_min": float(acc.min()), "acc_median": float(np.median(acc)),
            "acc_max": float(acc.max()), "seconds_median": float(np.median(secs)), "seconds_max": float(secs.max())}


def choose_threshold(summaries, correct, near):
    """Midpoint between the worst correct and the best near-miss run (rounded to 0.01), with margins.

    A run passes when accuracy >= threshold. Near misses whose best run is not below the worst
    correct run cannot be separated by accuracy and are listed, not hidden.
    """
    worst_correct = min(summaries[n]["acc_min"] for n in correct)
    separable = [n for n in near if summaries[n]["acc_max"] < worst_correct]
    best_near = max((summaries[n]["acc_max"] for n in separable), default=0.0)
    threshold = round((worst_correct + best_near) / 2, 2)
    return {"threshold": threshold, "rule": "validation accuracy >= threshold",
            "worst_correct": worst_correct, "best_separable_near_miss": best_near,
            "margin_correct": round(worst_correct - threshold, 6), "margin_near_miss": round(threshold - best_near, 6),
            "separated": separable, "not_separated": [n for n in near if n not in separable]}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--output", default=STUDY, help="where to write the JSON (default: %(default)s)")
    args = parser.parse_args(argv)
    if args.seeds < 1 or args.workers < 1:
        parser.error("--seeds and --workers must be >= 1")
    start = time.perf_counter()
    runs = study(list(IMPLEMENTATIONS), args.seeds, args.workers)
    summaries = {n: summarize(r) for n, r in runs.items()}
    choice = choose_threshold(summaries, list(CORRECT), list(NEAR_MISSES))
    data = {"recipe": RECIPE, "validation_seed": f"{VALIDATION_OFFSET} + seed", "seeds": args.seeds,
            "workers": args.workers, "wall_seconds": round(time.perf_counter() - start, 1),
            "correct": {n: " + ".join(c if isinstance(c, str) else c.__name__ for c in IMPLEMENTATIONS[n]) for n in CORRECT},
            "near_misses": {n: (IMPLEMENTATIONS[n][0].__doc__ if IMPLEMENTATIONS[n][0] is not SoftmaxMLP
                                else IMPLEMENTATIONS[n][1].__doc__).split("\n")[0] for n in NEAR_MISSES},
            **choice, "summary": summaries,
            "passing": {n: int(sum(r[0] >= choice["threshold"] for r in runs[n])) for n in runs},
            "accuracy_per_seed": {n: [r[0] for r in rs] for n, rs in runs.items()}}
    with open(args.output, "w") as f:
        json.dump(data, f, indent=1)
    print(json.dumps({k: v for k, v in data.items() if k != "accuracy_per_seed"}, indent=1))


if __name__ == "__main__":
    main()
