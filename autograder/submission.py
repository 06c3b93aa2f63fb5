"""What of a submitted notebook is graded, and how a graded check is assembled.

The pytest path executes, in notebook order:
- the release's ``setup`` cell (imports and the given helpers), taken from the release, and
- every solution cell (nbgrader ``solution: true``), taken from the student's notebook by
  ``grade_id``; a solution cell the student deleted is replaced by the release's stub.
Test cells, demo cells and cells the student added are not run: test cells are the
instructor's, and only solution cells are the student's answer (this is what the
assignment's introduction tells students).

``Submission.grade(name, server)`` grades one check (one sandbox for it alone: the hidden
pytest suite); ``Submission.grade_all(server)`` grades every check with the cells run once
and one fresh fork per check (the batch grader). Both judge with the same code here.
"""
import errno
import functools
import json
import os
import stat
from dataclasses import dataclass, field

from autograder import assignments
from autograder.protocol import clean_text, safe_str
from autograder.sandbox import Limits

GIVEN_CELLS = ("setup",)

# What a gradable notebook can be. Anything beyond these is `invalid` (score 0, a one-line reason):
MAX_NOTEBOOK_BYTES = 64 << 20       # the file (outputs and images included)
MAX_CELLS = 10_000                  # cells in the notebook
MAX_CELL_CHARS = 1_000_000          # the source of one cell (the release's longest is ~3,000)
MAX_SOURCE_CHARS = 8_000_000        # the sources of all cells together
MAX_JSON_DEPTH = 100                # nesting of JSON arrays/objects (a real notebook: about 10)
MAX_JSON_ITEMS = 4_000_000          # '[', '{' and ',' in the file: an upper bound on the values json
                                    # builds, so a 64 MB file cannot become gigabytes of Python objects
MAX_MESSAGE = 4000                  # characters of a check's feedback


class InvalidSubmission(Exception):
    """The file cannot be graded at all (missing, not JSON, not a notebook, too large). One-line message."""

    def __init__(self, reason):
        super().__init__(" ".join(clean_text(safe_str(reason, 500), 500).split()))


def read_bytes(path, follow_symlinks=True):
    """The bytes of the notebook file at `path`; InvalidSubmission if it is missing, not a regular
    file, empty or larger than MAX_NOTEBOOK_BYTES (then it is not read), or a symlink when
    follow_symlinks is False. Never blocks on a FIFO or a device."""
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0) | (0 if follow_symlinks else os.O_NOFOLLOW)
    try:
        fd = os.open(path, flags)
    except OSError as e:
        if e.errno == errno.ENOENT:
            raise InvalidSubmission(f"no such file: {path}") from None
        if e.errno == errno.ELOOP and not follow_symlinks:
            raise InvalidSubmission("the notebook is a symlink, not a submitted file") from None
        raise InvalidSubmission(f"cannot read the notebook: {e.strerror or type(e).__name__}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise InvalidSubmission("the notebook is not a regular file")
        if info.st_size > MAX_NOTEBOOK_BYTES:
            raise InvalidSubmission(f"the notebook is larger than {MAX_NOTEBOOK_BYTES >> 20} MB")
        chunks, size = [], 0
        while size <= MAX_NOTEBOOK_BYTES:          # the file may grow while it is read
            chunk = os.read(fd, min(1 << 20, MAX_NOTEBOOK_BYTES + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as e:
        raise InvalidSubmission(f"cannot read the notebook: {e.strerror or type(e).__name__}") from None
    finally:
        os.close(fd)
    if size > MAX_NOTEBOOK_BYTES:
        raise InvalidSubmission(f"the notebook is larger than {MAX_NOTEBOOK_BYTES >> 20} MB")
    if size == 0:
        raise InvalidSubmission("the notebook is an empty file")
    return b"".join(chunks)


def _json_depth_exceeds(value, limit):
    """True if `value` nests arrays/objects deeper than `limit` (iterative: no recursion)."""
    todo = [(value, 1)]
    while todo:
        item, depth = todo.pop()
        children = item.values() if type(item) is dict else item
        for child in children:
            if type(child) in (dict, list):
                if depth + 1 > limit:
                    return True
                todo.append((child, depth + 1))
    return False


def parse_notebook(data):
    """The notebook (a dict) in `data` (bytes), checked to be gradable; else InvalidSubmission.

    Strings are kept as JSON decodes them (a "\\ud800" escape gives a lone surrogate): whatever
    is taken from the notebook goes through protocol.clean_text before it is shown or run."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InvalidSubmission(f"not a notebook: not UTF-8 text (invalid byte at offset {e.start})") from None
    if data.count(b"[") + data.count(b"{") + data.count(b",") > MAX_JSON_ITEMS:
        raise InvalidSubmission(f"not a notebook: more than {MAX_JSON_ITEMS:,} JSON values")
    try:
        raw = json.loads(text)
    except RecursionError:
        raise InvalidSubmission(f"not a notebook: JSON nested more than {MAX_JSON_DEPTH} levels deep") from None
    except MemoryError:
        raise InvalidSubmission("not a notebook: too large to read") from None
    except ValueError as e:
        raise InvalidSubmission(f"not a notebook: invalid JSON ({safe_str(e, 120)})") from None
    del text
    if type(raw) in (dict, list) and _json_depth_exceeds(raw, MAX_JSON_DEPTH):
        raise InvalidSubmission(f"not a notebook: JSON nested more than {MAX_JSON_DEPTH} levels deep")
    if type(raw) is not dict or type(raw.get("cells")) is not list:
        raise InvalidSubmission("not a notebook: no list of cells")
    if "metadata" in raw and type(raw["metadata"]) is not dict:
        raise InvalidSubmission("not a notebook: its metadata is not a JSON object")
    if len(raw["cells"]) > MAX_CELLS:
        raise InvalidSubmission(f"not a notebook: more than {MAX_CELLS:,} cells")
    total = 0
    for i, cell in enumerate(raw["cells"]):
        if type(cell) is not dict:
            raise InvalidSubmission(f"not a notebook: cell {i} is not a JSON object")
        source = cell.get("source", "")
        if not (type(source) is str or (type(source) is list and all(type(s) is str for s in source))):
            raise InvalidSubmission(f"not a notebook: cell {i} is not a cell with text source")
        size = len(source) if type(source) is str else sum(map(len, source))
        if size > MAX_CELL_CHARS:
            raise InvalidSubmission(f"cell {i} is larger than {MAX_CELL_CHARS:,} characters")
        total += size
        if total > MAX_SOURCE_CHARS:
            raise InvalidSubmission(f"the cells hold more than {MAX_SOURCE_CHARS:,} characters of source")
        meta = cell.get("metadata", {})
        if type(meta) is not dict:
            raise InvalidSubmission(f"not a notebook: cell {i}'s metadata is not a JSON object")
        nbgrader = meta.get("nbgrader", {})
        if type(nbgrader) is not dict:
            raise InvalidSubmission(f"not a notebook: cell {i}'s nbgrader metadata is not a JSON object")
        if "grade_id" in nbgrader and type(nbgrader["grade_id"]) is not str:
            raise InvalidSubmission(f"not a notebook: cell {i}'s grade_id is not text")
    return raw


def read_notebook(path, follow_symlinks=True):
    """The notebook at `path` (see read_bytes and parse_notebook); InvalidSubmission if not gradable."""
    return parse_notebook(read_bytes(path, follow_symlinks))


def _nbgrader(cell):
    meta = cell.get("metadata")
    meta = meta.get("nbgrader") if isinstance(meta, dict) else None
    return meta if isinstance(meta, dict) else {}


def _grade_id(cell):
    gid = _nbgrader(cell).get("grade_id")
    return clean_text(gid, 200) if isinstance(gid, str) else None


def _source(cell):
    """The cell's source as valid text (lone surrogates replaced): what is sent to the sandbox."""
    source = cell.get("source", "")
    source = "".join(source) if isinstance(source, list) else source
    return clean_text(source, MAX_CELL_CHARS) if isinstance(source, str) else ""


def graded_cells(student_nb, release_nb):
    """[(label, source)] to execute, in release order; also notes on the solution cells the student
    lost or duplicated (of two cells with one grade_id the first is graded, as nbgrader does)."""
    student, twice = {}, set()
    for cell in student_nb["cells"]:
        gid = _grade_id(cell)
        if cell.get("cell_type") == "code" and gid:
            if gid in student:
                twice.add(gid)
            else:
                student[gid] = _source(cell)
    cells, missing = [], []
    for cell in release_nb["cells"]:
        gid, meta = _grade_id(cell), _nbgrader(cell)
        if gid in GIVEN_CELLS:
            cells.append((gid, _source(cell)))
        elif meta.get("solution") and cell.get("cell_type") == "code":   # not a markdown answer (graded by hand)
            if gid not in student:
                missing.append(f"solution cell '{gid}' is missing from your notebook (graded as the blank stub)")
            elif gid in twice:
                missing.append(f"your notebook has two cells with grade_id '{gid}': only the first is graded")
            cells.append((gid, student.get(gid, _source(cell))))
    return cells, missing


def _release_notebook(assignment):
    """The release notebook (the instructor's: a broken one is the grader's failure, not the student's)."""
    try:
        return read_notebook(assignment.release_notebook)
    except InvalidSubmission as e:
        raise RuntimeError(f"the release notebook {assignment.release_notebook} cannot be read: {e}") from None


@functools.lru_cache(maxsize=None)
def _helper_files(release_dir):
    return tuple((name, open(os.path.join(release_dir, name), encoding="utf-8").read())
                 for name in sorted(os.listdir(release_dir)) if name.endswith(".py"))


def helper_files(assignment):
    """The release's non-notebook files (data.py, visualization.py): what the setup cell imports.
    Read once per grading process."""
    return dict(_helper_files(assignment.release_dir))


@functools.lru_cache(maxsize=None)
def _inputs_json(assignment, name):
    return json.dumps(assignments.get(assignment).judges.make_inputs(name))


def check_inputs(assignment, name):
    """The assignment's make_inputs(name), computed once per grading process (a fresh copy each call)."""
    return json.loads(_inputs_json(assignment.name, name))


@dataclass
class CheckResult:
    name: str
    title: str
    points: float
    max_points: int
    passed: bool                      # the check's verdict: the only thing "passed"/"failed" is read from
    message: str = ""                 # why points were lost ("" when passed; never "" when failed)
    status: str = "graded"            # graded | timeout | crashed | error. timeout/crashed: the student's
                                      # process hit a limit or died, in a cell (then the check was
                                      # regraded on the cells before it) or in the check itself;
                                      # error: the grader failed on this check (not the student's doing)
    reason: str = ""                  # for timeout/crashed/error: what stopped the check


GRADER_ERROR = "grader error (not the student's)"


@dataclass
class Submission:
    """A notebook prepared for grading: the cells to run and the jobs to send to the sandbox."""
    path: str
    cells: list
    assignment: assignments.Assignment
    missing: list = field(default_factory=list)    # notes on lost or duplicated solution cells

    @classmethod
    def load(cls, path, follow_symlinks=True, assignment=None):
        """InvalidSubmission if the file is not a gradable notebook (see read_notebook).
        `assignment`: its id, or None to recognise it from the notebook's nbgrader cells."""
        return cls.from_bytes(read_bytes(path, follow_symlinks), path, assignment)

    @classmethod
    def from_bytes(cls, data, path="<notebook>", assignment=None):
        notebook = parse_notebook(data)
        if assignment is None:
            try:
                assignment = assignments.detect(notebook)
            except assignments.UnknownAssignment as e:
                raise InvalidSubmission(str(e)) from None
        elif isinstance(assignment, str):
            assignment = assignments.get(assignment)
        cells, missing = graded_cells(notebook, _release_notebook(assignment))
        return cls(path, cells, assignment, missing)

    @property
    def checks(self):
        return self.assignment.checks

    def job(self, name, cells=None, limits=Limits()):
        return {"assignment": self.assignment.name, "cells": cells if cells is not None else self.cells,
                "check": name, "inputs": check_inputs(self.assignment, name),
                "files": helper_files(self.assignment), "limits": limits.__dict__}

    def jobs(self, names, cells=None, limits=Limits()):
        """One sandbox job for several checks: the cells run once, each check in its own fork."""
        return {"assignment": self.assignment.name, "cells": cells if cells is not None else self.cells,
                "checks": list(names), "inputs": {name: check_inputs(self.assignment, name) for name in names},
                "files": helper_files(self.assignment), "limits": limits.__dict__}

    def _failed_cell(self, outcome):
        """The index of the cell that killed the process, if the outcome names a valid one."""
        if type(outcome) is not dict or outcome.get("status") not in ("crashed", "timeout"):
            return None
        cell = outcome.get("failed_cell")
        return cell if type(cell) is int and 0 <= cell < len(self.cells) else None

    def grade(self, name, server, limits=Limits()):
        """Run check `name` in the sandbox (a fresh sandbox for this check alone) and judge it here."""
        check = self.checks[name]
        outcome = server.run(self.job(name, limits=limits))
        cell = self._failed_cell(outcome)
        if cell is not None:
            retry = server.run(self.job(name, cells=self.cells[:cell], limits=limits))
            outcome = self._after_regrade(outcome, retry)
        return self._judge(check, outcome)

    def grade_all(self, server, names=None, limits=Limits()):
        """[CheckResult] for `names` (default: every check of the assignment, in order), judged here.

        The sandbox runs the cells once and forks one fresh process per check; when a cell kills
        the process, the checks are regraded on the cells before it, as `grade` does."""
        names = list(names or self.checks)
        outcomes = self._run(server, names, len(self.cells), limits)
        return [self._judge(self.checks[name], outcomes.get(name)) for name in names]

    def _run(self, server, names, n_cells, limits):
        """{check: outcome} on the first `n_cells` cells; a check whose run a cell killed is regraded on
        the cells before that cell, again if those kill it too (a thread a cell starts may be caught
        only in a later cell), so the result never depends on when a hostile cell is caught."""
        outcomes = server.run(self.jobs(names, cells=self.cells[:n_cells], limits=limits))
        failed = {}
        for name in names:
            cell = self._failed_cell(outcomes.get(name))
            if cell is not None and cell < n_cells:
                failed.setdefault(cell, []).append(name)
        for cell, again in failed.items():
            retries = self._run(server, again, cell, limits)
            for name in again:
                outcomes[name] = self._after_regrade(outcomes[name], retries.get(name))
        return outcomes

    @staticmethod
    def _after_regrade(first, retry):
        """A cell killed the process: keep what the cells before it earned, say why, keep the status."""
        if type(retry) is not dict:
            return first
        retry = dict(retry)
        why = first.get("reason") if type(first.get("reason")) is str else first.get("status", "")
        errors = retry.get("cell_errors") if type(retry.get("cell_errors")) is list else []
        retry["cell_errors"] = [{"cell": "", "error": why}] + errors
        if retry.get("status") in ("ok", "error"):
            retry["killed"], retry["killed_reason"] = first["status"], why
        return retry

    def _notes(self, outcome):
        """Notes under a failed check's message: the cells that raised, lost or duplicated cells."""
        notes = []
        errors = outcome.get("cell_errors")
        for e in errors if type(errors) is list else []:
            if type(e) is dict and type(e.get("error")) is str:
                cell = e.get("cell") if type(e.get("cell")) is str else ""
                notes.append(e["error"] if not cell else f"cell '{cell}' failed: {e['error']}")
        return notes + self.missing

    def _judge(self, check, outcome):
        """The CheckResult of `check` from its sandbox outcome. Never raises: what the student's code
        sent is read as untrusted, and a failure of the judge is reported as a grader error."""
        name = check.name
        if type(outcome) is not dict or outcome.get("status") not in ("ok", "error", "timeout", "crashed"):
            return self._grader_error(check, "the sandbox gave no usable outcome for this check")
        status = outcome["status"]
        killed = outcome.get("killed") if outcome.get("killed") in ("timeout", "crashed") else "graded"
        reason = clean_text(outcome.get("killed_reason"), 500) if killed != "graded" else ""
        if status == "ok":
            try:
                verdict = self.assignment.judges.run_judge(name, outcome.get("data"),
                                                           check_inputs(self.assignment, name))
                passed, message = bool(verdict.passed), verdict.message
                grader_error = getattr(verdict, "grader_error", False) is True
            except Exception as e:  # noqa: BLE001 - a judge that raises is the grader's failure
                return self._grader_error(check, f"the judge raised {type(e).__name__}: {safe_str(e, 200)}")
            if grader_error:
                return self._grader_error(check, message)
            message = clean_text(message, MAX_MESSAGE) if type(message) is str else ""
            if not passed and not message:
                message = "the check failed"
            status = killed
        elif status == "error":
            data = outcome.get("data")
            passed, status = False, killed
            message = clean_text(data, MAX_MESSAGE) if type(data) is str and data.strip() else \
                "your code failed in a way the grader could not read (its error message is not text)"
        else:
            message = reason = clean_text(outcome.get("reason"), 500) or f"your code was stopped ({status})"
            passed = False
        if passed:
            return CheckResult(name, check.title, check.points, check.points, True, "", status, reason)
        notes = [clean_text(note, 500) for note in self._notes(outcome)]
        message = clean_text("\n".join([message] + notes[:3]), MAX_MESSAGE)
        return CheckResult(name, check.title, 0, check.points, False, message, status, reason)

    @staticmethod
    def _grader_error(check, why):
        """The check failed because the grader did (status `error`): the student is told it is not
        their mistake; `reason` says what failed, without the "grader error" label."""
        why = " ".join(clean_text(why if type(why) is str else "", 500).split()) or "the judge failed"
        if why.startswith("grader error") and ": " in why:
            why = why.split(": ", 1)[1]
        return CheckResult(check.name, check.title, 0, check.points, False,
                           f"{GRADER_ERROR}: {why} (your instructor will regrade it)", "error", why)
