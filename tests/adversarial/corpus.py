"""The adversarial corpus: hostile submissions and the grade their honest content deserves.

Each case is a student notebook made like the examples (examples/catalogue.py): the
instructor's solution in the release, edited. Most hostile cases also carry one honest mistake
(the ReLU derivative returns 1 everywhere: the ``relu`` check, 6 points) so that a hostile trick
that *worked* would show up as points the student did not earn.

``fails`` is the exact set of checks the case must fail, ``status`` its grade-all status, and
``reason`` a text its CSV reason must contain ("" when none is expected).

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


def _at_top(cell, code):
    anchor = TOP[cell]
    return [(anchor, code.rstrip() + "\n\n\n" + anchor)]


def notebook_bytes(case, results_file=None):
    """The case's notebook file. `results_file`: the path grade-all will write this student's
    results.json to (the fake-results case tries to write it)."""
    if case.raw is not None:
        return case.raw
    edits = {cell: list(pairs) for cell, pairs in case.edits.items()}
    if case.wrong_relu:
        edits["activations"] = list(WRONG_RELU)
    for cell, code in case.code.items():
        code = code.replace("RESULTS_FILE", repr(results_file or "/nonexistent")).replace("ROOT", repr(ROOT))
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
    Case("memory_bomb", "allocates memory in a loop in the evaluate cell until the limit stops it",
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
]
BY_CASE = {c.name: c for c in CASES}


def write_corpus(directory, results_dir=None):
    """DIR/<case>/mlp/mlp.ipynb for every case; returns {case: notebook path}."""
    paths = {}
    for case in CASES:
        folder = os.path.join(directory, case.name, "mlp")
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, "mlp.ipynb")
        results_file = os.path.join(results_dir, case.name, "results.json") if results_dir else None
        data = notebook_bytes(case, results_file)
        with open(path, "wb") as f:
            f.write(data)
        paths[case.name] = path
    return paths


if __name__ == "__main__":
    print(json.dumps(sorted(write_corpus(sys.argv[1]))))
