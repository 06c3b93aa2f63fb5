"""Time the NumPy reference against its PyTorch twin on the walkthrough's XOR setting.

Run by hand from the repository root:  python bench/bench_numpy_vs_torch.py
The three trainers run interleaved in one process (so machine load affects them
alike), REPEATS times each; the median wall time of each is printed.
"""
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from src.data import generate_xor_data  # noqa: E402
from src.models import OneHiddenLayerMLP  # noqa: E402
from src.optimization import SGD, train  # noqa: E402
from src.pytorch_models import ModuleMLP, train_pytorch_model  # noqa: E402

REPEATS = 7
SETTING = dict(n_epochs=200, batch_size=32)  # with 200 samples, hidden 8, relu, lr 0.5


def numpy_run(X, y):
    train(OneHiddenLayerMLP(2, 8, 'relu'), X, y, SGD(learning_rate=0.5), seed=0, **SETTING)


def torch_run(dtype):
    def run(X, y):
        train_pytorch_model(ModuleMLP(2, 8, 'relu', dtype=dtype), torch.as_tensor(X, dtype=dtype),
                            torch.as_tensor(y, dtype=dtype), learning_rate=0.5, seed=0, **SETTING)
    return run


def main():
    np.random.seed(42)
    X, y = generate_xor_data(n_samples=200, noise=0.1)
    runners = {'numpy float64': numpy_run, 'torch float32': torch_run(torch.float32),
               'torch float64': torch_run(torch.float64)}
    times = {name: [] for name in runners}
    for run in runners.values():  # warm-up, untimed
        run(X, y)
    for _ in range(REPEATS):
        for name, run in runners.items():
            start = time.perf_counter()
            run(X, y)
            times[name].append(time.perf_counter() - start)

    print(f"XOR, 200 samples, hidden 8, relu, lr 0.5, 200 epochs, batch 32; "
          f"median of {REPEATS} (torch {torch.__version__}, {torch.get_num_threads()} threads, numpy {np.__version__})")
    base = statistics.median(times['numpy float64'])
    for name, t in times.items():
        median = statistics.median(t)
        print(f"  {name:14s} {median:7.3f} s   ratio to numpy {median / base:5.2f}")


if __name__ == '__main__':
    main()
