"""The main job: release, collect, nbgrader autograde, the sandbox's scores, feedback, export, a grade table.

    python -m autograder nbgrader-run --submissions examples/submissions      # every assignment found there
    python -m autograder nbgrader-run --assignment mlp                        # only mlp's submissions
    python -m autograder sync-gradebook [ASSIGNMENT]  # after `nbgrader autograde` by hand or in Formgrader
                                                      # (default: every assignment with submitted notebooks)

Which assignment a submission is for (find_submissions): DIR/<student>/<assignment>/<notebook>.ipynb says
it (nbgrader's layout); a flat DIR/<student>.<assignment>.ipynb says it in its name; any other flat
DIR/<student>.ipynb is recognised from its nbgrader grade ids (assignments.detect). A flat file that
cannot be recognised (not a notebook, no graded cells of the course) is graded, as 0 with the reason,
for the one --assignment given, else for the course's first assignment (assignments.names()[0]); the
run prints which. With --assignment, submissions of the other assignments are left out (and counted).

For each assignment present (one sandbox fork server preloading all of them):
1. `nbgrader generate_assignment A` regenerates release/A/ (and the gradebook entry);
2. every submission is copied to submitted/<student>/A/<notebook>.ipynb;
3. `nbgrader autograde A --student S` runs each of these students' notebooks (only theirs: other
   students already in submitted/ are left as they are) in its own kernel, one line of progress per
   student (a file that is not a notebook makes nbgrader exit 1: that student is reported with the
   reason, the others are graded; a submission that kills its kernel is graded by SurvivingExecute,
   configured in nbgrader_config.py: the test cells it never ran score 0 in the kernel's run);
4. **the recorded grade is the sandbox's**: each of these students is graded by the sandboxed
   grader (``Submission.grade_all``: student code in a locked-down child, judged in this process), and
   each test cell's score in gradebook.db is set to that verdict (autograder/gradebook.py). The
   kernel's own verdict is kept only as a tampering signal: student code in the kernel can monkeypatch
   run_check, numpy or builtins, so it never decides a grade. A student left without an autograded
   notebook (nbgrader failed on them) gets one made by nbgrader without executing anything, so
   Formgrader and the feedback show the sandbox's score for them too;
   Cells graded by hand (markdown answer cells: grade + solution) are not auto-graded: the sync leaves
   them, and any score an instructor gave them in Formgrader, as they are;
5. `nbgrader generate_feedback A` writes feedback/<student>/A/<notebook>.html for these students (scores from
   the gradebook; the student's plots are there: nbgrader_config.py selects matplotlib's inline backend);
6. ONE `nbgrader export` writes grades.csv (from the gradebook: a row per student per assignment, the
   hand-graded points included once given). A grades.csv that
   grade-all wrote is refused (exit 2) unless --overwrite;
7. the table: student, assignment, recorded score, max, the sandbox's automatic points, the manual points
   (given / possible, "?" while not graded), what the in-kernel run said, the pytest path's score, and
   why a submission was not graded normally (not a notebook, kernel died, a time limit, a kernel
   verdict the sandbox overruled).
"""
import csv
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field

import nbformat
from nbgrader.preprocessors import Execute

from autograder import assignments, timing
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


def recognise(directory, entry, only=None):
    """(student, assignment id, note) for the flat file DIR/`entry` (see the module docstring for the rule).
    `note` says why the assignment was chosen when the file itself could not say ("" otherwise)."""
    stem = entry[:-len(".ipynb")]
    student, dot, suffix = stem.rpartition(".")
    if dot and student and suffix in assignments.names():
        return student, suffix, ""
    try:
        with open(os.path.join(directory, entry), encoding="utf-8") as f:
            return stem, assignments.detect(json.load(f)).name, ""
    except (ValueError, OSError, RecursionError) as e:     # not JSON, not UTF-8, UnknownAssignment (a ValueError)
        why = "not valid notebook JSON" if isinstance(e, json.JSONDecodeError) else str(e).split(":")[0]
    if only and len(only) == 1:
        return stem, only[0], f"{entry}: cannot tell its assignment ({why}): graded for '{only[0]}' (--assignment)"
    first = assignments.names()[0]
    return stem, first, (f"{entry}: cannot tell its assignment ({why}): graded for '{first}', the course's first "
                         f"assignment (name it <student>.<assignment>.ipynb, or pass one --assignment, to choose)")


def find_submissions(directory, only=None):
    """({(student, assignment id): notebook path}, [notes]) from DIR/<student>.ipynb,
    DIR/<student>.<assignment>.ipynb and DIR/<student>/<assignment>/<notebook>.ipynb. `only`: the
    assignment ids to keep (None: all); what is left out, and how unrecognisable files were placed, is
    in the notes."""
    found, notes, skipped = {}, [], 0
    for entry in sorted(os.listdir(directory)):
        path = os.path.join(directory, entry)
        if entry.endswith(".ipynb") and os.path.isfile(path):
            student, assignment, note = recognise(directory, entry, only)
            pairs = [(student, assignment, path, note)]
        elif os.path.isdir(path):
            pairs = [(entry, a.name, os.path.join(path, a.name, a.notebook + ".ipynb"), "")
                     for a in assignments.all_assignments()]
            pairs = [pair for pair in pairs if os.path.isfile(pair[2])]
        else:
            continue
        for student, assignment, nb_path, note in pairs:
            if only and assignment not in only:
                skipped += 1
                continue
            if (student, assignment) in found:
                notes.append(f"{nb_path}: a second submission of {student} for '{assignment}': left out "
                             f"(graded: {found[(student, assignment)]})")
                continue
            found[(student, assignment)] = nb_path
            if note:
                notes.append(note)
    if skipped:
        notes.append(f"{skipped} submission(s) of other assignments than {', '.join(only)} left out (--assignment)")
    return found, notes


def collect(submissions):
    """Copy each submission to submitted/<student>/<assignment>/<notebook>.ipynb (replacing any previous
    one). Returns {copy's path: its bytes}: what was handed in, before any kernel runs."""
    collected = {}
    for (student, assignment), path in submissions.items():
        a = assignments.get(assignment)
        dest = os.path.join(ROOT, "submitted", student, a.name)
        shutil.rmtree(dest, ignore_errors=True)
        os.makedirs(dest)
        with open(path, "rb") as f:
            data = f.read()
        target = os.path.join(dest, a.notebook + ".ipynb")
        with open(target, "wb") as f:
            f.write(data)
        collected[target] = data
    return collected


def put_back_submitted(collected):
    """Rewrite every collected notebook a kernel changed (or removed) with what was handed in: the
    sandbox grades the submission, not what a kernel left in submitted/. Returns the paths put back."""
    changed = []
    for path, data in collected.items():
        try:
            with open(path, "rb") as f:
                same = f.read() == data
        except OSError:
            same = False
        if not same:
            if os.path.isdir(path) or os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True) if os.path.isdir(path) else os.remove(path)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(data)
            changed.append(path)
    return changed


def submitted_notebooks(assignment):
    """{student: path} of every submitted/<student>/<assignment>/<notebook>.ipynb (what autograde grades)."""
    folder = os.path.join(ROOT, "submitted")
    found = {}
    for student in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
        path = os.path.join(folder, student, assignment.name, assignment.notebook + ".ipynb")
        if os.path.isfile(path):
            found[student] = path
    return found


def autograded_notebook(student, assignment):
    """Where nbgrader autograde puts the student's graded copy of the assignment's notebook."""
    return os.path.join(ROOT, "autograded", student, assignment.name, assignment.notebook + ".ipynb")


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


def timeouts(student, assignment):
    """grade_ids of the autograded notebook's cells that hit the per-cell time limit."""
    path = autograded_notebook(student, assignment)
    if not os.path.exists(path):
        return []
    nb = nbformat.read(path, as_version=4)
    return [cell.metadata.get("nbgrader", {}).get("grade_id") or f"cell {i}" for i, cell in enumerate(nb.cells)
            if any(o.get("ename") == "CellTimeoutError" for o in cell.get("outputs", []))]


def kernel_died_in(student, assignment):
    """grade_id of the first test cell SurvivingExecute marked "not run: the kernel died" ("" if none)."""
    path = autograded_notebook(student, assignment)
    if not os.path.exists(path):
        return ""
    nb = nbformat.read(path, as_version=4)
    for i, cell in enumerate(nb.cells):
        if any(o.get("ename") == KERNEL_DIED_ENAME for o in cell.get("outputs", [])):
            return cell.metadata.get("nbgrader", {}).get("grade_id") or f"cell {i}"
    return ""


def exported_scores(path):
    """{(student, assignment): raw score} from nbgrader export's grades.csv (a row per student per assignment)."""
    with open(path, newline="") as f:
        return {(row["student_id"], row["assignment"]): float(row["raw_score"]) for row in csv.DictReader(f)}


# --- the sandbox's verdicts into the gradebook ------------------------------------------------

@dataclass
class Verdict:
    """The sandboxed grader's verdict on one submitted notebook."""
    points: dict | None           # {check: points, or None when the grader failed on that check}; None: no verdict
    results: list = field(default_factory=list)    # [CheckResult] in the assignment's check order (empty when not a notebook)
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


def _progress_line(i, total, student, verdict, seconds):
    """One line of the sandbox's progress: who, the score or why there is none, how long it took."""
    if verdict.score is None:
        said = "no score (grader error)"
    elif any(p is None for p in verdict.points.values()):
        said = f"{verdict.score:g} without the checks the grader failed on (left for manual grading)"
    else:
        said = f"{verdict.score:g}" + (" (not a notebook)" if verdict.invalid else "")
    return f"  sandbox [{i}/{total}] {student}: {said} ({seconds:.1f} s)"


def sandboxed_verdicts(paths, assignment, trust=False, server=None, log=None):
    """{student: Verdict} for {student: notebook path} of `assignment`: one fork server, the cells run once per student,
    a fresh fork per check, judged here. A grader failure is retried once on a fresh server; the sandbox's
    IsolationUnavailable (no isolation possible on this machine) is raised, not recorded. `log` gets one
    progress line per student."""
    from autograder.submission import InvalidSubmission, Submission
    verdicts, own, limits = {}, server is None, None
    try:
        for i, (student, path) in enumerate(paths.items(), 1):
            began = time.monotonic()
            try:
                submission = Submission.load(path, assignment=assignment)
            except InvalidSubmission as e:
                verdicts[student] = Verdict({name: 0 for name in assignment.checks}, invalid=f"not graded: {e}")
                if log:
                    log(_progress_line(i, len(paths), student, verdicts[student], time.monotonic() - began))
                continue
            for attempt in range(2):
                try:
                    if server is None:
                        server, own = ForkServer(trust=trust), True
                    if limits is None or limits[0] is not server:        # calibrated once per server (timing.py)
                        limits = (server, timing.calibrated(server, assignment))
                    verdicts[student] = verdict_of(submission.grade_all(server, limits=limits[1]))
                    break
                except IsolationUnavailable:
                    raise
                except Exception as e:  # noqa: BLE001 - the grader broke: retry once, then no verdict
                    if server is not None:
                        server.close()
                        server = None
                    verdicts[student] = Verdict(None, error=f"{type(e).__name__}: {e}"[:300])
            if log:
                log(_progress_line(i, len(paths), student, verdicts[student], time.monotonic() - began))
    finally:
        if server is not None and own:
            server.close()
    return verdicts


KERNEL_DIED_ENAME = "KernelDied"


def kernel_died_output(cell_label):
    """The error output a test cell gets when the kernel died before or while running it: nbgrader scores
    the cell 0 in its own run (it ran nothing), and the text says where the score comes from."""
    from autograder.notebook import wrap
    text = wrap(f"✗ not run: the kernel died in {cell_label} (os._exit, a crash or out of memory). The "
                f"recorded score is the sandboxed grader's: `python -m autograder sync-gradebook` "
                f"writes it into the gradebook (nbgrader-run does it itself)")
    return nbformat.v4.new_output("error", ename=KERNEL_DIED_ENAME, evalue=text, traceback=text.splitlines())


def mark_kernel_death(nb, index):
    """After the kernel died running cell `index`: every test cell from there on gets kernel_died_output."""
    cell = nb.cells[index] if index is not None and index < len(nb.cells) else None
    label = "a cell before the first one" if cell is None else \
        f"cell {index} ({cell.metadata.get('nbgrader', {}).get('grade_id') or 'no id'})"
    for later in nb.cells[index or 0:]:
        if later.cell_type == "code" and later.metadata.get("nbgrader", {}).get("grade"):
            later.outputs = [o for o in later.get("outputs", []) if o.get("ename") != KERNEL_DIED_ENAME]
            later.outputs.append(kernel_died_output(label))


class SurvivingExecute(Execute):
    """nbgrader's Execute preprocessor, but a kernel that dies (a student's os._exit, a segfault, out of
    memory) does not abort the student's autograde: the test cells from the dead cell on are marked
    (mark_kernel_death, scored 0 by nbgrader), the notebook is saved and the submission recorded, so
    Formgrader's Autograde button gives the student a score and an autograded notebook instead of a
    DeadKernelError (nbgrader_config.py puts this class in Autograde.autograde_preprocessors)."""

    def preprocess(self, nb, resources=None, km=None):
        from nbclient.exceptions import DeadKernelError
        self._running = None
        try:
            return super().preprocess(nb, resources, km)
        except DeadKernelError:
            self.log.warning("the kernel died in cell %s: its test cells and the later ones are marked not run",
                             self._running)
            mark_kernel_death(nb, self._running)
            return nb, resources

    def preprocess_cell(self, cell, resources, index):
        self._running = index
        return super().preprocess_cell(cell, resources, index)


def autograde_without_executing(student, assignment):
    """Make autograded/<student>/ with nbgrader's own pipeline but no kernel (Execute and SaveAutoGrades
    off): for a student nbgrader could not autograde (its kernel never started, a kernel that died before
    SurvivingExecute was configured), so Formgrader lists them as autograded and generate_feedback
    has a notebook to render. Runs no student code and writes no score. True if the notebook exists."""
    nbgrader("autograde", assignment.name, "--student", student_pattern(student), "--force",
             "--Execute.enabled=False", "--SaveAutoGrades.enabled=False", check=False)
    return os.path.isfile(autograded_notebook(student, assignment))


def write_unreadable_autograded(student, reason, assignment):
    """autograded/<student>/ for a submission that is not a notebook (nbgrader cannot read it, so it makes
    none): the release notebook under a first cell that says why nothing was graded, and the submission's
    timestamp. Formgrader then lists the student as autograded, with the sandbox's score (0), and
    generate_feedback tells them why. The submitted file itself is left untouched."""
    release = nbformat.read(assignment.release_notebook, as_version=4)
    note = nbformat.v4.new_markdown_cell(
        "**Your submission could not be graded: it is not a readable notebook.** "
        f"{reason}. Every check scores 0. Below is the assignment as released; resubmit a notebook saved "
        "by Jupyter (File > Save Notebook).")
    release.cells.insert(0, note)
    folder = os.path.dirname(autograded_notebook(student, assignment))
    os.makedirs(folder, exist_ok=True)
    nbformat.write(release, autograded_notebook(student, assignment))
    stamp = os.path.join(ROOT, "submitted", student, assignment.name, "timestamp.txt")
    if os.path.isfile(stamp):
        shutil.copy(stamp, os.path.join(folder, "timestamp.txt"))


def _verdict_text(result):
    """The sandbox's verdict on one check, worded as run_check words it in the kernel, wrapped the same way."""
    from autograder.notebook import failure_text, wrap
    head = "[sandboxed grader: the recorded score for this cell]\n"
    if result.status == "error":
        return head + wrap(f"? {result.title}: not scored, left for manual grading "
                           f"({result.reason or result.message})") + "\n"
    if result.points >= result.max_points:
        return f"{head}✓ {result.title} ({result.max_points} points)\n"
    return head + failure_text(result.title, result.max_points, result.message) + "\n"


def _kernel_verdict(output):
    """True for the output run_check left in the kernel: its ✗ error (CheckFailed) or its ✓ line."""
    if output.get("output_type") == "error":
        return output.get("ename") == "CheckFailed"
    return output.get("output_type") == "stream" and str(output.get("text", "")).startswith("✓ ")


def _short_error(output):
    """An error output of a test cell (a visible test's failed assert) as its one line "Name: message",
    without the traceback: the student knows the cell; the verdict below it says what is wrong."""
    if output.get("output_type") != "error" or output.get("ename") in ("CheckFailed", KERNEL_DIED_ENAME):
        return output                   # already just a verdict
    from autograder.notebook import wrap
    short = dict(output)
    short["traceback"] = wrap(f"{output.get('ename')}: {output.get('evalue')}").splitlines()
    return nbformat.from_dict(short)


def annotated_outputs(outputs, result, changed):
    """A test cell's outputs in the feedback: the sandbox's verdict (`result`, the recorded one) is written
    when it overruled the kernel (`changed`) or when the check failed and the kernel's own ✗ verdict is not
    there (a visible test's assert stopped the cell first); then the kernel's ✓/✗ is dropped and any other
    error is cut to its one line. Otherwise the outputs stay as the kernel left them."""
    outputs = [o for o in outputs if not o.get("metadata", {}).get(SANDBOX_OUTPUT)]
    failed = result.status == "error" or result.points < result.max_points
    said = any(o.get("output_type") == "error" and o.get("ename") == "CheckFailed" for o in outputs)
    if not changed and not (failed and not said):
        return outputs
    outputs = [_short_error(o) for o in outputs if not _kernel_verdict(o)]
    # display_data, not a stream: only display outputs may carry metadata (the mark that this output is ours)
    output = nbformat.v4.new_output("display_data", data={"text/plain": _verdict_text(result)},
                                    metadata={SANDBOX_OUTPUT: True})
    return outputs + [output]


def annotate_autograded(student, verdict, report, assignment):
    """Write the sandbox's verdict into the test cells of the autograded notebook (what Formgrader and the
    feedback show) where the student would not read it otherwise (annotated_outputs), replacing any
    earlier such output."""
    path = autograded_notebook(student, assignment)
    if not verdict.results or not os.path.isfile(path):
        return
    by_check = {r.name: r for r in verdict.results}
    nb = nbformat.read(path, as_version=4)
    touched = False
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.cell_type != "code" or gid not in report.after or report.checks.get(gid) not in by_check:
            continue
        outputs = annotated_outputs(cell.get("outputs", []), by_check[report.checks[gid]], gid in report.changed)
        if outputs != cell.get("outputs", []):
            cell.outputs, touched = outputs, True
    if touched:
        mode = os.stat(path).st_mode
        os.chmod(path, mode | 0o200)         # nbgrader leaves autograded notebooks read-only
        nbformat.write(nb, path)
        os.chmod(path, mode)


def snapshot_overrides(assignment):
    """The gradebook's manual scores and extra credit before autograde (see gradebook.snapshot_overrides)."""
    from autograder.gradebook import open_gradebook, snapshot_overrides as snapshot
    if not os.path.exists(GRADEBOOK):
        return {}
    with open_gradebook(GRADEBOOK, COURSE_ID) as gb:
        return snapshot(gb, assignment.name)


def report_put_back(changes):
    """Say, value by value, what restore_untouched put back (a kernel's write, or a grade entered in
    Formgrader while nbgrader-run ran: re-enter that one)."""
    if not changes:
        return
    print(f"gradebook: {len(changes)} grade(s) of submissions not graded in this run changed while the kernels "
          "ran (a kernel wrote the gradebook, or someone graded in Formgrader meanwhile): put back", flush=True)
    for student, assignment, cell, found, wanted in changes:
        print(f"  {student}/{assignment} {cell}: {found} -> {wanted}", flush=True)


def restore_untouched(overrides, synced, autos=None):
    """gradebook.restore_untouched on the course's gradebook (submissions outside this run)."""
    from autograder.gradebook import open_gradebook, restore_untouched as restore
    with open_gradebook(GRADEBOOK, COURSE_ID) as gb:
        return restore(gb, overrides, synced, autos)


def snapshot_auto(assignment, student=None):
    """nbgrader's auto scores and review flags now (see gradebook.snapshot_auto)."""
    from autograder.gradebook import open_gradebook, snapshot_auto as snapshot
    if not os.path.exists(GRADEBOOK):
        return {}
    with open_gradebook(GRADEBOOK, COURSE_ID) as gb:
        return snapshot(gb, assignment.name, student)


def sync_course(students, assignment, overrides=None, log=None, trust=False, server=None, answers=None):
    """Grade every submitted notebook (or those of `students`) in the sandbox and record the verdicts in
    the gradebook. Returns {student: (Verdict, SyncReport)}. Raises gradebook.SyncError when the gradebook
    does not match the grading rule, and the sandbox's IsolationUnavailable; then nothing is written."""
    from autograder.gradebook import cells_to_checks, open_gradebook, sync_scores
    paths = submitted_notebooks(assignment)
    if students is not None:
        unknown = sorted(set(students) - set(paths))
        if unknown:
            raise ValueError(f"no submitted/<student>/{assignment.name}/{assignment.notebook}.ipynb for {unknown}")
        paths = {s: paths[s] for s in students}
    with open_gradebook(GRADEBOOK, COURSE_ID) as gb:
        cells_to_checks(gb, assignment.name, assignment.notebook)          # the gradebook matches the grading rule, or stop now
    if log:
        log(f"sandbox: grading {len(paths)} submitted {assignment.name} notebook(s) (student code sandboxed, "
            "judged here)")
    verdicts = sandboxed_verdicts(paths, assignment, trust, server, log)
    for student, verdict in verdicts.items():
        if os.path.isfile(autograded_notebook(student, assignment)):
            continue
        if verdict.invalid:
            if log:
                log(f"  {student}: not a notebook: an autograded copy of the release says why (score 0)")
            write_unreadable_autograded(student, verdict.invalid, assignment)
        else:
            if log:
                log(f"  {student}: no autograded notebook (nbgrader failed on it): nbgrader autograde without executing")
            autograde_without_executing(student, assignment)
    synced = {}
    with open_gradebook(GRADEBOOK, COURSE_ID) as gb:
        for student, verdict in verdicts.items():
            report = sync_scores(gb, assignment.name, assignment.notebook, student, verdict.points, course_id=COURSE_ID,
                                 overrides=overrides, answers=answers)
            synced[student] = (verdict, report)
    for student, (verdict, report) in synced.items():
        annotate_autograded(student, verdict, report, assignment)
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
        changes = ", ".join(f"{cell} {found} -> {wanted}" for cell, (found, wanted) in sorted(report.restored.items()))
        notes.append(f"{len(report.restored)} grade(s) changed during autograde, put back "
                     f"(a kernel wrote the gradebook?): {changes}")
    if report.overrides:
        notes.append(f"manual override in the gradebook wins in {', '.join(sorted(report.overrides))}")
    return "; ".join(notes)


def _hidden_suite_score(path, trust, assignment):
    """The pytest path's automatic points for one notebook (the table's cross-check of the recorded score)."""
    from autograder.grade import run_hidden_suite
    return sum(r.points for r in run_hidden_suite(path, trust=trust, assignment=assignment))


def pytest_scores(submissions, trust=False):
    """The pytest path's score for each (student, assignment) (None when the file is not a notebook)."""
    from autograder.submission import InvalidSubmission, Submission
    scores = {}
    for (student, assignment), path in submissions.items():
        try:
            Submission.load(path, assignment=assignment)
        except InvalidSubmission:
            scores[(student, assignment)] = None
            continue
        scores[(student, assignment)] = _hidden_suite_score(path, trust, assignment)
    return scores


GRADER_FILES = ("autograder/", "src/", "release/", "nbgrader_config.py")


def grader_fingerprint():
    """sha256 over what decides a grade (the grader, src/, the release, nbgrader_config.py, which nbgrader
    runs again for feedback and export): to notice a kernel that wrote them."""
    from autograder.batch import file_sha256, grader_sha256
    return grader_sha256() + file_sha256(os.path.join(ROOT, "nbgrader_config.py"))


def grade_all_csv(path):
    """True when `path` is a CSV that grade-all or merge-csv wrote (nbgrader export would overwrite it)."""
    from autograder.batch import foreign_file
    return os.path.isfile(path) and not foreign_file(path)


def student_pattern(student):
    """nbgrader's --student is a glob: a student id with *, ? or [ must match only itself."""
    return glob.escape(student)


def autograde_one(student, assignment):
    """`nbgrader autograde A --student S --force`: (exit status, why it failed or "")."""
    proc = nbgrader("autograde", assignment.name, "--student", student_pattern(student), "--force", check=False)
    log = proc.stderr + proc.stdout
    reason = failures_from_log(log).get(student, "")
    if proc.returncode and not reason:
        lines = [line.strip() for line in log.splitlines() if line.strip()]
        errors = [line for line in lines if "Error" in line or "error" in line] or lines or ["no output"]
        reason = f"not graded: nbgrader autograde exited {proc.returncode}: {errors[-1][:160]}"
    return proc.returncode, reason


def autograde_students(pairs, log=print, after=None):
    """Autograde each (student, assignment id) of `pairs` (and only them) in its own nbgrader run, printing
    one progress line each. Returns {(student, assignment id): reason} for every one nbgrader could not grade.
    after: a dict to collect, per assignment id, each student's snapshot_auto taken right after their own
    autograde (what nbgrader gave their cells, before any later kernel ran)."""
    failed = {}
    for i, (student, name) in enumerate(pairs, 1):
        began = time.monotonic()
        status, reason = autograde_one(student, assignments.get(name))
        if after is not None:
            after.setdefault(name, {}).update(snapshot_auto(assignments.get(name), student))
        if reason:
            failed[(student, name)] = reason
        log(f"  [{i}/{len(pairs)}] {student} ({name}): {'failed: ' + reason if reason else 'autograded'} "
            f"({time.monotonic() - began:.1f} s)")
    return failed


def generate_feedback(students, assignment):
    """`nbgrader generate_feedback A` for these students only: one run excluding every other student in
    submitted/, or one run per student when an id holds a comma (the exclusion list's separator)."""
    others = sorted(set(submitted_notebooks(assignment)) - set(students))
    if not any("," in s for s in others):
        args = ["--CourseDirectory.student_id_exclude=" + ",".join(others)] if others else []
        nbgrader("generate_feedback", assignment.name, "--force", *args, check=False)
        return
    for student in students:
        nbgrader("generate_feedback", assignment.name, "--force", "--student", student_pattern(student), check=False)


def refusal(submissions_dir, overwrite, only):
    """Why nbgrader-run must not start (a message for stderr), or "" when it may."""
    if only:
        unknown = sorted(set(only) - set(assignments.names()))
        if unknown:
            return (f"nbgrader-run: no assignment {', '.join(map(repr, unknown))} in this course "
                    f"(it has: {', '.join(assignments.names())})")
    if os.path.realpath(submissions_dir) == os.path.realpath(os.path.join(ROOT, "submitted")):
        return ("nbgrader-run copies --submissions DIR into submitted/, so DIR cannot be submitted/ itself. For what "
                "`nbgrader collect` put there, for each assignment A: nbgrader autograde A --force && python -m "
                "autograder sync-gradebook A && nbgrader generate_feedback A --force; then nbgrader export")
    if not os.path.isdir(submissions_dir):
        return f"nbgrader-run: no such folder: {submissions_dir}"
    grades_csv = os.path.join(ROOT, "grades.csv")
    if not overwrite and grade_all_csv(grades_csv):
        return (f"nbgrader-run: {grades_csv} was written by grade-all or merge-csv, and nbgrader export would "
                "replace it: rename it (grade-all's default is now sandbox-grades.csv) or pass --overwrite")
    return ""


def manual_column(report):
    """The table's manual points: "-" (no hand-graded cells), "?/20" (some not graded yet) or "12/20" (an
    answer left as released counts 0: nbgrader scores it so itself)."""
    if not report.manual:
        return "-"
    if report.manual_pending:
        return f"?/{report.manual_max:g}"
    return f"{sum(report.manual.values()):g}/{report.manual_max:g}"


def manual_note(report):
    """Says honestly that hand-graded cells are still open (the score counts them as 0 until graded)."""
    if not report.manual_pending:
        return ""
    return (f"needs manual grading: {len(report.manual_pending)} of {len(report.manual)} answer cell(s) "
            f"({report.manual_max:g} points) in Formgrader; the score counts them as 0 until then")


def row_reasons(student, assignment, verdict, report, failed, exported):
    """Why this submission was not graded normally, for the table's last column ("" when it was)."""
    reasons = [failed.get((student, assignment.name), "")]
    died, slow = kernel_died_in(student, assignment), timeouts(student, assignment)
    if not reasons[0] and died:
        reasons[0] = f"{KERNEL_DIED}: its test cells from {died} on did not run in it (0 there)"
    if not reasons[0] and slow:
        reasons[0] = f"time limit hit in {', '.join(slow)}"
    if not (verdict.invalid and reasons[0]):       # nbgrader already said why it is not a notebook
        reasons.append(verdict.reason)
    reasons += ["" if died else kernel_note(report), gradebook_notes(report), manual_note(report)]
    if exported is not None and exported.get((student, assignment.name)) != report.score:
        reasons.append(f"grades.csv says {exported.get((student, assignment.name))}, the gradebook {report.score}")
    return "; ".join(r for r in reasons if r)


TABLE_HEAD = (f"{'student':<26} {'assignment':<11} {'score':>6} {'max':>5} {'auto':>5} {'manual':>7} {'kernel':>6} "
              f"{'pytest':>7}  reason")


def table_row(student, assignment, score, report, pytest_score, reasons):
    """One line of the grade table (columns as TABLE_HEAD; "-" where there is no value)."""
    def shown(value):
        return "-" if value is None else f"{value:g}"
    return (f"{student:<26} {assignment.name:<11} {shown(score):>6} {report.max_score:>5g} {shown(report.auto_score):>5} "
            f"{manual_column(report):>7} {shown(report.previous_score):>6} {shown(pytest_score):>7}  {reasons}")


def release_and_autograde(submissions, present):
    """Steps 1-3 for every assignment present: release, collect, autograde each submission in a kernel.
    Returns ({(student, assignment id): reason nbgrader failed}, (manual scores and extra credit before any
    kernel ran, auto scores before any kernel ran, each student's auto scores right after their own
    autograde), each by assignment id), or None when the grader's files changed while the kernels ran (said
    on stderr). A collected notebook a kernel changed is put back as handed in."""
    for assignment in present:
        print(f"release: nbgrader generate_assignment {assignment.name}", flush=True)
        nbgrader("generate_assignment", assignment.name, "--force")
    collected = collect(submissions)
    overrides = {a.name: snapshot_overrides(a) for a in assignments.all_assignments()}   # any kernel may write any row
    autos, answers = {a.name: snapshot_auto(a) for a in assignments.all_assignments()}, {}
    others = sum(len(set(submitted_notebooks(a)) - {s for s, n in submissions if n == a.name}) for a in present)
    fingerprint = grader_fingerprint()
    print(f"autograde: {len(submissions)} submission(s) ({', '.join(a.name for a in present)}), one nbgrader "
          f"autograde (one kernel) each" + (f"; the {others} other submission(s) in submitted/ are left as they are"
                                             if others else ""), flush=True)
    failed = autograde_students(list(submissions), log=lambda text: print(text, flush=True), after=answers)
    if grader_fingerprint() != fingerprint:
        print(f"nbgrader-run: the grader's files ({', '.join(GRADER_FILES)}) changed while nbgrader autograde "
              "ran the submissions in kernels with your permissions: a submission may have tampered with "
              "them. Nothing was synced or exported. Restore them (git checkout -- . ; git status) and "
              "rerun; grade with `python -m autograder grade-all submitted`, which never runs student "
              "code outside the sandbox, to find the submission.", file=sys.stderr)
        return None
    for path in put_back_submitted(collected):
        print(f"autograde: {os.path.relpath(path, ROOT)} changed while the kernels ran (a kernel wrote it?): put back "
              "as handed in; the sandbox grades that", flush=True)
    return failed, (overrides, autos, answers)


def main(submissions_dir, with_pytest=True, trust=False, overwrite=False, only=None):
    """`python -m autograder nbgrader-run`: the module docstring's steps for every assignment found in
    `submissions_dir` (or only those in `only`). Exit 0, 1 (something not graded or synced), 2 (nothing done)."""
    from autograder.gradebook import SyncError
    refused = refusal(submissions_dir, overwrite, only)
    if refused:
        print(refused, file=sys.stderr)
        return 2
    grades_csv = os.path.join(ROOT, "grades.csv")
    submissions, notes = find_submissions(submissions_dir, only)
    for note in notes:
        print(note, flush=True)
    if not submissions:
        print(f"no submissions found in {submissions_dir}" + (f" for {', '.join(only)}" if only else ""),
              file=sys.stderr)
        return 2
    present = [assignments.get(name) for name in sorted({name for _, name in submissions})]
    servers = {}
    try:
        for a in present:            # one per assignment: mlp's submissions never fork from a process holding torch
            servers[a.name] = ForkServer(trust=trust, assignments=[a.name])      # no sandbox, no run
    except IsolationUnavailable as e:
        for server in servers.values():
            server.close()
        print(f"nbgrader-run: {e}\nnothing was graded: the recorded grades come from the sandbox", file=sys.stderr)
        return 2
    synced, overrides = {}, None
    try:
        isolation = getattr(next(iter(servers.values())), "isolation", "")
        ran = release_and_autograde(submissions, present)
        if ran is None:
            return 1
        failed, (overrides, autos, answers) = ran
        for assignment in present:
            students = [s for s, name in submissions if name == assignment.name]
            try:
                done = sync_course(students, assignment, overrides=overrides[assignment.name],
                                   log=lambda text: print(text, flush=True), trust=trust,
                                   server=servers[assignment.name], answers=answers.get(assignment.name, {}))
            except (SyncError, IsolationUnavailable) as e:
                print(f"nbgrader-run: {e}\nnothing was exported, and gradebook.db still holds the in-kernel "
                      f"verdicts of {assignment.name}: fix this, then `python -m autograder sync-gradebook "
                      f"{assignment.name}`", file=sys.stderr)
                return 1
            synced.update({(s, assignment.name): pair for s, pair in done.items()})
    finally:
        for server in servers.values():
            server.close()
        if overrides is not None:           # even when the run stops early: what kernels wrote is put back
            report_put_back(restore_untouched(overrides, set(synced), autos))
    unscored = sorted(key for key, (verdict, report) in synced.items() if report.score is None)
    exported = None
    if unscored:
        # grades.csv would show 0 for a submission that has no score: leave it (and the feedback) unwritten
        if os.path.exists(grades_csv):
            os.remove(grades_csv)
    else:
        for assignment in present:
            students = [s for s, name in submissions if name == assignment.name]
            print(f"feedback: nbgrader generate_feedback {assignment.name} for these {len(students)} student(s)",
                  flush=True)
            generate_feedback(students, assignment)
        print("export: nbgrader export (every student and assignment in the gradebook)", flush=True)
        nbgrader("export", "--to", "grades.csv")
        exported = exported_scores(grades_csv)
    if with_pytest:
        print(f"pytest path: python -m autograder grade, per submission ({len(submissions)})", flush=True)
    other = pytest_scores(submissions, trust) if with_pytest else {}
    print()
    print(TABLE_HEAD)
    for (student, name), (verdict, report) in synced.items():
        assignment = assignments.get(name)
        score = report.score if exported is None else exported.get((student, name))
        print(table_row(student, assignment, score, report, other.get((student, name)),
                        row_reasons(student, assignment, verdict, report, failed, exported)))
    return summary(submissions, present, synced, failed, unscored, exported, isolation)


def summary(submissions, present, synced, failed, unscored, exported, isolation):
    """The lines under the table: what each column means, what was written, what is left to do; the exit status."""
    print("\nscore: what gradebook.db, grades.csv and the feedback record: the sandboxed grader's automatic points"
          + (f" (isolation: {isolation})" if isolation else "") + " plus any manual points given in Formgrader"
          + "\nauto: the sandbox's automatic points; manual: hand-graded points given / possible ('?': not graded "
            "yet, '-': none in this assignment)"
          + "\nkernel: what nbgrader's in-kernel run said, never recorded ('-': it recorded nothing)")
    if unscored:
        names = ", ".join(f"{s}/{a}" for s, a in unscored)
        print(f"{len(unscored)} submission(s) have no score (a grader error: {names}); feedback and grades.csv "
              "were not written. Rerun `python -m autograder sync-gradebook`, then `nbgrader generate_feedback "
              "<assignment> --force` for each assignment and `nbgrader export`.", file=sys.stderr)
        return 1
    for assignment in present:
        students = [s for s, name in submissions if name == assignment.name]
        with_feedback = [s for s in students if os.path.isfile(os.path.join(
            ROOT, "feedback", s, assignment.name, assignment.notebook + ".html"))]
        print(f"written: feedback/<student>/{assignment.name}/{assignment.notebook}.html for {len(with_feedback)} "
              f"of the {len(students)} {assignment.name} student(s) above")
        if len(with_feedback) < len(students):
            print(f"no {assignment.name} feedback for: {', '.join(sorted(set(students) - set(with_feedback)))} "
                  "(see the table)")
    print(f"written: gradebook.db, and grades.csv ({len(exported)} row(s): one per student per assignment, for "
          "every student in the gradebook; a student with no submission of an assignment has 0 there)")
    pending = sorted(key for key, (verdict, report) in synced.items() if report.manual_pending)
    if pending:
        print(f"{len(pending)} submission(s) need manual grading in Formgrader (hand-graded answer cells); after "
              "grading, `nbgrader generate_feedback <assignment> --force && nbgrader export` updates the "
              "feedback and grades.csv")
    if failed:
        names = ", ".join(f"{s}/{a}" for s, a in sorted(failed))
        print(f"nbgrader autograde could not run {len(failed)} of {len(submissions)} submission(s) in a kernel "
              f"({names}): their reasons are in the table; their recorded score is the sandbox's")
    return 0


def sync_targets(assignment, students):
    """The assignments sync-gradebook works on: the one named, or every one with submitted notebooks (of
    `students`, when given). UnknownAssignment / ValueError with a one-line reason when there is none."""
    if assignment is not None:
        return [assignments.get(assignment)]
    found = [a for a in assignments.all_assignments()
             if set(students or submitted_notebooks(a)) & set(submitted_notebooks(a))]
    if not found:
        who = f" for {', '.join(students)}" if students else ""
        raise ValueError(f"no submitted/<student>/<assignment>/<notebook>.ipynb{who} in any assignment "
                         f"({', '.join(assignments.names())})")
    return found


def sync_main(assignment=None, students=None, trust=False):
    """`python -m autograder sync-gradebook [A]`: re-apply the sandbox's scores after a `nbgrader autograde`
    run by hand or from Formgrader, for assignment A or every assignment with submitted notebooks. Exit 0
    when every submission got its verdict, 1 otherwise, 2 when nothing could be done (bad input, no
    gradebook, no sandbox)."""
    from autograder.gradebook import SyncError
    if not os.path.exists(GRADEBOOK):
        print(f"sync-gradebook: no gradebook at {GRADEBOOK} (run nbgrader generate_assignment and autograde first)",
              file=sys.stderr)
        return 2
    try:
        targets = sync_targets(assignment, students)
    except ValueError as e:            # UnknownAssignment is one
        print(f"sync-gradebook: {e}", file=sys.stderr)
        return 2
    synced = {}
    for target in targets:
        wanted = None if students is None or assignment is not None else \
            sorted(set(students) & set(submitted_notebooks(target)))
        try:
            done = sync_course(students if wanted is None else wanted, target,
                               log=lambda text: print(text, flush=True), trust=trust)
        except (SyncError, ValueError, IsolationUnavailable) as e:
            print(f"sync-gradebook: {target.name}: {e}\nnothing was written for {target.name}"
                  + (f" (already synced: {', '.join(sorted({a for _, a in synced}))})" if synced else ""),
                  file=sys.stderr)
            return 2
        synced.update({(s, target.name): pair for s, pair in done.items()})
    print(f"\n{'student':<26} {'assignment':<11} {'score':>6} {'max':>5} {'manual':>7} {'before':>6}  notes")
    for (student, name), (verdict, report) in synced.items():
        before = "-" if report.previous_score is None else f"{report.previous_score:g}"
        score = "-" if report.score is None else f"{report.score:g}"
        notes = [verdict.reason, kernel_note(report, who="the gradebook"), gradebook_notes(report),
                 manual_note(report), "submission created in the gradebook" if report.created else ""]
        print(f"{student:<26} {name:<11} {score:>6} {report.max_score:>5g} {manual_column(report):>7} {before:>6}  "
              f"{'; '.join(n for n in notes if n)}")
    print("\ngradebook.db now holds the sandbox's automatic scores (before: what it held; manual scores are left "
          "as they are). Regenerate what was made from the old ones:\n    "
          + " && ".join(f"nbgrader generate_feedback {t.name} --force" for t in targets) + " && nbgrader export")
    return 1 if any(report.score is None for verdict, report in synced.values()) else 0
