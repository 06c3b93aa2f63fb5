"""The student's side in a real browser: the student's JupyterLab, Fetch, Validate, Submit.

A throwaway copy of the course (tests/nbgrader_course.py) is released with the real nbgrader CLI
into its exchange (<course>/exchange, the course's default). Then a real `jupyter lab` runs the way
student/lab.sh starts it: in a work folder outside the course, with JUPYTER_CONFIG_DIR=student/jupyter.
Headless Chromium (tests/browser/lab.py) checks what the student sees and does:

* the Assignment List lists `mlp` as released and its Fetch button copies it into the work folder;
  none of the instructor's tools are there (no Formgrader or Course List in the Nbgrader menu, no
  Create Assignment sidebar, /formgrader not served);
* a notebook opened, run (Run All Cells) and validated with the Validate button: a backward pass that
  forgets the ReLU mask (examples/submissions/no_relu_mask.ipynb) must fail validation, the
  instructor's solution (examples/submissions/perfect.ipynb) must pass;
* the Submit button hands the edited notebook in, and the instructor's `nbgrader collect` puts exactly
  that file into submitted/<student>/mlp/ (the student id is the OS user name: whoever runs pytest).

SAVE_SCREENSHOTS=1 also writes docs/screenshots/student-assignments.png and student-notebook.png.
"""
import os
import pwd
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from lab import start_lab
from tests.nbgrader_course import ROOT, make_course
from tests.test_exchange import assert_course_exchange

COURSE_ID = "nn-from-scratch"
EXAMPLES = os.path.join(ROOT, "examples", "submissions")
SCREENSHOTS = os.path.join(ROOT, "docs", "screenshots")
TIMEOUT = 60_000      # ms: a loaded 2-core CI machine
RUN_TIMEOUT = 180_000  # ms: Run All Cells, training included, or Validate (which runs the notebook again)


def nbgrader(cwd, *args, config_dir=None):
    """The venv's nbgrader CLI in cwd; config_dir: a student's JUPYTER_CONFIG_DIR (None: instructor)."""
    bin_dir = os.path.dirname(sys.executable)
    env = dict(os.environ, PATH=bin_dir + os.pathsep + os.environ.get("PATH", ""))
    env.pop("JUPYTER_CONFIG_DIR", None)
    env.pop("NN_EXCHANGE_ROOT", None)
    if config_dir is not None:
        env["JUPYTER_CONFIG_DIR"] = config_dir
    result = subprocess.run([os.path.join(bin_dir, "nbgrader"), *args], cwd=cwd, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A course copy (with student/) whose mlp the instructor has released into <course>/exchange."""
    root = make_course(str(tmp_path_factory.mktemp("course")))
    shutil.copytree(os.path.join(ROOT, "student"), os.path.join(root, "student"))
    assert_course_exchange(root)      # before releasing: never into nbgrader's system-wide default
    nbgrader(root, "release_assignment", "mlp")
    assert os.path.isfile(os.path.join(root, "exchange", COURSE_ID, "outbound", "mlp", "mlp.ipynb"))
    return root


@pytest.fixture(scope="module")
def student_lab(course, tmp_path_factory):
    """The student's `jupyter lab`: work folder outside the course, JUPYTER_CONFIG_DIR=student/jupyter,
    settings and workspaces in the scratch folder (what student/lab.sh does, on a free port)."""
    work = tmp_path_factory.mktemp("work")
    home = tmp_path_factory.mktemp("home")
    env = {"JUPYTERLAB_SETTINGS_DIR": str(home / "user-settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces")}
    with start_lab(str(work), env=env, config_dir=os.path.join(course, "student", "jupyter")) as lab:
        lab.work = str(work)
        yield lab


def screenshot(page, name):
    """docs/screenshots/<name> when SAVE_SCREENSHOTS=1 (the README shows them)."""
    if os.environ.get("SAVE_SCREENSHOTS") == "1":
        os.makedirs(SCREENSHOTS, exist_ok=True)
        page.screenshot(path=os.path.join(SCREENSHOTS, name))


def open_lab(page, lab, path="lab"):
    """Load JupyterLab at `path` and wait until its menu bar is drawn."""
    page.goto(lab.url(path))
    page.locator("#jp-menu-panel .lm-MenuBar-itemLabel", has_text="File").wait_for(timeout=TIMEOUT)


def open_menu(page, title):
    page.locator("#jp-menu-panel .lm-MenuBar-itemLabel").filter(has_text=re.compile(f"^{title}$")).click()
    menu = page.locator(".lm-Menu").last
    menu.wait_for(timeout=TIMEOUT)
    return menu


def open_assignment_list(page):
    """Nbgrader → Assignment List, once its released list has loaded; the panel and the labels of
    the Nbgrader menu's visible items."""
    items = open_menu(page, "Nbgrader").locator(".lm-Menu-item:visible .lm-Menu-itemLabel")
    labels = [label.strip() for label in items.all_inner_texts()]    # what the student can see
    items.filter(has_text=re.compile("^Assignment List$")).click()
    panel = page.locator("#nbgrader-assignment-list")
    panel.locator("#released_assignments_list_loading").wait_for(state="hidden", timeout=TIMEOUT)
    return panel, labels


def served(lab, path):
    """The HTTP status of GET path on the lab server (with the token)."""
    try:
        with urllib.request.urlopen(lab.url(path), timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_assignment_list_fetch_and_no_instructor_tools(student_lab, course, page):
    open_lab(page, student_lab)
    panel, menu_labels = open_assignment_list(page)
    assert menu_labels == ["Assignment List"], f"the Nbgrader menu offers {menu_labels}"
    right_tabs = page.locator(".jp-SideBar.jp-mod-right .lm-TabBar-tab")
    right_tabs.first.wait_for(timeout=TIMEOUT)
    assert page.locator('[data-id="nbgrader-create_assignemnt"]').count() == 0, "Create Assignment sidebar shown"
    assert not any("Create Assignment" in title for title in right_tabs.evaluate_all("t => t.map(e => e.title)"))
    assert served(student_lab, "formgrader") == 404, "the formgrader server extension is running"

    released = panel.locator("#released_assignments_list")
    assert re.search(rf"\bmlp\b.*\b{COURSE_ID}\b", released.inner_text(), re.S), released.inner_text()
    released.get_by_role("button", name="Fetch").click()
    fetched = panel.locator("#fetched_assignments_list")
    fetched.get_by_role("button", name="Submit").wait_for(timeout=TIMEOUT)
    with open(os.path.join(course, "release", "mlp", "mlp.ipynb"), "rb") as f, \
            open(os.path.join(student_lab.work, "mlp", "mlp.ipynb"), "rb") as g:
        assert f.read() == g.read(), "Fetch did not copy the released notebook into the work folder"


PROMPTS_AND_STATUS = """() => ({
    prompts: [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell .jp-InputPrompt')]
        .map(p => p.textContent.trim()),
    status: document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook-ExecutionIndicator')
        ?.dataset.status,
})"""


def wait_until_run(page, timeout_ms):
    """Wait until Run All Cells has finished: some cell ran, none is queued or running ([*]), and the
    kernel is idle. Fails with the prompts and kernel status seen last."""
    deadline = time.monotonic() + timeout_ms / 1000
    state = {}
    while time.monotonic() < deadline:
        state = page.evaluate(PROMPTS_AND_STATUS)
        prompts = state["prompts"]
        if (any(re.fullmatch(r"\[\d+\]:", p) for p in prompts) and not any("*" in p for p in prompts)
                and state["status"] == "idle"):
            return
        page.wait_for_timeout(500)
    pytest.fail(f"Run All Cells did not finish within {timeout_ms / 1000:.0f} s: {state}")


def run_all_and_validate(page, lab, folder):
    """Open <folder>/mlp.ipynb, Run All Cells, wait for the kernel, click Validate; the dialog."""
    open_lab(page, lab, f"lab/tree/{folder}/mlp.ipynb?reset")   # reset: only this notebook, nothing restored
    notebook = page.locator(".jp-NotebookPanel:visible")
    notebook.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").wait_for(timeout=TIMEOUT)
    notebook.locator(".jp-Cell").first.click()                 # the notebook is the current widget
    run_all = open_menu(page, "Run").locator(".lm-Menu-item:not(.lm-mod-disabled)").filter(
        has_text=re.compile("^Run All Cells"))
    run_all.wait_for(timeout=TIMEOUT)
    run_all.click()
    wait_until_run(page, RUN_TIMEOUT)
    notebook.locator(".validate-button").first.click()
    dialog = page.locator(".jp-Dialog")
    dialog.locator(".validation-failed, .validation-success, .validation-error, pre").first.wait_for(
        timeout=RUN_TIMEOUT)
    return dialog


def student_copy(lab, example):
    """The released files in <work>/<example>/, with examples/submissions/<example>.ipynb as mlp.ipynb
    (the notebook a student would have after editing the fetched one)."""
    folder = os.path.join(lab.work, example)
    shutil.copytree(os.path.join(ROOT, "release", "mlp"), folder)
    shutil.copy(os.path.join(EXAMPLES, example + ".ipynb"), os.path.join(folder, "mlp.ipynb"))
    return example


def test_validate_fails_a_backward_without_relu_mask(student_lab, page):
    dialog = run_all_and_validate(page, student_lab, student_copy(student_lab, "no_relu_mask"))
    dialog.evaluate("d => d.querySelectorAll('*').forEach(e => { e.scrollTop = e.scrollHeight; })")  # the error
    screenshot(page, "student-notebook.png")
    assert dialog.locator(".validation-failed").count() == 1, \
        f"Validate did not report a failure for a backward without the ReLU mask:\n{dialog.inner_text()}"
    assert "backward" in dialog.inner_text(), f"the failed cell is not backward's test:\n{dialog.inner_text()}"


def test_validate_passes_the_solution(student_lab, page):
    dialog = run_all_and_validate(page, student_lab, student_copy(student_lab, "perfect"))
    assert dialog.locator(".validation-success").count() == 1, dialog.inner_text()
    assert "Success! Your notebook passes all the tests." in dialog.inner_text()


def test_submit_then_instructor_collects(student_lab, course, page):
    notebook = os.path.join(student_lab.work, "mlp", "mlp.ipynb")
    if not os.path.exists(notebook):      # the Fetch test did not run (e.g. -k): fetch like a student would
        nbgrader(student_lab.work, "fetch_assignment", "mlp",
                 config_dir=os.path.join(course, "student", "jupyter"))
    shutil.copy(os.path.join(EXAMPLES, "perfect.ipynb"), notebook)   # the student's work
    open_lab(page, student_lab)
    panel, _ = open_assignment_list(page)
    panel.locator("#fetched_assignments_list").get_by_role("button", name="Submit").click()
    submitted = panel.locator("#submitted_assignments_list")
    submitted.get_by_text(re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")).first.wait_for(timeout=TIMEOUT)
    screenshot(page, "student-assignments.png")

    result = nbgrader(course, "collect", "mlp")
    assert "Processing 1 submissions" in result.stdout + result.stderr
    student = pwd.getpwuid(os.geteuid()).pw_name
    with open(os.path.join(course, "submitted", student, "mlp", "mlp.ipynb"), "rb") as f, \
            open(os.path.join(EXAMPLES, "perfect.ipynb"), "rb") as g:
        assert f.read() == g.read(), "the collected notebook is not the one the student submitted"
