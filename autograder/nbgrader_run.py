"""The main job: release, collect, nbgrader autograde, the sandbox's scores, feedback, export, a grade table.

    python -m autograder nbgrader-run --submissions examples/submissions
    python -m autograder sync-gradebook mlp        # after a `nbgrader autograde` run by hand or in Formgrader

1. `nbgrader generate_assignment mlp` regenerates release/ (and the gradebook entry);
2. every submission is copied to submitted/<student>/mlp/mlp.ipynb;
3. `nbgrader autograde mlp` runs every notebook in its own kernel (a submission that kills its kernel
   or is not a notebook makes nbgrader exit 1: that student is reported, the others are graded);
4. **the recorded grade is the sandbox's**: every student in submitted/ is graded by the sandboxed
   grader (``Submission.grade_all``: student code in a locked-down child, judged in this process), and
   each test cell's score in gradebook.db is set to that verdict (autograder/gradebook.py). The
   kernel's own verdict is kept only as a tampering signal: student code in the kernel can monkeypatch
   run_check, numpy or builtins, so it never decides a grade. A student whose kernel died gets an
   autograded notebook made by nbgrader without executing anything, so Formgrader and the feedback
   show the sandbox's score for them too;
5. `nbgrader generate_feedback` writes feedback/<student>/mlp/mlp.html (scores from the gradebook);
6. `nbgrader export` writes grades.csv (from the gradebook);
7. the table: student, recorded score, max, what the in-kernel run said, the pytest path's score, and
   why a submission was not graded normally (not a notebook, kernel died, a time limit, a kernel
   verdict the sandbox overruled).
"""
import csv
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field

import nbformat

from autograder import timing

from autograder import assignments
_A = assignments.get("mlp")   # TEMPORARY (refactor in progress)
ASSIGNMENT, NOTEBOOK, CHECKS, MAX_SCORE = _A.name, _A.notebook, _A.checks, _A.max_score
from autograder.sandbox import ROOT, ForkServer, IsolationUnavailable

COURSE_ID = "nn-from-scratch"            # CourseDirectory.course_id in nbgrader_config.py
GRADEBOOK = os.path.join(ROOT, "gradebook.db")
KERNEL_DIED = "the kernel died while nbgrader ran the notebook (os._exit, a crash or out of memory)"
SANDBOX_OUTPUT = "autograder_sandbox"    # output metadata key marking the verdicts written into autograded notebooks


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


def submitted_notebooks(assignment=ASSIGNMENT, notebook=NOTEBOOK):
    """{student: path} of every submitted/<student>/<assignment>/<notebook>.ipynb (what autograde grades)."""
    folder = os.path.join(ROOT, "submitted")
    found = {}
    for student in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
        path = os.path.join(folder, student, assignment, notebook + ".ipynb")
        if os.path.isfile(path):
            found[student] = path
    return found


def autograded_notebook(student, assignment=ASSIGNMENT, notebook=NOTEBOOK):
    return os.path.join(ROOT, "autograded", student, assignment, notebook + ".ipynb")


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
    path = autograded_notebook(student)
    if not os.path.exists(path):
        return []
    nb = nbformat.read(path, as_version=4)
    return [cell.metadata.get("nbgrader", {}).get("grade_id") or f"cell {i}" for i, cell in enumerate(nb.cells)
            if any(o.get("ename") == "CellTimeoutError" for o in cell.get("outputs", []))]


def exported_scores(path):
    with open(path, newline="") as f:
        return {row["student_id"]: float(row["raw_score"]) for row in csv.DictReader(f)}


# --- the sandbox's verdicts into the gradebook ------------------------------------------------

@dataclass
class Verdict:
    """The sandboxed grader's verdict on one submitted notebook."""
    points: dict | None           # {check: points, or None when the grader failed on that check}; None: no verdict
    results: list = field(default_factory=list)    # [CheckResult] in CHECKS order (empty when not a notebook)
    invalid: str = ""             # not a notebook: why (every check then scores 0)
    error: str = ""               # the grader failed on the whole submission (not the student's fault)

    @property
    def score(self):
        return None if self.points is None else sum(p or 0 for p in self.points.values())

    @property
    def reason(self):
        """Why the sandbox did not grade the submission normally ("" when it did)."""
        if self.error:
            return f"grader error, not scored (left for manual grading): {self.error}"
        if self.invalid:
            return self.invalid
        for status in ("error", "crashed", "timeout"):
            hit = [r for r in self.results if r.status == status]
            if hit:
                first = hit[0]
                text = first.reason or (first.message.splitlines()[0] if first.message else status)
                if status == "error" or "while the check ran your code" in text:
                    text = f"check '{first.name}': {text}"
                if status == "error":
                    return f"grader error in {len(hit)} check(s), left for manual grading: {text}"[:300]
                return f"sandbox: {status}: {text}"[:300]
        return ""


def verdict_of(results):
    """A Verdict from [CheckResult]; a check the grader failed on (status "error") gets no points (None)."""
    return Verdict({r.name: None if r.status == "error" else r.points for r in results}, list(results))


def sandboxed_verdicts(paths, trust=False, server=None):
    """{student: Verdict} for {student: notebook path}: one fork server, the cells run once per student,
    a fresh fork per check, judged here. A grader failure is retried once on a fresh server; the sandbox's
    IsolationUnavailable (no isolation possible on this machine) is raised, not recorded."""
    from autograder.submission import InvalidSubmission, Submission
    verdicts, own, limits = {}, server is None, None
    try:
        for student, path in paths.items():
            try:
                submission = Submission.load(path)
            except InvalidSubmission as e:
                verdicts[student] = Verdict({name: 0 for name in CHECKS}, invalid=f"not graded: {e}")
                continue
            for attempt in range(2):
                try:
                    if server is None:
                        server, own = ForkServer(trust=trust), True
                    if limits is None or limits[0] is not server:        # calibrated once per server (timing.py)
                        limits = (server, timing.calibrated(server, _A))
                    verdicts[student] = verdict_of(submission.grade_all(server, limits=limits[1]))
                    break
                except IsolationUnavailable:
                    raise
                except Exception as e:  # noqa: BLE001 - the grader broke: retry once, then no verdict
                    if server is not None:
                        server.close()
                        server = None
                    verdicts[student] = Verdict(None, error=f"{type(e).__name__}: {e}"[:300])
    finally:
        if server is not None and own:
            server.close()
    return verdicts


def autograde_without_executing(student, assignment=ASSIGNMENT):
    """Make autograded/<student>/ with nbgrader's own pipeline but no kernel (Execute and SaveAutoGrades
    off): for a student whose kernel died, so Formgrader lists them as autograded and generate_feedback
    has a notebook to render. Runs no student code and writes no score. True if the notebook exists."""
    nbgrader("autograde", assignment, "--student", student, "--force",
             "--Execute.enabled=False", "--SaveAutoGrades.enabled=False", check=False)
    return os.path.isfile(autograded_notebook(student, assignment))


def _verdict_text(result):
    head = "[sandboxed grader: the recorded score for this cell]\n"
    if result.status == "error":
        return f"{head}? {result.title}: not scored, left for manual grading ({result.reason or result.message})\n"
    if result.points >= result.max_points:
        return f"{head}✓ {result.title} ({result.max_points} points)\n"
    return f"{head}✗ {result.title} (0 of {result.max_points} points):\n{result.message}\n"


def annotate_autograded(student, verdict, report, assignment=ASSIGNMENT, notebook=NOTEBOOK):
    """Write the sandbox's verdict as an output of each test cell whose recorded score it changed, in the
    autograded notebook (what Formgrader and the feedback show), replacing any earlier such output."""
    path = autograded_notebook(student, assignment, notebook)
    if not verdict.results or not os.path.isfile(path):
        return
    by_check = {r.name: r for r in verdict.results}
    nb = nbformat.read(path, as_version=4)
    touched = False
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.cell_type != "code" or gid not in report.after:
            continue
        outputs = [o for o in cell.get("outputs", []) if not o.get("metadata", {}).get(SANDBOX_OUTPUT)]
        if gid in report.changed and report.checks.get(gid) in by_check:
            output = nbformat.v4.new_output("stream", name="stdout", text=_verdict_text(by_check[report.checks[gid]]))
            output["metadata"] = {SANDBOX_OUTPUT: True}
            outputs.append(output)
        if outputs != cell.get("outputs", []):
            cell.outputs, touched = outputs, True
    if touched:
        mode = os.stat(path).st_mode
        os.chmod(path, mode | 0o200)         # nbgrader leaves autograded notebooks read-only
        nbformat.write(nb, path)
        os.chmod(path, mode)


def snapshot_overrides(assignment=ASSIGNMENT):
    """The gradebook's manual scores and extra credit before autograde (see gradebook.snapshot_overrides)."""
    from autograder.gradebook import open_gradebook, snapshot_overrides as snapshot
    if not os.path.exists(GRADEBOOK):
        return {}
    with open_gradebook(GRADEBOOK, COURSE_ID) as gb:
        return snapshot(gb, assignment)


def sync_course(students=None, assignment=ASSIGNMENT, notebook=NOTEBOOK, overrides=None, log=None,
                trust=False, server=None):
    """Grade every submitted notebook (or those of `students`) in the sandbox and record the verdicts in
    the gradebook. Returns {student: (Verdict, SyncReport)}. Raises gradebook.SyncError when the gradebook
    does not match the grading rule, and the sandbox's IsolationUnavailable; then nothing is written."""
    from autograder.gradebook import cells_to_checks, open_gradebook, sync_scores
    paths = submitted_notebooks(assignment, notebook)
    if students is not None:
        unknown = sorted(set(students) - set(paths))
        if unknown:
            raise ValueError(f"no submitted/<student>/{assignment}/{notebook}.ipynb for {unknown}")
        paths = {s: paths[s] for s in students}
    with open_gradebook(GRADEBOOK, COURSE_ID) as gb:
        cells_to_checks(gb, assignment, notebook)          # the gradebook matches the grading rule, or stop now
    if log:
        log(f"sandbox: grading {len(paths)} submitted notebooks (student code sandboxed, judged here)")
    verdicts = sandboxed_verdicts(paths, trust, server)
    for student, verdict in verdicts.items():
        if not verdict.invalid and not os.path.isfile(autograded_notebook(student, assignment, notebook)):
            if log:
                log(f"  {student}: no autograded notebook (the kernel died?): nbgrader autograde without executing")
            autograde_without_executing(student, assignment)
    synced = {}
    with open_gradebook(GRADEBOOK, COURSE_ID) as gb:
        for student, verdict in verdicts.items():
            report = sync_scores(gb, assignment, notebook, student, verdict.points, course_id=COURSE_ID,
                                 overrides=overrides)
            synced[student] = (verdict, report)
    for student, (verdict, report) in synced.items():
        annotate_autograded(student, verdict, report, assignment, notebook)
    return synced


def kernel_note(report, who="the kernel"):
    """The tampering signal: what the in-kernel run recorded, when the sandbox overruled it."""
    changed = [cell for cell in report.changed if report.after[cell] is not None]
    if report.previous_score is None or not changed:
        return ""
    return (f"in-kernel verdict overruled: {who} said {report.previous_score:g} "
            f"({', '.join(changed)}; tampering, or code that depends on cell order)")


def gradebook_notes(report):
    notes = []
    if report.unscored:
        notes.append(f"no sandboxed verdict for {', '.join(report.unscored)}: needs manual grading")
    if report.restored:
        notes.append(f"{len(report.restored)} manual score(s) / extra credit changed during autograde, put back "
                     f"(a kernel wrote the gradebook?)")
    if report.overrides:
        notes.append(f"manual override in the gradebook wins in {', '.join(sorted(report.overrides))}")
    return "; ".join(notes)


def _hidden_suite_score(path, trust):
    from autograder.grade import run_hidden_suite
    return sum(r.points for r in run_hidden_suite(path, trust=trust))


def pytest_scores(submissions, trust=False):
    """The pytest path's score for each student (None when the file is not a notebook)."""
    from autograder.submission import InvalidSubmission, Submission
    scores = {}
    for student, path in submissions.items():
        try:
            Submission.load(path)
        except InvalidSubmission:
            scores[student] = None
            continue
        scores[student] = _hidden_suite_score(path, trust)
    return scores


GRADER_FILES = ("autograder/", "src/", f"release/{ASSIGNMENT}/", "nbgrader_config.py")


def grader_fingerprint():
    """sha256 over what decides a grade (the grader, src/, the release, nbgrader_config.py, which nbgrader
    runs again for feedback and export): to notice a kernel that wrote them."""
    from autograder.batch import file_sha256, grader_sha256
    return grader_sha256() + file_sha256(os.path.join(ROOT, "nbgrader_config.py"))


def main(submissions_dir, with_pytest=True, trust=False):
    from autograder.gradebook import SyncError
    if os.path.realpath(submissions_dir) == os.path.realpath(os.path.join(ROOT, "submitted")):
        print("nbgrader-run copies --submissions DIR into submitted/, so DIR cannot be submitted/ itself. For what "
              f"`nbgrader collect` put there: nbgrader autograde {ASSIGNMENT} --force && python -m autograder "
              f"sync-gradebook {ASSIGNMENT} && nbgrader generate_feedback {ASSIGNMENT} --force && nbgrader export",
              file=sys.stderr)
        return 2
    submissions = find_submissions(submissions_dir)
    if not submissions:
        print(f"no submissions found in {submissions_dir}", file=sys.stderr)
        return 2
    try:
        server = ForkServer(trust=trust)           # before anything is graded: no sandbox, no run
    except IsolationUnavailable as e:
        print(f"nbgrader-run: {e}\nnothing was graded: the recorded grades come from the sandbox", file=sys.stderr)
        return 2
    try:
        isolation = getattr(server, "isolation", "")
        print(f"release: nbgrader generate_assignment {ASSIGNMENT}", flush=True)
        nbgrader("generate_assignment", ASSIGNMENT, "--force")
        collect(submissions)
        overrides = snapshot_overrides()
        fingerprint = grader_fingerprint()
        print(f"autograde: {len(submissions)} submissions (nbgrader autograde, one kernel each)", flush=True)
        autograde = nbgrader("autograde", ASSIGNMENT, "--force", check=False)
        failed = failures_from_log(autograde.stderr + autograde.stdout)
        if grader_fingerprint() != fingerprint:
            print(f"nbgrader-run: the grader's files ({', '.join(GRADER_FILES)}) changed while nbgrader autograde "
                  "ran the submissions in kernels with your permissions: a submission may have tampered with "
                  "them. Nothing was synced or exported. Restore them (git checkout -- . ; git status) and "
                  "rerun; grade with `python -m autograder grade-all submitted`, which never runs student "
                  "code outside the sandbox, to find the submission.", file=sys.stderr)
            return 1
        try:
            synced = sync_course(overrides=overrides, log=lambda text: print(text, flush=True), trust=trust,
                                 server=server)
        except (SyncError, IsolationUnavailable) as e:
            print(f"nbgrader-run: {e}\nnothing was exported, and gradebook.db still holds the in-kernel verdicts: "
                  f"fix this, then `python -m autograder sync-gradebook {ASSIGNMENT}`", file=sys.stderr)
            return 1
    finally:
        server.close()
    unscored = sorted(s for s, (verdict, report) in synced.items() if report.score is None)
    grades_csv = os.path.join(ROOT, "grades.csv")
    if unscored:
        # grades.csv would show 0 for a submission that has no score: leave it (and the feedback) unwritten
        if os.path.exists(grades_csv):
            os.remove(grades_csv)
        scores = {s: report.score for s, (verdict, report) in synced.items()}
    else:
        print("feedback: nbgrader generate_feedback", flush=True)
        nbgrader("generate_feedback", ASSIGNMENT, "--force", check=False)
        nbgrader("export", "--to", "grades.csv")
        scores = exported_scores(grades_csv)
    if with_pytest:
        print("pytest path: python -m autograder grade, per submission", flush=True)
    other = pytest_scores(submissions, trust) if with_pytest else {}
    print()
    print(f"{'student':<26} {'score':>6} {'max':>5} {'kernel':>6} {'pytest':>7}  reason")
    for student in submissions:
        verdict, report = synced[student]
        reasons = [failed.get(student, "")]
        slow = timeouts(student)
        if not reasons[0] and slow:
            reasons[0] = f"time limit hit in {', '.join(slow)}"
        if not (verdict.invalid and reasons[0]):       # nbgrader already said why it is not a notebook
            reasons.append(verdict.reason)
        reasons += [kernel_note(report), gradebook_notes(report)]
        if not unscored and scores.get(student) != report.score:
            reasons.append(f"grades.csv says {scores.get(student)}, the gradebook {report.score}")
        score = scores.get(student)
        score = "-" if score is None else f"{score:g}"
        kernel = "-" if report.previous_score is None else f"{report.previous_score:g}"
        pytest_score = other.get(student)
        shown = "-" if pytest_score is None else f"{pytest_score:g}"
        print(f"{student:<26} {score:>6} {MAX_SCORE:>5} {kernel:>6} {shown:>7}  "
              f"{'; '.join(r for r in reasons if r)}")
    print("\nscore: what gradebook.db, grades.csv and the feedback record: the sandboxed grader's verdict"
          + (f" (isolation: {isolation})" if isolation else "")
          + "\nkernel: what nbgrader's in-kernel run said, never recorded ('-': it recorded nothing)")
    if unscored:
        print(f"{len(unscored)} submission(s) have no score (a grader error: {', '.join(unscored)}); feedback and "
              f"grades.csv were not written. Rerun `python -m autograder sync-gradebook {ASSIGNMENT}`, then "
              f"`nbgrader generate_feedback {ASSIGNMENT} --force` and `nbgrader export`.", file=sys.stderr)
        return 1
    print(f"grades.csv, feedback/<student>/{ASSIGNMENT}/{NOTEBOOK}.html and gradebook.db are written; "
          f"nbgrader autograde exit status {autograde.returncode}"
          + (" (1: some submissions could not be run in a kernel, see reasons)" if autograde.returncode else ""))
    return 0


def sync_main(assignment=ASSIGNMENT, students=None, trust=False):
    """`python -m autograder sync-gradebook`: re-apply the sandbox's scores after a `nbgrader autograde` run
    by hand or from Formgrader. Exit 0 when every submission got its verdict, 1 otherwise, 2 when nothing
    could be done (bad input, no gradebook, no sandbox)."""
    from autograder.gradebook import SyncError
    if assignment != ASSIGNMENT:
        print(f"sync-gradebook: the grader's checks are for assignment '{ASSIGNMENT}', not '{assignment}'",
              file=sys.stderr)
        return 2
    if not os.path.exists(GRADEBOOK):
        print(f"sync-gradebook: no gradebook at {GRADEBOOK} (run nbgrader generate_assignment and autograde first)",
              file=sys.stderr)
        return 2
    try:
        synced = sync_course(students, assignment, log=lambda text: print(text, flush=True), trust=trust)
    except (SyncError, ValueError, IsolationUnavailable) as e:
        print(f"sync-gradebook: {e}\nnothing was written", file=sys.stderr)
        return 2
    print(f"\n{'student':<26} {'score':>6} {'max':>5} {'before':>6}  notes")
    for student, (verdict, report) in synced.items():
        before = "-" if report.previous_score is None else f"{report.previous_score:g}"
        score = "-" if report.score is None else f"{report.score:g}"
        notes = [verdict.reason, kernel_note(report, who="the gradebook"), gradebook_notes(report),
                 "submission created in the gradebook" if report.created else ""]
        print(f"{student:<26} {score:>6} {MAX_SCORE:>5} {before:>6}  {'; '.join(n for n in notes if n)}")
    print(f"\ngradebook.db now holds the sandbox's scores (before: what it held). Regenerate what was made "
          f"from the old ones:\n    nbgrader generate_feedback {assignment} --force && nbgrader export")
    return 1 if any(report.score is None for verdict, report in synced.values()) else 0
