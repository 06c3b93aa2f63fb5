"""The instructor's side in a real browser: a student's feedback page and Formgrader's submissions list.

The main job (`python -m autograder nbgrader-run`, the real nbgrader CLI) grades a few example
submissions in a throwaway copy of the course (tests/nbgrader_course.py), then headless Chromium
(tests/browser/lab.py) opens what people look at:

* feedback/<student>/mlp/mlp.html as the student opens the file they are sent: their plots are drawn
  (loaded images, not empty placeholders), their score is the recorded one, and nothing the student
  must not see is on the page (hidden tests, the instructor's solution);
* Formgrader, opened from the Nbgrader menu of a real `jupyter lab` started in the graded course (its
  nbgrader_config.py makes it an instructor's lab): the mlp submissions list shows a numeric score for every submission, including
  one that killed its kernel and one that is not a notebook at all.

SAVE_SCREENSHOTS=1 also writes docs/screenshots/instructor-*.png (the README shows them).
"""
import os
import re
import shutil
import subprocess
import sys

import nbformat
import pytest

from lab import start_lab
from tests.nbgrader_course import ROOT, make_course

# Graded once per module. Each is a different path through the main job; the endless loop and the
# rest of examples/submissions are left to tests/test_nbgrader_path.py (keeps the browser run short).
STUDENTS = {
    "blank": "the release submitted untouched: none of the solution is theirs",
    "no_relu_mask": "a wrong backward pass whose training still runs: plots and a partial score",
    "os_exit": "kills its kernel: nbgrader records nothing, the sandbox's score must still show",
    "invalid_json": "not a notebook: no kernel at all, recorded as 0",
}
WITH_PLOTS = "no_relu_mask"
WITHOUT_SOLUTION = "blank"
# the graded copy's notebooks, not the checkout's: the pages show what was graded
SOURCE = os.path.join("source", "mlp", "mlp.ipynb")
RELEASE = os.path.join("release", "mlp", "mlp.ipynb")
SCREENSHOTS = os.path.join(ROOT, "docs", "screenshots")
SCORE = re.compile(r"^(\d+(?:\.\d+)?) / (\d+(?:\.\d+)?)$")


@pytest.fixture(scope="module")
def graded_course(tmp_path_factory):
    """A course copy after the main job on STUDENTS: (course dir, {student: recorded score})."""
    course = make_course(str(tmp_path_factory.mktemp("course")))
    submissions = str(tmp_path_factory.mktemp("submissions"))
    for student in STUDENTS:
        shutil.copy(os.path.join(ROOT, "examples", "submissions", student + ".ipynb"), submissions)
    bin_dir = os.path.dirname(sys.executable)
    env = dict(os.environ, PATH=bin_dir + os.pathsep + os.environ.get("PATH", ""))
    proc = subprocess.run([sys.executable, "-m", "autograder", "nbgrader-run", "--no-pytest",
                           "--submissions", submissions], cwd=course, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return course, recorded_scores(proc.stdout)


def recorded_scores(stdout):
    """{student: score} from the main job's table (its `score` column is what the gradebook records)."""
    scores = {}
    for line in stdout.splitlines():
        parts = line.split()
        if len(parts) >= 4 and parts[0] in STUDENTS and parts[1] == "mlp" and parts[2].replace(".", "", 1).isdigit():
            scores[parts[0]] = float(parts[2])        # columns: student, assignment, score, ...
    assert set(scores) == set(STUDENTS), f"the main job's table lacks {set(STUDENTS) - set(scores)}:\n{stdout}"
    return scores


@pytest.fixture(scope="module")
def instructor_lab(graded_course):
    """`jupyter lab` with the graded course as its root (and working directory: nbgrader_config.py)."""
    with start_lab(graded_course[0]) as lab:
        yield lab


def delimited_lines(course, begin, end, min_length):
    """Distinctive lines of the source notebook between `begin` and `end` delimiters: at least
    min_length characters, and nowhere in the release (so a student who wrote nothing cannot have them)."""
    release = "\n".join(cell.source for cell in nbformat.read(os.path.join(course, RELEASE), as_version=4).cells)
    lines, inside = [], False
    for cell in nbformat.read(os.path.join(course, SOURCE), as_version=4).cells:
        for line in cell.source.splitlines():
            text = line.strip()
            if begin in text or end in text:
                inside = begin in text
            elif inside and len(text) >= min_length and text not in release:
                lines.append(text)
    return lines


def solution_lines(course):
    """The instructor's solution: lines of the source's `### BEGIN SOLUTION` blocks."""
    lines = delimited_lines(course, "BEGIN SOLUTION", "END SOLUTION", 20)
    assert len(lines) >= 10, "the source notebook's solution blocks were not found"
    return lines


def hidden_test_lines(course):
    """The delimiters and every line of the source's `### BEGIN HIDDEN TESTS` blocks."""
    lines = delimited_lines(course, "BEGIN HIDDEN TESTS", "END HIDDEN TESTS", 1)
    assert lines, "the source notebook's hidden tests were not found"
    return ["BEGIN HIDDEN TESTS", "END HIDDEN TESTS", "run_check", *sorted(set(lines))]


def plots_in_release(course):
    """How many figures a notebook that runs to the end shows: the release's plt.show() calls."""
    cells = nbformat.read(os.path.join(course, RELEASE), as_version=4).cells
    return sum(cell.source.count("plt.show()") for cell in cells if cell.cell_type == "code")


def open_feedback(page, course, student):
    """Open the student's feedback HTML as they would (a local file) and return the page's text."""
    path = os.path.join(course, "feedback", student, "mlp", "mlp.html")
    assert os.path.exists(path), f"no feedback written for {student}: {path}"
    page.goto("file://" + path, wait_until="load")
    return page.inner_text("body")


def images(page):
    """[(complete, naturalWidth, naturalHeight)] for every <img>: a broken or empty image has size 0."""
    return page.eval_on_selector_all("img", "els => els.map(e => [e.complete, e.naturalWidth, e.naturalHeight])")


def save_screenshot(page, name, **kwargs):
    """docs/screenshots/<name>.png, only when SAVE_SCREENSHOTS=1 (tests never rewrite committed files)."""
    if os.environ.get("SAVE_SCREENSHOTS") == "1":
        os.makedirs(SCREENSHOTS, exist_ok=True)
        page.screenshot(path=os.path.join(SCREENSHOTS, name + ".png"), **kwargs)


def test_feedback_shows_the_students_plots_and_recorded_score(page, graded_course):
    course, scores = graded_course
    text = open_feedback(page, course, WITH_PLOTS)
    shown = images(page)
    assert len(shown) == plots_in_release(course), (
        f"{WITH_PLOTS}'s feedback shows {len(shown)} image(s); the notebook draws {plots_in_release(course)} "
        "figures (the grading kernel must use the inline matplotlib backend, not Agg)")
    assert all(complete and width > 0 and height > 0 for complete, width, height in shown), shown
    total = re.search(r"mlp \(Score: ([\d.]+) / ([\d.]+)\)", text)
    assert total, "the feedback shows no total score"
    assert (float(total[1]), float(total[2])) == (scores[WITH_PLOTS], 100.0)
    cells = [float(points) for points in re.findall(r"Test cell \(Score: ([\d.]+) / [\d.]+\)", text)]
    assert cells and sum(cells) == scores[WITH_PLOTS], "the cell scores shown add up to the total"
    assert "dL/dW1" in text, "the judge's message about the wrong gradient reaches the student"
    # the training curves and the decision boundary this student's bug produced
    page.locator("img").nth(min(1, len(shown) - 1)).evaluate("e => e.scrollIntoView({block: 'start'})")
    save_screenshot(page, "instructor-feedback")


@pytest.mark.parametrize("student", [s for s in STUDENTS if s != "invalid_json"])
def test_feedback_shows_no_hidden_tests(page, graded_course, student):
    text = open_feedback(page, graded_course[0], student)
    leaked = [line for line in hidden_test_lines(graded_course[0]) if line in text]
    assert not leaked, f"{student}'s feedback shows the hidden tests: {leaked}"


def test_feedback_shows_no_solution_the_student_did_not_write(page, graded_course):
    course = graded_course[0]
    lines = solution_lines(course)
    # the control: a student who wrote the solution (with one bug) sees their own lines, so the
    # check below would see the instructor's lines if they were on the page
    own = open_feedback(page, course, WITH_PLOTS)
    found = sum(line in own for line in lines)
    assert found >= len(lines) // 2, f"only {found} of {len(lines)} solution lines found in {WITH_PLOTS}'s own feedback"
    text = open_feedback(page, course, WITHOUT_SOLUTION)
    leaked = [line for line in lines if line in text]
    assert not leaked, f"the untouched release's feedback shows {len(leaked)} solution line(s): {leaked[:5]}"


def submissions_table(frame):
    """{student id: (status, score text)} from Formgrader's Manage Submissions table (its rows are
    filled in by JavaScript once the submissions arrive: wait for a student id cell)."""
    frame.locator("#main-table td.student-id").first.wait_for(timeout=30_000)
    rows = {}
    for row in frame.locator("#main-table tr").all():
        student = row.locator("td.student-id").inner_text().strip()
        rows[student] = (row.locator("td.status").inner_text().strip(), row.locator("td.score").inner_text().strip())
    return rows


def open_formgrader(page, lab):
    """JupyterLab's Nbgrader menu -> Formgrader, as an instructor opens it; returns the panel's frame."""
    page.goto(lab.url("lab"), wait_until="load")
    page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").click(timeout=60_000)
    page.locator("#jp-mainmenu-nbgrader").get_by_text("Formgrader", exact=True).click()
    return page.frame_locator("iframe[src*='formgrader']")


def test_formgrader_lists_every_submission_with_its_score(page, graded_course, instructor_lab):
    course, scores = graded_course
    formgrader = open_formgrader(page, instructor_lab)
    # Manage Assignments -> the mlp row's "# Submissions" count links to its submissions list
    formgrader.locator("#main-table tr", has_text="mlp").locator("a[href*='manage_submissions/mlp']").first.click(
        timeout=30_000)
    rows = submissions_table(formgrader)
    assert set(rows) == set(STUDENTS), f"Formgrader lists {sorted(rows)}"
    unscored = {student: status for student, (status, score) in rows.items() if not SCORE.match(score)}
    assert not unscored, f"Formgrader shows no score for {unscored}"
    shown = {student: float(SCORE.match(score)[1]) for student, (status, score) in rows.items()}
    assert shown == scores, "Formgrader shows the recorded scores"
    assert {status for status, _ in rows.values()} == {"graded"}
    save_screenshot(page, "instructor-formgrader")
