"""Seconds per submission: the nbgrader path against the pytest path, measured in one run.

Run by hand from the repository root:  .venv/bin/python bench/bench_grading_paths.py
Both paths grade the same well-formed example submissions (no endless loops, so the figure is
the cost of grading, not of time limits), in a throwaway copy of the course:
- nbgrader: one `nbgrader autograde mlp --force` for all of them (its start-up shared), / N;
- pytest:   one `python -m autograder grade` process per submission (start-up paid each time).
Rounds alternate the two paths (so machine load affects both alike); medians are printed.
"""
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [ROOT, os.path.join(ROOT, "tests")]

from examples.catalogue import EXAMPLES, SUBMISSIONS  # noqa: E402
from nbgrader_course import autograde, make_course  # noqa: E402

ROUNDS = 3
STUDENTS = {e.name: os.path.join(SUBMISSIONS, e.name + ".ipynb") for e in EXAMPLES
            if e.kind in ("perfect", "blank", "wrong")}


def nbgrader_seconds(course):
    start = time.perf_counter()
    proc = autograde(course, STUDENTS)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return (time.perf_counter() - start) / len(STUDENTS)


def pytest_seconds():
    times = []
    for path in STUDENTS.values():
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "autograder", "grade", path], cwd=ROOT, check=True,
                       capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.mean(times)


def main():
    nb, py = [], []
    with tempfile.TemporaryDirectory() as tmp:
        course = make_course(tmp)
        for _ in range(ROUNDS):
            nb.append(nbgrader_seconds(course))
            py.append(pytest_seconds())
    n, p = statistics.median(nb), statistics.median(py)
    print(f"{len(STUDENTS)} submissions, {ROUNDS} rounds, medians:")
    print(f"  nbgrader autograde   {n:6.2f} s per submission   (rounds: {', '.join(f'{x:.2f}' for x in nb)})")
    print(f"  pytest path (grade)  {p:6.2f} s per submission   (rounds: {', '.join(f'{x:.2f}' for x in py)})")
    print(f"  ratio nbgrader / pytest: {n / p:.1f}x")


if __name__ == "__main__":
    main()
