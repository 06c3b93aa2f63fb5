"""The pytest path: grade one notebook by running the hidden suite (tests/hidden/) against it.

    python -m autograder grade PATH.ipynb --json results.json [--trust-submissions]

prints a per-check table and writes Gradescope's results.json (plus the keys ``status``,
``reason`` and ``isolation``). With --json, results.json is always written, also when the file
cannot be graded (score 0, status ``invalid``, the reason) or the grader fails (status ``error``).
Exit status: 0 when grading ran (whatever the score), 1 when the grader itself failed, 2 when the
file is missing or not a gradable notebook, or when student code cannot be sandboxed here.

Whatever a submission holds ends in results.json as valid UTF-8 text: every string written is
passed through protocol.clean_text.
"""
import json
import os
import sys
import tempfile

import pytest

from autograder import sandbox
from autograder import assignments
from autograder.protocol import clean_text, safe_str
from autograder.sandbox import ROOT
from autograder.submission import GRADER_ERROR, CheckResult, InvalidSubmission, Submission

HIDDEN_SUITE = os.path.join(ROOT, "tests", "hidden")
NO_CODE_RAN = "none: no student code ran"
UNKNOWN = "unknown"


def isolation_of(server):
    """The server's one-line description of how student code was isolated."""
    value = getattr(server, "isolation", UNKNOWN)
    return clean_text(value, 300) if isinstance(value, str) and value else UNKNOWN


# --- running the hidden suite ------------------------------------------------------------------

class SuiteError(RuntimeError):
    """The hidden suite did not report every check: the grader failed, not the student."""


class _Collector:
    """pytest plugin: picks up the CheckResult each hidden test records, and the isolation the hidden
    suite's fork server used (tests/hidden/conftest.py reports it, or the IsolationUnavailable)."""

    def __init__(self):
        self.results = {}
        self.isolation, self.unavailable = UNKNOWN, None

    def pytest_runtest_logreport(self, report):
        props = dict(report.user_properties)
        if report.when == "call" and "check_result" in props:
            result = CheckResult(**props["check_result"])
            self.results[result.name] = result
        if "isolation" in props:
            self.isolation = clean_text(props["isolation"], 300)
        if "isolation_unavailable" in props:
            self.unavailable = sandbox.IsolationUnavailable(props["isolation_unavailable"])


def grade_with_hidden_suite(path, trust=False, assignment=None):
    """([CheckResult] for every check of the submission's assignment, in order, isolation). Raises
    IsolationUnavailable when the sandbox cannot be made, SuiteError (a RuntimeError) if the suite
    itself broke. `assignment`: an id, or None to recognise it from the notebook."""
    if assignment is None:
        assignment = Submission.load(path).assignment
    elif isinstance(assignment, str):
        assignment = assignments.get(assignment)
    checks = assignment.checks
    collector = _Collector()
    args = [HIDDEN_SUITE, f"--submission={os.path.abspath(path)}", f"--assignment={assignment.name}",
            f"--rootdir={ROOT}",
            "-c", os.path.join(ROOT, "pytest.ini"), "-p", "no:cacheprovider", "-p", "no:terminal"]
    if trust:
        args.append("--trust-submissions")
    pytest.main(args, plugins=[collector])
    if collector.unavailable is not None:
        raise collector.unavailable
    missing = [name for name in checks if name not in collector.results]
    if missing:
        raise SuiteError(f"the hidden test suite did not report {missing}: {GRADER_ERROR}")
    return [collector.results[name] for name in checks], collector.isolation


def run_hidden_suite(path, trust=False, assignment=None):
    """[CheckResult] for every check, in order. Raises RuntimeError if the suite itself broke."""
    return grade_with_hidden_suite(path, trust, assignment)[0]


# --- results.json --------------------------------------------------------------------------

def submission_status(results):
    """(status, reason) of a graded submission from its CheckResults:
    error (the grader failed) beats crashed beats timeout beats graded."""
    for status in ("error", "crashed", "timeout"):
        hit = [r for r in results if r.status == status]
        if hit:
            first = hit[0]
            reason = first.reason or (first.message.splitlines()[0] if first.message else status)
            if status == "error":
                reason = f"{GRADER_ERROR}: check '{first.name}': {reason}"
            elif "while the check ran your code" in reason:
                reason = f"check '{first.name}': {reason}"
            return status, clean_text(reason, 500)
    return "graded", ""


def gradescope_results(results, isolation=UNKNOWN, assignment=None):
    """Gradescope's results.json schema, plus the submission's assignment, status, reason and isolation.
    `results` are every check of the assignment. A test passed if and only if its check passed."""
    score, max_score = sum(r.points for r in results), sum(r.max_points for r in results)
    status, reason = submission_status(results)
    output = f"{score:g} / {max_score} points"
    if reason:
        output += f"\n{status}: {reason}"
    return {
        "assignment": assignment,
        "score": score,
        "max_score": max_score,
        "output": output,
        "tests": [{"name": r.title, "score": r.points, "max_score": r.max_points,
                   "status": "passed" if r.passed else "failed",
                   "output": "passed" if r.passed else (r.message or "failed")} for r in results],
        "status": status,
        "reason": reason,
        "isolation": isolation,
    }


def not_graded_results(status, reason, isolation=NO_CODE_RAN, assignment=None):
    """results.json of a submission that was not graded: `invalid` (score 0) or `error`. The maximum
    is the assignment's when it is known, else 0."""
    reason = " ".join(clean_text(reason, 500).split())
    label = "grader error" if status == "error" else reason
    max_score = assignments.get(assignment).max_score if assignment in assignments.names() else 0
    return {"assignment": assignment, "score": 0, "max_score": max_score, "output": f"not graded: {label}",
            "tests": [],
            "status": status, "reason": reason, "isolation": isolation}


def _clean(value):
    """`value` with every string made valid UTF-8 text (lone surrogates replaced)."""
    if isinstance(value, str):
        return clean_text(value, len(value))
    if isinstance(value, dict):
        return {_clean(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def write_json_atomically(data, path):
    """Write `data` as JSON to `path` all at once: a temporary file in the same folder, flushed to
    disk, then renamed over `path` (a reader sees the old file or the new one, never a part).
    Every string is cleaned first, so the file is valid UTF-8 whatever the data held."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(_clean(data), f, indent=2)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


# --- the command ---------------------------------------------------------------------------------

def table(results):
    lines = [f"{'check':<22} {'points':>9}  feedback"]
    for r in results:
        first = r.message.splitlines()[0] if r.message else "ok"
        lines.append(f"{r.name:<22} {r.points:>4g} / {r.max_points:<2}  {first[:110]}")
    lines.append(f"{'total':<22} {sum(r.points for r in results):>4g} / {sum(r.max_points for r in results)}")
    return clean_text("\n".join(lines), 1 << 20)


def main(path, json_out=None, trust=False, assignment=None):
    """Grade `path` (of `assignment`, or the assignment its nbgrader cells show); write results.json to
    `json_out` (always, when given). Returns the exit status. Raises InvalidSubmission (exit 2) after
    writing an `invalid` results.json, and the sandbox's IsolationUnavailable (exit 2) after writing an
    `error` one. An unknown `assignment` id raises assignments.UnknownAssignment (the instructor's)."""
    if assignment is not None:
        assignments.get(assignment)

    def write(record):
        if json_out:
            write_json_atomically(record, json_out)

    def failed(error):
        reason = f"{GRADER_ERROR}: {type(error).__name__}: {safe_str(error, 400)}"
        write(not_graded_results("error", reason, UNKNOWN, assignment))
        print(clean_text(" ".join(reason.split()), 500), file=sys.stderr)
        return 1

    try:
        assignment = Submission.load(path, assignment=assignment).assignment.name   # InvalidSubmission first
    except InvalidSubmission as e:
        write(not_graded_results("invalid", str(e), assignment=assignment))
        raise
    except Exception as e:  # noqa: BLE001 - e.g. the release notebook is broken: the grader's failure
        return failed(e)
    try:
        results, isolation = grade_with_hidden_suite(path, trust, assignment)
    except SuiteError as e:
        return failed(e)
    except sandbox.IsolationUnavailable as e:
        write(not_graded_results("error", f"{GRADER_ERROR}: {safe_str(e, 400)}", UNKNOWN, assignment))
        raise
    except Exception as e:  # noqa: BLE001 - the grader failed: say so, and still write results.json
        return failed(e)
    print(table(results))
    record = gradescope_results(results, isolation, assignment)
    write(record)
    return 1 if record["status"] == "error" else 0
