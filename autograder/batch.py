"""grade-all: grade a whole class in parallel sandboxes, resumably, with a status per student.

    python -m autograder grade-all DIR [--jobs N] [--out grades.csv] [--results-dir results]
                                       [--shard i/N] [--force] [--gradebook gradebook.db] [--timeout S]
    python -m autograder merge-csv grades-1.csv grades-2.csv ... --out grades.csv

Input: an nbgrader-style tree DIR/<student>/mlp/*.ipynb (``mlp.ipynb``, or the only notebook there).

Output:
- ``RESULTS_DIR/<student>/results.json`` per student (Gradescope's schema plus the keys
  ``student``, ``status``, ``reason``, ``submission_sha256``, ``grader_sha256``), each written
  atomically (temporary file + ``os.replace``) as soon as that student is graded;
- ``--out`` CSV (student, score, max_score, status, reason, nbgrader_score), rebuilt at the end
  from the per-student results of the students found in DIR (of this shard);
- a progress bar on stderr and a summary on stdout.

Status of a student (the CSV's ``status`` column):
- ``graded``: every check ran to its end (whatever the score);
- ``crashed``: the student's process died in some check or cell (os._exit, a signal, a memory or
  CPU limit); ``timeout``: a wall-clock limit was hit and nothing crashed. In both cases the score
  counts the points the code earned before it (a cell that kills the process is skipped and the
  checks are regraded on the cells before it), and ``reason`` says what happened;
- ``invalid``: not a gradable notebook (not JSON, no cells, empty, too large): score 0;
- ``error``: the grader itself failed (never the student's doing): no score; rerun to retry.

Resume: a student is skipped when their results.json has a final status (not ``error``), the
sha256 of the notebook it graded equals the notebook's now, and the grader's fingerprint
(``grader_sha256``: the autograder, src and release files) is today's. Anything else is regraded.
``--force`` regrades everyone. Before a student is (re)graded, their old results.json is deleted,
so a regrade that fails leaves an ``error`` record or nothing, never the previous score.

Shards: ``--shard i/N`` (1 <= i <= N) grades the students whose
``int(sha256(student id), 16) % N == i - 1``: deterministic, independent of who else submitted,
so a student stays in the same shard when late submissions are added.

Tampering signal: with a gradebook (``--gradebook``, default ``./gradebook.db`` when present),
nbgrader's score for the assignment is read (read-only) and every student whose two scores
differ is listed in the summary and has ``nbgrader_score`` filled in the CSV.
"""
import csv
import hashlib
import json
import os
import queue
import sys
import threading
import time
from dataclasses import dataclass

from autograder.checks import ASSIGNMENT, MAX_SCORE, NOTEBOOK
from autograder.grade import gradescope_results, write_json_atomically
from autograder.sandbox import ROOT, ForkServer, Limits
from autograder.submission import InvalidSubmission, Submission

CSV_FIELDS = ("student", "score", "max_score", "status", "reason", "nbgrader_score")
FINAL_STATUSES = ("graded", "timeout", "crashed", "invalid")
MAX_NOTEBOOK_BYTES = 64 << 20
GRADER_FILES = ("autograder", "src", os.path.join("release", ASSIGNMENT))


@dataclass(frozen=True)
class Student:
    id: str
    notebook: str | None      # None: no notebook found (graded as invalid)
    problem: str = ""         # why no notebook was picked


# --- the class -------------------------------------------------------------------------------

def find_students(directory):
    """[Student] for every DIR/<student>/mlp/ folder, sorted by student id."""
    students = []
    for entry in sorted(os.listdir(directory)):
        folder = os.path.join(directory, entry, ASSIGNMENT)
        if entry.startswith(".") or not os.path.isdir(folder):
            continue
        notebooks = sorted(n for n in os.listdir(folder)
                           if n.endswith(".ipynb") and os.path.isfile(os.path.join(folder, n)))
        if NOTEBOOK + ".ipynb" in notebooks:
            students.append(Student(entry, os.path.join(folder, NOTEBOOK + ".ipynb")))
        elif len(notebooks) == 1:
            students.append(Student(entry, os.path.join(folder, notebooks[0])))
        else:
            problem = (f"no notebook in {ASSIGNMENT}/" if not notebooks else
                       f"{len(notebooks)} notebooks in {ASSIGNMENT}/ and none is named {NOTEBOOK}.ipynb")
            students.append(Student(entry, None, problem))
    return students


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
    return os.path.join(results_dir, student_id, "results.json")


def read_record(path):
    """The stored results.json as a dict, or None when absent or unreadable."""
    try:
        with open(path, encoding="utf-8") as f:
            record = json.load(f)
        return record if isinstance(record, dict) else None
    except (OSError, ValueError):
        return None


def is_current(record, submission_sha, grader_sha):
    return (record is not None and record.get("status") in FINAL_STATUSES
            and record.get("submission_sha256") == submission_sha and record.get("grader_sha256") == grader_sha)


def submission_status(results):
    """(status, reason) of a graded submission from its CheckResults: crashed beats timeout beats graded."""
    for status in ("crashed", "timeout"):
        hit = [r for r in results if r.status == status]
        if hit:
            first = hit[0]
            reason = first.reason or (first.message.splitlines()[0] if first.message else status)
            if "while the check ran your code" in reason:
                reason = f"check '{first.name}': {reason}"
            return status, reason
    return "graded", ""


def grade_student(student, server, limits, grader_sha):
    """The results.json record of one student (grading runs in `server`'s sandbox)."""
    sha = None
    try:
        if student.notebook is None:
            raise InvalidSubmission(student.problem)
        sha = file_sha256(student.notebook)
        if os.path.getsize(student.notebook) > MAX_NOTEBOOK_BYTES:
            raise InvalidSubmission(f"the notebook is larger than {MAX_NOTEBOOK_BYTES >> 20} MB")
        if os.path.getsize(student.notebook) == 0:
            raise InvalidSubmission("the notebook is an empty file")
        submission = Submission.load(student.notebook)
    except InvalidSubmission as e:
        record = {"score": 0, "max_score": MAX_SCORE, "output": f"not graded: {e}", "tests": [],
                  "status": "invalid", "reason": str(e)}
    else:
        results = submission.grade_all(server, limits=limits)
        record = gradescope_results(results)
        record["status"], record["reason"] = submission_status(results)
        if record["reason"]:
            record["output"] += f"\n{record['status']}: {record['reason']}"
    record.update(student=student.id, submission_sha256=sha, grader_sha256=grader_sha)
    return record


def error_record(student, grader_sha, error):
    return {"score": None, "max_score": MAX_SCORE, "output": "not graded: grader error", "tests": [],
            "status": "error", "reason": f"grader error (not the student's): {error}"[:500],
            "student": student.id, "submission_sha256": None, "grader_sha256": grader_sha}


# --- the pool ------------------------------------------------------------------------------

class Progress:
    """A one-line progress bar on stderr (a line per 10% when stderr is not a terminal)."""

    def __init__(self, total, stream=None):
        self.total, self.done, self.counts = total, 0, {}
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.start, self.lock, self.last_tenth = time.monotonic(), threading.Lock(), -1

    def update(self, status):
        with self.lock:
            self.done += 1
            self.counts[status] = self.counts.get(status, 0) + 1
            tenth = self.done * 10 // max(self.total, 1)
            if self.tty or tenth != self.last_tenth or self.done == self.total:
                self.last_tenth = tenth
                self._draw()

    def _draw(self):
        width = 30
        filled = width * self.done // max(self.total, 1)
        counts = " ".join(f"{k} {v}" for k, v in sorted(self.counts.items()))
        line = (f"[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total}  {counts}  "
                f"{time.monotonic() - self.start:.1f} s")
        self.stream.write(("\r" + line) if self.tty else line + "\n")
        if self.tty and self.done == self.total:
            self.stream.write("\n")
        self.stream.flush()


def _worker(index, todo, results_dir, limits, grader_sha, progress, stop):
    server = None
    try:
        while not stop.is_set():
            try:
                student = todo.get_nowait()
            except queue.Empty:
                return
            path = results_path(results_dir, student.id)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            if os.path.exists(path):
                os.remove(path)           # a regrade that fails must not leave the old score standing
            record = None
            for attempt in range(2):      # one retry on a fresh fork server if the grader side broke
                try:
                    if server is None:
                        server = ForkServer(worker_index=index)
                    record = grade_student(student, server, limits, grader_sha)
                    break
                except Exception as e:  # noqa: BLE001 - grader failure: record it, go on with the class
                    if server is not None:
                        server.close()
                        server = None
                    record = error_record(student, grader_sha, f"{type(e).__name__}: {e}")
            write_json_atomically(record, path)
            progress.update(record["status"])
    finally:
        if server is not None:
            server.close()


def grade_class(students, results_dir, jobs=2, limits=Limits(), force=False, stream=None):
    """Grade every student not already graded (unless force); return {student: record} for all."""
    grader_sha = grader_sha256()
    todo, skipped = queue.Queue(), 0
    for student in students:
        path = results_path(results_dir, student.id)
        sha = file_sha256(student.notebook) if student.notebook and os.path.isfile(student.notebook) else None
        if not force and is_current(read_record(path), sha, grader_sha):
            skipped += 1
        else:
            todo.put(student)
    progress = Progress(todo.qsize(), stream)
    stop = threading.Event()
    threads = [threading.Thread(target=_worker, args=(k, todo, results_dir, limits, grader_sha, progress, stop),
                                daemon=True) for k in range(max(1, min(jobs, todo.qsize())))]
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            while thread.is_alive():
                thread.join(0.2)
    except KeyboardInterrupt:
        stop.set()                        # finish the submissions in flight; the rest resume next run
        for thread in threads:
            thread.join()
        raise
    records = {s.id: read_record(results_path(results_dir, s.id)) for s in students}
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


def score_mismatches(records, nbgrader_scores, tolerance=1e-6):
    """[(student, our score, nbgrader score)] where both exist and differ."""
    out = []
    for student, record in sorted(records.items()):
        if record is None or student not in nbgrader_scores:
            continue
        ours = record.get("score")
        if ours is None or abs(float(ours) - nbgrader_scores[student]) > tolerance:
            out.append((student, ours, nbgrader_scores[student]))
    return out


# --- the CSV ------------------------------------------------------------------------------------

def csv_rows(records, nbgrader_scores=None):
    rows = []
    for student, record in sorted(records.items()):
        record = record or {"score": None, "status": "error", "reason": "no result was written"}
        score = record.get("score")
        nb = (nbgrader_scores or {}).get(student)
        rows.append({"student": student, "score": "" if score is None else f"{score:g}",
                     "max_score": MAX_SCORE, "status": record.get("status", "error"),
                     "reason": " ".join(str(record.get("reason", "")).split())[:300],
                     "nbgrader_score": "" if nb is None else f"{nb:g}"})
    return rows


def write_csv_atomically(rows, path):
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, path)


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

def summary(records, skipped, seconds, mismatches, graded_now):
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
            lines.append(f"  {student}: {record.get('status')}: {' '.join(str(record.get('reason')).split())[:160]}")
    if mismatches is not None:
        lines.append(f"nbgrader gradebook: {len(mismatches)} student(s) whose scores differ (a tampering signal)")
        lines += [f"  {s}: grade-all {'-' if a is None else f'{a:g}'}, nbgrader {b:g}" for s, a, b in mismatches]
    return "\n".join(lines)


def main(directory, jobs=2, out="grades.csv", results_dir="results", shard=None, force=False,
         gradebook=None, timeout=None):
    if not os.path.isdir(directory):
        print(f"no such directory: {directory}", file=sys.stderr)
        return 2
    students = find_students(directory)
    if shard:
        i, n = parse_shard(shard)
        students = [s for s in students if shard_of(s.id, n) == i]
    if not students:
        print(f"no submissions found under {directory}/<student>/{ASSIGNMENT}/", file=sys.stderr)
        return 2
    limits = Limits(wall_seconds=timeout) if timeout else Limits()
    start = time.monotonic()
    records, skipped = grade_class(students, results_dir, jobs=jobs, limits=limits, force=force)
    if gradebook is None and os.path.exists("gradebook.db"):
        gradebook = "gradebook.db"
    nbgrader_scores = gradebook_scores(gradebook) if gradebook else None
    mismatches = score_mismatches(records, nbgrader_scores) if nbgrader_scores is not None else None
    write_csv_atomically(csv_rows(records, nbgrader_scores), out)
    print(summary(records, skipped, time.monotonic() - start, mismatches, len(students) - skipped))
    print(f"wrote {out} and {results_dir}/<student>/results.json")
    return 1 if any((r or {}).get("status") == "error" for r in records.values()) else 0


def merge_main(paths, out):
    rows = merge_csvs(paths, out)
    print(f"merged {len(paths)} file(s): {len(rows)} students -> {out}")
    return 0
