"""grade-all: grade a whole course in parallel sandboxes, resumably, with a status per (student, assignment).

    python -m autograder grade-all DIR [--assignment ID ...] [--jobs N] [--out sandbox-grades.csv]
                                       [--totals sandbox-totals.csv] [--results-dir results]
                                       [--shard i/N] [--force] [--gradebook gradebook.db] [--timeout S]
                                       [--trust-submissions] [--overwrite]
    python -m autograder merge-csv grades-1.csv grades-2.csv ... [--out sandbox-grades.csv]
                                   [--totals sandbox-totals.csv] [--overwrite]

Input: an nbgrader-style tree DIR/<student>/<assignment id>/<notebook>.ipynb (the assignment's notebook
name, or the only notebook in that folder), for every assignment of the course (the registry,
autograder/assignments/: no assignment is named here), or only those given with ``--assignment``.

One grading unit is a (student, assignment): every DIR/<student>/<assignment id> entry
(``find_units``). A student with a folder for one assignment and not another is graded for the one;
the other is ``missing`` in the course totals only (score 0 there, no CSV row, no results.json).
Nothing a student submitted is followed out of DIR: a student folder, ``<assignment>/`` folder or
notebook that is a symlink, a notebook that is not a regular file (a FIFO, a device) and a
notebook that is a hard link (a file with more than one name: maybe another student's, or the
solution) are ``invalid`` with the reason ("... is a symlink, not a submitted file"); a student folder
that is a symlink is ``invalid`` for every assignment graded (what it holds is never looked at).
Notebooks are opened with O_NOFOLLOW and never read past 64 MB. Names starting with "." (.git,
.ipynb_checkpoints) are not students. A folder name that is not valid UTF-8, or holds control
characters, is graded under a readable id (each such byte written ``\\xNN``); results are only ever
written to RESULTS_DIR/<assignment>/<id>/results.json, never through a symlink.

Output:
- ``RESULTS_DIR/<assignment>/<student>/results.json`` per unit (Gradescope's schema plus the keys
  ``assignment``, ``student``, ``status``, ``reason``, ``isolation``, ``submission_sha256``,
  ``grader_sha256``), each written atomically (temporary file + ``os.replace``) as soon as that unit is
  graded;
- ``--out`` CSV (default ``sandbox-grades.csv``; student, assignment, score, max_score, status, reason,
  nbgrader_score, isolation): one row per (student, assignment), rebuilt at the end from the results of
  the units found in DIR (of this shard);
- ``--totals`` CSV (default ``sandbox-totals.csv``): one row per student: student, one score column per
  assignment graded (registry order), total, max_total, missing (the assignments with no submission,
  ";"-separated; they count 0). A unit with no score (``error``) counts 0 in the total too, and its
  column is empty. The sandbox grades only the auto-graded checks: points that are graded by hand in
  Formgrader (multiclass's written answers) are in neither max_score nor the totals;
- an existing --out or --totals that grade-all or merge-csv did not write (another header, e.g. the
  ``grades.csv`` of ``nbgrader export``) is refused before grading unless ``--overwrite``; a grade-all
  CSV of the one-assignment layout (no ``assignment`` column) is grade-all's, and replaced;
- a progress bar on stderr, naming every unit graded for more than 5 s (``ann/mlp``), and a summary
  on stdout: per assignment, the counts of each status and the mean of the graded; the number of
  students with a total.
Every text written is valid UTF-8 (protocol.clean_text), whatever the submission held.

Status of a unit (the CSV's ``status`` column):
- ``graded``: every check ran to its end (whatever the score);
- ``crashed``: the student's process died in some check or cell (os._exit, a signal, a memory or
  CPU limit); ``timeout``: a wall-clock limit was hit and nothing crashed. In both cases the score
  counts the points the code earned before it (a cell that kills the process is skipped and the
  checks are regraded on the cells before it), and ``reason`` says what happened;
- ``invalid``: not a gradable notebook (not UTF-8 or not JSON, no cells, empty, too large, too
  deeply nested, a symlink; see submission.parse_notebook): score 0, and the reason;
- ``error``: the grader itself failed (never the student's doing: the sandbox broke, or a check's
  judge reported a grader error): no score; rerun to retry.

Workers: each worker has one fork server per assignment it grades, which preloads that assignment's
probes only (``ForkServer(assignments=[id])``: an mlp submission never forks from a process that
imported torch for multiclass), and calibrates that assignment's time limits on it the first time
(timing.calibrated; cached per worker and assignment).

Isolation: ``isolation`` (results.json and the CSV) says how student code was isolated
(``sandbox.ForkServer.isolation``). When no isolation is possible, grade-all prints why and
exits 2 without grading, unless ``--trust-submissions`` (code then runs unsandboxed).

Resume: a unit is skipped when its results.json has a final status (not ``error``), the
sha256 of the notebook it graded equals the notebook's now, and the grader's fingerprint for that
assignment (``grader_sha256``: the autograder without the other assignments' folders, src and the
assignment's release) is today's. Anything else is regraded. ``--force`` regrades every unit. Before
a unit is (re)graded, its old results.json is deleted, so a regrade that fails leaves an ``error``
record or nothing, never the previous score.

Shards: ``--shard i/N`` (1 <= i <= N) grades the units of the students whose
``int(sha256(student id), 16) % N == i - 1``: deterministic, independent of who else submitted,
so a student (all their assignments) stays in one shard when late submissions are added.
``merge-csv`` merges the shards' --out CSVs keyed by (student, assignment) and writes the totals
of the merged rows.

Tampering signal: with a gradebook (``--gradebook``, default ``./gradebook.db`` when present),
nbgrader's auto-graded score (the code cells' ``code_score``; hand-graded cells are not the sandbox's)
of each (student, assignment) is read (read-only); the summary says how many units were compared
(those in both; "no score compared" when none was, or when there is no gradebook), lists every unit
whose two scores differ, and the CSV has ``nbgrader_score`` filled in.
"""
import csv
import hashlib
import json
import os
import queue
import stat
import sys
import threading
import time
import unicodedata
from dataclasses import dataclass

from autograder import assignments, timing
from autograder.grade import (GRADER_ERROR, gradescope_results, isolation_of, not_graded_results, submission_status,
                              write_json_atomically)
from autograder.protocol import clean_text, safe_str
from autograder.sandbox import ROOT, ForkServer, IsolationUnavailable, Limits
from autograder.submission import MAX_NOTEBOOK_BYTES, InvalidSubmission, Submission, read_bytes

__all__ = ["MAX_NOTEBOOK_BYTES", "submission_status"]     # re-exported: where they used to live

CSV_FIELDS = ("student", "assignment", "score", "max_score", "status", "reason", "nbgrader_score", "isolation")
ONE_ASSIGNMENT_CSV_FIELDS = ("student", "score", "max_score", "status", "reason", "nbgrader_score", "isolation")
TOTALS_FIRST, TOTALS_LAST = ("student",), ("total", "max_total", "missing")
FINAL_STATUSES = ("graded", "timeout", "crashed", "invalid")
SHARED_GRADER_FILES = ("autograder", "src")     # + release/<id>/ of the assignment(s) fingerprinted
DEFAULT_OUT = "sandbox-grades.csv"      # not grades.csv: that is `nbgrader export`'s (nbgrader-run's) file
DEFAULT_TOTALS = "sandbox-totals.csv"


@dataclass(frozen=True)
class Unit:
    """One grading unit: a student's submission of one assignment."""
    student: str
    assignment: str
    notebook: str | None      # None: no notebook to grade (graded as invalid)
    problem: str = ""         # why no notebook was picked

    @property
    def key(self):
        return (self.student, self.assignment)

    @property
    def label(self):
        """How progress and the summary name the unit: ann/mlp."""
        return f"{self.student}/{self.assignment}"


# --- the class -------------------------------------------------------------------------------

def readable_id(name):
    """A folder name as a student id that is valid, printable text: a byte that is not UTF-8
    (os.listdir gives it as a surrogate escape) and a control character are written \\xNN,
    so Latin-1 "zoë" becomes "zo\\xeb"."""
    out = []
    for ch in name:
        code = ord(ch)
        if 0xDC80 <= code <= 0xDCFF:
            out.append(f"\\x{code - 0xDC00:02x}")
        elif 0xD800 <= code <= 0xDFFF or unicodedata.category(ch) == "Cc":
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(ch)
    return "".join(out)


def assignment_ids(wanted=None):
    """The assignment ids to grade, in registry order: every assignment of the course, or those in
    `wanted` (UnknownAssignment, naming the course's assignments, for one that does not exist)."""
    if not wanted:
        return assignments.names()
    for name in wanted:
        assignments.get(name)
    return [name for name in assignments.names() if name in set(wanted)]


def _pick_notebook(folder, assignment):
    """(path, problem, lstat of the path) of the notebook submitted in `folder` (never following a symlink):
    the assignment's notebook name, or the only notebook there."""
    notebook = assignments.get(assignment).notebook
    try:
        names = sorted(n for n in os.listdir(folder) if n.endswith(".ipynb") and not n.startswith("."))
    except OSError as e:
        return None, f"cannot list {assignment}/: {e.strerror or type(e).__name__}", None
    if notebook + ".ipynb" in names:
        name = notebook + ".ipynb"
    elif len(names) == 1:
        name = names[0]
    else:
        return None, (f"no notebook in {assignment}/" if not names else
                      f"{len(names)} notebooks in {assignment}/ and none is named {notebook}.ipynb"), None
    path, shown = os.path.join(folder, name), f"{assignment}/{readable_id(name)}"
    try:
        info = os.lstat(path)
    except OSError as e:
        return None, f"cannot read {shown}: {e.strerror or type(e).__name__}", None
    if stat.S_ISLNK(info.st_mode):
        return None, f"{shown} is a symlink, not a submitted file", None
    if not stat.S_ISREG(info.st_mode):
        return None, f"{shown} is not a regular file", None
    return path, "", info


def _submission_of(top, assignment):
    """(notebook, problem, lstat) of the student folder `top`'s submission of `assignment`, or None when
    the student has no entry for it (not submitted). Never follows a symlink."""
    folder = os.path.join(top, assignment)
    try:
        info = os.lstat(folder)
    except FileNotFoundError:
        return None
    except OSError as e:
        return None, f"cannot read {assignment}/: {e.strerror or type(e).__name__}", None
    if stat.S_ISLNK(info.st_mode):
        return None, f"{assignment}/ is a symlink, not a submitted folder", None
    if not stat.S_ISDIR(info.st_mode):
        return None, f"{assignment} is not a folder", None
    return _pick_notebook(folder, assignment)


def _student_folders(directory):
    """[(folder name, is a symlink)] of the entries of DIR that may be students: folders and symlinks,
    sorted, without the names starting with "." and without plain files."""
    found = []
    for entry in sorted(os.listdir(directory)):
        if entry.startswith("."):
            continue
        try:
            info = os.lstat(os.path.join(directory, entry))
        except OSError:
            continue
        if stat.S_ISLNK(info.st_mode) or stat.S_ISDIR(info.st_mode):
            found.append((entry, stat.S_ISLNK(info.st_mode)))
    return found


def _student_ids(entries):
    """{folder name: student id}: readable_id(folder name), made unique with a "~2", "~3"... suffix if two
    collide, so one student keeps one id across their assignments."""
    ids, taken = {}, set()
    for entry in entries:
        sid, n = readable_id(entry), 1
        while sid in taken:
            n += 1
            sid = f"{readable_id(entry)}~{n}"
        taken.add(sid)
        ids[entry] = sid
    return ids


def find_units(directory, assignment_names=None):
    """[Unit] for every DIR/<student>/<assignment>/ entry of the assignments graded (default: all of
    the course's), sorted by (student, assignment).

    Never follows a symlink: a student folder that is a symlink is an `invalid` unit for every assignment
    graded; an <assignment>/ folder or notebook that is a symlink, and a notebook that is a hard link (two
    students' hard-linked notebooks are both refused: which one wrote it cannot be told), are `invalid`
    units with the reason. A student with no entry for an assignment has no unit for it (missing)."""
    names = assignment_ids(assignment_names)
    folders = _student_folders(directory)
    ids = _student_ids([entry for entry, _ in folders])
    units = []
    for entry, is_link in folders:
        for assignment in names:
            if is_link:
                found = (None, "the student folder is a symlink, not a submitted folder", None)
            else:
                found = _submission_of(os.path.join(directory, entry), assignment)
                if found is None:
                    continue
            notebook, problem, info = found
            # a file with a second name may be anyone's: another student's notebook, the solution, any file
            if info is not None and info.st_nlink > 1:
                notebook, problem = None, (f"the notebook is a hard link (a file with {info.st_nlink} names, maybe "
                                           f"someone else's), not a submitted file")
            units.append(Unit(ids[entry], assignment, notebook, problem))
    return sorted(units, key=lambda u: (u.student, names.index(u.assignment)))


def parse_shard(text):
    """'i/N' -> (i, N) with 1 <= i <= N."""
    try:
        i, n = (int(part) for part in text.split("/"))
    except ValueError:
        raise ValueError(f"--shard must look like i/N, got {text!r}") from None
    if not 1 <= i <= n:
        raise ValueError(f"--shard i/N needs 1 <= i <= N, got {text!r}")
    return i, n


def shard_of(student_id, n):
    """The shard (1..n) a student belongs to: a stable hash of the id, not its position in the class,
    so all of one student's assignments land in the same shard."""
    return int(hashlib.sha256(student_id.encode()).hexdigest(), 16) % n + 1


def file_sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# in an assignment's folder but never imported by the grader: the generated-mutant battery
# (scripts/generate_mutants.py); editing it must not regrade a class
NOT_GRADING_FILES = ("differential.py",)


def _grader_tops(assignment):
    """The folders that decide `assignment`'s grades (every assignment's when None): the shared grading
    code and src/, without the other assignments' folders, and the assignment's release."""
    if assignment is None:
        return list(SHARED_GRADER_FILES) + ["release"], set()
    others = {os.path.join("autograder", "assignments", name) for name in assignments.names() if name != assignment}
    return list(SHARED_GRADER_FILES) + [os.path.join("release", assignment)], others


def grader_sha256(assignment=None):
    """Fingerprint of what decides a grade of `assignment` (default: of any assignment): the grading
    package, the reference and the release. Editing one assignment's files regrades only that one."""
    tops, skipped = _grader_tops(assignment)
    paths = []
    for top in tops:
        for folder, dirs, files in os.walk(os.path.join(ROOT, top)):
            dirs[:] = [d for d in dirs if not d.startswith((".", "__pycache__"))
                       and os.path.relpath(os.path.join(folder, d), ROOT) not in skipped]
            paths += [os.path.join(folder, name) for name in files
                      if name.endswith((".py", ".ipynb")) and name not in NOT_GRADING_FILES]
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(os.path.relpath(path, ROOT).encode() + b"\0" + file_sha256(path).encode())
    return digest.hexdigest()


# --- one unit ---------------------------------------------------------------------------------

def results_path(results_dir, student_id):
    """RESULTS_DIR/<student>/results.json (RESULTS_DIR: the assignment's folder of results, see
    assignment_results_dir). ValueError for an id that is not one plain folder name."""
    if (not student_id or student_id.startswith(".") or "/" in student_id or os.sep in student_id
            or "\0" in student_id or clean_text(student_id, len(student_id)) != student_id):
        raise ValueError(f"unsafe student id {readable_id(student_id)!r}")
    return os.path.join(results_dir, student_id, "results.json")


def assignment_results_dir(results_dir, assignment):
    """RESULTS_DIR/<assignment>: where that assignment's results go (an id from the registry: a plain name)."""
    return os.path.join(results_dir, assignments.get(assignment).name)


def unit_results_path(results_dir, unit):
    """RESULTS_DIR/<assignment>/<student>/results.json of a unit."""
    return results_path(assignment_results_dir(results_dir, unit.assignment), unit.student)


def _real_folder(folder, parent):
    """Make `folder` (a child of `parent`), refusing one that is a symlink or resolves outside `parent`."""
    if os.path.islink(folder):
        raise ValueError(f"{folder} is a symlink: results are never written through one")
    os.makedirs(folder, exist_ok=True)
    if os.path.realpath(folder) != os.path.join(os.path.realpath(parent), os.path.basename(folder)):
        raise ValueError(f"{folder} is not inside {parent}")


def prepare_results_path(results_dir, student_id, assignment=None):
    """results_path() (under RESULTS_DIR/<assignment> when given), with its folders made (never through a
    symlink out of RESULTS_DIR) and the previous results.json deleted (a regrade that fails must not
    leave the old score)."""
    os.makedirs(results_dir, exist_ok=True)
    if assignment is not None:
        top = assignment_results_dir(results_dir, assignment)
        _real_folder(top, results_dir)
        results_dir = top
    path = results_path(results_dir, student_id)
    _real_folder(os.path.dirname(path), results_dir)
    if os.path.lexists(path):
        os.remove(path)
    return path


def read_record(path):
    """The stored results.json as a dict, or None when absent, unreadable or reached through a symlink."""
    if (os.path.islink(path) or os.path.islink(os.path.dirname(path))
            or os.path.islink(os.path.dirname(os.path.dirname(path)))):
        return None
    try:
        with open(path, encoding="utf-8") as f:
            record = json.load(f)
        return record if isinstance(record, dict) else None
    except (OSError, ValueError, RecursionError):
        return None


def notebook_sha256(unit):
    """sha256 of the unit's notebook, or None when there is none or it cannot be graded by size."""
    if unit.notebook is None:
        return None
    try:
        return hashlib.sha256(read_bytes(unit.notebook, follow_symlinks=False)).hexdigest()
    except InvalidSubmission:
        return None


def is_current(record, submission_sha, grader_sha):
    return (record is not None and record.get("status") in FINAL_STATUSES
            and record.get("submission_sha256") == submission_sha and record.get("grader_sha256") == grader_sha)


def grade_unit(unit, server, limits, grader_sha):
    """The results.json record of one unit (grading runs in `server`'s sandbox).

    Whatever the notebook holds, this returns a record: `invalid` when it cannot be graded,
    `error` (no score) when a check's judge failed. Only a failure of the grader raises."""
    sha = None
    try:
        if unit.notebook is None:
            raise InvalidSubmission(unit.problem)
        data = read_bytes(unit.notebook, follow_symlinks=False)
        sha = hashlib.sha256(data).hexdigest()
        submission = Submission.from_bytes(data, unit.notebook, unit.assignment)
        del data
    except InvalidSubmission as e:
        record = not_graded_results("invalid", str(e), assignment=unit.assignment)
    else:
        results = submission.grade_all(server, limits=limits)
        record = gradescope_results(results, isolation_of(server), unit.assignment)
        if record["status"] == "error":
            record["score"] = None
    record.update(student=unit.student, submission_sha256=sha, grader_sha256=grader_sha)
    return record


def error_record(unit, grader_sha, error, isolation="unknown"):
    """The record of a unit the grader failed on (no score; regraded on the next run)."""
    if isinstance(error, BaseException):
        error = f"{type(error).__name__}: {safe_str(error, 400)}"
    return {"assignment": unit.assignment, "score": None, "max_score": assignments.get(unit.assignment).max_score,
            "output": "not graded: grader error", "tests": [],
            "status": "error", "reason": clean_text(f"{GRADER_ERROR}: {error}", 500),
            "isolation": isolation, "student": unit.student, "submission_sha256": None,
            "grader_sha256": grader_sha}


# --- the pool ------------------------------------------------------------------------------

class Progress:
    """A one-line progress bar on stderr (a line per 10% when stderr is not a terminal) that names every
    unit (ann/mlp) being graded for more than SLOW_AFTER seconds, so a long wait says who it is waiting for."""

    SLOW_AFTER = 5.0            # seconds: a student graded longer than this is named
    REDRAW = 1.0                # seconds between two redraws of the terminal line while someone is slow

    def __init__(self, total, stream=None, clock=time.monotonic):
        self.total, self.done, self.counts = total, 0, {}
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.clock = clock
        self.start, self.lock, self.last_tenth = clock(), threading.Lock(), -1
        self.running = {}       # {student: when their grading started}
        self.reported = {}      # {student: seconds of running already reported (not a terminal)}
        self.last_draw = self.start

    def started(self, student):
        with self.lock:
            self.running[student] = self.clock()

    def update(self, status, student=None):
        with self.lock:
            self.running.pop(student, None)
            self.reported.pop(student, None)
            self.done += 1
            self.counts[status] = self.counts.get(status, 0) + 1
            tenth = self.done * 10 // max(self.total, 1)
            if self.tty or tenth != self.last_tenth or self.done == self.total:
                self.last_tenth = tenth
                self._draw()

    def slow(self):
        """[(student, seconds)] graded for more than SLOW_AFTER seconds, longest first."""
        now = self.clock()
        return sorted(((s, now - t) for s, t in self.running.items() if now - t > self.SLOW_AFTER),
                      key=lambda item: -item[1])

    def tick(self):
        """Called often by the waiting thread: name the slow students (a terminal: on the bar, once a
        second; a log: one line when a student passes 5, 10, 20, 40... seconds)."""
        with self.lock:
            slow = self.slow()
            if self.tty:
                if slow and self.clock() - self.last_draw >= self.REDRAW:
                    self._draw()
                return
            for student, seconds in slow:
                due = max(self.SLOW_AFTER, 2 * self.reported.get(student, 0))
                if seconds >= due:
                    self.reported[student] = int(seconds)
                    self.stream.write(f"  still grading {student}: {seconds:.0f} s\n")
                    self.stream.flush()

    def _draw(self):
        width = 30
        filled = width * self.done // max(self.total, 1)
        counts = " ".join(f"{k} {v}" for k, v in sorted(self.counts.items()))
        slow = self.slow()
        waiting = ("  slow: " + ", ".join(f"{s} {t:.0f} s" for s, t in slow[:3])
                   + (f" (+{len(slow) - 3})" if len(slow) > 3 else "")) if slow else ""
        line = (f"[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total}  {counts}  "
                f"{self.clock() - self.start:.1f} s{waiting}")
        self.last_draw = self.clock()
        self.stream.write(("\r\033[K" + line) if self.tty else line + "\n")
        if self.tty and self.done == self.total:
            self.stream.write("\n")
        self.stream.flush()


class _Pool:
    """What the workers share: the queue, the settings, and what went wrong outside a record."""

    def __init__(self, todo, results_dir, limits, grader_shas, progress, trust, calibrate=False):
        self.todo, self.results_dir, self.limits, self.grader_shas = todo, results_dir, limits, grader_shas
        self.progress, self.trust, self.calibrate = progress, trust, calibrate
        self.stop = threading.Event()
        self.fatal = []             # IsolationUnavailable: no unit can be graded on this machine
        self.unwritten = {}         # {(student, assignment): record} whose results.json could not be written


class _Server:
    """A worker's fork servers, one per assignment (each preloads that assignment's probes only, so an
    mlp submission never forks from a process that imported torch for multiclass), started when first
    needed and restarted after a grader failure; with the limits calibrated on each."""

    def __init__(self, index, trust, limits, calibrate):
        self.index, self.trust = index, trust
        self.base, self.calibrate = limits, calibrate
        self.servers, self.calibrated = {}, {}

    def get(self, assignment):
        """The server for `assignment` (started on first use)."""
        if assignment not in self.servers:
            self.servers[assignment] = ForkServer(worker_index=self.index, trust=self.trust, assignments=[assignment])
            self.calibrated.pop(assignment, None)
        return self.servers[assignment]

    def limits(self, assignment):
        """The limits to grade `assignment` with on its server: per check, calibrated once on the
        reference's own time on it when asked (timing.py), else the base limits."""
        if not self.calibrate:
            return self.base
        if assignment not in self.calibrated:
            self.calibrated[assignment] = timing.calibrated(self.get(assignment), assignments.get(assignment),
                                                            self.base)
        return self.calibrated[assignment]

    def drop(self, assignment):
        """Close `assignment`'s server (after a grader failure: the next unit gets a fresh one)."""
        server = self.servers.pop(assignment, None)
        self.calibrated.pop(assignment, None)
        if server is not None:
            try:
                server.close()
            except Exception:  # noqa: BLE001 - a broken server is dropped all the same
                pass

    def close(self):
        for assignment in list(self.servers):
            self.drop(assignment)


def _grade_one(pool, unit, box):
    """The unit's record; one retry on a fresh fork server if the grader side broke.
    Raises IsolationUnavailable when the fork server cannot isolate student code."""
    record, grader_sha = None, pool.grader_shas[unit.assignment]
    for attempt in range(2):
        try:
            server = box.get(unit.assignment)
            limits = box.limits(unit.assignment)
        except IsolationUnavailable:
            raise
        except Exception as e:  # noqa: BLE001 - the grader's failure: record it, go on with the class
            box.drop(unit.assignment)
            record = error_record(unit, grader_sha, e)
            continue
        try:
            return grade_unit(unit, server, limits, grader_sha)
        except Exception as e:  # noqa: BLE001 - the grader's failure: record it, go on with the class
            box.drop(unit.assignment)
            record = error_record(unit, grader_sha, e, isolation_of(server))
    return record


def _worker(index, pool):
    """Grade units from the queue until it is empty (or the pool is stopped), writing each results.json."""
    box = _Server(index, pool.trust, pool.limits, pool.calibrate)
    try:
        while not pool.stop.is_set():
            try:
                unit = pool.todo.get_nowait()
            except queue.Empty:
                return
            pool.progress.started(unit.label)
            grader_sha = pool.grader_shas[unit.assignment]
            try:
                path = prepare_results_path(pool.results_dir, unit.student, unit.assignment)
                record = _grade_one(pool, unit, box)
            except IsolationUnavailable as e:
                pool.fatal.append(e)
                pool.stop.set()
                return
            except Exception as e:  # noqa: BLE001 - e.g. the results folder cannot be made
                pool.unwritten[unit.key] = record = error_record(unit, grader_sha, e)
                pool.progress.update(record["status"], unit.label)
                continue
            try:
                write_json_atomically(record, path)
            except Exception as e:  # noqa: BLE001 - disk full, permissions: keep the record in memory
                pool.unwritten[unit.key] = dict(record, output=f"{record.get('output')}\n(results.json could "
                                                              f"not be written: {safe_str(e, 200)})")
            pool.progress.update(record["status"], unit.label)
    finally:
        box.close()


def _todo(units, results_dir, grader_shas, force):
    """(queue of the units to grade, number skipped): a unit whose results.json is current is skipped."""
    todo, skipped = queue.Queue(), 0
    for unit in units:
        path = unit_results_path(results_dir, unit)
        if not force and is_current(read_record(path), notebook_sha256(unit), grader_shas[unit.assignment]):
            skipped += 1
        else:
            todo.put(unit)
    return todo, skipped


def grade_class(units, results_dir, jobs=2, limits=Limits(), force=False, stream=None, trust=False,
                calibrate=False):
    """Grade every unit not already graded (unless force); return ({(student, assignment): record} for
    all units, skipped). Each worker's fork servers preload one assignment's probes each.

    Raises the sandbox's IsolationUnavailable if student code cannot be isolated on this machine
    (and trust is False): then nothing more is graded."""
    names = [name for name in assignments.names() if name in {u.assignment for u in units}]
    grader_shas = {name: grader_sha256(name) for name in names}
    todo, skipped = _todo(units, results_dir, grader_shas, force)
    pool = _Pool(todo, results_dir, limits, grader_shas, Progress(todo.qsize(), stream), trust, calibrate)
    threads = [threading.Thread(target=_worker, args=(k, pool), daemon=True)
               for k in range(max(1, min(jobs, todo.qsize())))]
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            while thread.is_alive():
                thread.join(0.2)
                pool.progress.tick()
    except KeyboardInterrupt:
        pool.stop.set()                   # finish the submissions in flight; the rest resume next run
        for thread in threads:
            thread.join()
        raise
    if pool.fatal:
        raise pool.fatal[0]
    records = {u.key: pool.unwritten.get(u.key) or read_record(unit_results_path(results_dir, u)) for u in units}
    return records, skipped


# --- nbgrader's gradebook --------------------------------------------------------------------

def gradebook_scores(path, assignment_names=None):
    """{(student, assignment): nbgrader's auto-graded score} of the assignments (default: all the
    course's) that the gradebook holds, read-only. The auto-graded score is nbgrader's code_score: the
    points of hand-graded (markdown) cells are not the sandbox's to compare."""
    from nbgrader.api import Gradebook
    bin_dir = os.path.dirname(sys.executable)          # nbgrader runs `alembic` from PATH when it opens a gradebook
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    url = f"sqlite:///file:{os.path.abspath(path)}?mode=ro&uri=true"
    gradebook = Gradebook(url, course_id="")
    try:
        held = {a.name for a in gradebook.assignments}
        return {(d["student"], name): float(d["code_score"] or 0)
                for name in assignment_ids(assignment_names) if name in held
                for d in gradebook.submission_dicts(name)}
    finally:
        gradebook.close()


def compared_units(records, nbgrader_scores):
    """The (student, assignment) units of this run that the gradebook also holds: those compared."""
    return sorted(k for k, record in records.items() if record is not None and k in nbgrader_scores)


def score_mismatches(records, nbgrader_scores, tolerance=1e-6):
    """[((student, assignment), our score, nbgrader score)] where both exist and differ."""
    out = []
    for key in compared_units(records, nbgrader_scores):
        ours = records[key].get("score")
        if ours is None or abs(float(ours) - nbgrader_scores[key]) > tolerance:
            out.append((key, ours, nbgrader_scores[key]))
    return out


# --- the CSVs -----------------------------------------------------------------------------------

def _number(value):
    return type(value) in (int, float)


def _unit_order(key):
    """Sort key of a (student, assignment): by student, then the registry's order of assignments."""
    student, assignment = key
    order = assignments.names()
    return (student, order.index(assignment) if assignment in order else len(order), assignment)


def csv_rows(records, nbgrader_scores=None):
    """The --out rows, one per (student, assignment) of `records`, sorted by student then assignment."""
    rows = []
    for key in sorted(records, key=_unit_order):
        student, assignment = key
        record = records[key] or {"score": None, "status": "error", "reason": "no result was written"}
        score = record.get("score")
        nb = (nbgrader_scores or {}).get(key)
        rows.append({"student": clean_text(student, 1000), "assignment": assignment,
                     "score": f"{score:g}" if _number(score) else "",
                     "max_score": assignments.get(assignment).max_score,
                     "status": clean_text(str(record.get("status", "error")), 20),
                     "reason": " ".join(clean_text(str(record.get("reason", "")), 1000).split())[:300],
                     "nbgrader_score": f"{nb:g}" if _number(nb) else "",
                     "isolation": clean_text(str(record.get("isolation") or ""), 300)})
    return rows


def _float(text):
    """A CSV score as a number; None for an empty cell (no score: a grader error)."""
    try:
        return float(text) if text not in ("", None) else None
    except ValueError:
        return None


def totals_rows(rows, maxima):
    """The --totals rows: per student of `rows` (--out rows), one score column per assignment of `maxima`
    ({assignment: max score}, in column order), total, max_total, and missing (the assignments with no
    row: they count 0, as does a unit with no score)."""
    by_student = {}
    for row in rows:
        by_student.setdefault(row["student"], {})[row["assignment"]] = row
    out = []
    for student in sorted(by_student):
        mine = by_student[student]
        scores = {a: _float(mine[a]["score"]) if a in mine else None for a in maxima}
        total = sum(s for s in scores.values() if s is not None)
        out.append({"student": student, **{a: mine[a]["score"] if a in mine else "" for a in maxima},
                    "total": f"{total:g}", "max_total": f"{sum(float(m) for m in maxima.values()):g}",
                    "missing": ";".join(a for a in maxima if a not in mine)})
    return out


def totals_fields(maxima):
    """The --totals header for these assignments: student, <one per assignment>, total, max_total, missing."""
    return TOTALS_FIRST + tuple(maxima) + TOTALS_LAST


def write_csv_atomically(rows, path, fields=CSV_FIELDS):
    """Write `rows` under the header `fields` to `path` (temporary file + os.replace: never half a CSV)."""
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        with open(tmp, "w", newline="", encoding="utf-8", errors="replace") as f:
            writer = csv.DictWriter(f, fieldnames=fields)
            writer.writeheader()
            writer.writerows(rows)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def read_grade_csv(path):
    """The rows of a grade-all --out CSV; ValueError for any other file (its columns named)."""
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if tuple(reader.fieldnames or ()) == ONE_ASSIGNMENT_CSV_FIELDS:
            raise ValueError(f"{path} was written by an earlier grade-all (one assignment, no assignment column): "
                             f"rerun grade-all for that shard (its results resume) and merge the new CSV")
        if tuple(reader.fieldnames or ()) != CSV_FIELDS:
            raise ValueError(f"{path}: expected columns {','.join(CSV_FIELDS)}, got {reader.fieldnames}")
        return list(reader)


def merge_rows(paths):
    """The rows of several shards' CSVs, keyed by (student, assignment) and sorted. A unit in two shards
    with different rows is an error (the shards were not a partition)."""
    merged = {}
    for path in paths:
        for row in read_grade_csv(path):
            key = (row["student"], row["assignment"])
            if key in merged and merged[key] != row:
                raise ValueError(f"student {row['student']}, assignment {row['assignment']} appears in two "
                                 f"shards with different grades")
            merged[key] = row
    return [merged[k] for k in sorted(merged, key=_unit_order)]


def maxima_of_rows(rows):
    """{assignment: max_score} of the assignments in `rows`, in registry order (others after, sorted)."""
    maxima = {}
    for row in rows:
        maxima.setdefault(row["assignment"], row["max_score"])
    return {a: maxima[a] for a in sorted(maxima, key=lambda a: _unit_order(("", a)))}


def merge_csvs(paths, out, totals=None):
    """Merge the CSVs of several shards into `out` (and the course totals of the merged rows into
    `totals` when given). Returns the merged rows."""
    rows = merge_rows(paths)
    write_csv_atomically(rows, out)
    if totals:
        maxima = maxima_of_rows(rows)
        write_csv_atomically(totals_rows(rows, maxima), totals, totals_fields(maxima))
    return rows


# --- the command ---------------------------------------------------------------------------------

def _label(key):
    return f"{key[0]}/{key[1]}"


def comparison_lines(records, gradebook, nbgrader_scores, mismatches):
    """What the summary says about the comparison with nbgrader's gradebook, counts included."""
    if gradebook is None:
        return ["nbgrader gradebook: none (no --gradebook, no ./gradebook.db): no score compared"]
    compared = compared_units(records, nbgrader_scores)
    graded = ", ".join(sorted({a for _, a in records}, key=lambda a: _unit_order(("", a))))
    if not compared:
        return [f"nbgrader gradebook {clean_text(gradebook)}: none of these {len(records)} submission(s) is in it "
                f"(assignments {graded}): no score compared"]
    lines = [f"nbgrader gradebook {clean_text(gradebook)}: {len(compared)} of {len(records)} submission(s) "
             f"compared (auto-graded points), {len(mismatches)} whose scores differ (a tampering signal)"]
    return lines + [f"  {_label(k)}: grade-all {'-' if a is None else f'{a:g}'}, nbgrader {b:g}"
                    for k, a, b in mismatches]


def hand_graded_points(assignment):
    """Points of the assignment's hand-graded cells (nbgrader grade cells in markdown, in its release):
    Formgrader's to give, never the sandbox's."""
    try:
        with open(assignments.get(assignment).release_notebook, encoding="utf-8") as f:
            cells = json.load(f).get("cells", [])
    except (OSError, ValueError):
        return 0
    return sum(float(c["metadata"]["nbgrader"].get("points") or 0) for c in cells
               if c.get("cell_type") == "markdown" and c.get("metadata", {}).get("nbgrader", {}).get("grade"))


def assignment_lines(records, names):
    """Per assignment graded: how many units of each status, the mean of the graded, and the
    hand-graded points that are not in max_score."""
    lines = []
    for name in names:
        mine = [r for (_, a), r in records.items() if a == name]
        counts = {}
        for record in mine:
            status = (record or {}).get("status", "error")
            counts[status] = counts.get(status, 0) + 1
        line = f"{name}: {len(mine)} submission(s)" + "".join(f", {counts[k]} {k}" for k in sorted(counts))
        scores = [r["score"] for r in mine if r and r.get("status") == "graded"]
        if scores:
            line += f"; mean score of the graded: {sum(scores) / len(scores):.1f} / {assignments.get(name).max_score}"
        manual = hand_graded_points(name)
        if manual:
            line += f" (+{manual:g} points graded by hand in Formgrader, not in these scores)"
        lines.append(line)
    return lines


def summary(records, skipped, seconds, graded_now, names, totals=(), comparison=()):
    """The printed summary: per assignment counts and means, the students with a total, what was graded
    now, every unit not `graded` with its reason, and the comparison with the gradebook."""
    missing = sum(1 for row in totals if row["missing"])
    lines = assignment_lines(records, names)
    lines.append(f"{len(totals)} student(s) with a course total ({missing} missing some assignment, counted 0)")
    lines.append(f"graded now: {graded_now}, already graded (resumed): {skipped}, wall {seconds:.1f} s")
    for key, record in sorted(records.items(), key=lambda item: _unit_order(item[0])):
        if record and record.get("status") != "graded":
            reason = " ".join(clean_text(str(record.get("reason")), 1000).split())[:160]
            lines.append(f"  {_label(key)}: {clean_text(str(record.get('status')), 20)}: {reason}")
        elif not record:
            lines.append(f"  {_label(key)}: error: no result was written")
    return "\n".join(lines + list(comparison))


def _is_totals_header(fields):
    return len(fields) >= 4 and tuple(fields[:1]) == TOTALS_FIRST and tuple(fields[-3:]) == TOTALS_LAST


def foreign_file(path):
    """Why `path` must not be overwritten by a grade-all CSV ("" when it may: absent, or written by
    grade-all or merge-csv: its first line is CSV_FIELDS, the one-assignment CSV_FIELDS of earlier
    versions, or a totals header). Another command's output, e.g. the grades.csv of `nbgrader export`,
    is never replaced without --overwrite."""
    if not os.path.lexists(path):
        return ""
    if not os.path.isfile(path) or os.path.islink(path):
        return f"{clean_text(path)} exists and is not a regular file"
    try:
        with open(path, encoding="utf-8", errors="replace", newline="") as f:
            header = f.readline().strip()
    except OSError as e:
        return f"{clean_text(path)} cannot be read ({e.strerror or type(e).__name__})"
    fields = tuple(header.split(","))
    if fields in (CSV_FIELDS, ONE_ASSIGNMENT_CSV_FIELDS) or _is_totals_header(fields):
        return ""
    return (f"{clean_text(path)} exists and was not written by grade-all (its columns are "
            f"{clean_text(header, 120) or 'none'}; nbgrader export writes grades.csv)")


def refuse_to_overwrite(path, overwrite, option="--out"):
    """ValueError when `path` is another command's file and --overwrite was not given."""
    why = "" if overwrite else foreign_file(path)
    if why:
        raise ValueError(f"{why}: not overwritten. Choose another {option}, or pass --overwrite to replace it")


def _check_outputs(out, totals, overwrite):
    """ValueError before anything is graded: --out and --totals the same file, or another command's."""
    if totals and os.path.abspath(totals) == os.path.abspath(out):
        raise ValueError(f"--out and --totals are the same file ({clean_text(out)})")
    refuse_to_overwrite(out, overwrite)
    if totals:
        refuse_to_overwrite(totals, overwrite, "--totals")


def in_shard(units, shard):
    """The units of shard i/N (all of them when `shard` is None): of the students whose id hashes to it."""
    if not shard:
        return units
    i, n = parse_shard(shard)
    return [u for u in units if shard_of(u.student, n) == i]


def course_maxima(units, names):
    """{assignment: max score} of the totals' columns: the assignments graded that someone submitted in
    DIR (every shard's units, so that the shards' totals and merge-csv's have the same columns)."""
    present = {u.assignment for u in units}
    return {name: assignments.get(name).max_score for name in names if name in present}


def main(directory, jobs=2, out=DEFAULT_OUT, results_dir="results", shard=None, force=False,
         gradebook=None, timeout=None, trust=False, overwrite=False, assignment=None, totals=DEFAULT_TOTALS):
    """grade-all. `assignment`: the ids to grade (a list; one id as a string is accepted; default every
    assignment of the course). Exit status: 0 when every unit was graded (whatever the scores), 1 when
    the grader failed on some unit (status `error`: rerun to retry them), 2 when nothing could be
    graded (no such folder, no submissions, an unknown --assignment, student code cannot be isolated on
    this machine, or --out/--totals is another command's file: ValueError, before anything is graded)."""
    names = assignment_ids([assignment] if isinstance(assignment, str) else assignment)
    _check_outputs(out, totals, overwrite)
    if not os.path.isdir(directory):
        print(f"no such directory: {clean_text(directory)}", file=sys.stderr)
        return 2
    found = find_units(directory, names)
    units = in_shard(found, shard)
    if not units:
        print(f"no submissions found under {clean_text(directory)}/<student>/<{'|'.join(names)}>/"
              + (f" in shard {shard}" if shard else ""), file=sys.stderr)
        return 2
    limits = Limits(wall_seconds=timeout) if timeout else Limits()
    start = time.monotonic()
    try:
        records, skipped = grade_class(units, results_dir, jobs=jobs, limits=limits, force=force, trust=trust,
                                       calibrate=timeout is None)
    except IsolationUnavailable as e:
        print(" ".join(safe_str(e, 1000).split()), file=sys.stderr)
        return 2
    if gradebook is None and os.path.exists("gradebook.db"):
        gradebook = "gradebook.db"
    nbgrader_scores = gradebook_scores(gradebook, names) if gradebook else None
    mismatches = score_mismatches(records, nbgrader_scores) if nbgrader_scores is not None else None
    rows = csv_rows(records, nbgrader_scores)
    write_csv_atomically(rows, out)
    maxima = course_maxima(found, names)
    course = totals_rows(rows, maxima)
    if totals:
        write_csv_atomically(course, totals, totals_fields(maxima))
    print(summary(records, skipped, time.monotonic() - start, len(units) - skipped, names, course,
                  comparison_lines(records, gradebook, nbgrader_scores, mismatches)))
    print(f"wrote {out}" + (f", {totals}" if totals else "") + f" and {results_dir}/<assignment>/<student>/results.json")
    return 1 if any((r or {}).get("status") == "error" for r in records.values()) else 0


def merge_main(paths, out=DEFAULT_OUT, overwrite=False, totals=DEFAULT_TOTALS):
    """merge-csv: ValueError (nothing written) for a CSV that is not grade-all's, two shards that
    disagree, or an --out/--totals that is another command's file (without --overwrite)."""
    _check_outputs(out, totals, overwrite)
    rows = merge_csvs(paths, out, totals)
    students = len({row["student"] for row in rows})
    print(f"merged {len(paths)} file(s): {len(rows)} submission(s) of {students} student(s) -> {out}"
          + (f"; course totals -> {totals}" if totals else ""))
    return 0
