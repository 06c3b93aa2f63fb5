"""Hostile input never crashes the grader: it ends as `invalid` (score 0 and a one-line reason)
or as a failed check with a readable reason, and everything written is valid UTF-8.

For `python -m autograder grade ... --json` (a subprocess: results.json must exist, with the right
status and score, and the process must not crash) and for `grade-all` (status `invalid`, never
`error`; the honest neighbours get the grade they get alone). Then the same property, with
hypothesis, for arbitrary JSON documents and bytes as notebooks and arbitrary sandbox outcomes.
"""
import csv
import io
import json
import os
import random
import shutil
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autograder import batch
from autograder.__main__ import main as cli
from autograder.assignments import get as get_assignment
from autograder.assignments.mlp.checks import CHECKS, MAX_SCORE
from autograder.grade import write_json_atomically
from autograder.sandbox import ROOT
from autograder.submission import (MAX_CELL_CHARS, MAX_JSON_ITEMS, MAX_NOTEBOOK_BYTES,
                                   CheckResult, InvalidSubmission, Submission, graded_cells, parse_notebook,
                                   read_notebook)

EXAMPLES = os.path.join(ROOT, "examples", "submissions")
PERFECT = os.path.join(EXAMPLES, "perfect.ipynb")
EVALUATE_LOST = MAX_SCORE - CHECKS["evaluate"].points
EVALUATE = "def evaluate(model, X, y, threshold=0.5):\n"


# --- hostile notebooks -------------------------------------------------------------------------

def perfect():
    with open(PERFECT, encoding="utf-8") as f:
        return json.load(f)


def edited(gid, edit, nb=None):
    """The perfect notebook with solution cell `gid`'s source replaced by edit(source)."""
    nb = nb or perfect()
    for cell in nb["cells"]:
        if cell["metadata"].get("nbgrader", {}).get("grade_id") == gid:
            cell["source"] = edit("".join(cell["source"]))
    return nb


def in_evaluate(code, before=""):
    """The perfect notebook whose evaluate() first runs `code` (a cell-level `before` goes above it)."""
    body = "".join(f"    {line}\n" for line in code.splitlines())
    return edited("evaluate", lambda s: before + s.replace(EVALUATE, EVALUATE + body))


def dumps(nb):
    return json.dumps(nb).encode()          # ensure_ascii: a lone surrogate is written as "\ud800"


STR_RAISES = "class Weird(Exception):\n    def __str__(self):\n        raise RuntimeError('no str')\n"
STR_LIES = "class Weird(Exception):\n    def __str__(self):\n        return 42\n"
LIAR = """class Liar:
    def __float__(self): raise RuntimeError("no float")
    def __array__(self, *args, **kwargs): return "not an array"
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    def __bool__(self): raise RuntimeError("no bool")
    def __len__(self): raise RuntimeError("no len")
class LyingFloat(float):
    def __float__(self): return float("nan")
    def __eq__(self, other): return True
"""


def deep(levels=100_000):
    return b"[" * levels + b"]" * levels


def cells_with(**changes):
    """A notebook whose first code cell has `changes` applied (key -> value)."""
    nb = perfect()
    cell = next(c for c in nb["cells"] if c["cell_type"] == "code")
    cell.update(changes)
    return dumps(nb)


def invalid_utf8():
    text = dumps(edited("evaluate", lambda s: s + "\n# caf\u00e9\n"))
    return text.replace(b"caf\\u00e9", b"caf\xe9")          # Latin-1, not UTF-8


def surrogates_everywhere():
    nb = edited("sgd", lambda s: s + '\n# a lone surrogate: \ud800 and \udfff\nNOTE = "\udc80"\n')
    nb["metadata"]["author"] = "\ud800"
    nb["metadata"]["\udfff"] = {"x": "\udc80"}
    nb["cells"][0]["metadata"]["tags"] = ["\ud800"]
    nb["cells"].append({"cell_type": "code", "metadata": {"nbgrader": {"grade_id": "extra\ud800", "solution": True}},
                        "source": "x = '\ud800'", "outputs": [], "execution_count": None})
    return dumps(nb)


HOSTILE = {
    # name: (bytes, status, score, words of the reason / of the failed check's message)
    "deep_100000": (deep(), "invalid", 0, "nested"),
    "deep_in_cells": (b'{"cells": [' + deep(5000) + b"]}", "invalid", 0, "nested"),
    "deep_150": (b'{"cells": [], "metadata": {"x": ' + deep(150) + b"}}", "invalid", 0, "nested"),
    "binary": (random.Random(0).randbytes(4096), "invalid", 0, "not UTF-8"),
    "invalid_utf8": (invalid_utf8(), "invalid", 0, "not UTF-8"),
    "bom": (b"\xef\xbb\xbf" + dumps(perfect()), "invalid", 0, "invalid JSON"),
    "null": (b"null", "invalid", 0, "no list of cells"),
    "cells_not_list": (b'{"cells": {"0": {}}}', "invalid", 0, "no list of cells"),
    "cell_not_dict": (b'{"cells": ["print(1)"]}', "invalid", 0, "not a JSON object"),
    "source_dict": (cells_with(source={"code": "print(1)"}), "invalid", 0, "text source"),
    "source_number": (cells_with(source=42), "invalid", 0, "text source"),
    "source_list_of_lists": (cells_with(source=[["x = 1"]]), "invalid", 0, "text source"),
    "metadata_list": (cells_with(metadata=["nbgrader"]), "invalid", 0, "metadata is not a JSON object"),
    "nbgrader_string": (cells_with(metadata={"nbgrader": "solution"}), "invalid", 0, "nbgrader metadata"),
    "grade_id_number": (cells_with(metadata={"nbgrader": {"grade_id": 7, "solution": True}}), "invalid", 0,
                        "grade_id is not text"),
    "notebook_metadata_string": (b'{"cells": [], "metadata": "x"}', "invalid", 0, "metadata"),
    "enormous_cell": (dumps(edited("sgd", lambda s: s + "#" * (MAX_CELL_CHARS + 1))), "invalid", 0,
                      "larger than 1,000,000 characters"),
    "enormous_sources": (dumps(dict(perfect(), cells=[{"cell_type": "markdown", "metadata": {},
                                                       "source": "x" * (MAX_CELL_CHARS - 1)}] * 9)),
                         "invalid", 0, "more than 8,000,000 characters"),
    "too_many_values": (b'{"cells": [], "x": [' + b"0," * MAX_JSON_ITEMS + b"0]}", "invalid", 0, "JSON values"),
    "surrogates": (surrogates_everywhere(), "graded", MAX_SCORE, ""),
    "surrogate_in_exception": (dumps(in_evaluate('raise ValueError("\\ud800 in a message")')), "graded",
                               EVALUATE_LOST, "ValueError"),
    "surrogate_in_cell_error": (dumps(edited("evaluate", lambda s: 'raise KeyError("\\udcff")\n' + s)),
                                "graded", EVALUATE_LOST, "KeyError"),
    "str_raises": (dumps(in_evaluate("raise Weird()", before=STR_RAISES)), "graded", EVALUATE_LOST, "Error"),
    "str_lies": (dumps(in_evaluate("raise Weird()", before=STR_LIES)), "graded", EVALUATE_LOST, "Error"),
    "float_array_eq_lie": (dumps(in_evaluate('return {"loss": Liar(), "accuracy": Liar()}', before=LIAR)),
                           "graded", EVALUATE_LOST, "loss"),
    "float_is_nan_eq_true": (dumps(in_evaluate('return {"loss": LyingFloat(0.1), "accuracy": LyingFloat(1.0)}',
                                               before=LIAR)), "graded", EVALUATE_LOST, "loss"),
    "returns_liar_array": (dumps(in_evaluate("return Liar()", before=LIAR)), "graded", EVALUATE_LOST, "evaluate"),
}
CLI_CASES = ["deep_100000", "binary", "invalid_utf8", "source_dict", "metadata_list", "enormous_cell",
             "surrogates", "surrogate_in_exception", "str_raises", "str_lies", "float_array_eq_lie",
             "returns_liar_array"]


# --- what every output must be ------------------------------------------------------------------

def assert_clean(value):
    """Every string in `value` is valid UTF-8 text (no lone surrogate)."""
    if isinstance(value, str):
        value.encode("utf-8")
    elif isinstance(value, dict):
        for k, v in value.items():
            assert_clean(k)
            assert_clean(v)
    elif isinstance(value, list):
        for v in value:
            assert_clean(v)


def load_results(path):
    """results.json, read strictly: valid UTF-8, valid JSON, no lone surrogate escaped in it."""
    with open(path, "rb") as f:
        data = json.loads(f.read().decode("utf-8"))
    assert_clean(data)
    return data


def check_record(data, status, score, words):
    assert data["status"] == status, data["reason"]
    assert data["score"] == score and data["max_score"] == MAX_SCORE
    assert "isolation" in data and data["isolation"]
    if status == "invalid":
        assert data["tests"] == [] and words in data["reason"] and "\n" not in data["reason"]
    else:
        failed = [t for t in data["tests"] if t["status"] == "failed"]
        assert all(t["output"] and t["score"] == 0 for t in failed)
        assert sum(t["score"] for t in data["tests"]) == score
        if words:
            assert [t["name"] for t in failed] == [CHECKS["evaluate"].title]
            assert words in failed[0]["output"]
        else:
            assert failed == []


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "autograder", *args], cwd=ROOT, capture_output=True)


# --- grade: one notebook --------------------------------------------------------------------------

@pytest.mark.parametrize("name", CLI_CASES)
def test_grade_writes_results_and_never_crashes(name, tmp_path):
    data, status, score, words = HOSTILE[name]
    notebook, out = tmp_path / "mlp.ipynb", tmp_path / "results.json"
    notebook.write_bytes(data)
    proc = run_cli("grade", "--assignment", "mlp", str(notebook), "--json", str(out))
    stderr = proc.stderr.decode("utf-8")
    assert "Traceback" not in stderr, stderr
    proc.stdout.decode("utf-8")
    assert proc.returncode == (2 if status == "invalid" else 0), stderr
    if status == "invalid":
        assert len(stderr.strip().splitlines()) == 1 and words in stderr
    check_record(load_results(out), status, score, words)


def test_grade_a_70_mb_file_is_invalid_without_being_read(tmp_path):
    notebook, out = tmp_path / "big.ipynb", tmp_path / "results.json"
    with open(notebook, "wb") as f:
        f.write(dumps(perfect()))
        f.truncate(70 << 20)                # a valid notebook, then zeros up to 70 MB
    proc = run_cli("grade", "--assignment", "mlp", str(notebook), "--json", str(out))
    assert proc.returncode == 2 and b"larger than 64 MB" in proc.stderr
    check_record(load_results(out), "invalid", 0, "larger than 64 MB")


def test_grade_a_fifo_or_a_folder_is_invalid_and_does_not_block(tmp_path):
    os.mkfifo(tmp_path / "pipe.ipynb")
    os.mkdir(tmp_path / "folder.ipynb")
    for name in ("pipe.ipynb", "folder.ipynb"):
        proc = subprocess.run([sys.executable, "-m", "autograder", "grade", "--assignment", "mlp", str(tmp_path / name), "--json",
                               str(tmp_path / "r.json")], cwd=ROOT, capture_output=True, timeout=60)
        assert proc.returncode == 2 and b"not a regular file" in proc.stderr
        check_record(load_results(tmp_path / "r.json"), "invalid", 0, "not a regular file")


def test_grade_paths_that_are_not_utf8(tmp_path):
    folder = os.fsencode(tmp_path)
    shutil.copy(PERFECT, os.path.join(folder, b"caf\xe9.ipynb"))
    out = os.path.join(folder, b"r\xff.json")
    proc = subprocess.run([sys.executable, "-m", "autograder", "grade", "--assignment", "mlp", os.path.join(folder, b"caf\xe9.ipynb"),
                           "--json", out], cwd=ROOT, capture_output=True)
    assert proc.returncode == 0, proc.stderr
    assert load_results(out)["score"] == MAX_SCORE
    proc = subprocess.run([sys.executable, "-m", "autograder", "grade", "--assignment", "mlp", os.path.join(folder, b"missing\xff.ipynb"),
                           "--json", out], cwd=ROOT, capture_output=True)
    assert proc.returncode == 2 and b"no such file" in proc.stderr and len(proc.stderr.splitlines()) == 1
    check_record(load_results(out), "invalid", 0, "no such file")


# --- grade-all: a class with hostile students and honest neighbours ------------------------------

def write_student(directory, student, data):
    folder = os.path.join(directory, student, b"mlp" if isinstance(student, bytes) else "mlp")
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, b"mlp.ipynb" if isinstance(student, bytes) else "mlp.ipynb"), "wb") as f:
        f.write(data)
    return folder


@pytest.fixture(scope="module")
def hostile_class(tmp_path_factory):
    """One grade-all run over every hostile case, the path cases and two honest neighbours."""
    root = tmp_path_factory.mktemp("hostile")
    directory, outside = root / "class", root / "outside"
    with open(PERFECT, "rb") as f:
        honest = f.read()
    with open(os.path.join(EXAMPLES, "no_relu_mask.ipynb"), "rb") as f:
        wrong = f.read()
    write_student(directory, "honest_perfect", honest)
    write_student(directory, "honest_wrong", wrong)
    for name, (data, _, _, _) in HOSTILE.items():
        write_student(directory, name, data)
    big = write_student(directory, "big_70mb", b"")
    with open(os.path.join(big, "mlp.ipynb"), "wb") as f:
        f.write(honest)
        f.truncate(70 << 20)
    os.makedirs(directory / "fifo" / "mlp")
    os.mkfifo(directory / "fifo" / "mlp" / "mlp.ipynb")
    # what lies outside the class folder: a perfect notebook, and the instructor's solution notebook
    write_student(outside, "someone", honest)
    os.symlink(directory / "honest_perfect", directory / "link_to_neighbour")
    os.symlink(outside / "someone", directory / "link_outside")
    os.makedirs(directory / "link_mlp")
    os.symlink(outside / "someone" / "mlp", directory / "link_mlp" / "mlp")
    os.makedirs(directory / "link_notebook" / "mlp")
    os.symlink(os.path.join(ROOT, "source", "mlp", "mlp.ipynb"), directory / "link_notebook" / "mlp" / "mlp.ipynb")
    os.makedirs(directory / "hardlink_outside" / "mlp")
    os.link(outside / "someone" / "mlp" / "mlp.ipynb", directory / "hardlink_outside" / "mlp" / "mlp.ipynb")
    # two students share one hard-linked file inside the class: which one wrote it cannot be told
    os.makedirs(directory / "hardlink_a" / "mlp")
    os.makedirs(directory / "hardlink_b" / "mlp")
    shutil.copy(PERFECT, directory / "hardlink_a" / "mlp" / "mlp.ipynb")
    os.link(directory / "hardlink_a" / "mlp" / "mlp.ipynb", directory / "hardlink_b" / "mlp" / "mlp.ipynb")
    # names: not UTF-8, a control character, hidden; a plain file at the top is not a student
    write_student(os.fsencode(directory), b"zo\xeb", honest)
    write_student(directory, "new\nline", honest)
    write_student(directory, ".hidden", honest)
    (directory / "README.txt").write_text("not a student")
    results = root / "results"
    cwd = os.getcwd()
    os.chdir(root)
    try:
        code = cli(["grade-all", str(directory), "--assignment", "mlp", "--jobs", "2", "--out", "grades.csv",
                    "--totals", "totals.csv", "--results-dir", str(results), "--timeout", "10"])
    finally:
        os.chdir(cwd)
    with open(root / "grades.csv", "rb") as f:
        rows = {row["student"]: row for row in csv.DictReader(io.StringIO(f.read().decode("utf-8"), newline=""))}
    return {"code": code, "rows": rows, "root": root, "results": results, "outside": outside}


def record(hostile_class, student):
    return load_results(os.path.join(hostile_class["results"], "mlp", student, "results.json"))


def test_grade_all_runs_to_the_end_with_no_grader_error(hostile_class):
    assert hostile_class["code"] == 0
    assert not [s for s, row in hostile_class["rows"].items() if row["status"] == "error"]


@pytest.mark.parametrize("name", list(HOSTILE))
def test_grade_all_each_hostile_notebook(hostile_class, name):
    _, status, score, words = HOSTILE[name]
    row = hostile_class["rows"][name]
    assert (row["status"], row["score"]) == (status, f"{score:g}"), row["reason"]
    check_record(record(hostile_class, name), status, score, words)
    assert row["isolation"]


@pytest.mark.parametrize("student, words", [
    ("big_70mb", "larger than 64 MB"), ("fifo", "not a regular file"),
    ("link_to_neighbour", "the student folder is a symlink"), ("link_outside", "the student folder is a symlink"),
    ("link_mlp", "mlp/ is a symlink"), ("link_notebook", "mlp/mlp.ipynb is a symlink, not a submitted file"),
    ("hardlink_outside", "is a hard link"), ("hardlink_a", "is a hard link"), ("hardlink_b", "is a hard link")])
def test_grade_all_paths_that_lead_elsewhere_are_invalid(hostile_class, student, words):
    row = hostile_class["rows"][student]
    assert (row["status"], row["score"]) == ("invalid", "0") and words in row["reason"]
    assert record(hostile_class, student)["submission_sha256"] is None


def test_grade_all_names_and_honest_neighbours(hostile_class):
    rows = hostile_class["rows"]
    from tests.test_batch import deserved
    assert (rows["honest_perfect"]["score"], rows["honest_wrong"]["score"]) == ("100", deserved("no_relu_mask"))
    for student in ("zo\\xeb", "new\\x0aline"):
        assert (rows[student]["status"], rows[student]["score"]) == ("graded", "100")
        assert record(hostile_class, student)["student"] == student
    assert not any(s.startswith(".") or s == "README.txt" for s in rows)


def test_grade_all_writes_only_inside_the_results_dir(hostile_class):
    results = os.path.join(hostile_class["results"], "mlp")
    assert os.listdir(hostile_class["results"]) == ["mlp"]
    assert sorted(os.listdir(results)) == sorted(hostile_class["rows"])
    for folder, dirs, files in os.walk(hostile_class["root"]):
        for name in files:
            path = os.path.join(folder, name)
            if name == "results.json":
                assert os.path.dirname(os.path.dirname(path)) == results
            assert ".tmp" not in name
    assert sorted(os.listdir(hostile_class["outside"] / "someone" / "mlp")) == ["mlp.ipynb"]


def test_unsafe_student_ids_and_symlinked_results_folders_are_refused(tmp_path):
    for bad in ("", ".", "..", "../x", "a/b", ".hidden", "nul\0", "\udcff"):
        with pytest.raises(ValueError):
            batch.results_path(str(tmp_path), bad)
    results = tmp_path / "results"
    results.mkdir()
    (tmp_path / "elsewhere").mkdir()
    os.symlink(tmp_path / "elsewhere", results / "mallory")
    with pytest.raises(ValueError, match="symlink"):
        batch.prepare_results_path(str(results), "mallory")
    assert os.listdir(tmp_path / "elsewhere") == []


# --- the checks' data: what the sandbox hands back is untrusted ----------------------------------

@pytest.mark.parametrize("outcome, words", [
    ({"status": "error", "data": {"text": "a dict where text belongs"}}, "not text"),
    ({"status": "error", "data": "\ud800 lone"}, "? lone"),
    ({"status": "error", "data": "failed", "cell_errors": [{"cell": {"x": 1}, "error": ["x"]}, 5, None]}, "failed"),
    ({"status": "crashed", "reason": {"x": "y"}}, "stopped"),
    ({"status": "timeout", "reason": "\udcff took too long"}, "? took too long"),
    ({"status": "ok", "data": {"forward": "\ud800"}}, ""),
    ({"status": "ok", "data": [[[[[[[[[[]]]]]]]]]]}, ""),
])
def test_judging_untrusted_outcomes_gives_a_readable_failed_check(outcome, words):
    result = Submission("x", [], MLP, [])._judge(CHECKS["relu"], outcome)
    assert isinstance(result, CheckResult) and not result.passed and result.points == 0
    assert result.message and words in result.message
    result.message.encode("utf-8")
    result.reason.encode("utf-8")


@pytest.mark.parametrize("outcome", [None, "ok", {"status": "exploded"}, {}])
def test_an_outcome_the_sandbox_could_not_have_made_is_a_grader_error(outcome):
    result = Submission("x", [], MLP, [])._judge(CHECKS["relu"], outcome)
    assert (result.status, result.passed, result.points) == ("error", False, 0)
    assert "grader error" in result.message


# --- property-based: any JSON document, any bytes -------------------------------------------------

TEXT = st.text(st.one_of(st.characters(), st.sampled_from(["\ud800", "\udfff", "\udc80", "\x00", "\n"])),
               max_size=20)
JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | TEXT,
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
                    max_leaves=30)
MLP = get_assignment("mlp")
RELEASE_NOTEBOOK = MLP.release_notebook
RELEASE = read_notebook(RELEASE_NOTEBOOK)
GRADE_IDS = [c["metadata"]["nbgrader"]["grade_id"] for c in RELEASE["cells"] if "nbgrader" in c["metadata"]]
CELL = st.fixed_dictionaries({}, optional={
    "cell_type": st.sampled_from(["code", "markdown", "raw"]) | JSON,
    "source": TEXT | st.lists(TEXT, max_size=3) | JSON,
    "metadata": st.fixed_dictionaries({}, optional={
        "nbgrader": st.fixed_dictionaries({}, optional={"grade_id": st.sampled_from(GRADE_IDS) | JSON,
                                                        "solution": JSON}) | JSON}) | JSON})
NOTEBOOK = st.fixed_dictionaries({"cells": st.lists(CELL, max_size=6) | JSON},
                                 optional={"metadata": JSON, "nbformat": JSON})
PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def parse_or_invalid(data):
    try:
        nb = parse_notebook(data)
    except InvalidSubmission as e:
        assert str(e) and "\n" not in str(e)
        str(e).encode("utf-8")
        return
    cells, missing = graded_cells(nb, RELEASE)
    for label, source in cells:
        label.encode("utf-8")
        source.encode("utf-8")
    for note in missing:
        note.encode("utf-8")


@PROPERTY
@given(JSON | NOTEBOOK)
def test_any_json_document_is_a_notebook_or_invalid(doc):
    parse_or_invalid(json.dumps(doc).encode())


@PROPERTY
@given(st.binary(max_size=200) | NOTEBOOK.map(lambda nb: json.dumps(nb).encode()[:-3]))
def test_any_bytes_are_a_notebook_or_invalid(data):
    parse_or_invalid(data)


@PROPERTY
@given(st.fixed_dictionaries({"status": st.sampled_from(["ok", "error", "timeout", "crashed"]) | JSON},
                             optional={"data": JSON, "reason": JSON, "cell_errors": JSON, "killed": JSON,
                                       "killed_reason": JSON, "failed_cell": JSON}),
       st.sampled_from(list(CHECKS)))
def test_any_outcome_is_judged_without_raising(outcome, name):
    result = Submission("x", [["setup", ""]], MLP, ["a \ud800 note"])._judge(CHECKS[name], outcome)
    assert result.passed == (result.points == CHECKS[name].points)
    assert result.passed or result.message
    result.message.encode("utf-8")
    result.reason.encode("utf-8")


@PROPERTY
@given(st.dictionaries(TEXT, JSON, max_size=5))
def test_results_json_is_valid_utf8_whatever_it_holds(tmp_path_factory, record):
    path = tmp_path_factory.getbasetemp() / "property-results.json"
    write_json_atomically(record, str(path))
    load_results(path)
