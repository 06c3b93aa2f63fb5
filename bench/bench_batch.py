"""Benchmark: `grade-all --jobs 2` on a class of 500 versus `nbgrader autograde`, in the same run.

    .venv/bin/python bench/bench_batch.py [--n 500] [--jobs 2] [--nbgrader-sample 20] [--keep DIR]

The class (generated in a temporary folder):
- 60% correct (the instructor's solution), 30% wrong (the catalogue's wrong examples, in turn),
- 10% hostile (tests/adversarial/corpus.py, in turn), of which 2% of the class loop forever (in
  turn: in a cell, inside `train`) at the normal limits (20 s for the cells, per check the limit
  calibrated on the reference solution: autograder/timing.py).

nbgrader is timed on a sample of 20 of the same notebooks (12 correct, 6 wrong, 2 hostile that do
not loop, so the sample flatters nbgrader) in a temporary copy of the course, and scaled to the
class size. Prints the wall time for the class, nbgrader's seconds per submission, and the ratio.
Not part of the test suite (it takes minutes).

    .venv/bin/python bench/bench_batch.py --course [--n 40] [--jobs 2] [--repeats 3] [--keep DIR]

Course mode: N students who submit BOTH assignments (mlp: 60% the solution, 30% the catalogue's wrong
examples, 10% blank; multiclass: 60% the solution, 30% tests/multiclass_corpus.py's mutants, 10% blank),
graded three ways side by side in one run, the three interleaved, each `--repeats` times from scratch
(fresh results): the mlp notebooks alone, the multiclass notebooks alone, both. Prints each median
wall time and the ratio of both to each one alone (the issue's goal: both in under twice the time of one).
"""
import argparse
import csv
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from examples.catalogue import EXAMPLES, Example, build  # noqa: E402
from tests.adversarial.corpus import CASES, notebook_bytes  # noqa: E402

LOOPS = ("endless_loop_in_cell", "endless_loop_in_check")
COURSE_FILES = ("source", "src", "autograder", "release", "examples", "nbgrader_config.py")


def generate(directory, n):
    """DIR/<student>/mlp/mlp.ipynb for n students; returns {student: kind}."""
    perfect = build(next(e for e in EXAMPLES if e.name == "perfect")).encode()
    wrong = [(e.name, build(e).encode()) for e in EXAMPLES if e.kind == "wrong"]
    hostile = [(c.name, notebook_bytes(c)) for c in CASES if not c.name.startswith("honest") and c.name not in LOOPS]
    loops = [(c.name, notebook_bytes(c)) for c in CASES if c.name in LOOPS]
    loops = [loops[i % len(loops)] for i in range(max(2, round(0.02 * n)))]     # 2% endless loops
    n_wrong, n_hostile = round(0.3 * n), round(0.1 * n)
    plan = [("correct", "perfect", perfect)] * (n - n_wrong - n_hostile)
    plan += [("wrong",) + wrong[i % len(wrong)] for i in range(n_wrong)]
    plan += [("hostile",) + loops[i] for i in range(len(loops))]
    plan += [("hostile",) + hostile[i % len(hostile)] for i in range(n_hostile - len(loops))]
    kinds = {}
    for i, (kind, name, data) in enumerate(plan):
        student = f"student{i:04d}"
        folder = os.path.join(directory, student, "mlp")
        os.makedirs(folder)
        with open(os.path.join(folder, "mlp.ipynb"), "wb") as f:
            f.write(data)
        kinds[student] = (kind, name)
    return kinds


def time_grade_all(directory, jobs, workdir):
    out, results = os.path.join(workdir, "grades.csv"), os.path.join(workdir, "results")
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "autograder", "grade-all", directory, "--jobs", str(jobs),
                           "--out", out, "--results-dir", results], cwd=workdir,
                          env=dict(os.environ, PYTHONPATH=ROOT), capture_output=True, text=True)
    wall = time.monotonic() - start
    if proc.returncode != 0:
        raise SystemExit(f"grade-all failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    with open(out, newline="") as f:
        rows = list(csv.DictReader(f))
    return wall, rows, proc.stdout


def time_nbgrader(kinds, directory, sample, workdir):
    """Seconds per submission of `nbgrader autograde` on `sample` submissions (a temporary course)."""
    course = os.path.join(workdir, "course")
    os.makedirs(course)
    for name in COURSE_FILES:
        src = os.path.join(ROOT, name)
        (shutil.copytree if os.path.isdir(src) else shutil.copy)(src, os.path.join(course, name))
    bin_dir = os.path.dirname(sys.executable)
    env = dict(os.environ, PATH=bin_dir + os.pathsep + os.environ.get("PATH", ""))

    def nbgrader(*args):
        return subprocess.run([os.path.join(bin_dir, "nbgrader"), *args], cwd=course, env=env,
                              capture_output=True, text=True)
    nbgrader("generate_assignment", "mlp", "--force")
    by_kind = {}
    for student, (kind, name) in sorted(kinds.items()):
        if name not in LOOPS:
            by_kind.setdefault(kind, []).append(student)
    n_correct, n_wrong = round(0.6 * sample), round(0.3 * sample)
    chosen = (by_kind["correct"][:n_correct] + by_kind["wrong"][:n_wrong]
              + by_kind["hostile"][:sample - n_correct - n_wrong])
    for student in chosen:
        dest = os.path.join(course, "submitted", student, "mlp")
        os.makedirs(dest)
        shutil.copy(os.path.join(directory, student, "mlp", "mlp.ipynb"), dest)
    start = time.monotonic()
    proc = nbgrader("autograde", "mlp", "--force")
    seconds = time.monotonic() - start
    return seconds / len(chosen), proc.returncode, [kinds[s][1] for s in chosen]


# --- course mode: both assignments ---------------------------------------------------------------

def course_notebooks(n):
    """[(mlp bytes, multiclass bytes)] of n students: 60% solutions, 30% wrong, 10% blank, per assignment."""
    from tests import multiclass_corpus as mc
    mlp = {e.kind: e for e in EXAMPLES}
    mlp_wrong = [build(e).encode() for e in EXAMPLES if e.kind == "wrong"]
    mc_wrong = [mc.build(e).encode() for e in mc.MUTANTS]
    mlp_fixed = (build(mlp["perfect"]).encode(), build(mlp["blank"]).encode())
    mc_fixed = (mc.build(Example("perfect", "perfect", "the solution")).encode(),
                mc.build(Example("blank", "blank", "the release")).encode())
    out = []
    for i in range(n):
        kind = "correct" if i % 10 < 6 else "wrong" if i % 10 < 9 else "blank"
        if kind == "correct":
            out.append((mlp_fixed[0], mc_fixed[0]))
        elif kind == "wrong":
            out.append((mlp_wrong[i % len(mlp_wrong)], mc_wrong[i % len(mc_wrong)]))
        else:
            out.append((mlp_fixed[1], mc_fixed[1]))
    return out


def write_course_classes(workdir, notebooks):
    """Three classes of the same students: {"mlp": DIR, "multiclass": DIR, "both": DIR}."""
    dirs = {mode: os.path.join(workdir, f"class-{mode}") for mode in ("mlp", "multiclass", "both")}
    for i, (mlp, multiclass) in enumerate(notebooks):
        for mode, folder in dirs.items():
            for assignment, data in (("mlp", mlp), ("multiclass", multiclass)):
                if mode in (assignment, "both"):
                    target = os.path.join(folder, f"student{i:04d}", assignment)
                    os.makedirs(target)
                    with open(os.path.join(target, assignment + ".ipynb"), "wb") as f:
                        f.write(data)
    return dirs


def time_course_run(directory, jobs, workdir, tag):
    """(wall seconds, CSV rows) of one grade-all of `directory` from scratch (its own results folder)."""
    out, results = os.path.join(workdir, f"{tag}.csv"), os.path.join(workdir, f"results-{tag}")
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "autograder", "grade-all", directory, "--jobs", str(jobs),
                           "--out", out, "--results-dir", results], cwd=workdir,
                          env=dict(os.environ, PYTHONPATH=ROOT), capture_output=True, text=True)
    wall = time.monotonic() - start
    if proc.returncode != 0:
        raise SystemExit(f"grade-all failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    shutil.rmtree(results, ignore_errors=True)
    with open(out, newline="") as f:
        return wall, list(csv.DictReader(f))


def course_main(args, workdir):
    """Course mode: median wall time of grading mlp alone, multiclass alone, and both, interleaved."""
    import statistics
    dirs = write_course_classes(workdir, course_notebooks(args.n))
    print(f"course: {args.n} students, each submitting mlp and multiclass; machine: {os.cpu_count()} cores; "
          f"grade-all --jobs {args.jobs}; {args.repeats} run(s) of each, interleaved", flush=True)
    walls = {mode: [] for mode in dirs}
    for repeat in range(args.repeats):
        for mode, directory in dirs.items():
            wall, rows = time_course_run(directory, args.jobs, workdir, f"{mode}-{repeat}")
            statuses = {}
            for row in rows:
                statuses[row["status"]] = statuses.get(row["status"], 0) + 1
            walls[mode].append(wall)
            print(f"  run {repeat + 1} {mode:10s}: {wall:6.1f} s for {len(rows)} submissions {statuses}", flush=True)
    median = {mode: statistics.median(w) for mode, w in walls.items()}
    for mode in dirs:
        units = args.n * (2 if mode == "both" else 1)
        print(f"median {mode:10s}: {median[mode]:6.1f} s ({median[mode] / units * 1000:.0f} ms per submission)")
    for one in ("mlp", "multiclass"):
        ratio = median["both"] / median[one]
        print(f"ratio both / {one} alone = {ratio:.2f} (goal < 2: {'met' if ratio < 2 else 'MISSED'})")
    print(f"ratio both / (mlp alone + multiclass alone) = "
          f"{median['both'] / (median['mlp'] + median['multiclass']):.2f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, help="students (default: 500; 40 with --course)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--nbgrader-sample", type=int, default=20)
    parser.add_argument("--course", action="store_true", help="grade both assignments vs each alone (see above)")
    parser.add_argument("--repeats", type=int, default=3, help="--course: runs of each (the median is reported)")
    parser.add_argument("--keep", help="keep the generated class and results here")
    args = parser.parse_args()
    if args.n is None:
        args.n = 40 if args.course else 500
    if args.n < 1 or args.repeats < 1:
        parser.error("--n and --repeats must be at least 1")
    if args.course:
        workdir = args.keep or tempfile.mkdtemp(prefix="bench-course-")
        os.makedirs(workdir, exist_ok=True)
        try:
            course_main(args, workdir)
        finally:
            if not args.keep:
                shutil.rmtree(workdir, ignore_errors=True)
        return
    workdir = args.keep or tempfile.mkdtemp(prefix="bench-batch-")
    os.makedirs(workdir, exist_ok=True)
    directory = os.path.join(workdir, "class")
    kinds = generate(directory, args.n)
    counts = {}
    for kind, _ in kinds.values():
        counts[kind] = counts.get(kind, 0) + 1
    n_loops = sum(1 for _, name in kinds.values() if name in LOOPS)
    print(f"class: {args.n} submissions: {counts} ({n_loops} of the hostile ones loop forever)", flush=True)
    print(f"machine: {os.cpu_count()} cores; grade-all --jobs {args.jobs}", flush=True)

    wall, rows, summary = time_grade_all(directory, args.jobs, workdir)
    statuses = {}
    for row in rows:
        statuses[row["status"]] = statuses.get(row["status"], 0) + 1
    wrong_correct = [r["student"] for r in rows if kinds[r["student"]][0] == "correct" and r["score"] != "100"]
    print(f"grade-all: {wall:.1f} s wall for {len(rows)} submissions ({wall / len(rows) * 1000:.0f} ms each); "
          f"statuses {statuses}; correct submissions not at 100: {len(wrong_correct)}")
    loop_rows = [r for r in rows if kinds[r["student"]][1] in LOOPS]
    print(f"  endless loops: {len(loop_rows)}, statuses {sorted({r['status'] for r in loop_rows})}")

    per_sub, rc, sample = time_nbgrader(kinds, directory, args.nbgrader_sample, workdir)
    scaled = per_sub * args.n
    print(f"nbgrader autograde: {per_sub:.2f} s per submission (sample of {len(sample)}, exit status {rc}); "
          f"scaled to {args.n}: {scaled:.0f} s")
    print(f"ratio: nbgrader / grade-all = {scaled / wall:.1f}x")
    print(f"goal: <= 90 s for 500 on 2 cores: {'met' if wall <= 90 else 'MISSED'}; >= 20x: "
          f"{'met' if scaled / wall >= 20 else 'MISSED'}")
    if not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
