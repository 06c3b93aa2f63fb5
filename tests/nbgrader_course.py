"""A throwaway copy of the course directory, graded with the real nbgrader CLI.

Tests never write submitted/, autograded/ or gradebook.db in the repository: they copy
the course (nbgrader_config.py is the course root) into a temporary folder and run
nbgrader there.
"""
import json
import os
import shutil
import subprocess
import sys

from nbgrader.api import Gradebook

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COURSE_FILES = ("nbgrader_config.py", "pytest.ini", "source", "src", "autograder", "release", "tests", "examples")
COURSE_ID = "nn-from-scratch"
SHARDS = ".autograde-shards.json"      # {student: the course copy that autograded them} (autograde)


def make_course(directory):
    """Copy the course into `directory` (symlinks in source/ stay relative and resolve inside the copy)."""
    os.makedirs(directory, exist_ok=True)
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


def autograde(course, notebooks, assignment="mlp", jobs=2):
    """Release, submit {student: notebook path}, autograde them all; returns a CompletedProcess of the
    `nbgrader autograde` runs (their outputs joined, the worst exit status).

    With jobs > 1 the students are split round-robin over `jobs` copies of the released course (the
    first is `course` itself, the others `<course>.shardK`), autograded side by side: nbgrader runs one
    kernel at a time, and two processes writing one sqlite gradebook could lock each other out.
    cell_scores(course, student) reads the gradebook that graded the student."""
    proc = nbgrader(course, "generate_assignment", assignment, "--force")
    assert proc.returncode == 0, proc.stderr[-2000:]
    students = list(notebooks)
    shards = [course] + [f"{course}.shard{k}" for k in range(1, max(1, min(jobs, len(students))))]
    for shard in shards[1:]:
        shutil.rmtree(shard, ignore_errors=True)
        shutil.copytree(course, shard, symlinks=True)
    where = {student: shards[i % len(shards)] for i, student in enumerate(students)}
    for student, path in notebooks.items():
        dest = os.path.join(where[student], "submitted", student, assignment)
        os.makedirs(dest, exist_ok=True)
        shutil.copy(path, os.path.join(dest, f"{assignment}.ipynb"))
    known = {}
    try:                               # students of earlier calls on this course keep their shard
        with open(os.path.join(course, SHARDS), encoding="utf-8") as f:
            known = json.load(f)
    except OSError:
        pass
    with open(os.path.join(course, SHARDS), "w", encoding="utf-8") as f:
        json.dump(dict(known, **where), f)
    bin_dir = os.path.dirname(sys.executable)
    env = dict(os.environ, PATH=bin_dir + os.pathsep + os.environ.get("PATH", ""))
    running = [subprocess.Popen([os.path.join(bin_dir, "nbgrader"), "autograde", assignment, "--force"], cwd=shard,
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for shard in shards if shard in where.values()]
    outputs = [p.communicate() for p in running]
    return subprocess.CompletedProcess(["nbgrader", "autograde", assignment], max(p.returncode for p in running),
                                       "".join(o for o, _ in outputs), "".join(e for _, e in outputs))


def gradebook_of(course, student):
    """The gradebook.db that recorded `student` (autograde may have graded them in a shard of `course`)."""
    try:
        with open(os.path.join(course, SHARDS), encoding="utf-8") as f:
            return os.path.join(json.load(f).get(student, course), "gradebook.db")
    except OSError:
        return os.path.join(course, "gradebook.db")


def cell_scores(course, student, assignment="mlp"):
    """{test cell grade_id: auto score} from the gradebook (empty if nbgrader recorded nothing)."""
    with Gradebook(f"sqlite:///{gradebook_of(course, student)}", course_id=COURSE_ID) as gb:
        try:
            notebook = gb.find_submission_notebook(assignment, assignment, student)
        except Exception:  # noqa: BLE001 - MissingEntry: no submission recorded
            return {}
        return {g.name: g.auto_score for g in notebook.grades if g.name.startswith("test_")}


# --- hostile submissions against the nbgrader path (tests/test_gradebook_sync.py) -------------------
# Each carries one honest mistake (the ReLU derivative returns 1 everywhere: the relu check, 6 points),
# so it deserves 94; a trick that worked would show up as a recorded 100.

PATCH_RUN_CHECK = """try:
    import autograder.notebook as _grader          # the module the hidden test cells import run_check from
    _grader.run_check = lambda *args, **kwargs: True
except Exception:
    pass
np.allclose = lambda *args, **kwargs: True         # and the visible asserts above the hidden block
"""
PATCH_NUMPY = """np.allclose = lambda *a, **k: True
np.isclose = lambda *a, **k: True
np.array_equal = lambda *a, **k: True
np.testing.assert_allclose = lambda *a, **k: None
"""
WRITE_GRADEBOOK = """import os as _os
_folder = _os.path.abspath('.')
for _up in range(6):                              # the kernel runs in autograded/<student>/mlp/
    if _os.path.exists(_os.path.join(_folder, 'gradebook.db')):
        try:
            import sqlite3 as _sqlite3
            _db = _sqlite3.connect(_os.path.join(_folder, 'gradebook.db'))
            _db.execute('UPDATE grade SET manual_score = 1000, extra_credit = 50')
            _db.commit()
            _db.close()
        except Exception:
            pass
        break
    _folder = _os.path.dirname(_folder)
"""
REWRITE_SUBMISSION = """import os as _os, shutil as _shutil
_folder = _os.path.abspath('.')                   # autograded/<student>/mlp/: the course is three folders up
_course, _me = _os.path.dirname(_os.path.dirname(_os.path.dirname(_folder))), _os.path.basename(_os.path.dirname(_folder))
try:
    _shutil.copy(_os.path.join(_course, 'source', 'mlp', 'mlp.ipynb'),
                 _os.path.join(_course, 'submitted', _me, 'mlp', 'mlp.ipynb'))
except Exception:
    pass
"""
HOSTILE = {
    "patched_run_check": ("replaces autograder.notebook.run_check by `lambda *a: True` (and np.allclose, which "
                          "the visible asserts use) in a solution cell",
                          {"activations": PATCH_RUN_CHECK}),
    "patched_numpy": ("replaces numpy's comparison functions by ones that always agree", {"activations": PATCH_NUMPY}),
    "wrote_gradebook": ("writes manual scores and extra credit into ../../../gradebook.db from its kernel",
                        {"evaluate": WRITE_GRADEBOOK}),
    "rewrote_submission": ("copies the instructor's solution notebook over its own submitted/ copy from its kernel, "
                           "so that the sandbox, which grades submitted/ after the kernels ran, would grade that",
                           {"evaluate": REWRITE_SUBMISSION}),
}


def write_hostile(directory):
    """DIR/<name>.ipynb for every HOSTILE submission (the release, the instructor's solution, the wrong
    ReLU derivative and the trick); returns {name: path}."""
    from tests.adversarial.corpus import Case, notebook_bytes
    os.makedirs(directory, exist_ok=True)
    paths = {}
    for name, (description, code) in HOSTILE.items():
        path = os.path.join(directory, name + ".ipynb")
        with open(path, "wb") as f:
            f.write(notebook_bytes(Case(name, description, code)))
        paths[name] = path
    return paths


def formgrader_scores(course, assignment="mlp"):
    """{student: score} as Formgrader's Manage Submissions page gets them (nbgrader's NbGraderAPI), and
    {student: {grade cell: score}} as its notebook view lists them (only students it shows as autograded)."""
    from nbgrader.apps.api import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    api = NbGraderAPI(coursedir=CourseDirectory(root=course, course_id=COURSE_ID))
    submissions = {s["student"]: s for s in api.get_submissions(assignment)}
    notebooks = {s["student"]: s for s in api.get_notebook_submissions(assignment, "mlp")}
    return submissions, notebooks
