"""Run a submission's code in a locked-down child process and bring back plain data.

Design (a pre-warmed fork server):

    grading process (imports src/, judges)            never executes student code
        │  JSON lines over a pipe
        ▼
    fork server  (python -m autograder.sandbox)        imports numpy, matplotlib and the probes,
        │  fork() per job                              never src/ or the judges
        ▼
    child: own process group, rlimits (CPU, memory, file size, open files),
           stdin/stdout/stderr on /dev/null, minimal environment, and when the
           grader runs as root: chroot into a scratch copy of the submission's
           helper files and an unprivileged uid. Executes the submission's cells,
           runs one probe, writes its data to a pipe, exits.

The child reports its progress on the pipe (cell i started / finished), so when
it dies (os._exit, a signal, a limit) the server knows which cell killed it.
Whatever happens, the server kills the child's whole process group (and, as
root, every process of the sandbox uid) before it answers.
"""
import json
import os
import resource
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SANDBOX_UID_BASE = 60000          # worker k runs children as uid 60000 + k (no such user needs to exist)
MAX_REPORT_BYTES = 8 << 20        # a child's report larger than this is cut off and treated as a crash
PRELOAD = ("math cmath random itertools functools collections operator copy typing dataclasses time re "
           "string statistics decimal fractions numbers heapq bisect array json warnings contextlib abc "
           "enum types inspect textwrap pprint traceback gc io numpy numpy.testing numpy.linalg "
           "numpy.random matplotlib matplotlib.pyplot").split()


@dataclass(frozen=True)
class Limits:
    wall_seconds: float = 20.0
    cpu_seconds: int = 30
    memory_mb: int = 1024          # address space on top of what the pre-warmed server already maps
    file_mb: int = 16


# --- the child ------------------------------------------------------------------------

def _apply_limits(limits, sandbox_uid, report_fd):
    os.setsid()
    os.closerange(3, report_fd)                    # e.g. the server's protocol channel: no forged answers
    os.closerange(report_fd + 1, resource.getrlimit(resource.RLIMIT_NOFILE)[0])
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)
    with open("/proc/self/statm") as f:
        mapped = int(f.read().split()[0]) * resource.getpagesize()
    memory = mapped + limits.memory_mb * 2 ** 20
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 1))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_mb * 2 ** 20,) * 2)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
    if os.geteuid() == 0:
        resource.setrlimit(resource.RLIMIT_NPROC, (256, 256))   # counted for the sandbox uid
        os.chroot(".")
        os.chdir("/")
        os.setgroups([])
        os.setgid(sandbox_uid)
        os.setuid(sandbox_uid)
    os.environ.clear()
    os.environ.update({"PATH": "/usr/bin:/bin", "HOME": "/", "LANG": "C.UTF-8", "MPLBACKEND": "Agg"})
    sys.path[:] = [os.getcwd()]
    sys.stdout = sys.stderr = open(os.devnull, "w") if os.path.exists(os.devnull) else _Discard()


class _Discard:
    def write(self, text):
        return len(text)

    def flush(self):
        pass


def _child(job, report_fd, sandbox_uid):
    """Runs in the forked child: never returns."""
    from IPython.core.inputtransformer2 import TransformerManager
    from autograder.probes import run_probe

    def report(event):
        os.write(report_fd, (json.dumps(event) + "\n").encode())

    try:
        _apply_limits(Limits(**job["limits"]), sandbox_uid, report_fd)
        namespace = {"__name__": "__main__"}
        cell_errors = []
        for i, (label, source) in enumerate(job["cells"]):
            report({"event": "cell_start", "index": i})
            try:
                exec(compile(TransformerManager().transform_cell(source), f"<cell {label}>", "exec"), namespace)
            except BaseException as e:  # noqa: BLE001 - SyntaxError, SystemExit, MemoryError, ...
                cell_errors.append({"cell": label, "error": f"{type(e).__name__}: {str(e)[:300]}"})
        report({"event": "cells_done"})
        status, data = run_probe(job["check"], namespace, job["inputs"])
        report({"event": "result", "status": status, "data": data, "cell_errors": cell_errors})
    finally:
        os._exit(0)


# --- the server ----------------------------------------------------------------------------

def _sweep(pgid, uid):
    """Kill the child's process group and, as root, every process still running as the sandbox uid."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    if os.geteuid() != 0:
        return
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/status") as f:
                uid_line = next(line for line in f if line.startswith("Uid:"))
            if int(uid_line.split()[1]) == uid:
                os.kill(int(pid), signal.SIGKILL)
        except (OSError, StopIteration, ValueError):
            pass


def _read_report(fd, deadline):
    """Read the child's JSON-line report until EOF or the deadline. Returns (events, timed_out)."""
    chunks, size = [], 0
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return _parse(chunks), True
        ready, _, _ = select.select([fd], [], [], remaining)
        if not ready:
            continue
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            return _parse(chunks), False
        size += len(chunk)
        if size > MAX_REPORT_BYTES:
            return _parse(chunks) + [{"event": "oversized"}], False
        chunks.append(chunk)


def _parse(chunks):
    events = []
    for line in b"".join(chunks).splitlines():
        try:
            events.append(json.loads(line))
        except ValueError:
            events.append({"event": "garbled"})
    return events


def run_job(job, sandbox_uid):
    """Fork one sandboxed child for `job`; return its outcome as a plain dict.

    job: {"cells": [[label, source], ...], "check": name, "inputs": {...},
          "files": {filename: text} (helper modules the setup cell imports), "limits": {...}}
    outcome: {"status": "ok" | "error" | "timeout" | "crashed", "data" or "reason", "cell_errors": [...]}
    """
    limits = Limits(**job["limits"])
    scratch = tempfile.mkdtemp(prefix="sandbox-")
    os.chmod(scratch, 0o755)
    for name, text in job["files"].items():
        with open(os.path.join(scratch, os.path.basename(name)), "w") as f:
            f.write(text)
    read_fd, write_fd = os.pipe()
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        os.chdir(scratch)
        _child(job, write_fd, sandbox_uid)
    os.close(write_fd)
    events, timed_out = _read_report(read_fd, start + limits.wall_seconds)
    os.close(read_fd)
    _sweep(pid, sandbox_uid)
    _, status = os.waitpid(pid, 0)
    shutil.rmtree(scratch, ignore_errors=True)
    return _outcome(job, events, timed_out, status, time.monotonic() - start)


def _outcome(job, events, timed_out, status, seconds):
    result = next((e for e in events if e.get("event") == "result"), None)
    if result is not None and result.get("status") in ("ok", "error"):
        return {"status": result["status"], "data": result.get("data"), "cell_errors": result.get("cell_errors", []),
                "seconds": seconds}
    started = [e["index"] for e in events if e.get("event") == "cell_start"]
    in_cells = started and not any(e.get("event") == "cells_done" for e in events)
    where = (f"while running cell '{job['cells'][started[-1]][0]}'" if in_cells
             else "while the check ran your code")
    if timed_out:
        return {"status": "timeout", "failed_cell": started[-1] if in_cells else None, "seconds": seconds,
                "reason": f"time limit of {job['limits'].get('wall_seconds', Limits.wall_seconds):g} s "
                          f"exceeded {where} (an endless loop?)"}
    if os.WIFSIGNALED(status):
        sig = signal.Signals(os.WTERMSIG(status)).name
        cause = {"SIGXCPU": "CPU time limit exceeded", "SIGKILL": "killed (memory or a limit)",
                 "SIGSEGV": "segmentation fault", "SIGXFSZ": "file size limit exceeded"}.get(sig, sig)
        reason = f"the Python process died {where}: {cause}"
    elif any(e.get("event") == "oversized" for e in events):
        reason = f"your code produced an oversized result {where}"
    else:
        reason = (f"the Python process ended {where} (exit status {os.WEXITSTATUS(status)}): "
                  "does your code call os._exit or exit the interpreter?")
    return {"status": "crashed", "failed_cell": started[-1] if in_cells else None, "reason": reason,
            "seconds": seconds}


def serve(worker_index=0):
    """Fork-server main loop: one JSON job per stdin line, one JSON outcome per stdout line."""
    import importlib
    for module in PRELOAD:
        importlib.import_module(module)
    import IPython.core.inputtransformer2  # noqa: F401 - turns %magics into calls, as Jupyter does
    import autograder.probes  # noqa: F401
    protocol = os.fdopen(os.dup(1), "w")
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)     # nothing else may write on the protocol channel
    uid = SANDBOX_UID_BASE + worker_index
    protocol.write(json.dumps({"ready": True}) + "\n")
    protocol.flush()
    for line in sys.stdin:
        outcome = run_job(json.loads(line), uid)
        protocol.write(json.dumps(outcome) + "\n")
        protocol.flush()


class ForkServer:
    """Client side: start `python -m autograder.sandbox` once, then `run(job)` as often as needed."""

    def __init__(self, worker_index=0):
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
        env.update({"PYTHONPATH": ROOT, "MPLBACKEND": "Agg", "OPENBLAS_NUM_THREADS": "1",
                    "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONHASHSEED": "0"})
        self.proc = subprocess.Popen([sys.executable, "-m", "autograder.sandbox", str(worker_index)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT)
        ready = self.proc.stdout.readline()
        if not ready.strip():
            raise RuntimeError("the sandbox fork server failed to start")

    def run(self, job):
        self.proc.stdin.write(json.dumps(job) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the sandbox fork server exited (status {self.proc.wait()})")
        return json.loads(line)

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait(timeout=10)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


if __name__ == "__main__":
    serve(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
