"""The sandbox's isolation claims, each tested on the real thing (bwrap, real namespaces).

Run as root here; tests/test_unprivileged.py runs this module again as an ordinary user.
Each probe of the sandbox is a one-cell "submission" whose cell raises a ValueError carrying
what it observed: the cell's error comes back as the student's output (a cell error).
"""
import os
import time

import pytest

from autograder import sandbox
from autograder.protocol import Event, Status, parse_event
from autograder.sandbox import ROOT, ForkServer, IsolationUnavailable, Limits, outcome

LIMITS = Limits(wall_seconds=8)


@pytest.fixture(scope="module")
def server():
    with ForkServer(assignments=["mlp"]) as s:
        yield s


def observe(server, code, limits=LIMITS):
    """Run `code` as a submission's only cell; return (outcome of the relu check, the cell's error text)."""
    job = {"assignment": "mlp", "cells": [["setup", "import numpy as np"], ["attack", code]], "checks": ["relu"],
           "inputs": {"relu": {}}, "files": {}, "limits": limits}
    result = server.run(job)["relu"]
    errors = [e["error"] for e in result["cell_errors"] if e["cell"] == "attack"]
    return result, errors[0] if errors else ""


def test_isolation_is_recorded(server):
    assert server.isolation.startswith("bwrap:")
    assert ("dropped from root" in server.isolation) == (os.geteuid() == 0)


def test_the_submission_is_pid_1_and_sees_only_its_own_processes(server):
    _, seen = observe(server, "import os\nraise ValueError(os.getpid(), sorted(p for p in os.listdir('/proc') if p.isdigit()))")
    assert seen == "ValueError: (1, ['1'])"


def test_no_course_files_in_view(server):
    """The course root exists in the view only when the venv lives inside it (as its parent folder)."""
    course = [os.path.join(ROOT, p) for p in ("source", "src", "tests", "release", "autograder", "README.md",
                                             "gradebook.db", "submitted")]
    _, seen = observe(server, f"import os\nraise ValueError([p for p in {course!r} + "
                              "['/grader/autograder/judges.py', '/etc/shadow', '/etc/passwd'] if os.path.exists(p)])")
    assert seen == "ValueError: []"


def test_no_network(server):
    _, seen = observe(server, "import socket\ns = socket.socket()\ns.settimeout(2)\n"
                              "try:\n    s.connect(('127.0.0.1', 22))\nexcept OSError as e:\n    raise ValueError(e.errno)")
    assert seen == "ValueError: 101"          # ENETUNREACH: no interface but a down loopback


def test_only_the_private_tmpfs_are_writable(server):
    code = ("import os\nok = []\nfor d in ('/submission', '/tmp', '/dev/shm', '/', '/dev', '/usr', '/grader', '/proc/sys/kernel'):\n"
            "    try:\n        open(os.path.join(d, 'x'), 'w').close(); ok.append(d)\n    except OSError:\n        pass\n"
            "raise ValueError(ok)")
    _, seen = observe(server, code)
    assert seen == "ValueError: ['/submission', '/tmp', '/dev/shm']"


def test_no_capabilities_no_namespaces_no_mounts(server):
    code = ("import ctypes\nl = ctypes.CDLL(None, use_errno=True)\n"
            "caps = open('/proc/self/status').read().split('CapEff:')[1].split()[0]\n"
            "raise ValueError(caps, l.unshare(0x10000000), l.unshare(0x20000), l.mount(b't', b'/tmp', b'tmpfs', 0, None))")
    _, seen = observe(server, code)
    assert seen == "ValueError: ('0000000000000000', -1, -1, -1)"


def test_memory_is_limited_across_processes(server):
    code = ("import os, time\nfor i in range(8):\n    if os.fork() == 0:\n        x = bytearray(400 * 2 ** 20)\n"
            "        for j in range(0, len(x), 4096): x[j] = 1\n        time.sleep(30)\n        os._exit(0)\ntime.sleep(20)")
    result, _ = observe(server, code, Limits(wall_seconds=25))
    assert result["status"] == Status.CRASHED and "memory limit" in result["reason"] and "together" in result["reason"]


def test_process_count_is_limited(server):
    code = ("import os, time\nn = 0\ntry:\n    while n < 1000:\n        if os.fork() == 0:\n            time.sleep(30)\n"
            "            os._exit(0)\n        n += 1\nexcept OSError:\n    pass\nraise ValueError(n)")
    _, seen = observe(server, code)
    assert 40 <= int(seen.split()[-1]) <= 80


def test_a_reforking_daemon_dies_with_its_submission(server):
    """A daemon that keeps re-forking is gone when its submission ends: the next submission of the
    same server sees only itself."""
    daemon = ("import os, time\nif os.fork() == 0:\n    os.setsid()\n    while True:\n        if os.fork():\n"
              "            os._exit(0)\n        time.sleep(0.01)")
    observe(server, daemon)
    _, seen = observe(server, "import os\nraise ValueError(sorted(p for p in os.listdir('/proc') if p.isdigit()))")
    assert seen == "ValueError: ['1']"


def test_blocked_memory_calls(server):
    code = ("import ctypes, os\nl = ctypes.CDLL(None, use_errno=True)\nr = [l.shmget(0, 1 << 20, 0o1600)]\n"
            "try:\n    os.memfd_create('x'); r.append('memfd')\nexcept OSError as e:\n    r.append(e.errno)\nraise ValueError(r)")
    _, seen = observe(server, code)
    assert seen == "ValueError: [-1, 1]"


def test_the_kernel_keyring_is_blocked(server):
    code = ("import ctypes\nl = ctypes.CDLL(None, use_errno=True)\n"
            "k = l.syscall(248, b'user', b'kept', b'my solution', 11, -3)\n"   # add_key(..., KEY_SPEC_USER_KEYRING)
            "raise ValueError(k, ctypes.get_errno())")
    _, seen = observe(server, code)
    assert seen == "ValueError: (-1, 1)"         # EPERM: nothing stored for the next submission to read


@pytest.mark.parametrize("kept", ["source", "result"])
def test_a_submission_cannot_read_an_earlier_one_from_memory(server, kept):
    """The server's memory holds every job it read (sources) and every result it received (the outputs of
    a student's code on the grader's inputs); a submission is forked from a process that never held them.
    A scan of the submission's whole memory finds the needle as often after a submission that held it as
    after one that did not (the scanning code's own copies only)."""
    def earlier(word):
        if kept == "source":          # a large cell (small strings may be interned or reused in place)
            return [["a", f"# zq{'x7' * 8}{word}\n" + "# padding\n" * 30000]]
        return [["a", f"raise ValueError('zq' + 'x7' * 8 + '{word}')"]]   # a cell error: the server parses it

    scan = ("import ctypes\nfound = 0\nneedle = b'zq' + b'x7' * 8 + b'kept-' + b'secret'\n"
            "for line in open('/proc/self/maps').read().splitlines():\n"
            "    addr, perms = line.split()[:2]\n"
            "    if not perms.startswith('rw'):\n        continue\n"
            "    lo, hi = (int(x, 16) for x in addr.split('-'))\n"
            "    try:\n        found += ctypes.string_at(lo, hi - lo).count(needle)\n"
            "    except Exception:\n        pass\n"
            "raise ValueError('found', found)")
    seen = []
    for word in ("other-words", "kept-secret"):
        server.run({"assignment": "mlp", "cells": earlier(word), "checks": ["relu"], "inputs": {"relu": {}},
                    "files": {}, "limits": LIMITS})
        seen.append(observe(server, scan)[1])
    assert seen[0].startswith("ValueError: ('found', ") and seen[1] == seen[0]


def test_an_endless_loop_costs_its_calibrated_limit(server):
    limits = Limits(wall_seconds=20, check_seconds=(("relu", 2.0),))
    start = time.monotonic()
    job = {"assignment": "mlp", "cells": [["a", "class ReLU:\n    def forward(self, z):\n        while True:\n            pass\n"]],
           "checks": ["relu"], "inputs": {"relu": {}}, "files": {}, "limits": limits}
    result = server.run(job)["relu"]
    assert result["status"] == Status.TIMEOUT and "2 s" in result["reason"]
    assert time.monotonic() - start < 10


def test_no_bwrap_means_a_refusal_that_names_the_fix(monkeypatch):
    monkeypatch.setattr(sandbox, "bwrap_path", lambda: None)
    with pytest.raises(IsolationUnavailable) as refused:
        ForkServer()
    message = str(refused.value)
    assert "\n" not in message and "bubblewrap" in message and "--trust-submissions" in message


def test_trusting_the_submissions_is_explicit_and_recorded(monkeypatch):
    monkeypatch.setattr(sandbox, "bwrap_path", lambda: None)
    with ForkServer(trust=True) as server:
        assert server.isolation.startswith("none")
        _, seen = observe(server, "raise ValueError(6 * 7)")
        assert seen == "ValueError: 42"


@pytest.mark.parametrize("raw", [None, [], "ok", {"status": "passed"}, {"status": "ok", "cell_errors": "x"},
                                 {"status": "error", "data": {"a": 1}}, {"status": "crashed", "reason": 5},
                                 {"status": "ok", "seconds": "1", "failed_cell": -3, "cell_errors": [{"cell": 1}]}])
def test_whatever_the_server_answers_becomes_a_well_formed_outcome(raw):
    clean = outcome(raw)
    assert clean["status"] in set(Status) and isinstance(clean["cell_errors"], list)
    assert isinstance(clean["seconds"], float) and clean["failed_cell"] is None
    if clean["status"] == Status.ERROR:
        assert isinstance(clean["data"], str)
    if clean["status"] in (Status.CRASHED, Status.TIMEOUT):
        assert isinstance(clean["reason"], str) and clean["reason"]


@pytest.mark.parametrize("event", [
    {"event": "result", "check": "relu", "status": "ok", "data": 1, "extra": 1},
    {"event": "result", "check": "relu", "status": "passed", "data": 1},
    {"event": "result", "check": "relu", "status": "error", "data": {"not": "text"}},
    {"event": "cell_start", "index": "0"}, {"event": "cell_start", "index": True},
    {"event": "cells_done", "cell_errors": [{"cell": "a"}]}, {"event": "check_done", "check": "relu"},
    {"event": "forged"}, [], "result", None])
def test_malformed_events_are_rejected(event):
    assert parse_event(event) is None


def test_wellformed_events_are_accepted():
    for event in ({"event": Event.CELL_START, "index": 0}, {"event": "cells_done", "cell_errors": []},
                  {"event": "result", "check": "relu", "status": "error", "data": "why"},
                  {"event": "check_done", "check": "relu", "wait_status": 0}):
        assert parse_event(dict(event)) == event
