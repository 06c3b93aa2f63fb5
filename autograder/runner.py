"""Inside the sandbox: the pre-warmed fork server and the processes that run one submission.

    grading process (sandbox.ForkServer)       never executes student code; judges outside
        │  JSON lines: a job in, the outcomes out (validated again on the grading side)
        ▼
    bwrap: own user, pid, net, ipc, uts, cgroup and mount namespaces; a read-only view of the
        │  interpreter, its packages and the sandbox modules (protocol, runner, probes, oracles),
        │  nothing of the course (no source/, src/, tests/, judges, results, gradebook)
        ▼
    fork server  (python -m autograder.runner)  pre-imports numpy, matplotlib and the probes;
        │  undumpable, so nothing can ptrace it or read its memory.  Per submission:
        │  fork → unshare(pid, mount, net, ipc, uts) → fork
        ▼
    submission pid 1: mounts its own /proc and size-limited tmpfs on /tmp, /submission and /dev/shm,
        │  drops every capability (bounding set too; no_new_privs), sets rlimits (address space,
        │  CPU, file size, open files, process count, no core), runs the cells once, then for
        │  each check the server names:
        │  fork
        ▼
    check process: the trusted modules are put back as they were, one probe runs, its data goes
        on the report pipe, the process exits.

When the submission's pid 1 exits or is killed, the kernel kills every process of its pid
namespace: nothing a submission starts outlives it, and no sweep is needed. The server adds the
limits no rlimit gives: wall time, and memory summed over all the submission's processes
(proportional set size, polled). Everything on the report pipe is the student's output: the
server reads it with protocol.parse_event and a size cap, and the grader validates it again.

With --trusted (the instructor's explicit choice where no isolation is possible) the same
processes run without namespaces: no pid 1 teardown, no private /proc or tmpfs.
"""
import builtins
import copy
import ctypes
import json
import os
import resource
import select
import signal
import socket
import struct
import sys
import time

from autograder.protocol import Event, ProbeStatus, Status, parse_event, safe_str

MAX_REPORT_BYTES = 8 << 20        # a check's report larger than this is cut off and treated as a crash
MEMORY_POLL_SECONDS = 0.05        # how often the server sums the submission's memory
MAX_PROCESSES = 64                # processes (and threads) a submission may have at once
TMPFS = {"/submission": "32m", "/tmp": "32m", "/dev/shm": "16m"}    # the submission's only writable places
# Memory no process's set size would count (System V shared memory, POSIX message queues, memory
# files): these calls fail with EPERM in a submission (seccomp), so the memory watchdog sees all.
# The kernel keyring (add_key, request_key, keyctl) is blocked too: every submission of a server runs as
# the same uid in the same user namespace, so a key one stored could be read by the next.
BLOCKED_SYSCALLS = {"x86_64": (0xC000003E, {"shmget": 29, "msgget": 68, "mq_open": 240, "memfd_create": 319,
                                            "memfd_secret": 447, "add_key": 248, "request_key": 249,
                                            "keyctl": 250}),
                    "aarch64": (0xC00000B7, {"shmget": 194, "msgget": 186, "mq_open": 180, "memfd_create": 279,
                                             "memfd_secret": 447, "add_key": 217, "request_key": 218,
                                             "keyctl": 219})}
PRELOAD = ("math cmath random itertools functools collections operator copy typing dataclasses time re "
           "string statistics decimal fractions numbers heapq bisect array json warnings contextlib abc "
           "enum types inspect textwrap pprint traceback gc io numpy numpy.testing numpy.linalg "
           "numpy.random matplotlib matplotlib.pyplot").split()
# Modules whose attributes a probe relies on: restored in every check process before its probe runs,
# so a student's monkeypatch (np.array_equal = lambda *a: True) does not change what an honest probe
# computes. This is for robustness, not security: the grader treats every byte the sandbox sends as
# the student's output and judges it against its own inputs.
# Every autograder module loaded before the cells run (probing, each assignment's probes and oracles)
# is trusted the same way (see _snapshot).
TRUSTED_MODULES = ("builtins", "numpy", "numpy.testing", "numpy.linalg", "numpy.random", "json", "os",
                   "contextlib", "io", "warnings")

_libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWPID, CLONE_NEWNET = 0x20000, 0x4000000, 0x8000000, 0x20000000, 0x40000000
MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REC, MS_PRIVATE = 2, 4, 8, 0x4000, 0x40000
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS, PR_SET_CHILD_SUBREAPER = 1, 4, 24, 38, 36


def _ok(ret, what):
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _die_with_parent(parent):
    """SIGKILL this process when its parent dies (a killed server leaves nothing running)."""
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        os._exit(1)


# --- the submission's namespaces and limits --------------------------------------------------

def enter_namespaces():
    """In a freshly forked child: new pid, mount, net, ipc and uts namespaces (its next child is pid 1)."""
    _ok(_libc.unshare(CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS), "unshare")


def _mount_private_filesystems():
    """Pid 1 of a submission: its own /proc (only its processes) and size-limited tmpfs."""
    _ok(_libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None), "mount --make-rprivate /")
    _ok(_libc.mount(b"proc", b"/proc", b"proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None), "mount /proc")
    for path, size in TMPFS.items():
        if os.path.isdir(path):
            _ok(_libc.mount(b"tmpfs", path.encode(), b"tmpfs", MS_NOSUID | MS_NODEV,
                            f"size={size},mode=1777".encode()), f"mount tmpfs {path}")


def _seccomp_filter():
    """A classic BPF program: the syscalls of BLOCKED_SYSCALLS fail with EPERM; another ABI (i386
    via int 0x80, x32) fails too; everything else is allowed. None on other architectures."""
    arch = BLOCKED_SYSCALLS.get(os.uname().machine)
    if arch is None:
        return None
    audit_arch, numbers = arch
    deny, allow = 0x00050000 | 1, 0x7FFF0000                       # SECCOMP_RET_ERRNO | EPERM, RET_ALLOW
    nrs = sorted(set(numbers.values()))
    n = len(nrs)
    prog = [(0x20, 0, 0, 4),                                        # A = arch
            (0x15, 0, n + 3, audit_arch),                           # not ours: deny
            (0x20, 0, 0, 0),                                        # A = syscall number
            (0x35, n + 1, 0, 0x40000000)]                           # x32: deny
    prog += [(0x15, n - i, 0, nr) for i, nr in enumerate(nrs)]      # blocked: deny
    prog += [(0x06, 0, 0, allow), (0x06, 0, 0, deny)]
    return b"".join(struct.pack("HBBI", *ins) for ins in prog), len(prog)


def _install_seccomp():
    built = _seccomp_filter()
    if built is None:
        return
    code, length = built
    buffer = ctypes.create_string_buffer(code, len(code))
    fprog = struct.pack("HxxxxxxQ", length, ctypes.addressof(buffer))
    _ok(_libc.prctl(22, 2, ctypes.c_char_p(fprog), 0, 0), "seccomp")          # PR_SET_SECCOMP, FILTER


def _drop_capabilities():
    """No capability left, none to regain (bounding set emptied, no_new_privs)."""
    for cap in range(64):
        _libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)
    _ok(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    _ok(_libc.capset(struct.pack("Ii", 0x20080522, 0), bytes(24)), "capset")
    _install_seccomp()


def _apply_limits(limits, keep_fds, isolated):
    """Lock down the submission's first process (rlimits are inherited by all it forks)."""
    low = 3
    for fd in sorted(keep_fds) + [resource.getrlimit(resource.RLIMIT_NOFILE)[0]]:
        os.closerange(low, fd)                     # the server's channel to the grader, above all
        low = fd + 1
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)
    if isolated:
        _mount_private_filesystems()
        _drop_capabilities()
    else:
        os.setsid()
    with open("/proc/self/statm") as f:
        mapped = int(f.read().split()[0]) * resource.getpagesize()
    memory = mapped + limits["memory_mb"] * 2 ** 20 // 2     # one process: half of what all may hold together
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (limits["cpu_seconds"], limits["cpu_seconds"] + 1))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits["file_mb"] * 2 ** 20,) * 2)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
    if isolated:      # counted per user in the sandbox's user namespace: the server's few processes + these
        resource.setrlimit(resource.RLIMIT_NPROC, (MAX_PROCESSES + 8, MAX_PROCESSES + 8))
    _libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    os.chdir("/submission" if isolated else ".")
    sys.path[:] = [os.getcwd()] + [p for p in sys.path if p and p != os.getcwd()]   # stdlib, packages
    sys.stdout = sys.stderr = open(os.devnull, "w")


# --- restoring the modules a probe relies on --------------------------------------------------

def _heap_classes(module):
    """Classes defined in Python (not C types) that `module` exposes: their dicts can be put back."""
    return [c for c in vars(module).values() if isinstance(c, type) and c.__flags__ & (1 << 9)]   # HEAPTYPE


def _snapshot():
    """The attributes of the trusted modules, of their Python classes (numpy's errstate, the sandbox's
    own classes) and the code of their functions, before student code runs."""
    grader_modules = tuple(n for n in sys.modules if n == "autograder" or n.startswith("autograder."))
    modules = {name: sys.modules[name] for name in TRUSTED_MODULES + ("__main__",) + grader_modules
               if name in sys.modules}
    attrs = {name: dict(vars(m)) for name, m in modules.items()}
    classes = {cls: dict(vars(cls)) for m in modules.values() for cls in _heap_classes(m)}
    functions = {}
    for namespace in list(attrs.values()) + list(classes.values()):
        for value in namespace.values():
            value = getattr(value, "__func__", value)
            if type(value).__name__ == "function":
                functions[value] = (value.__code__, value.__defaults__, value.__kwdefaults__)
    grader = [m for m in modules.values() if m.__name__.startswith("autograder")]
    tables = [(value, copy.deepcopy(value)) for m in grader for key, value in vars(m).items()
              if type(value) in (dict, list) and not key.startswith("__")]
    return modules, attrs, classes, functions, tables


def _restore(snapshot):
    """Put back what _snapshot saw. For robustness of honest probes, not for security: code in the
    student's process can always change what it reports (the grader judges it as a claim)."""
    modules, attrs, classes, functions, tables = snapshot
    for function, (code, defaults, kwdefaults) in functions.items():
        try:
            function.__code__, function.__defaults__, function.__kwdefaults__ = code, defaults, kwdefaults
        except (AttributeError, TypeError, ValueError):
            pass
    for name, module in modules.items():
        sys.modules[name] = module
        namespace = vars(module)
        for key in [k for k in namespace if k not in attrs[name]]:
            del namespace[key]
        namespace.update(attrs[name])
    for cls, saved in classes.items():
        for key in [k for k in vars(cls) if k not in saved]:
            try:
                delattr(cls, key)
            except (AttributeError, TypeError):
                pass
        for key, value in saved.items():
            if key not in ("__dict__", "__weakref__") and vars(cls).get(key) is not value:
                try:
                    setattr(cls, key, value)
                except (AttributeError, TypeError):
                    pass
    for table, saved in tables:
        table.clear()
        (table.update if isinstance(table, dict) else table.extend)(copy.deepcopy(saved))


# --- the submission's processes -----------------------------------------------------------------

def _probes_of(assignment):
    """The probes module of `assignment`, named by the grader's job (preloaded by serve, or imported
    here, before any student code runs in this process)."""
    import importlib
    from autograder.assignments import probe_modules
    module = f"autograder.assignments.{assignment}.probes"
    if type(assignment) is not str or module not in probe_modules():
        raise ValueError(f"no probes for assignment {assignment!r}")
    return importlib.import_module(module)


def _cells_process(job, report_fd, command_fd, isolated):
    """Pid 1 of the submission: run the cells once, then fork one check process per command line
    ("<check name>") read from the server. Never returns."""
    from IPython.core.inputtransformer2 import TransformerManager
    run_probe = _probes_of(job["assignment"]).run_probe
    torch = sys.modules.get("torch")
    one_thread = torch.set_num_threads if torch is not None else None   # taken before student code runs
    write, read, fork, waitpid, exit_now = os.write, os.read, os.fork, os.waitpid, os._exit
    dumps, setrlimit, getrusage, restore = json.dumps, resource.setrlimit, resource.getrusage, _restore
    snapshot = _snapshot()

    def report(event):
        data = (dumps(event) + "\n").encode()
        while data:
            data = data[write(report_fd, data):]

    try:
        limits = job["limits"]
        _apply_limits(limits, {report_fd, command_fd}, isolated)
        for name, text in job["files"].items():          # the release's helper modules (data.py, ...)
            with open(os.path.basename(name), "w") as f:
                f.write(text)
        namespace = {"__name__": "__main__"}
        cell_errors = []
        builtin_names = dict(vars(builtins))
        for i, (label, source) in enumerate(job["cells"]):
            report({"event": Event.CELL_START, "index": i})
            try:
                exec(compile(TransformerManager().transform_cell(source), f"<cell {label}>", "exec"), namespace)
            except BaseException as e:  # noqa: BLE001 - SyntaxError, SystemExit, MemoryError, ...
                cell_errors.append({"cell": label, "error": f"{type(e).__name__}: {safe_str(e)}"[:400]})
            vars(builtins).update(builtin_names)   # the next cell's compile and exec need the real ones
        restore(snapshot)            # once, here: every check is a fork of this restored state
        usage = getrusage(resource.RUSAGE_SELF)
        cpu_left = max(1, int(limits["cpu_seconds"] - usage.ru_utime - usage.ru_stime))
        if isolated:
            _become_zygote()          # from here on, only this process and its checks hold the channel
        report({"event": Event.CELLS_DONE, "cell_errors": cell_errors})
        pending = b""
        while True:
            while b"\n" not in pending:
                chunk = read(command_fd, 4096)
                if not chunk:
                    exit_now(0)
                pending += chunk
            line, pending = pending.split(b"\n", 1)
            name = line.decode()
            try:
                parent, pid = os.getpid(), fork()
            except OSError:
                report({"event": Event.RESULT, "check": name, "status": ProbeStatus.ERROR,
                        "data": f"the check could not start: your code left too many processes running "
                                f"(at most {MAX_PROCESSES} at once)"})
                report({"event": Event.CHECK_DONE, "check": name, "wait_status": 0})
                continue
            if pid == 0:
                try:
                    _die_with_parent(parent)
                    os.setpgid(0, 0)
                    os.close(command_fd)
                    setrlimit(resource.RLIMIT_CPU, (cpu_left, cpu_left + 1))
                    if one_thread is not None:   # torch's thread pool of the cells did not survive the fork:
                        one_thread(1)            # a check that waited on it would hang
                    status, data = run_probe(name, namespace, job["inputs"].get(name, {}))
                    report({"event": Event.RESULT, "check": name, "status": status, "data": data})
                finally:
                    exit_now(0)
            _, wait_status = waitpid(pid, 0)
            if isolated:
                _kill_all_but_me()                        # whatever the check started, setsid or not
            else:
                try:
                    os.killpg(pid, signal.SIGKILL)        # whatever the check's process group left running
                except OSError:
                    pass
            report({"event": Event.CHECK_DONE, "check": name, "wait_status": wait_status})
    finally:
        exit_now(0)


# Pid 1 after the cells: waits for the zygote and exits as it did. It holds no file descriptor, no
# thread and nothing of the submission's code (execve dropped them all).
SUPERVISOR = """
import ctypes, os, sys
ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)
zygote = int(sys.argv[1])
while True:
    try:
        pid, status = os.wait()
    except ChildProcessError:
        os._exit(0)
    if pid == zygote:
        os._exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status))
"""


def _become_zygote():
    """After the cells, in pid 1: fork the zygote (a copy of this thread only: no thread the cells
    started), make pid 1 a bare supervisor (execve ends its threads and closes its descriptors), and
    in the zygote kill every other process of the namespace (what the cells forked). So between
    checks nothing of the student's can write on the report channel, and during a check only that
    check's processes can: a forged or garbled line can only cost the check in progress."""
    _kill_all_but_me()                         # also frees the process slots a fork bomb took
    gate_r, gate_w = os.pipe()                 # close-on-exec: EOF for the zygote when pid 1 has exec'd
    zygote = os.fork()
    if zygote:
        os.execv(sys.executable, [sys.executable, "-S", "-c", SUPERVISOR, str(zygote)])
    os.close(gate_w)
    while os.read(gate_r, 1):
        pass
    os.close(gate_r)
    _kill_all_but_me()


def _kill_all_but_me(seconds=5.0):
    """SIGKILL every process of the submission's pid namespace but pid 1 and this one, until none is left."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.kill(-1, signal.SIGKILL)            # every process but pid 1 and the caller
        except OSError:
            pass
        try:
            while os.waitpid(-1, os.WNOHANG)[0]:   # reap our own (pid 1 reaps the orphans)
                pass
        except ChildProcessError:
            pass
        if not [p for p in os.listdir("/proc") if p.isdigit() and int(p) not in (1, os.getpid()) and not _zombie(p)]:
            return
        time.sleep(0.001)


def _zombie(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except (OSError, IndexError):
        return True


def _submission_leader(job, report_fd, command_fd, isolated, server):
    """The submission's leader, a child of the server (see _Spawner): it enters the new namespaces and
    forks the submission's pid 1, then waits and exits as pid 1 did (so the server sees os._exit or a
    signal). Killing it kills pid 1 (death signal), and with pid 1 the whole namespace."""
    try:
        _die_with_parent(server)
        if isolated:
            enter_namespaces()
        pid = os.fork()
        if pid == 0:
            _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)     # (its parent is outside its pid namespace)
            _cells_process(job, report_fd, command_fd, isolated)
        os.close(report_fd)
        os.close(command_fd)
        _, status = os.waitpid(pid, 0)
        if os.WIFSIGNALED(status):
            signal.signal(os.WTERMSIG(status), signal.SIG_DFL)
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
            os.kill(os.getpid(), os.WTERMSIG(status))
            os._exit(128 + os.WTERMSIG(status))
        os._exit(os.WEXITSTATUS(status))
    except BaseException:  # noqa: BLE001 - nothing may return into the server's loop
        os._exit(70)


# --- the spawner: every submission starts from a process that never held another's data -----------

class _Spawner:
    """A process forked from the server at start-up, before it reads any job, that forks every
    submission's leader. The server's own memory holds past jobs (sources) and past results (the
    outputs of other students' code on the grader's inputs: for an honest student, the right answers);
    a leader forked from the server would inherit them in its freed heap. Leaders forked from the
    spawner inherit only the pre-warmed start-up state. Each leader reads its own job from a memory
    file the server hands over, and is reparented to the server (a child subreaper), which waits for
    it as before."""

    def __init__(self, isolated):
        server = os.getpid()
        _libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)    # orphaned leaders become the server's children
        self.sock, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self.pid = os.fork()
        if self.pid == 0:
            try:
                self.sock.close()
                _die_with_parent(server)
                keep = theirs.fileno()
                null = os.open(os.devnull, os.O_RDWR)
                os.dup2(null, 0)                            # the jobs on stdin are not the spawner's to read,
                os.dup2(null, 1)                            # nor the protocol channel its to write
                os.closerange(3, keep)
                os.closerange(keep + 1, 1 << 16)
                _spawner_loop(theirs, isolated, server)
            finally:
                os._exit(0)
        theirs.close()

    def spawn(self, job, report_fd, command_fd):
        """Start the leader of a submission of `job` with these pipe ends; returns its pid (our child)."""
        data = json.dumps(job).encode()
        job_fd = os.memfd_create("job", os.MFD_CLOEXEC)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(job_fd, view):]
            os.lseek(job_fd, 0, os.SEEK_SET)
            socket.send_fds(self.sock, [b"s"], [report_fd, command_fd, job_fd])
        finally:
            os.close(job_fd)
        answer = b""
        while len(answer) < 8:
            chunk = self.sock.recv(8 - len(answer))
            if not chunk:
                raise RuntimeError("the sandbox's spawner exited")
            answer += chunk
        return struct.unpack("q", answer)[0]


def _spawner_loop(sock, isolated, server):
    """The spawner: for each request (three fds), fork a leader through a middle process that exits at
    once, so the leader is reparented to the server; answer the leader's pid."""
    while True:
        msg, fds, _, _ = socket.recv_fds(sock, 1, 3)
        if not msg:
            return
        read_end, write_end = os.pipe()
        middle = os.fork()
        if middle == 0:
            leader = os.fork()
            if leader == 0:
                sock.close()
                os.close(read_end)
                os.close(write_end)
                _leader(fds, isolated, server)
            os.write(write_end, struct.pack("q", leader))
            os._exit(0)
        os.waitpid(middle, 0)                 # the leader is now an orphan: the server's child
        os.close(write_end)
        pid = os.read(read_end, 8)
        os.close(read_end)
        for fd in fds:
            os.close(fd)
        sock.sendall(pid if len(pid) == 8 else struct.pack("q", -1))


def _leader(fds, isolated, server):
    """In the new leader: wait to be the server's child, read the job, become the submission's leader."""
    try:
        report_fd, command_fd, job_fd = fds
        deadline = time.monotonic() + 10
        while os.getppid() != server:         # the middle process has exited; reparenting is immediate
            if time.monotonic() > deadline:
                os._exit(71)
            time.sleep(0.0005)
        chunks = []
        while True:
            chunk = os.read(job_fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
        os.close(job_fd)
        job = json.loads(b"".join(chunks))
    except BaseException:  # noqa: BLE001 - nothing may return into the spawner's loop
        os._exit(70)
    _submission_leader(job, report_fd, command_fd, isolated, server)


_SPAWNER = None      # set by serve()


def _server_side():
    """Pids in the server's pid namespace that are not a submission's: bwrap's init, the server, the spawner."""
    return {1, os.getpid(), _SPAWNER.pid if _SPAWNER is not None else -1}


# --- the server ------------------------------------------------------------------------------------

def _memory_in_use(exclude):
    """Bytes the submission holds: the proportional set size of every process in the server's pid
    namespace but `exclude` (the server runs one submission at a time). Its tmpfs are size-limited
    on their own, and the kinds of memory no set size counts are blocked (BLOCKED_SYSCALLS)."""
    total = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) in exclude:
            continue
        try:
            with open(f"/proc/{pid}/smaps_rollup", "rb") as f:
                for line in f:
                    if line.startswith(b"Pss:"):
                        total += int(line.split()[1]) * 1024
                        break
        except (OSError, ValueError):
            pass
    return total


class _Sandbox:
    """Server side of one submission: its leader process, its pipes, its JSON-line events."""

    def __init__(self, job, cells, isolated):
        self.isolated = isolated
        self.memory_limit = job["limits"]["memory_mb"] * 2 ** 20
        report_r, report_w = os.pipe()
        command_r, command_w = os.pipe()
        self.start = time.monotonic()
        self.pid = _SPAWNER.spawn(dict(job, cells=cells), report_w, command_r)
        os.close(report_w)
        os.close(command_r)
        self.report_fd, self.command_fd = report_r, command_w
        self.pidfd = os.pidfd_open(self.pid)
        self.buffer, self.size, self.dead, self.eof, self.wait_status = b"", 0, False, False, None
        self.next_memory_check = 0.0
        self.cell_errors, self.cells_seconds = [], 0.0

    def send(self, line):
        try:
            os.write(self.command_fd, (line + "\n").encode())
            return True
        except OSError:
            return False

    def next_event(self, deadline):
        """The next valid event; {"event": "timeout" | "dead" | "oversized" | "garbled" | "memory"} otherwise."""
        while True:
            if b"\n" in self.buffer:
                line, self.buffer = self.buffer.split(b"\n", 1)
                try:
                    event = parse_event(json.loads(line))
                except (ValueError, RecursionError, MemoryError):
                    event = None
                return event if event is not None else {"event": "garbled"}
            if self.size > MAX_REPORT_BYTES:
                return {"event": "oversized"}
            if self.dead:
                return {"event": "dead"}
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return {"event": "timeout"}
            now = time.monotonic()
            if self.isolated and now >= self.next_memory_check:
                self.next_memory_check = now + MEMORY_POLL_SECONDS
                if _memory_in_use(_server_side()) > self.memory_limit:
                    return {"event": "memory"}
            watched = [self.pidfd] if self.eof else [self.report_fd, self.pidfd]
            ready, _, _ = select.select(watched, [], [], min(remaining, MEMORY_POLL_SECONDS))
            if self.report_fd in ready:
                self.eof = not self._read()
            elif self.pidfd in ready:
                while not self.eof and select.select([self.report_fd], [], [], 0)[0]:
                    self.eof = not self._read()
                _, self.wait_status = os.waitpid(self.pid, 0)
                self.dead = True

    def _read(self):
        chunk = os.read(self.report_fd, 1 << 16)
        self.size += len(chunk)
        self.buffer += chunk
        return bool(chunk)

    def reset_size(self):
        self.size = len(self.buffer)

    def kill(self):
        """Kill the leader: pid 1 gets its death signal, and the kernel empties the namespace."""
        if not self.dead:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except OSError:
                pass
            _, self.wait_status = os.waitpid(self.pid, 0)
            self.dead = True
        for fd in (self.report_fd, self.command_fd, self.pidfd):
            os.close(fd)
        if self.isolated:
            _empty_pid_namespace()
        _reap()


def _reap():
    """Reap every exited child of the server. The server is a child subreaper (see _Spawner): a
    submission's processes whose parents died first (its pid 1 when the leader is killed, a daemon
    in the unisolated mode) become its children, and would stay zombies."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _empty_pid_namespace(seconds=5.0):
    """Wait until nothing but bwrap's init (pid 1), this server and its spawner is left in the sandbox's
    pid namespace. The kernel kills a submission's processes with its pid 1; this also kills any
    process that was still between fork and its death signal (the server runs one submission at a
    time), and reaps those that became the server's children."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        _reap()
        others = [int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) not in _server_side()]
        if not others:
            return
        for pid in others:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.002)


def _death(wait_status, where):
    """A readable reason for a process that ended without a result."""
    if os.WIFSIGNALED(wait_status):
        sig = signal.Signals(os.WTERMSIG(wait_status)).name
        cause = {"SIGXCPU": "CPU time limit exceeded", "SIGKILL": "killed (memory or a limit)",
                 "SIGSEGV": "segmentation fault", "SIGXFSZ": "file size limit exceeded"}.get(sig, sig)
        return f"the Python process died {where}: {cause}"
    return (f"the Python process ended {where} (exit status {os.WEXITSTATUS(wait_status)}): "
            "does your code call os._exit or exit the interpreter?")


def _failure(box, kind, limits, where):
    if kind == "timeout":
        return Status.TIMEOUT, f"time limit of {limits['wall_seconds']:g} s exceeded {where} (an endless loop?)"
    if kind == "memory":
        return Status.CRASHED, (f"memory limit of {limits['memory_mb']} MB for all your processes together "
                                f"exceeded {where}")
    if kind == "dead":
        return Status.CRASHED, _death(box.wait_status, where)
    return Status.CRASHED, (f"your code wrote to the grader's report channel or garbled it {where} "
                            "(output out of protocol order, not JSON, or too large)")


def _run_cells(job, cells, limits, isolated):
    """Start a submission and run its cells. Returns (sandbox, None) or (None, failure outcome)."""
    box = _Sandbox(job, cells, isolated)
    started = None
    budget = limits.get("cells_seconds") or limits["wall_seconds"]
    while True:
        event = box.next_event(box.start + budget)
        kind = event["event"]
        expected = 0 if started is None else started + 1
        if kind in (Event.RESULT, Event.CHECK_DONE) or (kind == Event.CELL_START and event["index"] != expected) \
                or (kind == Event.CELLS_DONE and expected != len(cells)):
            kind = "garbled"          # out of protocol order: written by the student's code, not the runner
        if kind == Event.CELL_START:
            started = event["index"]
        elif kind == Event.CELLS_DONE:
            box.cell_errors = event["cell_errors"]
            box.cells_seconds = time.monotonic() - box.start
            box.reset_size()
            return box, None
        elif kind in ("timeout", "dead", "oversized", "garbled", "memory"):
            where = (f"while running cell '{cells[started][0]}'" if started is not None
                     else "while starting your notebook")
            status, reason = _failure(box, kind, dict(limits, wall_seconds=budget), where)
            box.kill()
            return None, {"status": status, "reason": reason, "failed_cell": started,
                          "seconds": time.monotonic() - box.start, "cell_errors": []}


def _run_check(box, name, limits):
    """Run one check in a fresh fork of the submission. Returns (outcome, submission still usable)."""
    where = "while the check ran your code"
    sent = time.monotonic()
    calibrated = dict(limits.get("check_seconds") or ())            # {check: seconds}, see timing.py
    budget = calibrated.get(name, max(0.0, limits["wall_seconds"] - box.cells_seconds))
    deadline = sent + budget
    result = None
    box.reset_size()
    box.send(name)                 # if the submission is gone, next_event reports it
    while True:
        event = box.next_event(deadline)
        kind = event["event"]
        if kind in (Event.CELL_START, Event.CELLS_DONE) or (kind in (Event.RESULT, Event.CHECK_DONE) and (
                event["check"] != name or (kind == Event.RESULT and result is not None))):
            kind = "garbled"          # out of protocol order: another check's, a second result, a cell's
        if kind == Event.RESULT:
            result = event
        elif kind == Event.CHECK_DONE:
            break
        elif kind in ("timeout", "dead", "oversized", "garbled", "memory"):
            break
    seconds = box.cells_seconds + time.monotonic() - sent
    common = {"cell_errors": box.cell_errors, "seconds": seconds, "cells_seconds": box.cells_seconds,
              "failed_cell": None}
    if kind == Event.CHECK_DONE and result is not None:
        return dict(common, status=Status(result["status"]), data=result["data"]), True
    if kind == Event.CHECK_DONE:
        return dict(common, status=Status.CRASHED, reason=_death(event["wait_status"], where)), True
    shown = budget if name in calibrated else limits["wall_seconds"]      # the limit as the student knows it
    status, reason = _failure(box, kind, dict(limits, wall_seconds=shown), where)
    return dict(common, status=status, reason=reason), False


def run_checks(job, isolated):
    """Run every check of `job` on the submission's cells; return {check: outcome} (plain dicts).

    job: {"assignment": id, "cells": [[label, source], ...], "checks": [name, ...], "inputs": {name: {...}},
          "files": {filename: text}, "limits": {...}}
    outcome: {"status": "ok" | "error" | "timeout" | "crashed", "data" or "reason", "cell_errors": [...],
              "failed_cell": index of the cell that killed the process (then no check ran) or None,
              "seconds": wall time}
    """
    limits = job["limits"]
    outcomes, box = {}, None
    try:
        for name in job["checks"]:
            if box is None:
                box, failure = _run_cells(job, job["cells"], limits, isolated)
                if failure:     # the cells killed the process: the same for every check left
                    outcomes.update({n: dict(failure) for n in job["checks"] if n not in outcomes})
                    break
            outcomes[name], usable = _run_check(box, name, limits)
            if not usable:
                box.kill()
                box = None
    finally:
        if box is not None:
            box.kill()
    return outcomes


def _self_test():
    """Can this server give a submission its own namespaces? '' if so, else why not."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        try:
            enter_namespaces()
            child = os.fork()
            if child == 0:
                try:
                    _mount_private_filesystems()
                    _drop_capabilities()
                except BaseException as e:  # noqa: BLE001
                    os.write(write_end, safe_str(e, 200).encode())
                    os._exit(4)
                os._exit(0 if os.getpid() == 1 else 3)
            os._exit(os.waitstatus_to_exitcode(os.waitpid(child, 0)[1]))
        except BaseException as e:  # noqa: BLE001
            os.write(write_end, safe_str(e, 200).encode())
            os._exit(2)
    os.close(write_end)
    why = os.read(read_end, 300).decode(errors="replace")
    os.close(read_end)
    code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    return "" if code == 0 else f"a submission cannot get its own namespaces inside bwrap ({why or code})"


def serve(isolated, preload=()):
    """Fork-server main loop: one JSON job per stdin line, one JSON answer per stdout line."""
    import importlib
    _libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)           # no ptrace, no /proc/<pid>/mem, no core
    for module in PRELOAD:
        importlib.import_module(module)
    import IPython.core.inputtransformer2  # noqa: F401 - turns %magics into calls, as Jupyter does
    protocol = os.fdopen(os.dup(1), "w")
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)     # nothing else may write on the protocol channel
    for assignment in preload:          # the probes of the assignments to grade (and what they import: torch)
        try:
            _probes_of(assignment)
        except Exception as e:  # noqa: BLE001 - the grader's own bug: say so, not "install bubblewrap"
            problem = f"the probes of assignment '{assignment}' do not import: {type(e).__name__}: {safe_str(e, 300)}"
            protocol.write(json.dumps({"ready": False, "problem": problem, "grader_error": True}) + "\n")
            protocol.flush()
            return
    problem = _self_test() if isolated else ""
    if not problem:
        global _SPAWNER
        _SPAWNER = _Spawner(isolated)       # before any job is read: see _Spawner
    protocol.write(json.dumps({"ready": not problem, "problem": problem}) + "\n")
    protocol.flush()
    if problem:
        return
    for line in sys.stdin:
        answer = run_checks(json.loads(line), isolated)
        protocol.write(json.dumps(answer) + "\n")
        protocol.flush()


if __name__ == "__main__":
    serve(isolated="--trusted" not in sys.argv[1:],
          preload=[arg.split("=", 1)[1] for arg in sys.argv[1:] if arg.startswith("--preload=")])
