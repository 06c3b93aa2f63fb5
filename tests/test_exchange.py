"""The course's exchange, end to end with the real nbgrader CLI and the real grader.

An instructor releases (`nbgrader release_assignment mlp` in the course root, with the course's
nbgrader_config.py), a student fetches and submits (`nbgrader fetch_assignment` / `nbgrader submit`
in a work folder of their own, with JUPYTER_CONFIG_DIR=student/jupyter, exactly what student/lab.sh
sets up), the instructor collects (`nbgrader collect mlp`) into submitted/<student>/mlp/ and
`python -m autograder grade` grades what was collected.

Everything happens in a scratch copy of the course (tests/nbgrader_course.py), whose exchange is the
default <course>/exchange: the repository's own exchange/ and submitted/ are never touched. The
student id is the OS user name (nbgrader's default), so this run's student is whoever runs pytest.

Student and instructor are the same OS user here. The permission model of a shared machine (students
write into the instructor's inbound/ folder, mode 2733, and cannot list it) is nbgrader's own and is not
re-tested as a second user: the course's venv lives under /root, which another user cannot execute.
"""
import json
import os
import pwd
import shutil
import subprocess
import sys

import pytest

from autograder.assignments.mlp.checks import MAX_SCORE
from tests.nbgrader_course import ROOT, make_course

COURSE_ID = "nn-from-scratch"
EXAMPLES = os.path.join(ROOT, "examples", "submissions")
LAB_SH = os.path.join(ROOT, "student", "lab.sh")
EXCHANGE_LINE = 'c.Exchange.root = os.environ.get("NN_EXCHANGE_ROOT") or os.path.join(COURSE_ROOT, "exchange")'


@pytest.fixture
def course(tmp_path):
    """A scratch course (with its student/ configuration), a student's work folder and a data dir."""
    root = make_course(str(tmp_path / "course"))
    shutil.copytree(os.path.join(ROOT, "student"), os.path.join(root, "student"))
    work = tmp_path / "work"
    work.mkdir()
    return {"root": root, "work": str(work), "data": str(tmp_path / "jupyter-data")}


def run_nbgrader(cwd, args, data_dir, config_dir=None):
    """The venv's nbgrader in `cwd`. config_dir is the student's JUPYTER_CONFIG_DIR (None: the
    instructor, whose configuration is the course root's nbgrader_config.py). JUPYTER_DATA_DIR is
    private: `nbgrader submit` keeps a cache there, never in the tester's home."""
    bin_dir = os.path.dirname(sys.executable)
    env = dict(os.environ, PATH=bin_dir + os.pathsep + os.environ.get("PATH", ""), JUPYTER_DATA_DIR=data_dir)
    env.pop("JUPYTER_CONFIG_DIR", None)
    env.pop("NN_EXCHANGE_ROOT", None)
    if config_dir is not None:
        env["JUPYTER_CONFIG_DIR"] = config_dir
    return subprocess.run([os.path.join(bin_dir, "nbgrader"), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def instructor(course, *args):
    return run_nbgrader(course["root"], args, course["data"])


def student(course, *args):
    return run_nbgrader(course["work"], args, course["data"],
                        config_dir=os.path.join(course["root"], "student", "jupyter"))


def ok(result):
    """Assert an nbgrader command succeeded; its output is the failure message."""
    assert result.returncode == 0, f"nbgrader failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
    return result


CONFIGURED_EXCHANGE = """
from nbgrader.apps.baseapp import NbGrader
from nbgrader.exchange.default.exchange import Exchange
app = NbGrader()
app.load_config_file()    # the nbgrader_config.py files of the Jupyter config path and of the working directory
print(Exchange(config=app.config).root)
"""


def configured_exchange(cwd, config_dir=None, exchange_env=None):
    """The Exchange.root nbgrader's commands would use in `cwd` (config_dir: a student's
    JUPYTER_CONFIG_DIR; exchange_env: NN_EXCHANGE_ROOT), read by nbgrader's own config loading
    without running any command."""
    env = dict(os.environ)
    env.pop("JUPYTER_CONFIG_DIR", None)
    env.pop("NN_EXCHANGE_ROOT", None)
    if config_dir is not None:
        env["JUPYTER_CONFIG_DIR"] = config_dir
    if exchange_env is not None:
        env["NN_EXCHANGE_ROOT"] = exchange_env
    result = subprocess.run([sys.executable, "-c", CONFIGURED_EXCHANGE], cwd=cwd, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def assert_course_exchange(root):
    """The instructor's config releases into <course>/exchange (checked before any release, so that a
    course copy without the setting never writes into nbgrader's system-wide default exchange)."""
    assert configured_exchange(root) == os.path.join(root, "exchange"), (
        "the instructor's exchange is not <course>/exchange: nbgrader_config.py must set\n    " + EXCHANGE_LINE)


def release(course):
    assert_course_exchange(course["root"])
    ok(instructor(course, "release_assignment", "mlp"))
    released = os.path.join(course["root"], "exchange", COURSE_ID, "outbound", "mlp", "mlp.ipynb")
    assert os.path.isfile(released), (
        "release_assignment did not release into <course>/exchange: nbgrader_config.py must set\n    "
        + EXCHANGE_LINE)


def submit(course, example):
    """The student replaces the fetched notebook by examples/submissions/<example> and submits it."""
    shutil.copy(os.path.join(EXAMPLES, example), os.path.join(course["work"], "mlp", "mlp.ipynb"))
    ok(student(course, "submit", "mlp"))


def os_user():
    return pwd.getpwuid(os.geteuid()).pw_name


def grade(course, notebook):
    """The course's grader on a collected notebook; its results.json."""
    out = os.path.join(course["root"], "results.json")
    result = subprocess.run([sys.executable, "-m", "autograder", "grade", notebook, "--json", out],
                            cwd=course["root"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    with open(out) as f:
        return json.load(f)


def collect(course):
    """The instructor collects (--update: a newer submission replaces the collected one); the path of
    the student's collected notebook."""
    collected = ok(instructor(course, "collect", "--update", "mlp"))
    assert "Processing 1 submissions" in collected.stdout + collected.stderr
    return os.path.join(course["root"], "submitted", os_user(), "mlp", "mlp.ipynb")


def same_bytes(path, example):
    with open(path, "rb") as f, open(os.path.join(EXAMPLES, example), "rb") as g:
        return f.read() == g.read()


@pytest.mark.slow
def test_release_fetch_submit_collect_grade(course):
    release(course)
    listed = ok(student(course, "list"))
    assert f"{COURSE_ID} mlp" in listed.stdout + listed.stderr

    ok(student(course, "fetch_assignment", "mlp"))
    with open(os.path.join(course["root"], "release", "mlp", "mlp.ipynb"), "rb") as f, \
            open(os.path.join(course["work"], "mlp", "mlp.ipynb"), "rb") as g:
        assert f.read() == g.read(), "the fetched notebook is not the released one"

    submit(course, "no_relu_mask.ipynb")      # a first attempt: backward forgets the ReLU mask
    notebook = collect(course)
    assert same_bytes(notebook, "no_relu_mask.ipynb")
    first = grade(course, notebook)
    assert first["status"] == "graded" and 0 < first["score"] < MAX_SCORE, first

    submit(course, "perfect.ipynb")           # the resubmission replaces it at the next collect
    inbound = os.listdir(os.path.join(course["root"], "exchange", COURSE_ID, "inbound"))
    assert len(inbound) == 2 and all(name.startswith(f"{os_user()}+mlp+") for name in inbound), inbound
    assert collect(course) == notebook and same_bytes(notebook, "perfect.ipynb"), "collect kept the old one"
    second = grade(course, notebook)
    assert second["status"] == "graded" and second["score"] == MAX_SCORE, second


def test_instructor_and_student_use_the_course_exchange(course):
    """Both configurations agree on <course>/exchange, and NN_EXCHANGE_ROOT moves it for both."""
    student_config = os.path.join(course["root"], "student", "jupyter")
    default = os.path.join(course["root"], "exchange")
    assert configured_exchange(course["work"], student_config) == default
    assert_course_exchange(course["root"])
    moved = os.path.join(course["data"], "shared-exchange")
    assert configured_exchange(course["work"], student_config, exchange_env=moved) == moved
    assert configured_exchange(course["root"], exchange_env=moved) == moved


def test_fetch_before_release_names_the_exchange(course):
    """Before the instructor's first release there is no exchange: the student is told which folder."""
    result = student(course, "fetch_assignment", "mlp")
    assert result.returncode != 0
    assert os.path.join(course["root"], "exchange") in result.stdout + result.stderr
    assert not os.path.exists(os.path.join(course["work"], "mlp"))


@pytest.mark.parametrize("inside", ["", "source", "new-folder"])
def test_lab_sh_refuses_a_work_folder_inside_the_course(tmp_path, inside):
    """student/lab.sh in the course folder would load the instructor's nbgrader_config.py."""
    target = os.path.join(ROOT, inside) if inside else ROOT
    existed = os.path.exists(target)
    result = subprocess.run([LAB_SH, target], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "inside the course folder" in result.stderr
    assert os.path.exists(target) == existed, "lab.sh left a folder behind"


def test_lab_sh_starts_the_venvs_jupyter_lab(tmp_path):
    """`student/lab.sh DIR --version` reaches `jupyter lab --version` (and creates DIR)."""
    from jupyterlab import __version__
    work = tmp_path / "nn"
    result = subprocess.run([LAB_SH, str(work), "--version"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == __version__
    assert work.is_dir()


def test_lab_sh_rejects_an_option_as_work_folder():
    result = subprocess.run([LAB_SH, "--port=8888"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "not an option" in result.stderr
