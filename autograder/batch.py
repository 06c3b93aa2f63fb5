"""grade-all: grade a whole class in parallel sandboxes, resumably, with a status per student.

    python -m autograder grade-all DIR [--jobs N] [--out sandbox-grades.csv] [--results-dir results]
                                       [--shard i/N] [--force] [--gradebook gradebook.db] [--timeout S]
                                       [--trust-submissions] [--overwrite]
    python -m autograder merge-csv grades-1.csv grades-2.csv ... [--out sandbox-grades.csv]
                                                                 [--overwrite]

Input: an nbgrader-style tree DIR/<student>/mlp/*.ipynb (``mlp.ipynb``, or the only notebook there).

What is a student (``find_students``): every folder DIR/<student>/ with an ``mlp`` entry.
Nothing a student submitted is followed out of DIR: a student folder, ``mlp/`` folder or
notebook that is a symlink, a notebook that is not a regular file (a FIFO, a device) and a
notebook that is a hard link (a file with more than one name: maybe another student's, or the
solution) are ``invalid`` with the reason ("... is a symlink, not a submitted file"); notebooks are opened with O_NOFOLLOW
and never read past 64 MB. Names starting with "." (.git, .ipynb_checkpoints) are not students.
A folder name that is not valid UTF-8, or holds control characters, is graded under a readable
id (each such byte written ``\\xNN``); results are only ever written to
RESULTS_DIR/<id>/results.json, never through a symlink.

Output:
- ``RESULTS_DIR/<student>/results.json`` per student (Gradescope's schema plus the keys
  ``student``, ``status``, ``reason``, ``isolation``, ``submission_sha256``, ``grader_sha256``),
  each written atomically (temporary file + ``os.replace``) as soon as that student is graded;
- ``--out`` CSV (default ``sandbox-grades.csv``; student, score, max_score, status, reason,
  nbgrader_score, isolation), rebuilt at the end from the per-student results of the students found
  in DIR (of this shard). An existing file that grade-all or merge-csv did not write (another header,
  e.g. the ``grades.csv`` of ``nbgrader export``) is refused before grading unless ``--overwrite``;
- a progress bar on stderr, naming every student graded for more than 5 s, and a summary on stdout.
Every text written is valid UTF-8 (protocol.clean_text), whatever the submission held.

Status of a student (the CSV's ``status`` column):
- ``graded``: every check ran to its end (whatever the score);
- ``crashed``: the student's process died in some check or cell (os._exit, a signal, a memory or
  CPU limit); ``timeout``: a wall-clock limit was hit and nothing crashed. In both cases the score
  counts the points the code earned before it (a cell that kills the process is skipped and the
  checks are regraded on the cells before it), and ``reason`` says what happened;
- ``invalid``: not a gradable notebook (not UTF-8 or not JSON, no cells, empty, too large, too
  deeply nested, a symlink; see submission.parse_notebook): score 0, and the reason;
- ``error``: the grader itself failed (never the student's doing: the sandbox broke, or a check's
  judge reported a grader error): no score; rerun to retry.

Isolation: ``isolation`` (results.json and the CSV) says how student code was isolated
(``sandbox.ForkServer.isolation``). When no isolation is possible, grade-all prints why and
exits 2 without grading, unless ``--trust-submissions`` (code then runs unsandboxed).

Resume: a student is skipped when their results.json has a final status (not ``error``), the
sha256 of the notebook it graded equals the notebook's now, and the grader's fingerprint
(``grader_sha256``: the autograder, src and release files) is today's. Anything else is regraded.
``--force`` regrades everyone. Before a student is (re)graded, their old results.json is deleted,
so a regrade that fails leaves an ``error`` record or nothing, never the previous score.

Shards: ``--shard i/N`` (1 <= i <= N) grades the students whose
``int(sha256(student id), 16) % N == i - 1``: deterministic, independent of who else submitted,
so a student stays in the same shard when late submissions are added.

Tampering signal: with a gradebook (``--gradebook``, default ``./gradebook.db`` when present),
nbgrader's score for the assignment is read (read-only); the summary says how many students were
compared (those in both; "no score compared" when none was, or when there is no gradebook), lists
every student whose two scores differ, and the CSV has ``nbgrader_score`` filled in.
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

from autograder import timing
from autograder import assignments
_A = assignments.get("mlp")   # TEMPORARY (refactor in progress)
ASSIGNMENT, NOTEBOOK, CHECKS, MAX_SCORE = _A.name, _A.notebook, _A.checks, _A.max_score
from autograder.grade import (GRADER_ERROR, gradescope_results, isolation_of, not_graded_results, submission_status,
                              write_json_atomically)
from autograder.protocol import clean_text, safe_str
from autograder.sandbox import ROOT, ForkServer, IsolationUnavailable, Limits
from autograder.submission import MAX_NOTEBOOK_BYTES, InvalidSubmission, Submission, read_bytes

__all__ = ["MAX_NOTEBOOK_BYTES", "submission_status"]     # re-exported: where they used to live

CSV_FIELDS = ("student", "score", "max_score", "status", "reason", "nbgrader_score", "isolation")
FINAL_STATUSES = ("graded", "timeout", "crashed", "invalid")
GRADER_FILES = ("autograder", "src", os.path.join("release", ASSIGNMENT))


@dataclass(frozen=True)
class Student:
    id: str
    notebook: str | None      # None: no notebook to grade (graded as invalid)
    problem: str = ""         # why no notebook was picked


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


def _pick_notebook(folder):
    """(path, problem, lstat of the path) of the notebook submitted in `folder` (never following a symlink)."""
    try:
        names = sorted(n for n in os.listdir(folder) if n.endswith(".ipynb") and not n.startswith("."))
    except OSError as e:
        return None, f"cannot list {ASSIGNMENT}/: {e.strerror or type(e).__name__}", None
    if NOTEBOOK + ".ipynb" in names:
        name = NOTEBOOK + ".ipynb"
    elif len(names) == 1:
        name = names[0]
    else:
        return None, (f"no notebook in {ASSIGNMENT}/" if not names else
                      f"{len(names)} notebooks in {ASSIGNMENT}/ and none is named {NOTEBOOK}.ipynb"), None
    path, shown = os.path.join(folder, name), f"{ASSIGNMENT}/{readable_id(name)}"
    try:
        info = os.lstat(path)
    except OSError as e:
        return None, f"cannot read {shown}: {e.strerror or type(e).__name__}", None
    if stat.S_ISLNK(info.st_mode):
        return None, f"{shown} is a symlink, not a submitted file", None
    if not stat.S_ISREG(info.st_mode):
        return None, f"{shown} is not a regular file", None
    return path, "", info


def find_students(directory):
    """[Student] for every DIR/<student>/mlp/ folder, sorted by student id.

    Never follows a symlink: a student folder, mlp/ folder or notebook that is a symlink is listed
    as a student with no notebook (graded `invalid`, with the reason), and so is a notebook that
    is a hard link (two students' hard-linked notebooks are both refused: which one wrote it
    cannot be told). Entries whose name starts
    with "." (.git, .ipynb_checkpoints, macOS's ._ files) and plain files in DIR are not students.
    Ids are readable_id(folder name), made unique with a "~2", "~3"... suffix if two collide."""
    found = []                      # (folder name, notebook or None, problem, lstat)
    for entry in sorted(os.listdir(directory)):
        if entry.startswith("."):
            continue
        top = os.path.join(directory, entry)
        try:
            info = os.lstat(top)
        except OSError:
            continue
        if stat.S_ISLNK(info.st_mode):
            found.append((entry, None, "the student folder is a symlink, not a submitted folder", None))
            continue
        if not stat.S_ISDIR(info.st_mode):
            continue
        folder = os.path.join(top, ASSIGNMENT)
        try:
            info = os.lstat(folder)
        except FileNotFoundError:
            continue                # no submission of this assignment
        except OSError as e:
            found.append((entry, None, f"cannot read {ASSIGNMENT}/: {e.strerror or type(e).__name__}", None))
            continue
        if stat.S_ISLNK(info.st_mode):
            found.append((entry, None, f"{ASSIGNMENT}/ is a symlink, not a submitted folder", None))
        elif not stat.S_ISDIR(info.st_mode):
            found.append((entry, None, f"{ASSIGNMENT} is not a folder", None))
        else:
            found.append((entry, *_pick_notebook(folder)))
    students, taken = [], set()
    for entry, notebook, problem, info in found:
        # a file with a second name may be anyone's: another student's notebook, the solution, any file
        if info is not None and info.st_nlink > 1:
            notebook, problem = None, (f"the notebook is a hard link (a file with {info.st_nlink} names, maybe "
                                       f"someone else's), not a submitted file")
        sid, n = readable_id(entry), 1
        while sid in taken:
            n += 1
            sid = f"{readable_id(entry)}~{n}"
        taken.add(sid)
        students.append(Student(sid, notebook, problem))
    return sorted(students, key=lambda s: s.id)


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
    """The shard (1..n) a student belongs to: a stable hash of the id, not its position in the class."""
    return int(hashlib.sha256(student_id.encode()).hexdigest(), 16) % n + 1


def file_sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def grader_sha256():
    """Fingerprint of what decides a grade: the grading package, the reference and the release."""
    digest = hashlib.sha256()
    for top in GRADER_FILES:
        for folder, dirs, files in sorted(os.walk(os.path.join(ROOT, top))):
            dirs[:] = sorted(d for d in dirs if not d.startswith((".", "__pycache__")))
            for name in sorted(files):
                if name.endswith((".py", ".ipynb")):
                    path = os.path.join(folder, name)
                    digest.update(os.path.relpath(path, ROOT).encode() + b"\0" + file_sha256(path).encode())
    return digest.hexdigest()


# --- one student ------------------------------------------------------------------------------

def results_path(results_dir, student_id):
    """RESULTS_DIR/<student>/results.json. ValueError for an id that is not one plain folder name."""
    if (not student_id or student_id.startswith(".") or "/" in student_id or os.sep in student_id
            or "\0" in student_id or clean_text(student_id, len(student_id)) != student_id):
        raise ValueError(f"unsafe student id {readable_id(student_id)!r}")
    return os.path.join(results_dir, student_id, "results.json")


def prepare_results_path(results_dir, student_id):
    """results_path(), with its folder made (never through a symlink out of RESULTS_DIR) and the
    student's previous results.json deleted (a regrade that fails must not leave the old score)."""
    path = results_path(results_dir, student_id)
    folder = os.path.dirname(path)
    os.makedirs(results_dir, exist_ok=True)
    if os.path.islink(folder):
        raise ValueError(f"{folder} is a symlink: results are never written through one")
    os.makedirs(folder, exist_ok=True)
    if os.path.realpath(folder) != os.path.join(os.path.realpath(results_dir), student_id):
        raise ValueError(f"{folder} is not inside {results_dir}")
    if os.path.lexists(path):
        os.remove(path)
    return path


def read_record(path):
    """The stored results.json as a dict, or None when absent, unreadable or reached through a symlink."""
    if os.path.islink(path) or os.path.islink(os.path.dirname(path)):
        return None
    try:
        with open(path, encoding="utf-8") as f:
            record = json.load(f)
        return record if isinstance(record, dict) else None
    except (OSError, ValueError, RecursionError):
        return None


def notebook_sha256(student):
    """sha256 of the student's notebook, or None when there is none or it cannot be graded by size."""
    if student.notebook is None:
        return None
    try:
        return hashlib.sha256(read_bytes(student.notebook, follow_symlinks=False)).hexdigest()
    except InvalidSubmission:
        return None


def is_current(record, submission_sha, grader_sha):
    return (record is not None and record.get("status") in FINAL_STATUSES
            and record.get("submission_sha256") == submission_sha and record.get("grader_sha256") == grader_sha)


def grade_student(student, server, limits, grader_sha):
    """The results.json record of one student (grading runs in `server`'s sandbox).

    Whatever the notebook holds, this returns a record: `invalid` when it cannot be graded,
    `error` (no score) when a check's judge failed. Only a failure of the grader raises."""
    sha = None
    try:
        if student.notebook is None:
            raise InvalidSubmission(student.problem)
        data = read_bytes(student.notebook, follow_symlinks=False)
        sha = hashlib.sha256(data).hexdigest()
        submission = Submission.from_bytes(data, student.notebook, ASSIGNMENT)
        del data
    except InvalidSubmission as e:
        record = not_graded_results("invalid", str(e), assignment=ASSIGNMENT)
    else:
        results = submission.grade_all(server, limits=limits)
        record = gradescope_results(results, isolation_of(server), ASSIGNMENT)
        if record["status"] == "error":
            record["score"] = None
    record.update(student=student.id, submission_sha256=sha, grader_sha256=grader_sha)
    return record


def error_record(student, grader_sha, error, isolation="unknown"):
    """The record of a student the grader failed on (no score; regraded on the next run)."""
    if isinstance(error, BaseException):
        error = f"{type(error).__name__}: {safe_str(error, 400)}"
    return {"score": None, "max_score": MAX_SCORE, "output": "not graded: grader error", "tests": [],
            "status": "error", "reason": clean_text(f"{GRADER_ERROR}: {error}", 500),
            "isolation": isolation, "student": student.id, "submission_sha256": None,
            "grader_sha256": grader_sha}


# --- the pool ------------------------------------------------------------------------------

class Progress:
    """A one-line progress bar on stderr (a line per 10% when stderr is not a terminal) that names every
    student being graded for more than SLOW_AFTER seconds, so a long wait says who it is waiting for."""

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

    def __init__(self, todo, results_dir, limits, grader_sha, progress, trust, calibrate=False):
        self.todo, self.results_dir, self.limits, self.grader_sha = todo, results_dir, limits, grader_sha
        self.progress, self.trust, self.calibrate = progress, trust, calibrate
        self.stop = threading.Event()
        self.fatal = []             # IsolationUnavailable: no student can be graded on this machine
        self.unwritten = {}         # {student: record} whose results.json could not be written


class _Server:
    """A worker's fork server, started when first needed and restarted after a grader failure."""

    def __init__(self, index, trust, limits, calibrate):
        self.index, self.trust, self.server = index, trust, None
        self.base, self.calibrate, self.limits = limits, calibrate, limits

    def get(self):
        """The server, and the limits to grade with on it (per check, calibrated on the reference's
        own time when asked: timing.py)."""
        if self.server is None:
            self.server = ForkServer(worker_index=self.index, trust=self.trust)
            self.limits = timing.calibrated(self.server, _A, self.base) if self.calibrate else self.base
        return self.server

    def close(self):
        server, self.server = self.server, None
        if server is not None:
            try:
                server.close()
            except Exception:  # noqa: BLE001 - a broken server is dropped all the same
                pass


def _grade_one(pool, student, box):
    """The student's record; one retry on a fresh fork server if the grader side broke.
    Raises IsolationUnavailable when the fork server cannot isolate student code."""
    record = None
    for attempt in range(2):
        try:
            server = box.get()
        except IsolationUnavailable:
            raise
        except Exception as e:  # noqa: BLE001 - the grader's failure: record it, go on with the class
            record = error_record(student, pool.grader_sha, e)
            continue
        try:
            return grade_student(student, server, box.limits, pool.grader_sha)
        except Exception as e:  # noqa: BLE001 - the grader's failure: record it, go on with the class
            box.close()
            record = error_record(student, pool.grader_sha, e, isolation_of(server))
    return record


def _worker(index, pool):
    box = _Server(index, pool.trust, pool.limits, pool.calibrate)
    try:
        while not pool.stop.is_set():
            try:
                student = pool.todo.get_nowait()
            except queue.Empty:
                return
            pool.progress.started(student.id)
            try:
                path = prepare_results_path(pool.results_dir, student.id)
                record = _grade_one(pool, student, box)
            except IsolationUnavailable as e:
                pool.fatal.append(e)
                pool.stop.set()
                return
            except Exception as e:  # noqa: BLE001 - e.g. the results folder cannot be made
                pool.unwritten[student.id] = record = error_record(student, pool.grader_sha, e)
                pool.progress.update(record["status"], student.id)
                continue
            try:
                write_json_atomically(record, path)
            except Exception as e:  # noqa: BLE001 - disk full, permissions: keep the record in memory
                pool.unwritten[student.id] = dict(record, output=f"{record.get('output')}\n(results.json could "
                                                              f"not be written: {safe_str(e, 200)})")
            pool.progress.update(record["status"], student.id)
    finally:
        box.close()


def grade_class(students, results_dir, jobs=2, limits=Limits(), force=False, stream=None, trust=False,
                calibrate=False):
    """Grade every student not already graded (unless force); return ({student: record} for all, skipped).

    Raises the sandbox's IsolationUnavailable if student code cannot be isolated on this machine
    (and trust is False): then nothing more is graded."""
    grader_sha = grader_sha256()
    todo, skipped = queue.Queue(), 0
    for student in students:
        path = results_path(results_dir, student.id)
        if not force and is_current(read_record(path), notebook_sha256(student), grader_sha):
            skipped += 1
        else:
            todo.put(student)
    pool = _Pool(todo, results_dir, limits, grader_sha, Progress(todo.qsize(), stream), trust, calibrate)
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
    records = {s.id: pool.unwritten.get(s.id) or read_record(results_path(results_dir, s.id)) for s in students}
    return records, skipped


# --- nbgrader's gradebook --------------------------------------------------------------------

def gradebook_scores(path):
    """{student: nbgrader score} for the assignment, read from an nbgrader gradebook (read-only)."""
    from nbgrader.api import Gradebook
    bin_dir = os.path.dirname(sys.executable)          # nbgrader runs `alembic` from PATH when it opens a gradebook
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    url = f"sqlite:///file:{os.path.abspath(path)}?mode=ro&uri=true"
    gradebook = Gradebook(url, course_id="")
    try:
        return {d["student"]: float(d["score"] or 0) for d in gradebook.submission_dicts(ASSIGNMENT)}
    finally:
        gradebook.close()


def compared_students(records, nbgrader_scores):
    """The students of this run that the gradebook also holds: those whose two scores are compared."""
    return sorted(s for s, record in records.items() if record is not None and s in nbgrader_scores)


def score_mismatches(records, nbgrader_scores, tolerance=1e-6):
    """[(student, our score, nbgrader score)] where both exist and differ."""
    out = []
    for student in compared_students(records, nbgrader_scores):
        record = records[student]
        ours = record.get("score")
        if ours is None or abs(float(ours) - nbgrader_scores[student]) > tolerance:
            out.append((student, ours, nbgrader_scores[student]))
    return out


# --- the CSV ------------------------------------------------------------------------------------

def _number(value):
    return type(value) in (int, float)


def csv_rows(records, nbgrader_scores=None):
    rows = []
    for student, record in sorted(records.items()):
        record = record or {"score": None, "status": "error", "reason": "no result was written"}
        score = record.get("score")
        nb = (nbgrader_scores or {}).get(student)
        rows.append({"student": clean_text(student, 1000), "score": f"{score:g}" if _number(score) else "",
                     "max_score": MAX_SCORE, "status": clean_text(str(record.get("status", "error")), 20),
                     "reason": " ".join(clean_text(str(record.get("reason", "")), 1000).split())[:300],
                     "nbgrader_score": f"{nb:g}" if _number(nb) else "",
                     "isolation": clean_text(str(record.get("isolation") or ""), 300)})
    return rows


def write_csv_atomically(rows, path):
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        with open(tmp, "w", newline="", encoding="utf-8", errors="replace") as f:
            writer = csv.DictWriter(f, fieldnames=CSV_FIELDS)
            writer.writeheader()
            writer.writerows(rows)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def merge_csvs(paths, out):
    """Merge the CSVs of several shards into one, sorted by student. A student in two shards with
    different rows is an error (the shards were not a partition). Returns the merged rows."""
    merged = {}
    for path in paths:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            if tuple(reader.fieldnames or ()) != CSV_FIELDS:
                raise ValueError(f"{path}: expected columns {','.join(CSV_FIELDS)}, got {reader.fieldnames}")
            for row in reader:
                if row["student"] in merged and merged[row["student"]] != row:
                    raise ValueError(f"student {row['student']} appears in two shards with different grades")
                merged[row["student"]] = row
    rows = [merged[s] for s in sorted(merged)]
    write_csv_atomically(rows, out)
    return rows


# --- the command ---------------------------------------------------------------------------------

def comparison_lines(records, gradebook, nbgrader_scores, mismatches):
    """What the summary says about the comparison with nbgrader's gradebook, counts included."""
    if gradebook is None:
        return ["nbgrader gradebook: none (no --gradebook, no ./gradebook.db): no score compared"]
    compared = compared_students(records, nbgrader_scores)
    if not compared:
        return [f"nbgrader gradebook {clean_text(gradebook)}: none of these {len(records)} student(s) is in it "
                f"(for assignment {ASSIGNMENT}): no score compared"]
    lines = [f"nbgrader gradebook {clean_text(gradebook)}: {len(compared)} of {len(records)} student(s) compared, "
             f"{len(mismatches)} student(s) whose scores differ (a tampering signal)"]
    return lines + [f"  {s}: grade-all {'-' if a is None else f'{a:g}'}, nbgrader {b:g}" for s, a, b in mismatches]


def summary(records, skipped, seconds, mismatches, graded_now, comparison=()):
    counts = {}
    for record in records.values():
        status = (record or {}).get("status", "error")
        counts[status] = counts.get(status, 0) + 1
    scores = [r["score"] for r in records.values() if r and r.get("status") == "graded"]
    lines = [f"{len(records)} students: " + ", ".join(f"{counts[k]} {k}" for k in sorted(counts)),
             f"graded now: {graded_now}, already graded (resumed): {skipped}, wall {seconds:.1f} s"]
    if scores:
        lines.append(f"mean score of the graded: {sum(scores) / len(scores):.1f} / {MAX_SCORE}")
    for student, record in sorted(records.items()):
        if record and record.get("status") != "graded":
            reason = " ".join(clean_text(str(record.get("reason")), 1000).split())[:160]
            lines.append(f"  {student}: {clean_text(str(record.get('status')), 20)}: {reason}")
    return "\n".join(lines + list(comparison))


DEFAULT_OUT = "sandbox-grades.csv"      # not grades.csv: that is `nbgrader export`'s (nbgrader-run's) file


def foreign_file(path):
    """Why `path` must not be overwritten by a grade-all CSV ("" when it may: absent, or written by
    grade-all or merge-csv, whose first line is CSV_FIELDS). Another command's output, e.g. the
    grades.csv of `nbgrader export`, is never replaced without --overwrite."""
    if not os.path.lexists(path):
        return ""
    if not os.path.isfile(path) or os.path.islink(path):
        return f"{clean_text(path)} exists and is not a regular file"
    try:
        with open(path, encoding="utf-8", errors="replace", newline="") as f:
            header = f.readline().strip()
    except OSError as e:
        return f"{clean_text(path)} cannot be read ({e.strerror or type(e).__name__})"
    if header == ",".join(CSV_FIELDS):
        return ""
    return (f"{clean_text(path)} exists and was not written by grade-all (its columns are "
            f"{clean_text(header, 120) or 'none'}; nbgrader export writes grades.csv)")


def refuse_to_overwrite(path, overwrite):
    """ValueError when `path` is another command's file and --overwrite was not given."""
    why = "" if overwrite else foreign_file(path)
    if why:
        raise ValueError(f"{why}: not overwritten. Choose another --out, or pass --overwrite to replace it")


def main(directory, jobs=2, out=DEFAULT_OUT, results_dir="results", shard=None, force=False,
         gradebook=None, timeout=None, trust=False, overwrite=False):
    """Exit status: 0 when everyone was graded (whatever the scores), 1 when the grader failed on
    some student (status `error`: rerun to retry them), 2 when nothing could be graded (no such
    folder, no submissions, student code cannot be isolated on this machine, or --out is another
    command's file: ValueError, before anything is graded)."""
    refuse_to_overwrite(out, overwrite)
    if not os.path.isdir(directory):
        print(f"no such directory: {clean_text(directory)}", file=sys.stderr)
        return 2
    students = find_students(directory)
    if shard:
        i, n = parse_shard(shard)
        students = [s for s in students if shard_of(s.id, n) == i]
    if not students:
        print(f"no submissions found under {clean_text(directory)}/<student>/{ASSIGNMENT}/", file=sys.stderr)
        return 2
    limits = Limits(wall_seconds=timeout) if timeout else Limits()
    start = time.monotonic()
    try:
        records, skipped = grade_class(students, results_dir, jobs=jobs, limits=limits, force=force, trust=trust,
                                       calibrate=timeout is None)
    except IsolationUnavailable as e:
        print(" ".join(safe_str(e, 1000).split()), file=sys.stderr)
        return 2
    if gradebook is None and os.path.exists("gradebook.db"):
        gradebook = "gradebook.db"
    nbgrader_scores = gradebook_scores(gradebook) if gradebook else None
    mismatches = score_mismatches(records, nbgrader_scores) if nbgrader_scores is not None else None
    write_csv_atomically(csv_rows(records, nbgrader_scores), out)
    print(summary(records, skipped, time.monotonic() - start, mismatches, len(students) - skipped,
                  comparison_lines(records, gradebook, nbgrader_scores, mismatches)))
    print(f"wrote {out} and {results_dir}/<student>/results.json")
    return 1 if any((r or {}).get("status") == "error" for r in records.values()) else 0


def merge_main(paths, out=DEFAULT_OUT, overwrite=False):
    """merge-csv: ValueError (nothing written) for a CSV that is not grade-all's, two shards that
    disagree, or an --out that is another command's file (without --overwrite)."""
    refuse_to_overwrite(out, overwrite)
    rows = merge_csvs(paths, out)
    print(f"merged {len(paths)} file(s): {len(rows)} students -> {out}")
    return 0
