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
# The kernel has no screen. The inline backend (matplotlib-inline, installed with ipykernel) draws each
# plt.show() into an image/png output, so the autograded notebook and the feedback show the student's
# plots; Agg would draw nothing. (The sandboxed grader, autograder/sandbox.py, keeps Agg: it makes no feedback.)
os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"

# A submission that kills its kernel (os._exit, a crash, out of memory) must still get a score and an
# autograded notebook, also from Formgrader's Autograde button: SurvivingExecute (autograder/nbgrader_run.py)
# is nbgrader's Execute that, when the kernel dies, marks the test cells it did not run (0 in the kernel's
# run) instead of failing the student with a DeadKernelError. The recorded score is then set to the
# sandbox's by `python -m autograder sync-gradebook mlp` (nbgrader-run does it). The other preprocessors
# stay nbgrader's defaults, in their order.
import sys  # noqa: E402

if COURSE_ROOT not in sys.path:
    sys.path.insert(0, COURSE_ROOT)
from nbgrader.converters.autograde import Autograde  # noqa: E402
from nbgrader.preprocessors import Execute  # noqa: E402

try:
    from autograder.nbgrader_plugins import HideHiddenTests, QuietOverwriteCells
    from autograder.nbgrader_run import SurvivingExecute
except ImportError as e:  # a copy of this file without autograder/ next to it: nbgrader's own Execute
    print(f"nbgrader_config.py: autograder/ not importable ({e}): a kernel that dies fails its student",
          file=sys.stderr)
else:
    c.Autograde.autograde_preprocessors = [SurvivingExecute if p is Execute else p
                                           for p in Autograde.class_traits()["autograde_preprocessors"].default()]
    # No false "checksum has changed" warning for test cells left as released (see nbgrader_plugins.py).
    from nbgrader.preprocessors import OverwriteCells  # noqa: E402
    c.Autograde.sanitize_preprocessors = [QuietOverwriteCells if p is OverwriteCells else p
                                          for p in Autograde.class_traits()["sanitize_preprocessors"].default()]
    # The feedback shows no hidden test source (nbgrader puts it back into autograded notebooks).
    from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor  # noqa: E402
    from nbgrader.preprocessors import GetGrades  # noqa: E402
    c.GenerateFeedback.preprocessors = [GetGrades, HideHiddenTests, CSSHTMLHeaderPreprocessor]

# The exchange (release_assignment, fetch, submit, collect): <course>/exchange, or NN_EXCHANGE_ROOT
# (e.g. /srv/nbgrader/exchange on a shared server). student/jupyter/nbgrader_config.py computes the same.
c.Exchange.root = os.environ.get("NN_EXCHANGE_ROOT") or os.path.join(COURSE_ROOT, "exchange")

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
