"""The feedback a student reads: their plots, the numbers they saw, readable verdicts, the right hints.

In-process tests run `autograder.notebook.run_check` (what a hidden test cell calls) on the namespace
of a real student notebook. The end-to-end tests (marked slow) run the real nbgrader CLI
(generate_assignment, autograde, generate_feedback) in a copy of the course, and the student's own
Run All in a real kernel (nbclient), and compare what the two show.
"""
import contextlib
import os
import random
import re
import shutil
import subprocess
import sys

import nbformat
import numpy as np
import pytest

from autograder import notebook as grader
from autograder.assignments import get as get_assignment
from autograder.sandbox import ROOT
from nbgrader_course import cell_scores, make_course, nbgrader

EXAMPLES = os.path.join(ROOT, "examples", "submissions")
CORPUS = os.path.join(ROOT, "tests", "corpus", "notebooks")
RELEASE = os.path.join(ROOT, "release", "mlp")
INLINE = "module://matplotlib_inline.backend_inline"


@contextlib.contextmanager
def cwd(path):
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def namespace_of(path):
    """The globals a student's Run All leaves, minus the test cells: every other code cell exec'd in
    order, in the release folder (the setup cell imports data.py and visualization.py from there)."""
    import matplotlib
    matplotlib.use("Agg")
    nb = nbformat.read(path, as_version=4)
    ns = {"__name__": "__main__"}
    sys.path.insert(0, RELEASE)
    try:
        with cwd(RELEASE), contextlib.redirect_stdout(None):
            for cell in nb.cells:
                if cell.cell_type == "code" and not cell.metadata.get("nbgrader", {}).get("grade"):
                    exec(compile(cell.source, path, "exec"), ns)
    finally:
        sys.path.remove(RELEASE)
    return ns


@pytest.fixture(scope="module")
def perfect():
    return namespace_of(os.path.join(EXAMPLES, "perfect.ipynb"))


# --- problem 2: run_check leaves the kernel's random numbers alone -----------------------------------

@pytest.mark.parametrize("check", ["xor_training", "train_loop", "forward_random"])
def test_run_check_leaves_the_random_state_as_it_found_it(perfect, check):
    """The xor_training probe seeds np.random and student code draws from it: after run_check the next
    draws must be those the student's notebook would get without the hidden cell."""
    np.random.seed(1234)
    random.seed(1234)
    np_before, py_before = np.random.get_state(), random.getstate()
    assert grader.run_check(check, perfect) is True
    np_after, py_after = np.random.get_state(), random.getstate()
    assert np_after[0] == np_before[0] and np.array_equal(np_after[1], np_before[1])
    assert np_after[2:] == np_before[2:]
    assert py_after == py_before


def test_the_random_state_comes_back_when_student_code_raises():
    """A student's train that draws numbers and then fails must not leave the state moved either."""
    def train(*args, **kwargs):
        np.random.rand(1000)
        random.random()
        raise RuntimeError("student bug")
    ns = dict(namespace_of(os.path.join(EXAMPLES, "perfect.ipynb")), train=train)
    np.random.seed(7)
    random.seed(7)
    expected = (np.random.rand(3), random.random())
    np.random.seed(7)
    random.seed(7)
    with pytest.raises(grader.CheckFailed):
        grader.run_check("xor_training", ns)
    got = (np.random.rand(3), random.random())
    assert np.array_equal(got[0], expected[0]) and got[1] == expected[1]


# --- problem 3: a failed check is its verdict, wrapped, and nothing else ---------------------------

def test_a_failed_check_raises_its_wrapped_verdict():
    ns = namespace_of(os.path.join(EXAMPLES, "no_relu_mask.ipynb"))
    with pytest.raises(grader.CheckFailed) as caught:
        grader.run_check("backward_relu", ns)
    lines = caught.value._render_traceback_()
    assert lines[0].startswith("✗ backward pass, ReLU") and "(0 of 8 points)" in lines[0]
    assert lines == str(caught.value).splitlines(), "what IPython shows is the verdict, nothing more"
    assert all(len(line) <= grader.WIDTH for line in lines), [line for line in lines if len(line) > grader.WIDTH]
    assert "dL/d" in str(caught.value)


def test_wrap_keeps_short_lines_and_indents_continuations():
    long = "  " + " ".join(["word"] * 60)
    out = grader.wrap("short line\n" + long, width=40).splitlines()
    assert out[0] == "short line"
    assert all(len(line) <= 40 for line in out)
    assert out[1].startswith("  word") and all(line.startswith("    word") for line in out[2:])
    assert " ".join(" ".join(out[1:]).split()) == " ".join(long.split()), "no word lost"


# --- problem 4: hints name the activation the check uses ---------------------------------------------

def test_backward_hints_name_the_activation_of_the_check():
    ns = namespace_of(os.path.join(CORPUS, "backward_without_mask.ipynb"))
    mlp = get_assignment("mlp")
    relu = grader.verdict_message(mlp, "backward_relu", ns)
    sigmoid = grader.verdict_message(mlp, "backward_sigmoid", ns)
    assert "the factor φ'(a1) is missing" in relu and "the factor φ'(a1) is missing" in sigmoid
    assert "a1 > 0" in relu
    assert "mask" not in sigmoid and "ReLU" not in sigmoid, sigmoid
    assert "σ(a1)(1 − σ(a1))" in sigmoid


def test_no_relu_word_in_a_sigmoid_hint():
    """Every candidate hint a sigmoid check can give (activation and backward) is free of ReLU's mask."""
    from autograder.assignments.mlp import hints
    rng = np.random.default_rng(0)
    params = {"W1": rng.standard_normal((3, 2)), "b1": rng.standard_normal(3),
              "W2": rng.standard_normal((1, 3)), "b2": rng.standard_normal(1)}
    x, y = rng.standard_normal((4, 2)), rng.standard_normal(4)
    texts = [h for part in ("forward", "derivative") for _, h in hints.activation("Sigmoid", part, x)]
    texts += [h for key in ("dL_dW1", "dL_db1", "dL_dW2", "dL_db2") for _, h in hints.backward(params, x, y,
                                                                                                 "sigmoid", key)]
    texts += [h for q in ("f", "a1", "h1") for _, h in hints.forward(params, x, "sigmoid", q)]
    assert texts and not [t for t in texts if "ReLU" in t or "a1 > 0" in t or "mask" in t]


# --- problems 1-3 end to end: nbgrader autograde and generate_feedback, and the student's own run ----

def run_all(path, folder):
    """The student's own Run All of `path` in a real kernel, in a copy of the release folder."""
    import nbclient
    shutil.copytree(RELEASE, folder)
    nb = nbformat.read(path, as_version=4)
    old = os.environ.get("MPLBACKEND")
    os.environ["MPLBACKEND"] = INLINE           # as Jupyter's own default in a notebook
    try:
        nbclient.NotebookClient(nb, timeout=120, resources={"metadata": {"path": folder}}).execute()
    finally:
        if old is None:
            os.environ.pop("MPLBACKEND")
        else:
            os.environ["MPLBACKEND"] = old
    return nb


def images(nb):
    return sum("image/png" in o.get("data", {}) for c in nb.cells for o in c.get("outputs", []))


def printed(nb, pattern):
    text = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", [])
                   if o.get("output_type") == "stream")
    return re.findall(pattern, text)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """`python -m autograder nbgrader-run` on two submissions, in a course whose submitted/ already holds
    a third student (who must be left alone), and the student's own Run All of the perfect notebook."""
    course = make_course(str(tmp_path_factory.mktemp("course")))
    earlier = os.path.join(course, "submitted", "earlier_student", "mlp")
    os.makedirs(earlier)
    shutil.copy(os.path.join(EXAMPLES, "blank.ipynb"), os.path.join(earlier, "mlp.ipynb"))
    given = tmp_path_factory.mktemp("given")
    for student in ("perfect", "no_relu_mask"):
        shutil.copy(os.path.join(EXAMPLES, student + ".ipynb"), given / (student + ".ipynb"))
    proc = subprocess.run([sys.executable, "-m", "autograder", "nbgrader-run", "--submissions", str(given),
                           "--no-pytest"], cwd=course, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    own = run_all(os.path.join(EXAMPLES, "perfect.ipynb"), str(tmp_path_factory.mktemp("own") / "mlp"))
    return course, own, proc.stdout


def autograded(course, student):
    return nbformat.read(os.path.join(course, "autograded", student, "mlp", "mlp.ipynb"), as_version=4)


def feedback(course, student):
    with open(os.path.join(course, "feedback", student, "mlp", "mlp.html"), encoding="utf-8") as f:
        return f.read()


@pytest.mark.slow
def test_the_feedback_shows_the_students_plots(graded):
    course, own, _ = graded
    shown = images(own)
    assert shown >= 3, "the perfect example draws its data, its history and its decision boundary"
    assert images(autograded(course, "perfect")) == shown
    assert len(re.findall(r"<img\b[^>]*src=\"data:image/png", feedback(course, "perfect"))) == shown


@pytest.mark.slow
def test_the_feedback_shows_the_numbers_the_student_saw(graded):
    """The hidden cells between the student's cells must not change the student's random numbers."""
    course, own, _ = graded
    pattern = r"Validation loss [\d.]+, accuracy [\d.]+%"
    seen = printed(own, pattern)
    assert len(seen) == 1
    assert printed(autograded(course, "perfect"), pattern) == seen
    epochs = r"(?m)^.*[Ee]poch.*$"
    assert printed(autograded(course, "perfect"), epochs) == printed(own, epochs)


def output_text(output):
    """The text of a stream output, or of a display output's text/plain (the sandbox's verdicts)."""
    return output.get("text") or output.get("data", {}).get("text/plain", "")


@pytest.mark.slow
def test_a_failed_check_reads_as_its_verdict_without_a_traceback(graded):
    """Every failed test cell shows the recorded verdict (the kernel's own ✗, or the sandbox's when a
    visible test's assert stopped the cell first), wrapped, and no Python traceback; the kernel still
    scored the failed cells 0 (its total, the table's kernel column, equals the recorded score)."""
    course, _, stdout = graded
    # student assignment score max auto manual kernel: the recorded score and the kernel's
    row = re.search(r"^no_relu_mask\s+mlp\s+(\S+)\s+100\s+\S+\s+-\s+(\S+)", stdout, re.M)
    assert row and row.group(1) == row.group(2) and float(row.group(1)) < 100, stdout
    nb = autograded(course, "no_relu_mask")
    nbformat.validate(nb)                  # the verdicts written into it keep it a valid notebook
    failed = {gid for gid, score in cell_scores(course, "no_relu_mask").items() if score == 0}
    assert failed
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid not in failed:
            continue
        shown = [line for o in cell.outputs for line in (o.get("traceback") or output_text(o).splitlines())]
        assert any(line.startswith("✗ ") and "(0 of" in line for line in shown), (gid, shown)
        assert all(len(line) <= grader.WIDTH for line in shown), (gid, [x for x in shown if len(x) > grader.WIDTH])
    html = feedback(course, "no_relu_mask")
    assert "most recent call last" not in html, "no Python traceback in the feedback"
    assert "✗ backward pass, ReLU" in html and "dL/d" in html


@pytest.mark.slow
def test_nbgrader_run_grades_exactly_the_students_given_with_progress(graded):
    """Two submissions given, a third student already in submitted/: two are autograded (one progress
    line each), the table lists them, and the third gets no autograded notebook and no feedback."""
    course, _, stdout = graded
    assert "autograde: 2 submission(s)" in stdout
    assert "the 1 other submission(s) in submitted/ are left as they are" in stdout
    progress = re.findall(r"^  \[(\d)/2\] (\w+) \(mlp\): autograded \([\d.]+ s\)$", stdout, re.M)
    assert sorted(progress) == [("1", "no_relu_mask"), ("2", "perfect")] or \
        sorted(p[1] for p in progress) == ["no_relu_mask", "perfect"], stdout
    table = [line.split()[0] for line in stdout.splitlines() if re.match(r"^\w+\s+mlp\s+\d+\s+100\s", line)]
    assert table == ["no_relu_mask", "perfect"]
    for folder in ("autograded", "feedback"):
        assert not os.path.exists(os.path.join(course, folder, "earlier_student")), folder
    for student in table:
        assert os.path.exists(os.path.join(course, "feedback", student, "mlp", "mlp.html"))
    assert "sandbox: grading 2 submitted mlp notebook(s)" in stdout
    sandboxed = re.findall(r"^  sandbox \[(\d)/2\] (\w+): (\d+) \([\d.]+ s\)$", stdout, re.M)
    assert sorted(name for _, name, _ in sandboxed) == ["no_relu_mask", "perfect"], stdout
    assert dict((name, score) for _, name, score in sandboxed)["perfect"] == "100"


# --- problem 8: Formgrader shows a score for a submission that kills its kernel -----------------------

def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def formgrader(course):
    """A real `jupyter server` (nbgrader's formgrader extension) in the course, on 127.0.0.1 with a token."""
    import json
    import time
    import urllib.request
    port, token = free_port(), "feedback-test-token"
    bin_dir = os.path.dirname(sys.executable)
    env = dict(os.environ, PATH=bin_dir + os.pathsep + os.environ.get("PATH", ""))
    server = subprocess.Popen([os.path.join(bin_dir, "jupyter"), "server", "--allow-root", "--no-browser",
                               f"--port={port}", "--ServerApp.ip=127.0.0.1", f"--ServerApp.token={token}",
                               f"--ServerApp.root_dir={course}"], cwd=course, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def api(path, method="GET"):
        request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                         data=b"" if method == "POST" else None,
                                         headers={"Authorization": f"token {token}"})
        with urllib.request.urlopen(request, timeout=300) as response:
            return json.loads(response.read())
    try:
        for _ in range(120):
            try:
                api("/api/status")
                break
            except OSError:
                time.sleep(0.5)
        yield api
    finally:
        server.terminate()
        server.wait(30)


@pytest.mark.slow
def test_formgrader_scores_a_submission_that_kills_its_kernel(tmp_path):
    """Formgrader's Autograde button on os_exit (collected with a timestamp, as `nbgrader collect` does):
    no DeadKernelError, the submission is autograded with a score; after sync-gradebook the score is
    the sandbox's, the one the submission deserves."""
    from examples.catalogue import BY_NAME
    from autograder.assignments.mlp.checks import CHECKS
    course = make_course(str(tmp_path / "course"))
    assert nbgrader(course, "generate_assignment", "mlp", "--force").returncode == 0
    dest = os.path.join(course, "submitted", "os_exit", "mlp")
    os.makedirs(dest)
    shutil.copy(os.path.join(EXAMPLES, "os_exit.ipynb"), os.path.join(dest, "mlp.ipynb"))
    with open(os.path.join(dest, "timestamp.txt"), "w") as f:
        f.write("2026-11-20 10:00:00.000000 UTC")
    deserved = 100 - sum(CHECKS[name].points for name in BY_NAME["os_exit"].fails)
    with formgrader(course) as api:
        [before] = api("/formgrader/api/submissions/mlp")
        assert before["autograded"] is False, "collected, not yet autograded"
        result = api("/formgrader/api/submission/mlp/os_exit/autograde", method="POST")
        assert result["success"] is True and "DeadKernelError" not in result.get("error", ""), result
        [after] = api("/formgrader/api/submissions/mlp")
        assert after["autograded"] is True and after["needs_manual_grade"] is False
        assert after["score"] == deserved, "the test cells the kernel never ran score 0 in its run"
        nb = nbformat.read(os.path.join(course, "autograded", "os_exit", "mlp", "mlp.ipynb"), as_version=4)
        marked = [c.metadata["nbgrader"]["grade_id"] for c in nb.cells
                  if any(o.get("ename") == "KernelDied" for o in c.get("outputs", []))]
        assert marked and set(marked) <= {f"test_{name}" for name in BY_NAME["os_exit"].fails}
        bin_dir = os.path.dirname(sys.executable)
        proc = subprocess.run([sys.executable, "-m", "autograder", "sync-gradebook", "mlp"], cwd=course,
                              capture_output=True, text=True,
                              env=dict(os.environ, PATH=bin_dir + os.pathsep + os.environ.get("PATH", "")))
        assert proc.returncode == 0, proc.stdout + proc.stderr
        [synced] = api("/formgrader/api/submissions/mlp")
        assert synced["autograded"] is True and synced["score"] == deserved


def test_nbgrader_run_refuses_to_overwrite_a_grade_all_csv(tmp_path):
    """nbgrader export writes grades.csv: a grades.csv that grade-all wrote is refused before anything runs."""
    from autograder.batch import CSV_FIELDS
    course = make_course(str(tmp_path / "course"))
    theirs = ",".join(CSV_FIELDS) + "\nann,100,100,graded,,,bwrap\n"
    with open(os.path.join(course, "grades.csv"), "w") as f:
        f.write(theirs)
    proc = subprocess.run([sys.executable, "-m", "autograder", "nbgrader-run", "--submissions", EXAMPLES,
                           "--no-pytest"], cwd=course, capture_output=True, text=True)
    assert proc.returncode == 2 and "written by grade-all" in proc.stderr and "--overwrite" in proc.stderr
    with open(os.path.join(course, "grades.csv")) as f:
        assert f.read() == theirs
    assert not os.path.exists(os.path.join(course, "submitted")), "nothing was collected"
