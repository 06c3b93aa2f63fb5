"""The XOR threshold study: validation accuracy of correct and near-miss implementations over many seeds.

    python scripts/measure_thresholds.py [--seeds 200]     # prints a JSON summary

The XOR check (autograder/probes.py XOR_SETUP, judges.XOR_MIN_ACCURACY) trains the student's
own model, SGD and train on fixed data with np.random.seed(seed) before the model is built.
Here the seed varies: for each corpus notebook (the reference solution, every correct
alternative, the near-miss mutants) the solution cells are executed in a fresh namespace in
a worker process (trusted: this is our corpus, not student code) and the same probe and the
same accuracy computation as the judge are run for every seed. The threshold must pass every
correct run and fail every near-miss run; the margins are stated in docs/grading-quality.md.
"""
import argparse
import json
import os
import sys
from concurrent.futures import ProcessPoolExecutor

import nbformat
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from autograder.assignments.mlp import judges, probes  # noqa: E402
from examples.catalogue import Example  # noqa: E402
from src.optimization import evaluate  # noqa: E402

# mutants whose whole pipeline still trains, only worse: the threshold must fail all their runs
NEAR_MISSES = ("sgd_learning_rate_ignored", "sgd_gradient_ascent", "train_first_batch_only")
# alternatives whose differences reach the XOR run (model, SGD or train); the others share the reference's path
TRAINING_ALTERNATIVES = ("loops_instead_of_vectorised", "relu_with_np_where", "relu_with_heaviside",
                         "forward_with_einsum", "backward_recomputes_forward", "backward_per_sample_accumulation",
                         "sgd_update_in_a_loop", "train_with_default_rng", "train_with_randomstate_shuffle",
                         "train_history_via_helper")


def notebook_path(example):
    if example.kind == "perfect":
        return os.path.join(ROOT, "examples", "submissions", "perfect.ipynb")
    return os.path.join(ROOT, "tests", "corpus", "notebooks", example.name + ".ipynb")


def namespace(example):
    """The notebook's solution cells executed in a fresh namespace (what the XOR probe needs)."""
    nb = nbformat.read(notebook_path(example), as_version=4)
    ns = {"np": np, "__name__": "corpus"}
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("solution"):
            exec(compile(cell.source, example.name, "exec"), ns)  # noqa: S102 - our own corpus
    return ns


_CACHE = {}


def run_xor(example, seed):
    """(validation accuracy, final training loss, relative parameter change) of the XOR check run
    with init seed `seed`, computed as the judge does; (0.0, inf, 0.0) when the probe raised (a failure)."""
    if example.name not in _CACHE:
        _CACHE[example.name] = namespace(example)
    ns = _CACHE[example.name]
    inputs = dict(judges.make_inputs("xor_training"), seed=seed)
    status, data = probes.run_probe("xor_training", ns, inputs)
    if status != "ok":
        return 0.0, float("inf"), 0.0
    with np.errstate(all="ignore"):
        return judges.xor_scores(data, inputs)


def _run(args):
    example, seeds = args
    return example.name, [run_xor(example, s) for s in seeds]


def study(examples, n_seeds=200, workers=None):
    """{name: [accuracy per seed 0..n_seeds-1]} (None where the run raised: counted as a failure)."""
    chunks = [(e, list(range(start, min(start + 25, n_seeds)))) for e in examples for start in range(0, n_seeds, 25)]
    out = {e.name: [] for e in examples}
    with ProcessPoolExecutor(max_workers=workers or os.cpu_count()) as pool:
        for name, accs in pool.map(_run, chunks):
            out[name] += accs
    return out


def passes(run, threshold=None, min_change=None):
    """The judge's rule: accuracy above the threshold, and parameters moved by at least min_change."""
    threshold = judges.XOR_MIN_ACCURACY if threshold is None else threshold
    min_change = judges.XOR_MIN_CHANGE if min_change is None else min_change
    accuracy, _, change = run
    return accuracy > threshold and change >= min_change


def summary(runs, threshold=None):
    """runs: [(accuracy, final training loss, parameter change)] -> the numbers the doc reports."""
    acc = np.array([r[0] for r in runs])
    loss = np.array([r[1] for r in runs])
    change = np.array([r[2] for r in runs])
    high = acc > (judges.XOR_MIN_ACCURACY if threshold is None else threshold)
    return {"runs": len(runs), "acc_min": float(acc.min()), "acc_median": float(np.median(acc)),
            "acc_max": float(acc.max()), "passing": int(sum(passes(r, threshold) for r in runs)),
            "loss_median": float(np.median(loss)), "loss_max": float(loss.max()),
            "change_min": float(change.min()),
            "change_max_above_threshold": float(change[high].max()) if high.any() else None}


def corpus_examples():
    from tests.corpus import BY_NAME
    reference = Example("reference", "perfect", "the instructor's solution")
    return [reference] + [BY_NAME[n] for n in TRAINING_ALTERNATIVES], [BY_NAME[n] for n in NEAR_MISSES]


STUDY = os.path.join(ROOT, "docs", "xor-threshold-study.json")


def run_study(n_seeds=200):
    """Run the study and save it (per-seed numbers) to docs/xor-threshold-study.json."""
    correct, near = corpus_examples()
    results = study(correct + near, n_seeds)
    data = {"setup": probes.XOR_SETUP, "threshold": judges.XOR_MIN_ACCURACY, "seeds": n_seeds,
            "correct": [e.name for e in correct], "near_misses": [e.name for e in near],
            "min_change": judges.XOR_MIN_CHANGE,
            "runs": {name: [[a, *(v if np.isfinite(v) else None for v in losses)] for a, *losses in r]
                     for name, r in results.items()}}
    with open(STUDY, "w") as f:
        json.dump(data, f)
    return data


def load_study():
    with open(STUDY) as f:
        data = json.load(f)
    data["runs"] = {n: [(a, *(float("inf") if v is None else v for v in losses)) for a, *losses in r]
                    for n, r in data["runs"].items()}
    return data


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=200)
    args = parser.parse_args(argv)
    data = run_study(args.seeds)
    print(json.dumps({name: summary(load_study()["runs"][name]) for name in data["runs"]}, indent=1))


if __name__ == "__main__":
    main()
