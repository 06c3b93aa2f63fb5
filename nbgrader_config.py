"""nbgrader configuration for the course "Neural Networks from Scratch".

The course directory is this folder: source/ (instructor notebooks with solutions),
release/ (student versions, committed), submitted/, autograded/, feedback/ and
gradebook.db (student data, git-ignored).
"""
import os

c = get_config()  # noqa: F821 - provided by nbgrader when it loads this file

COURSE_ROOT = os.path.dirname(os.path.abspath(__file__))

c.CourseDirectory.course_id = "nn-from-scratch"
c.CourseDirectory.root = COURSE_ROOT
# The gradebook is the embedded SQLite default: sqlite:///<root>/gradebook.db.

# Files never copied into a release or the autograded folders.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", ".pytest_cache"]

# Hidden test cells call `from autograder.notebook import run_check`: the grading kernel inherits
# nbgrader's environment, so putting the course root on PYTHONPATH here makes the (never released)
# autograder/ package and the reference src/ importable while autograding, and only then.
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [COURSE_ROOT, os.environ.get("PYTHONPATH")]))
# One BLAS thread per kernel: identical numerics on every machine, and no oversubscription.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ["MPLBACKEND"] = "Agg"  # the kernel has no screen; plots in given cells must not fail

# Per-cell timeout (seconds). A reference solution runs every cell in well under a second; student
# loops may be 100x slower. An endless loop is interrupted after this and the kernel goes on.
c.Execute.timeout = 20
# Kernel start-up can be slow on a loaded CI machine.
c.Execute.startup_timeout = 120

# A student who deletes a test cell must not get "needs manual grade": put the original back.
c.OverwriteCells.add_missing_cells = True

# nbgrader gives 0 to a test cell that writes anything to stderr. Warnings from student code (e.g. an
# overflow in exp) are not errors: the hidden checks already silence them, and this drops any warning
# text that still reaches stderr, so a correct answer is never zeroed for noise.
c.IgnorePattern.enabled = True
c.IgnorePattern.pattern = r"\w+Warning: "  # Python's warning format: "file:line: RuntimeWarning: ..."

# Keep autograded notebooks and feedback readable when a student prints megabytes.
c.LimitOutput.max_lines = 200
c.LimitOutput.max_traceback = 50

# Collected folders look like submitted/<student>/mlp/mlp.ipynb.
c.CourseDirectory.submitted_directory = "submitted"
