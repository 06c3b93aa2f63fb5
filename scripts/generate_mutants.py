"""Generated mutants of the instructor's solution cells: how much wrong code the grader catches.

    python scripts/generate_mutants.py                      # every assignment with a differential.py
    python scripts/generate_mutants.py --assignment mlp     # one assignment
    python scripts/generate_mutants.py --grade              # ... and grade the non-equivalent ones (pytest path)

The machinery here is generic; what is specific to an assignment (its solution cells in order, the
reference namespace from src/, the probe battery and its families, the src/ files in the fingerprint,
the sampling sizes, an optional printed-lines note) lives in ONE module per assignment,
``autograder/assignments/<id>/differential.py`` (grading-side tooling: never imported by the grader,
not bound in the sandbox). Paths come from the registry, ``autograder.assignments.get(id)``.

1. Mutation: every single-point AST mutation (Python `ast` + `ast.unparse`) of the code inside the
   ``### BEGIN/END SOLUTION`` regions of the assignment's solution cells (differential.CELLS) of its
   source notebook (the scaffold the students receive, such as ``__init__`` and ``set_parameters``, is
   not mutated). The mutated statement is unparsed and spliced back in place of the original lines,
   so the rest of the cell keeps its text. Deterministic: fixed traversal order; when there are more
   than MAX_ALL mutants a fixed-seed sample is taken per (cell, operator) so every cell and every
   operator is represented.
2. Equivalence by differential testing: each mutant runs (the release's setup cell + the solution
   cells, the mutated one swapped in) in a forked child with a wall-clock limit; the assignment's
   battery of probes (differential.probes) compares every graded function with the reference in
   src/. A mutant whose every observation matches (rtol 1e-9) is EQUIVALENT; otherwise the first
   differing observation is its witness. Cached in tests/generated/<id>/classification.json, keyed
   by the hash of the mutated cells and the setup cell, the src/ files the battery reads,
   differential.py and this script.
3. Notebooks: tests/generated/notebooks/<id>/<mutant>.ipynb, built from the release like
   examples/catalogue.py (not committed: rebuilt from mutants.json by `write_notebooks`).
4. Grading: `autograder.batch.grade_class`; a mutant is KILLED when it scores below the assignment's
   auto-graded maximum (`max_score`).
"""
import argparse
import ast
import contextlib
import copy
import hashlib
import importlib
import io
import json
import os
import random
import re
import resource
import select
import signal
import sys
import time
import warnings
from dataclasses import dataclass

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from autograder import assignments  # noqa: E402

GENERATED = os.path.join(ROOT, "tests", "generated")
NOTEBOOKS = os.path.join(GENERATED, "notebooks")      # not committed (.gitignore)

OPERATORS = ("arith", "compare", "constant", "axis", "index", "transpose", "statement", "args",
             "unary", "boolean", "return", "call")
SEED = 20240611
RTOL, ATOL = 1e-9, 1e-15


# --- the assignment ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Target:
    """One assignment's generated mutants: its registry entry, its differential module, its outputs."""
    name: str
    assignment: object        # autograder.assignments.Assignment
    differential: object      # the module autograder/assignments/<id>/differential.py

    @property
    def cells(self):
        return tuple(self.differential.CELLS)

    @property
    def out(self):
        return os.path.join(GENERATED, self.name)

    @property
    def notebooks(self):
        return os.path.join(NOTEBOOKS, self.name)

    @property
    def mutants_json(self):
        return os.path.join(self.out, "mutants.json")

    @property
    def classification_json(self):
        return os.path.join(self.out, "classification.json")

    @property
    def grades_json(self):
        return os.path.join(self.out, "grades.json")

    @property
    def survivors_md(self):
        return os.path.join(self.out, "survivors.md")

    @property
    def max_all(self):
        return self.differential.MAX_ALL

    @property
    def sample_total(self):
        return self.differential.SAMPLE_TOTAL

    @property
    def timeout(self):
        return getattr(self.differential, "MUTANT_TIMEOUT", 20.0)


def _differential_path(name):
    return os.path.join(ROOT, "autograder", "assignments", name, "differential.py")


def names():
    """The assignments that have a differential.py (those the mutants are generated for), sorted."""
    return [n for n in assignments.names() if os.path.isfile(_differential_path(n))]


_TARGETS = {}


def target(name):
    """The Target of assignment `name` (its differential module imported once)."""
    if name not in _TARGETS:
        if name not in names():
            raise assignments.UnknownAssignment(f"assignment '{name}' has no differential.py (have: {names()})")
        _TARGETS[name] = Target(name, assignments.get(name),
                                importlib.import_module(f"autograder.assignments.{name}.differential"))
    return _TARGETS[name]


def generated_names():
    """The assignments with committed generated mutants (tests/generated/<id>/mutants.json)."""
    return [n for n in names() if os.path.isfile(target(n).mutants_json)]


# --- the solution cells -------------------------------------------------------------------------

def _cells(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)["cells"]


def _gid(cell):
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def _text(cell):
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def solution_cells(t):
    """{grade_id: (code with the markers removed, set of 1-based line numbers inside a solution region)}
    of the assignment's mutated cells (t.cells), in that order."""
    found = {}
    for cell in _cells(t.assignment.source_notebook):
        if not cell.get("metadata", {}).get("nbgrader", {}).get("solution") or _gid(cell) not in t.cells:
            continue
        lines, region, inside = [], set(), False
        for line in _text(cell).split("\n"):
            if re.match(r"[ \t]*### BEGIN SOLUTION$", line):
                inside = True
                continue
            if re.match(r"[ \t]*### END SOLUTION$", line):
                inside = False
                continue
            lines.append(line)
            if inside:
                region.add(len(lines))
        found[_gid(cell)] = ("\n".join(lines), region)
    missing = set(t.cells) - set(found)
    if missing:
        raise ValueError(f"{t.name}: no solution cell {sorted(missing)} in {t.assignment.source_notebook}")
    return {gid: found[gid] for gid in t.cells}


def solution_code(t):
    """{grade_id: the instructor's code} of the mutated cells."""
    return {gid: code for gid, (code, _) in solution_cells(t).items()}


def setup_code(t):
    return next(_text(c) for c in _cells(t.assignment.release_notebook) if _gid(c) == "setup")


# --- the mutation operators -----------------------------------------------------------------------

ARITH = {ast.Add: (ast.Sub, ast.Mult), ast.Sub: (ast.Add, ast.Div), ast.Mult: (ast.Div, ast.Add),
         ast.Div: (ast.Mult, ast.FloorDiv), ast.Pow: (ast.Mult, ast.Div), ast.MatMult: (ast.Mult,),
         ast.Mod: (ast.FloorDiv,), ast.FloorDiv: (ast.Div,)}
COMPARE = {ast.Lt: (ast.LtE, ast.Gt), ast.LtE: (ast.Lt, ast.GtE), ast.Gt: (ast.GtE, ast.Lt),
           ast.GtE: (ast.Gt, ast.Lt), ast.Eq: (ast.NotEq,), ast.NotEq: (ast.Eq,), ast.Is: (ast.IsNot,),
           ast.IsNot: (ast.Is,), ast.In: (ast.NotIn,), ast.NotIn: (ast.In,)}
CONSTANTS = {(int, 0): (1,), (int, 1): (0, 2), (int, 2): (1, 3), (float, 0.5): (0.25, 1.0), (float, 1.0): (0.0, 2.0),
             (float, 0.0): (1.0,), (float, 2.0): (1.0, 3.0)}
FUNCTIONS = {"mean": "sum", "sum": "mean", "max": "min", "min": "max", "maximum": "minimum",
             "minimum": "maximum", "zeros_like": "ones_like", "outer": "multiply", "permutation": "arange",
             "exp": "exp2", "where": None}
REDUCTIONS = {"mean", "sum", "max", "min"}


def _constant_variants(v):
    out = list(CONSTANTS.get((type(v), v), ()))
    if v != 0:
        out.append(-v)
    if isinstance(v, float) and 0 < abs(v) < 1e-3:
        out += [v * 10, v / 10]
    if type(v) is int and (int, v) not in CONSTANTS and v > 0:
        out.append(v + 1)
    seen = []
    for x in out:
        if x != v and not any(type(x) is type(s) and x == s for s in seen):
            seen.append(x)
    return seen


def _walk(node, path=()):
    """(path, node) for node and its descendants, in a fixed (field) order."""
    yield path, node
    for name, value in ast.iter_fields(node):
        if isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, ast.AST):
                    yield from _walk(item, path + ((name, i),))
        elif isinstance(value, ast.AST):
            yield from _walk(value, path + ((name, None),))


def _get(tree, path):
    node = tree
    for name, i in path:
        node = getattr(node, name) if i is None else getattr(node, name)[i]
    return node


def _set(tree, path, new):
    parent = _get(tree, path[:-1])
    name, i = path[-1]
    if i is None:
        setattr(parent, name, new)
    else:
        getattr(parent, name)[i] = new


def _call_name(node):
    if isinstance(node, ast.Call):
        f = node.func
        if isinstance(f, ast.Attribute):
            return f.attr
        if isinstance(f, ast.Name):
            return f.id
    return None


def _np_abs(expr):
    return ast.Call(ast.Attribute(ast.Name("np", ast.Load()), "abs", ast.Load()), [expr], [])


def _sites(tree, region):
    """[(operator, path, description, transform(copy_of_node, tree_copy, path) -> new node or None)]."""
    out = []
    funcs = {}   # path -> FunctionDef enclosing
    for path, node in _walk(tree):
        if isinstance(node, ast.FunctionDef):
            funcs[path] = node
    for path, node in _walk(tree):
        lineno = getattr(node, "lineno", None)
        if lineno is None or lineno not in region or getattr(node, "end_lineno", lineno) not in region:
            continue
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            continue   # a docstring

        def add(op, desc, fn, path=path):
            out.append((op, path, desc, fn))

        if isinstance(node, (ast.BinOp, ast.AugAssign)):
            for new in ARITH.get(type(node.op), ()):
                add("arith", f"{type(node.op).__name__}->{new.__name__}",
                    lambda n, new=new: (setattr(n, "op", new()), n)[1])
            if isinstance(node, ast.BinOp):
                add("arith", "keep left operand", lambda n: n.left)
                add("arith", "keep right operand", lambda n: n.right)
                if isinstance(node.op, ast.Sub):
                    add("unary", "abs of a difference", lambda n: _np_abs(n))
        if isinstance(node, ast.Compare) and len(node.ops) == 1:
            for new in COMPARE.get(type(node.ops[0]), ()):
                add("compare", f"{type(node.ops[0]).__name__}->{new.__name__}",
                    lambda n, new=new: (setattr(n, "ops", [new()]), n)[1])
        if isinstance(node, ast.Constant) and type(node.value) in (int, float):
            for v in _constant_variants(node.value):
                add("constant", f"{node.value!r}->{v!r}",
                    lambda n, v=v: ast.UnaryOp(ast.USub(), ast.Constant(-v)) if v < 0 else ast.Constant(v))
        if isinstance(node, ast.Call):
            name = _call_name(node)
            kw = {k.arg: i for i, k in enumerate(node.keywords)}
            if "axis" in kw:
                ax = node.keywords[kw["axis"]].value
                if isinstance(ax, ast.Constant) and type(ax.value) is int:
                    add("axis", f"axis={ax.value}->{1 - ax.value}",
                        lambda n, i=kw["axis"], ax=ax: (setattr(n.keywords[i], "value", ast.Constant(1 - ax.value)), n)[1])
                add("axis", "drop axis=", lambda n, i=kw["axis"]: (n.keywords.pop(i), n)[1])
            elif name in REDUCTIONS:
                for a in (0, 1):
                    add("axis", f"add axis={a}",
                        lambda n, a=a: (n.keywords.append(ast.keyword("axis", ast.Constant(a))), n)[1])
            if "dtype" in kw and isinstance(node.keywords[kw["dtype"]].value, ast.Name):
                add("call", "dtype=float->int",
                    lambda n, i=kw["dtype"]: (setattr(n.keywords[i], "value", ast.Name("int", ast.Load())), n)[1])
            pos = [a for a in node.args if not isinstance(a, ast.Starred)]
            if len(pos) == len(node.args):
                for i in range(len(pos) - 1):
                    add("args", f"swap args {i},{i + 1}",
                        lambda n, i=i: (n.args.__setitem__(slice(i, i + 2), [n.args[i + 1], n.args[i]]), n)[1])
            if isinstance(node.func, ast.Attribute) and FUNCTIONS.get(name):
                add("call", f"{name}->{FUNCTIONS[name]}",
                    lambda n, new=FUNCTIONS[name]: (setattr(n.func, "attr", new), n)[1])
            if isinstance(node.func, ast.Name) and name == "float":
                add("call", "float()->int()", lambda n: (setattr(n.func, "id", "int"), n)[1])
            if name == "astype" and node.args and isinstance(node.args[0], ast.Name):
                add("call", "astype(float)->astype(int)",
                    lambda n: (n.args.__setitem__(0, ast.Name("int", ast.Load())), n)[1])
            if name in ("copy", "abs") and isinstance(node.func, ast.Attribute):
                if name == "copy" and not node.args:
                    add("call", "drop .copy()", lambda n: n.func.value)
                if name == "abs" and len(node.args) == 1:
                    add("unary", "drop np.abs", lambda n: n.args[0])
        if isinstance(node, ast.Subscript):
            s = node.slice
            if isinstance(s, ast.Constant) and type(s.value) is int:
                for v in ([1, -1] if s.value == 0 else [0, s.value - 1] if s.value < 0 else [0, s.value + 1]):
                    add("index", f"[{s.value}]->[{v}]",
                        lambda n, v=v: (setattr(n, "slice", ast.UnaryOp(ast.USub(), ast.Constant(-v)) if v < 0
                                                else ast.Constant(v)), n)[1])
            if isinstance(s, ast.UnaryOp) and isinstance(s.operand, ast.Constant):
                v = -s.operand.value
                for w in (0, v - 1):
                    add("index", f"[{v}]->[{w}]",
                        lambda n, w=w: (setattr(n, "slice", ast.UnaryOp(ast.USub(), ast.Constant(-w)) if w < 0
                                                else ast.Constant(w)), n)[1])
            if isinstance(s, ast.Slice):
                for part in ("lower", "upper"):
                    bound = getattr(s, part)
                    if bound is None and part == "upper":
                        continue
                    for d in (1, -1):
                        if bound is None and d < 0:
                            continue
                        add("index", f"slice {part}{d:+d}",
                            lambda n, part=part, d=d: (setattr(n.slice, part, ast.Constant(d) if getattr(n.slice, part) is None else ast.BinOp(getattr(n.slice, part), ast.Add() if d > 0 else ast.Sub(), ast.Constant(1))), n)[1])
            if isinstance(s, ast.Tuple) and len(s.elts) == 2:
                add("index", "swap index tuple", lambda n: (setattr(n.slice, "elts", n.slice.elts[::-1]), n)[1])
        if isinstance(node, ast.Attribute) and node.attr == "T":
            add("transpose", "drop .T", lambda n: n.value)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.MatMult):
            for side in ("left", "right"):
                operand = getattr(node, side)
                if not (isinstance(operand, ast.Attribute) and operand.attr == "T"):
                    add("transpose", f"add .T ({side})",
                        lambda n, side=side: (setattr(n, side, ast.Attribute(getattr(n, side), "T", ast.Load())), n)[1])
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.USub):
                add("unary", "drop a minus", lambda n: n.operand)
                add("unary", "-x -> abs(x)", lambda n: _np_abs(n.operand))
            if isinstance(node.op, ast.Not):
                add("boolean", "drop not", lambda n: n.operand)
        if isinstance(node, ast.BoolOp):
            new = ast.Or if isinstance(node.op, ast.And) else ast.And
            add("boolean", f"{type(node.op).__name__}->{new.__name__}", lambda n, new=new: (setattr(n, "op", new()), n)[1])
            add("boolean", "keep first operand", lambda n: n.values[0])
            add("boolean", "keep last operand", lambda n: n.values[-1])
        if isinstance(node, (ast.If, ast.While, ast.IfExp)):
            add("boolean", "negate condition",
                lambda n: (setattr(n, "test", ast.UnaryOp(ast.Not(), n.test)), n)[1])
        if isinstance(node, ast.Return) and node.value is not None:
            add("return", "return None", lambda n: ast.Return(None))
            fpath = max((p for p in funcs if path[:len(p)] == p), key=len, default=None)
            if fpath is not None:
                args = [a.arg for a in funcs[fpath].args.args if a.arg != "self"]
                if args:
                    add("return", f"return {args[0]}", lambda n, a=args[0]: ast.Return(ast.Name(a, ast.Load())))
        if isinstance(node, ast.stmt):
            add("statement", "delete statement", None)
    return out


def _stmt_path(tree, path):
    """The path of the innermost statement containing path (itself if a statement)."""
    for k in range(len(path), -1, -1):
        if isinstance(_get(tree, path[:k]), ast.stmt):
            return path[:k]
    raise ValueError(path)


def _splice(code, stmt, new_text):
    lines = code.split("\n")
    indent = " " * stmt.col_offset
    body = [indent + line if line else line for line in new_text.split("\n")]
    return "\n".join(lines[:stmt.lineno - 1] + body + lines[stmt.end_lineno:])


def _mutate(code, tree, path, op, fn):
    """(mutated cell code, diff line) or None when the mutation does not change the code."""
    t = copy.deepcopy(tree)
    spath = _stmt_path(t, path)
    original = _get(tree, spath)
    if op == "statement":
        name, i = spath[-1]
        siblings = getattr(_get(t, spath[:-1]), name)
        new_stmt = ast.Pass() if len(siblings) == 1 else None
        new_text = "pass" if new_stmt is not None else None
    else:
        new = fn(_get(t, path))
        if new is None:
            return None
        if path == spath:
            new_stmt = new
        else:
            _set(t, path, new)
            new_stmt = _get(t, spath)
        new_stmt = ast.fix_missing_locations(new_stmt)
        new_text = ast.unparse(new_stmt)
    old_text = ast.unparse(original)
    if new_text == old_text:
        return None
    if new_text is None:       # delete the statement's lines
        lines = code.split("\n")
        mutated = "\n".join(lines[:original.lineno - 1] + lines[original.end_lineno:])
        diff = f"- {old_text.splitlines()[0].strip()}"
    else:
        mutated = _splice(code, original, new_text)
        a, b = old_text.splitlines(), new_text.splitlines()
        pairs = [(x, y) for x, y in zip(a, b) if x != y]
        diff = (f"{pairs[0][0].strip()}  →  {pairs[0][1].strip()}" if pairs and len(a) == len(b)
                else f"{a[0].strip()}  →  {b[0].strip()}")
    try:
        compile(mutated, "<mutant>", "exec")
    except SyntaxError:
        return None
    return mutated, diff



def generate_all(t):
    """Every single-point mutant: [{id, cell, operator, description, line, diff, code}], deduplicated."""
    mutants, seen = [], set()
    for gid, (code, region) in solution_cells(t).items():
        tree = ast.parse(code)
        counters = {}
        seen.add((gid, code))
        for op, path, desc, fn in _sites(tree, region):
            result = _mutate(code, tree, path, op, fn)
            if result is None:
                continue
            mutated, diff = result
            key = (gid, "\n".join(line.rstrip() for line in mutated.split("\n")))
            if key in seen:
                continue
            seen.add(key)
            counters[op] = counters.get(op, 0) + 1
            node = _get(tree, path)
            mutants.append({"id": f"{gid}-{op}-{counters[op]:03d}", "cell": gid, "operator": op,
                            "description": desc, "line": node.lineno, "diff": diff, "code": mutated})
    return mutants


def sample(t, mutants, seed=SEED):
    """A deterministic sample of about t.sample_total: each (cell, operator) group gets a share
    proportional to its size, at least 2 (or all of it when smaller), drawn with a fixed seed;
    original order kept. All of them when there are at most t.max_all."""
    if len(mutants) <= t.max_all:
        return list(mutants)
    groups = {}
    for m in mutants:
        groups.setdefault((m["cell"], m["operator"]), []).append(m)
    rng = random.Random(seed)
    keep = set()
    for key in sorted(groups):
        group = groups[key]
        k = min(len(group), max(2, round(t.sample_total * len(group) / len(mutants))))
        keep.update(m["id"] for m in rng.sample(group, k))
    return [m for m in mutants if m["id"] in keep]


def fingerprint(t):
    """What the mutants and their classification depend on: the mutated cells' text and the setup
    cell (not the test cells: editing a visible test leaves them valid), the src/ files the battery
    reads, the battery (differential.py) and this script."""
    digest = hashlib.sha256()
    cells = {_gid(c): _text(c) for c in _cells(t.assignment.source_notebook) if _gid(c) in t.cells}
    parts = [("solution cells", json.dumps(cells, sort_keys=True).encode()), ("setup cell", setup_code(t).encode())]
    paths = [os.path.abspath(__file__), _differential_path(t.name)]
    paths += [os.path.join(ROOT, "src", n) for n in t.differential.SRC_FILES]
    for path in paths:
        with open(path, "rb") as f:
            parts.append((os.path.relpath(path, ROOT), f.read()))
    for name, data in parts:
        digest.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    return digest.hexdigest()


# --- differential testing --------------------------------------------------------------------------

def mutant_namespace(t, cells):
    """Execute the setup cell and the solution cells {gid: code} in a fresh namespace (as the grader does)."""
    ns = {"__name__": "__main__"}
    exec(compile(setup_code(t), "<setup>", "exec"), ns)
    for gid in t.cells:
        exec(compile(cells[gid], f"<{gid}>", "exec"), ns)
    return ns


def _canon(value, depth=0):
    """An observation: comparable, JSON-able."""
    import numpy as np
    if depth > 6:
        return ("deep",)
    if isinstance(value, BaseException):
        return ("raises", type(value).__name__)
    if isinstance(value, (bool, np.bool_)):
        return ("bool", bool(value))
    if isinstance(value, np.floating):
        return ("num", "float", float(value))     # np.float64 is a float (a subclass): the same to a caller
    if isinstance(value, np.integer):
        return ("num", "int", float(value))
    if isinstance(value, np.ndarray) or isinstance(value, np.generic):
        arr = np.asarray(value)
        kind = arr.dtype.kind
        if kind not in "biuf":
            return ("array?", str(arr.dtype), repr(arr)[:200])
        return ("array", arr.shape, "f" if kind == "f" else "i", arr.astype(float).ravel().tolist(),
                type(value).__name__ if isinstance(value, np.generic) else "ndarray")
    if isinstance(value, (int, float)):
        return ("num", "float" if isinstance(value, float) else "int", float(value))
    if isinstance(value, dict):
        return ("dict", sorted((str(k), _canon(v, depth + 1)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return ("seq", [_canon(v, depth + 1) for v in value])
    if value is None:
        return ("none",)
    if isinstance(value, str):
        return ("str", value[:200])
    return ("other", type(value).__name__)


def _same(a, b):
    import numpy as np
    if type(a) is not type(b):
        return False
    if isinstance(a, tuple):
        if len(a) != len(b) or (a and a[0] != b[0]):
            return False
        if a and a[0] == "array":        # values and shape; not the dtype (the spec and the grader speak of values)
            if a[1] != b[1]:
                return False
            x, y = np.array(a[3], dtype=float), np.array(b[3], dtype=float)
            return bool(np.array_equal(np.isnan(x), np.isnan(y)) and
                        np.allclose(x[~np.isnan(x)], y[~np.isnan(y)], rtol=RTOL, atol=ATOL))
        if a and a[0] == "num":
            return bool(np.isclose(a[2], b[2], rtol=RTOL, atol=ATOL) or (np.isnan(a[2]) and np.isnan(b[2])))
        return all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


def _short(obs, limit=120):
    if isinstance(obs, tuple) and obs and obs[0] == "array":
        values = ", ".join(f"{v:.6g}" for v in obs[3][:6]) + (", …" if len(obs[3]) > 6 else "")
        dtype = "" if obs[2] == "f" else " of ints"
        text = f"{obs[4] if obs[4] != 'ndarray' else 'array'}{tuple(obs[1])}{dtype} [{values}]"
    elif isinstance(obs, tuple) and obs and obs[0] == "num":
        text = f"{obs[1]} {obs[2]:.10g}"
    elif isinstance(obs, tuple) and obs and obs[0] in ("bool", "str"):
        text = repr(obs[1])
    elif isinstance(obs, tuple) and obs and obs[0] == "raises":
        text = f"raises {obs[1]}"
    elif isinstance(obs, tuple) and obs and obs[0] == "none":
        text = "None"
    elif isinstance(obs, tuple) and obs and obs[0] == "dict":
        text = "a dict " + "{" + ", ".join(k for k, _ in obs[1]) + "}"
    elif isinstance(obs, tuple) and obs and obs[0] == "seq":
        text = f"a sequence of {len(obs[1])}"
    elif isinstance(obs, tuple) and obs and obs[0] == "other":
        text = f"a {obs[1]}"
    else:
        text = json.dumps(obs, default=str)
    return text if len(text) <= limit else text[:limit] + "…"


def _first_diff(a, b, where=""):
    """(where, expected, got) of the first leaf where observations a and b differ."""
    if (isinstance(a, tuple) and isinstance(b, tuple) and a and b and a[0] == b[0]
            and a[0] in ("dict", "seq")):
        xs, ys = a[1], b[1]
        if a[0] == "dict":
            if [k for k, _ in xs] != [k for k, _ in ys]:
                return where or "keys", f"keys {[k for k, _ in xs]}", f"keys {[k for k, _ in ys]}"
            for (k, x), (_, y) in zip(xs, ys):
                if not _same(x, y):
                    return _first_diff(x, y, f"{where}.{k}" if where else k)
        else:
            if len(xs) != len(ys):
                return where or "length", f"{len(xs)} items", f"{len(ys)} items"
            for i, (x, y) in enumerate(zip(xs, ys)):
                if not _same(x, y):
                    return _first_diff(x, y, f"{where}[{i}]")
    return where, _short(a), _short(b)


def _observe(fn):
    """Run fn() -> value; the value's observation, or the exception's (numpy errors raised)."""
    import numpy as np
    try:
        with np.errstate(over="raise", invalid="raise", divide="raise"), warnings.catch_warnings():
            warnings.simplefilter("error")
            with contextlib.redirect_stdout(io.StringIO()):
                return _canon(fn())
    except Exception as e:  # noqa: BLE001 - an exception is an observation
        return _canon(e)


def observations(t, ns):
    return [(label, _observe(fn)) for label, fn in t.differential.probes(ns)]


def family_of(t, label):
    """The probe family a label belongs to (the first of differential.FAMILIES it starts with)."""
    return next(f for f in t.differential.FAMILIES if label.startswith(f))


def witness(t, reference_obs, cells):
    """{} if the namespace built from `cells` matches every reference observation, else
    {family: the first difference in that family}."""
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            ns = mutant_namespace(t, cells)
    except BaseException as e:  # noqa: BLE001
        return {"definition": f"the cells fail to run: {type(e).__name__}: {str(e)[:120]}"}
    found = {}
    probes = t.differential.probes(ns)
    if [label for label, _ in probes] != [label for label, _ in reference_obs]:
        raise RuntimeError(f"{t.name}: the probe battery is not deterministic (labels differ)")
    for (label, expected), (_, fn) in zip(reference_obs, probes):
        family = family_of(t, label)
        if family in found:
            continue
        got = _observe(fn)
        if not _same(expected, got):
            where, want, have = _first_diff(expected, got)
            found[family] = f"{label}{' → ' + where if where else ''}: expected {want}, got {have}"
    return found


def _printed_lines(t, cells):
    """The optional printed-lines note's data (None when the assignment has no printed_lines)."""
    if not hasattr(t.differential, "printed_lines"):
        return None
    with contextlib.redirect_stdout(io.StringIO()):
        return t.differential.printed_lines(mutant_namespace(t, cells))


def _prepare_parent(t):
    """Import once, in the parent, what every child needs (the forks then start warm): the release's
    helper modules (those of another assignment's release, with the same names, are dropped first),
    matplotlib (Agg), and whatever the differential module prepares (optional `prepare()`)."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    others = {os.path.realpath(os.path.join(ROOT, "release", n)) for n in assignments.names() if n != t.name}
    sys.path[:] = [p for p in sys.path if os.path.realpath(p or ".") not in others]
    for name, module in list(sys.modules.items()):
        where = getattr(module, "__file__", None)
        if where and os.path.realpath(os.path.dirname(where)) in others:
            del sys.modules[name]
    if t.assignment.release_dir in sys.path:
        sys.path.remove(t.assignment.release_dir)
    sys.path.insert(0, t.assignment.release_dir)
    import matplotlib
    matplotlib.use("Agg")
    import numpy  # noqa: F401
    if hasattr(t.differential, "prepare"):
        t.differential.prepare()
    with contextlib.redirect_stdout(io.StringIO()):
        mutant_namespace(t, solution_code(t))       # imports the setup cell's modules


def classify(t, mutants, jobs=2, timeout=None, progress=True):
    """{id: {"equivalent": bool, "witness": str, "witnesses", "note"}}: each mutant in a forked child
    with a wall limit."""
    timeout = t.timeout if timeout is None else timeout
    _prepare_parent(t)
    reference = observations(t, t.differential.reference_namespace())
    base = solution_code(t)
    reference_lines = _printed_lines(t, base)
    todo, running, results = list(mutants), {}, {}
    start = time.monotonic()

    def launch(m):
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:       # the child: never returns
            os.close(r)
            try:
                resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))
                cells = dict(base, **{m["cell"]: m["code"]})
                found = witness(t, reference, cells)
                note = ""
                if not found and reference_lines is not None:
                    lines = _printed_lines(t, cells)
                    if lines != reference_lines:
                        note = (f"differs only in what train prints: lines printed (verbose False, every 1, 2, 10) "
                                f"{reference_lines} -> {lines}")
                data = json.dumps({"witnesses": found, "note": note}).encode()
            except BaseException as e:  # noqa: BLE001
                data = json.dumps({"witnesses": {"run": f"the differential run failed: {type(e).__name__}: "
                                                        f"{str(e)[:100]}"}, "note": ""}).encode()
            os.write(w, data)
            os._exit(0)
        os.close(w)
        running[pid] = (m, r, time.monotonic(), bytearray())

    def finish(pid, found):
        m, r, _, _ = running.pop(pid)
        os.close(r)
        w = found["witnesses"]
        first = next(iter(w.values()), "")
        results[m["id"]] = {"equivalent": not w, "witness": first, "witnesses": w, "note": found.get("note", "")}
        if progress and len(results) % 50 == 0:
            print(f"  {t.name}: classified {len(results)}/{len(mutants)} ({time.monotonic() - start:.0f} s)",
                  file=sys.stderr)

    while todo or running:
        while todo and len(running) < jobs:
            launch(todo.pop(0))
        fds = {v[1]: pid for pid, v in running.items()}
        ready, _, _ = select.select(list(fds), [], [], 0.2)
        for fd in ready:
            pid = fds[fd]
            chunk = os.read(fd, 1 << 16)
            if chunk:
                running[pid][3].extend(chunk)
                continue
            os.waitpid(pid, 0)
            buf = bytes(running[pid][3])
            try:
                found = json.loads(buf)
            except ValueError:
                found = {"witnesses": {"run": "the differential run died (no result: a crash, os._exit or memory limit)"}}
            finish(pid, found)
        for pid, (m, r, began, _) in list(running.items()):
            if time.monotonic() - began > timeout:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                finish(pid, {"witnesses": {"run": f"timeout: the differential run took more than {timeout:.0f} s "
                                                  f"(an endless loop)"}})
    return results


def original(t):
    """The instructor's solution as a pseudo-mutant (its last cell unchanged): must be equivalent."""
    return {"id": "__original__", "cell": t.cells[-1], "code": solution_code(t)[t.cells[-1]]}


# --- notebooks, grading, reports -------------------------------------------------------------------

def build_notebook(t, mutant):
    """The student notebook: the release with every mutated cell (t.cells) filled with the instructor's
    solution, the mutant's cell with the mutated code (as examples/catalogue.py builds notebooks); any
    other solution cell (multiclass's experiments) is left as released."""
    import nbformat
    release = nbformat.read(t.assignment.release_notebook, as_version=4)
    cells = solution_code(t)
    if mutant is not None:
        cells[mutant["cell"]] = mutant["code"]
    for cell in release.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in cells:
            cell.source = cells[gid]
    return nbformat.writes(release)


def notebook_path(t, mutant_id):
    return os.path.join(t.notebooks, mutant_id + ".ipynb")


def write_notebooks(t, mutants):
    os.makedirs(t.notebooks, exist_ok=True)
    for m in mutants:
        text = build_notebook(t, m)
        path = notebook_path(t, m["id"])
        if not os.path.exists(path) or open(path, encoding="utf-8").read() != text:
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)


def class_dir(t, mutants, directory):
    """DIR/<mutant>/<id>/<notebook>.ipynb for each mutant (copies: the batch grader rejects links)."""
    for m in mutants:
        folder = os.path.join(directory, m["id"], t.name)
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, t.assignment.notebook + ".ipynb"), "w", encoding="utf-8") as f:
            f.write(build_notebook(t, m))
    return directory


def grade(t, mutants, work, jobs=2, wall_seconds=None):
    """{id: {score, max_score, status, failed}} from the batch grader (the pytest path). wall_seconds:
    the sandbox's wall limit (default: differential.GRADE_WALL_SECONDS if set, else the production
    limit; a lower one only shortens the endless-loop mutants' runs)."""
    from autograder import batch
    from autograder.sandbox import Limits
    units = batch.find_units(class_dir(t, mutants, os.path.join(work, "class")), [t.name])
    wall_seconds = getattr(t.differential, "GRADE_WALL_SECONDS", None) if wall_seconds is None else wall_seconds
    limits = Limits() if wall_seconds is None else Limits(wall_seconds=wall_seconds)
    records, _ = batch.grade_class(units, os.path.join(work, "results"), jobs=jobs, limits=limits, force=True,
                                   stream=io.StringIO())
    return {sid: {"score": r.get("score") if r else None, "max_score": t.assignment.max_score,
                  "status": r.get("status") if r else "missing",
                  "failed": sorted(c.get("name", "") for c in (r or {}).get("tests", [])
                                   if c.get("score", 0) < c.get("max_score", 0))}
            for (sid, _), r in records.items()}


def killed(record):
    """Graded, and scored below the assignment's auto-graded maximum. A mutant the grader failed on (status
    error or missing, no score) is not a kill: it counts as a survivor, so no rate is overstated."""
    return (record.get("status") not in ("error", "missing") and record["score"] is not None
            and record["score"] < record["max_score"] - 1e-9)


def load_mutants(t):
    with open(t.mutants_json, encoding="utf-8") as f:
        return json.load(f)["mutants"]


def load_classification(t):
    """The committed classification, or None when missing or stale (another fingerprint)."""
    try:
        with open(t.classification_json, encoding="utf-8") as f:
            data = json.load(f)
        return data if data.get("fingerprint") == fingerprint(t) else None
    except (OSError, ValueError):
        return None


def grader_sha(t):
    """The batch grader's fingerprint of the assignment (autograder.batch.grader_sha256): grades.json is
    the report's source only while it is the same."""
    from autograder import batch
    return batch.grader_sha256(t.name)


def load_grades(t):
    try:
        with open(t.grades_json, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def _esc(text):
    return text.replace("|", "\\|").replace("\n", " ")


def survivors_table(mutants, classification, grades):
    rows = ["| mutant | cell | operator | diff | differential witness (first input where it differs from src/) |",
            "|---|---|---|---|---|"]
    by_id = {m["id"]: m for m in mutants}
    for mid in sorted(grades):
        if not killed(grades[mid]):
            m, c = by_id[mid], classification[mid]
            also = [f for f in c.get("witnesses", {}) if c["witnesses"][f] != c["witness"]]
            extra = f" (also differs in: {', '.join(also)})" if also else ""
            rows.append(f"| `{mid}` | {m['cell']} | {m['operator']} | `{_esc(m['diff'])}` | "
                        f"{_esc(c['witness'])}{extra} |")
    return "\n".join(rows) + "\n"


def equivalents_table(mutants, classification):
    rows = ["| mutant | diff | note |", "|---|---|---|"]
    for m in mutants:
        c = classification[m["id"]]
        if c["equivalent"]:
            rows.append(f"| `{m['id']}` | `{_esc(m['diff'])}` | {_esc(c.get('note', ''))} |")
    return "\n".join(rows) + "\n"


def write_report(t, mutants, classification, grades, equivalent):
    n_killed = sum(killed(g) for g in grades.values())
    note = ("; printing is not graded, so a mutant that differs only in what train prints is equivalent, with a note"
            if hasattr(t.differential, "printed_lines") else "")
    with open(t.survivors_md, "w", encoding="utf-8") as f:
        f.write(f"Survivors: {len(grades) - n_killed} of {len(grades)} non-equivalent generated mutants "
                f"score {t.assignment.max_score} (the auto-graded maximum) on the pytest path (kill rate "
                f"{n_killed / len(grades):.1%}); {len(mutants)} mutants generated, {len(equivalent)} equivalent.\n\n")
        f.write(survivors_table(mutants, classification, grades))
        f.write(f"\nEquivalent mutants ({len(equivalent)}: no probe tells them from src/{note}):\n\n")
        f.write(equivalents_table(mutants, classification))


def run(t, args):
    """Generate, classify (cached), write the notebooks, optionally grade: one assignment."""
    os.makedirs(t.out, exist_ok=True)
    t0 = time.monotonic()
    everything = generate_all(t)
    mutants = sample(t, everything)
    counts = {op: sum(m["operator"] == op for m in mutants) for op in OPERATORS}
    with open(t.mutants_json, "w", encoding="utf-8") as f:
        json.dump({"fingerprint": fingerprint(t), "generated": len(everything), "sampled": len(mutants),
                   "all_per_operator": {op: sum(m["operator"] == op for m in everything) for op in OPERATORS},
                   "per_operator": counts, "mutants": mutants}, f, indent=1, ensure_ascii=False)
    print(f"{t.name}: {len(everything)} single-point mutants, {len(mutants)} kept; per operator {counts}",
          file=sys.stderr)
    data = None if args.reclassify else load_classification(t)
    if data is None or set(data["mutants"]) != {m["id"] for m in mutants}:
        t1 = time.monotonic()
        base = classify(t, [original(t)], jobs=1)
        assert base["__original__"]["equivalent"] and not base["__original__"]["note"], \
            f"{t.name}: the instructor's solution differs from src/: {base}"
        results = classify(t, mutants, jobs=args.jobs)
        data = {"fingerprint": fingerprint(t), "seconds": round(time.monotonic() - t1, 1), "mutants": results}
        with open(t.classification_json, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1, ensure_ascii=False)
    classification = data["mutants"]
    equivalent = sorted(k for k, v in classification.items() if v["equivalent"])
    print(f"{t.name}: {len(equivalent)} equivalent, {len(mutants) - len(equivalent)} non-equivalent "
          f"(classified in {data['seconds']} s)", file=sys.stderr)
    if not args.no_notebooks:
        write_notebooks(t, mutants)
    targets = [m for m in mutants if not classification[m["id"]]["equivalent"]]
    if args.grade:
        import tempfile
        t2 = time.monotonic()
        with tempfile.TemporaryDirectory() as work:
            grades = grade(t, targets, work, jobs=args.jobs)
        seconds = time.monotonic() - t2
        with open(t.grades_json, "w", encoding="utf-8") as f:
            json.dump({"fingerprint": fingerprint(t), "grader": grader_sha(t), "seconds": round(seconds, 1),
                       "jobs": args.jobs, "grades": grades}, f, indent=1)
        n_killed = sum(killed(g) for g in grades.values())
        print(f"{t.name}: graded {len(grades)} in {seconds:.0f} s: killed {n_killed} ({n_killed / len(grades):.1%})",
              file=sys.stderr)
    last = load_grades(t) or {}
    grades = last.get("grades")
    if grades is not None and set(grades) == {m["id"] for m in targets}:   # the report of the last grading
        if last.get("grader") != grader_sha(t):
            print(f"{t.name}: the grader changed since tests/generated/{t.name}/grades.json was written: "
                  "its report is kept as it is; rerun with --grade to refresh it", file=sys.stderr)
        else:
            write_report(t, mutants, classification, grades, equivalent)
    print(f"{t.name}: total {time.monotonic() - t0:.0f} s", file=sys.stderr)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--assignment", action="append", choices=names(),
                        help="an assignment with a differential.py (repeatable; default: all of them)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--grade", action="store_true", help="grade the non-equivalent mutants (batch grader)")
    parser.add_argument("--reclassify", action="store_true")
    parser.add_argument("--no-notebooks", action="store_true")
    args = parser.parse_args(argv)
    for name in args.assignment or names():
        run(target(name), args)


if __name__ == "__main__":
    main()
