"""A throwaway copy of the course directory, graded with the real nbgrader CLI.

Tests never write submitted/, autograded/ or gradebook.db in the repository: they copy
the course (nbgrader_config.py is the course root) into a temporary folder and run
nbgrader there.
"""
import os
import shutil
import subprocess
import sys

from nbgrader.api import Gradebook

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COURSE_FILES = ("nbgrader_config.py", "pytest.ini", "source", "src", "autograder", "release", "tests", "examples")
COURSE_ID = "nn-from-scratch"


def make_course(directory):
    """Copy the course into `directory` (symlinks in source/ stay relative and resolve inside the copy)."""
    for name in COURSE_FILES:
        src, dst = os.path.join(ROOT, name), os.path.join(directory, name)
        if os.path.isdir(src):
            shutil.copytree(src, dst, symlinks=True, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
        else:
            shutil.copy(src, dst)
    return directory


def nbgrader(course, *args):
    bin_dir = os.path.dirname(sys.executable)
    env = dict(os.environ, PATH=bin_dir + os.pathsep + os.environ.get("PATH", ""))
    return subprocess.run([os.path.join(bin_dir, "nbgrader"), *args], cwd=course, env=env,
                          capture_output=True, text=True)


def autograde(course, notebooks):
    """Release, submit {student: notebook path}, autograde all at once. Returns nbgrader's CompletedProcess."""
    assert nbgrader(course, "generate_assignment", "mlp", "--force").returncode == 0
    for student, path in notebooks.items():
        dest = os.path.join(course, "submitted", student, "mlp")
        os.makedirs(dest, exist_ok=True)
        shutil.copy(path, os.path.join(dest, "mlp.ipynb"))
    return nbgrader(course, "autograde", "mlp", "--force")


def cell_scores(course, student):
    """{test cell grade_id: auto score} from the gradebook (empty if nbgrader recorded nothing)."""
    with Gradebook(f"sqlite:///{os.path.join(course, 'gradebook.db')}", course_id=COURSE_ID) as gb:
        try:
            notebook = gb.find_submission_notebook("mlp", "mlp", student)
        except Exception:  # noqa: BLE001 - MissingEntry: no submission recorded
            return {}
        return {g.name: g.auto_score for g in notebook.grades if g.name.startswith("test_")}
