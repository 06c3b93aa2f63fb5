"""The main job: release, collect, nbgrader autograde, feedback, export, and a grade table.

    python -m autograder nbgrader-run --submissions examples/submissions

1. `nbgrader generate_assignment mlp` regenerates release/ (and the gradebook entry);
2. every submission is copied to submitted/<student>/mlp/mlp.ipynb;
3. `nbgrader autograde mlp` grades them all in one run (a submission that kills its kernel or
   is not a notebook makes nbgrader exit 1: that student is reported, the others are graded);
4. `nbgrader generate_feedback` writes feedback/<student>/mlp/mlp.html;
5. `nbgrader export` writes grades.csv;
6. the table: student, nbgrader score, max, the pytest path's score, and why a submission
   was not graded normally (not a notebook, kernel died, a cell hit the time limit).
"""
import csv
import os
import re
import shutil
import subprocess
import sys

import nbformat

from autograder.checks import ASSIGNMENT, MAX_SCORE, NOTEBOOK
from autograder.sandbox import ROOT

KERNEL_DIED = "the kernel died while running the notebook (os._exit, a crash or out of memory): nbgrader recorded no grades"


def nbgrader(*args, check=True):
    """Run the real nbgrader CLI in the course directory. Its alembic step needs the venv's bin on PATH."""
    bin_dir = os.path.dirname(sys.executable)
    env = dict(os.environ, PATH=bin_dir + os.pathsep + os.environ.get("PATH", ""))
    proc = subprocess.run([os.path.join(bin_dir, "nbgrader"), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise RuntimeError(f"nbgrader {' '.join(args)} failed:\n{proc.stderr[-3000:]}")
    return proc


def find_submissions(directory):
    """{student: notebook path} from DIR/<student>.ipynb or DIR/<student>/mlp/mlp.ipynb."""
    found = {}
    for entry in sorted(os.listdir(directory)):
        path = os.path.join(directory, entry)
        nested = os.path.join(path, ASSIGNMENT, NOTEBOOK + ".ipynb")
        if entry.endswith(".ipynb") and os.path.isfile(path):
            found[entry[:-len(".ipynb")]] = path
        elif os.path.isfile(nested):
            found[entry] = nested
    return found


def collect(submissions):
    """Copy each submission to submitted/<student>/mlp/mlp.ipynb (replacing any previous one)."""
    for student, path in submissions.items():
        dest = os.path.join(ROOT, "submitted", student, ASSIGNMENT)
        shutil.rmtree(dest, ignore_errors=True)
        os.makedirs(dest)
        shutil.copy(path, os.path.join(dest, NOTEBOOK + ".ipynb"))


def failures_from_log(log):
    """{student: reason} for the students nbgrader reported as failed, with the exception it logged."""
    reasons = {}
    blocks = re.split(r"There was an error processing assignment: ", log)[1:]
    for block in blocks:
        student = os.path.basename(os.path.dirname(block.split()[0].rstrip("/")))
        exceptions = re.findall(r"^\s*(?:[\w.]+\.)?(\w+(?:Error|Exception)): (.*)$", block, re.M)
        if "DeadKernelError" in block:
            reasons[student] = KERNEL_DIED
        elif "NotJSONError" in block:
            reasons[student] = "not graded: the file is not valid notebook JSON (truncated or corrupted?)"
        elif exceptions:
            name, text = exceptions[-1]
            reasons[student] = f"not graded: {name}: {text[:100]}"
        else:
            reasons[student] = "not graded: nbgrader reported an error"
    return reasons


def timeouts(student):
    """grade_ids of the autograded notebook's cells that hit the per-cell time limit."""
    path = os.path.join(ROOT, "autograded", student, ASSIGNMENT, NOTEBOOK + ".ipynb")
    if not os.path.exists(path):
        return []
    nb = nbformat.read(path, as_version=4)
    return [cell.metadata.get("nbgrader", {}).get("grade_id") or f"cell {i}" for i, cell in enumerate(nb.cells)
            if any(o.get("ename") == "CellTimeoutError" for o in cell.get("outputs", []))]


def exported_scores(path):
    with open(path, newline="") as f:
        return {row["student_id"]: float(row["raw_score"]) for row in csv.DictReader(f)}


def pytest_scores(submissions):
    """The pytest path's score for each student (None when the file is not a notebook)."""
    from autograder.grade import run_hidden_suite
    from autograder.submission import InvalidSubmission, Submission
    scores = {}
    for student, path in submissions.items():
        try:
            Submission.load(path)
        except InvalidSubmission:
            scores[student] = None
            continue
        scores[student] = sum(r.points for r in run_hidden_suite(path))
    return scores


def main(submissions_dir, with_pytest=True):
    submissions = find_submissions(submissions_dir)
    if not submissions:
        print(f"no submissions found in {submissions_dir}", file=sys.stderr)
        return 2
    print(f"release: nbgrader generate_assignment {ASSIGNMENT}", flush=True)
    nbgrader("generate_assignment", ASSIGNMENT, "--force")
    collect(submissions)
    print(f"autograde: {len(submissions)} submissions (nbgrader autograde, one kernel each)", flush=True)
    autograde = nbgrader("autograde", ASSIGNMENT, "--force", check=False)
    failed = failures_from_log(autograde.stderr + autograde.stdout)
    print("feedback: nbgrader generate_feedback", flush=True)
    nbgrader("generate_feedback", ASSIGNMENT, "--force", check=False)
    nbgrader("export", "--to", "grades.csv")
    scores = exported_scores(os.path.join(ROOT, "grades.csv"))
    if with_pytest:
        print("pytest path: python -m autograder grade, per submission", flush=True)
    other = pytest_scores(submissions) if with_pytest else {}
    print()
    print(f"{'student':<26} {'score':>6} {'max':>5} {'pytest':>7}  reason")
    for student in submissions:
        reason = failed.get(student, "")
        slow = timeouts(student)
        if not reason and slow:
            reason = f"time limit hit in {', '.join(slow)}"
        pytest_score = other.get(student)
        shown = "-" if pytest_score is None else f"{pytest_score:g}"
        print(f"{student:<26} {scores.get(student, 0):>6g} {MAX_SCORE:>5} {shown:>7}  {reason}")
    print(f"\ngrades.csv, feedback/<student>/{ASSIGNMENT}/{NOTEBOOK}.html and gradebook.db are written; "
          f"nbgrader autograde exit status {autograde.returncode}"
          + (" (1: some submissions could not be graded, see reasons)" if autograde.returncode else ""))
    return 0
