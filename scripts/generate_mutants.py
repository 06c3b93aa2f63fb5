"""Generated mutants of the instructor's solution cells: how much wrong code the grader catches.

    python scripts/generate_mutants.py              # generate, classify (cached), write notebooks
    python scripts/generate_mutants.py --grade      # ... and grade the non-equivalent ones (pytest path)
    python scripts/generate_mutants.py --nbgrader N # ... and a fixed sample of N with `nbgrader autograde`

1. Mutation: every single-point AST mutation (Python `ast` + `ast.unparse`) of the code inside the
   ``### BEGIN/END SOLUTION`` regions of each solution cell of source/mlp/mlp.ipynb (the scaffold
   the students receive, such as ``__init__`` and ``set_parameters``, is not mutated). The mutated
   statement is unparsed and spliced back in place of the original lines, so the rest of the cell
   keeps its text. Deterministic: fixed traversal order; when there are more than MAX_ALL mutants
   a fixed-seed sample is taken per (cell, operator) so every cell and every operator is represented.
2. Equivalence by differential testing: each mutant runs (setup cell + solution cells, the mutated
   one swapped in) in a forked child with a wall-clock limit; a fixed battery of probes (PROBES)
   compares every graded function with the reference in src/. A mutant whose every observation
   matches (rtol 1e-9) is EQUIVALENT; otherwise the first differing observation is its witness.
   Cached in tests/generated/classification.json, keyed by the hash of the source notebook, src/
   and this script.
3. Notebooks: tests/generated/notebooks/<id>.ipynb, built from the release like examples/catalogue.py
   (not committed: rebuilt from mutants.json by `write_notebooks`).
4. Grading: `autograder.batch.grade_class`; a mutant is KILLED when it scores < 100.
"""
import argparse
import ast
import contextlib
import copy
import hashlib
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

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

SOURCE = os.path.join(ROOT, "source", "mlp", "mlp.ipynb")
RELEASE = os.path.join(ROOT, "release", "mlp", "mlp.ipynb")
RELEASE_DIR = os.path.dirname(RELEASE)
OUT = os.path.join(ROOT, "tests", "generated")
NOTEBOOKS = os.path.join(OUT, "notebooks")
MUTANTS_JSON = os.path.join(OUT, "mutants.json")
CLASSIFICATION_JSON = os.path.join(OUT, "classification.json")
GRADES_JSON = os.path.join(OUT, "grades.json")
SURVIVORS_MD = os.path.join(OUT, "survivors.md")

CELL_ORDER = ("activations", "model", "gradient_check", "sgd", "evaluate", "train")
OPERATORS = ("arith", "compare", "constant", "axis", "index", "transpose", "statement", "args",
             "unary", "boolean", "return", "call")
MAX_ALL = 600          # more than this: sample
SAMPLE_TOTAL = 380     # the sample's size (before dropping duplicates)
SEED = 20240611
RTOL, ATOL = 1e-9, 1e-15
MUTANT_TIMEOUT = 20.0  # seconds per mutant's differential run


# --- the solution cells -------------------------------------------------------------------------

def _cells(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)["cells"]


def _gid(cell):
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def _text(cell):
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def solution_cells():
    """{grade_id: (code with the markers removed, set of 1-based line numbers inside a solution region)}."""
    out = {}
    for cell in _cells(SOURCE):
        if not cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
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
        out[_gid(cell)] = ("\n".join(lines), region)
    return out


def setup_code():
    return next(_text(c) for c in _cells(RELEASE) if _gid(c) == "setup")


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


def generate_all():
    """Every single-point mutant: [{id, cell, operator, description, line, diff, code}], deduplicated."""
    mutants, seen = [], set()
    for gid, (code, region) in solution_cells().items():
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


def sample(mutants, total=SAMPLE_TOTAL, seed=SEED):
    """A deterministic sample of about `total`: each (cell, operator) group gets a share proportional
    to its size, at least 2 (or all of it when smaller), drawn with a fixed seed; original order kept."""
    if len(mutants) <= MAX_ALL:
        return list(mutants)
    groups = {}
    for m in mutants:
        groups.setdefault((m["cell"], m["operator"]), []).append(m)
    rng = random.Random(seed)
    keep = set()
    for key in sorted(groups):
        group = groups[key]
        k = min(len(group), max(2, round(total * len(group) / len(mutants))))
        keep.update(m["id"] for m in rng.sample(group, k))
    return [m for m in mutants if m["id"] in keep]


def fingerprint():
    digest = hashlib.sha256()
    paths = [SOURCE, RELEASE, os.path.abspath(__file__)]
    # the reference modules the differential tests use (not the other assignments' src files)
    paths += [os.path.join(ROOT, "src", n) for n in ("activations.py", "data.py", "gradient_check.py", "models.py",
                                                     "optimization.py")]
    for path in paths:
        with open(path, "rb") as f:
            digest.update(os.path.relpath(path, ROOT).encode() + b"\0" + hashlib.sha256(f.read()).digest())
    return digest.hexdigest()


# --- differential testing --------------------------------------------------------------------------

def reference_namespace():
    from src import activations, gradient_check, models, optimization
    return {"ReLU": activations.ReLU, "Sigmoid": activations.Sigmoid, "OneHiddenLayerMLP": models.OneHiddenLayerMLP,
            "relative_error": gradient_check.relative_error, "numerical_gradient": gradient_check.numerical_gradient,
            "check_all_gradients": gradient_check.check_all_gradients, "SGD": optimization.SGD,
            "evaluate": optimization.evaluate, "train": optimization.train}


def mutant_namespace(cells):
    """Execute the setup cell and the solution cells {gid: code} in a fresh namespace (as the grader does)."""
    ns = {"__name__": "__main__"}
    exec(compile(setup_code(), "<setup>", "exec"), ns)
    for gid in CELL_ORDER:
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


def _probes(ns):
    """[(label, thunk)]: the observable behaviour of every graded function of namespace ns.

    Collaborators are the reference's (src/) so that each function is observed on its own,
    except in the end-to-end probes."""
    import numpy as np
    from src import models as ref_models, optimization as ref_opt
    RefModel, RefSGD = ref_models.OneHiddenLayerMLP, ref_opt.SGD
    probes = []

    def probe(label):
        def register(fn):
            probes.append((label, fn))
            return fn
        return register

    # activations: scalars (also exactly 0, ints, extremes), arrays of several shapes, lists
    scalars = [0.0, -0.0, 0, 3, -3, 1e-300, -1e-300, 2.5, -2.5, 1.0, -1.0, 30.0, -30.0, 700.0, -700.0,
               750.0, -750.0, 1e4, -1e4]
    rng = np.random.default_rng(1)
    arrays = [rng.normal(size=7) * 3, rng.normal(size=(3, 4)) * 5, rng.normal(size=(2, 3, 2)),
              np.array([-2, -1, 0, 1, 2]), np.array([-1e4, -800.0, -1.0, 0.0, 1.0, 800.0, 1e4]), np.zeros((2, 2))]
    for cls in ("ReLU", "Sigmoid"):
        for method in ("forward", "derivative"):
            for z in scalars:
                probe(f"{cls}().{method}({z!r})")(lambda cls=cls, method=method, z=z: np.asarray(getattr(ns[cls](), method)(z)))
            for k, z in enumerate(arrays):
                def call(cls=cls, method=method, z=z):
                    arg = z.copy()
                    out = getattr(ns[cls](), method)(arg)
                    return np.asarray(out), np.array_equal(arg, z)
                probe(f"{cls}().{method}(array #{k} shape {z.shape}) and input unchanged")(call)

    # forward and backward: several (d, h), both activations, single sample, batch of 1, n = d, other n
    def params(d, h, seed, scale=1.0):
        r = np.random.default_rng(seed)
        return {"W1": r.normal(size=(h, d)) * scale, "b1": r.normal(size=h) * 0.5 * scale,
                "W2": r.normal(size=(1, h)) * scale, "b2": r.normal(size=1) * 0.5 * scale}

    appendix = {"W1": np.array([[1.0, -2.0], [0.5, 1.0]]), "b1": np.zeros(2), "W2": np.array([[1.0, -1.0]]),
                "b2": np.zeros(1)}
    configs = [(2, 2, "relu", None), (3, 5, "relu", 11), (4, 4, "sigmoid", 12), (5, 2, "sigmoid", 13),
               (1, 1, "relu", 14), (6, 10, "relu", 15), (3, 3, "sigmoid", 16), (2, 7, "sigmoid", 17)]
    for d, h, act, seed in configs:
        p = appendix if seed is None else params(d, h, seed)
        r = np.random.default_rng(100 + (seed or 0))
        inputs = ([np.array([1.0, -1.0])] if seed is None else []) + [
            r.normal(size=d), r.normal(size=(1, d)), r.normal(size=(d, d)), r.normal(size=(3, d)),
            r.normal(size=(7, d)) * 2]
        for k, x in enumerate(inputs):
            single = x.ndim == 1
            y = float(r.normal()) if single else r.normal(size=len(x))
            if seed is None and single:
                y = 2.0

            def fwd(d=d, h=h, act=act, p=p, x=x):
                m = ns["OneHiddenLayerMLP"](d, h, act)
                m.set_parameters(p)
                arg = x.copy()
                out = m.forward(arg)
                return {"f": out, "f is float": isinstance(out, float), "a1": m.a1_cache, "h1": m.h1_cache,
                        "x unchanged": np.array_equal(arg, x),
                        "params unchanged": all(np.array_equal(v, p[n]) for n, v in m.get_parameters().items())}

            def bwd(d=d, h=h, act=act, p=p, x=x, y=y):
                m = ns["OneHiddenLayerMLP"](d, h, act)
                m.set_parameters(p)
                arg, yarg = x.copy(), copy.copy(y)
                f = m.forward(arg)
                grads = m.backward(arg, yarg, f)
                return {"grads": grads, "x unchanged": np.array_equal(arg, x),
                        "y unchanged": np.array_equal(yarg, y),
                        "params unchanged": all(np.array_equal(v, p[n]) for n, v in m.get_parameters().items())}
            probe(f"forward d={d} h={h} {act} x{x.shape}")(fwd)
            probe(f"backward d={d} h={h} {act} x{x.shape}")(bwd)

        def bwd_int_y(d=d, h=h, act=act, p=p):
            m = ns["OneHiddenLayerMLP"](d, h, act)
            m.set_parameters(p)
            x = np.random.default_rng(7).normal(size=(4, d))
            return m.backward(x, np.array([0, 1, 1, 0]), m.forward(x))
        probe(f"backward d={d} h={h} {act} integer y batch")(bwd_int_y)

    # relative_error
    r = np.random.default_rng(3)
    a, b = r.normal(size=(3, 4)), r.normal(size=(3, 4))
    pairs = [(a, b), (a, a), (a, -a), (np.zeros(3), np.zeros(3)), (a, a + 1e-8), (a * 1e-13, b * 1e-13),
             (np.array([0.0, 1.0]), np.array([0.0, 1.1])), (1.0, 1.0001), (np.array([1e-14, 0.0]), np.array([0.0, 0.0]))]
    for k, (u, v) in enumerate(pairs):
        probe(f"relative_error pair #{k}")(lambda u=u, v=v: (lambda out: (out, isinstance(out, float)))(ns["relative_error"](u, v)))
    probe("relative_error eps=1e-6")(lambda: ns["relative_error"](a * 1e-7, b * 1e-7, 1e-6))
    probe("relative_error eps=1e-6 zeros")(lambda: ns["relative_error"](np.array([1e-7, 0.0]), np.zeros(2), eps=1e-6))

    # numerical_gradient: cubic of a 2-D theta, 1-D, 0-D, non-default epsilon; restored exactly, in place
    cases = [(lambda t: float(np.sum(t ** 3) + np.sum(t[0] * t[-1])), np.random.default_rng(4).normal(size=(2, 3)), {}),
             (lambda t: float(np.sum(t ** 2)), np.array([1.0, 2.0]), {"epsilon": 1e-5}),
             (lambda t: float(np.sin(t).sum() + t.sum() ** 2), np.array([0.3, -1.2, 2.0]), {"epsilon": 1e-3}),
             (lambda t: float(np.exp(t).sum()), np.array([[0.1, 0.2], [-0.5, 1.5]]), {"epsilon": 1e-4}),
             (lambda t: float(t.sum() ** 3), np.array([0.7]), {}),
             (lambda t: float(np.sum(np.abs(t))), np.array([0.0, 1.0, -2.0]), {"epsilon": 0.5})]
    for k, (fun, theta, kw) in enumerate(cases):
        def num(fun=fun, theta=theta, kw=kw):
            arg, calls = theta.copy(), []

            def f(t):
                calls.append((t is arg, np.array(t, dtype=float)))
                return fun(t)
            grad = ns["numerical_gradient"](f, arg, **kw)
            return {"grad": grad, "theta restored": np.array_equal(arg, theta), "theta": arg,
                    "calls": len(calls), "in place": all(c[0] for c in calls),
                    "points": [c[1] for c in calls][:24]}
        probe(f"numerical_gradient case #{k} theta{theta.shape} {kw}")(num)

    # check_all_gradients on reference models: right, zero and large gradients, batches, wrong models
    class WrongW2(RefModel):
        def backward(self, x, y, f):
            g = super().backward(x, y, f)
            g["dL_dW2"] = g["dL_dW2"] * 1.001
            return g

    class WrongB1(RefModel):
        def backward(self, x, y, f):
            g = super().backward(x, y, f)
            g["dL_db1"] = g["dL_db1"] + 1e-4
            return g

    class Transposed(RefModel):
        def backward(self, x, y, f):
            g = super().backward(x, y, f)
            g["dL_dW1"] = g["dL_dW1"][::-1].copy()
            return g

    dead = params(3, 4, 21)
    dead["b1"] = -10.0 * np.ones(4)
    gc_cases = [("relu single", RefModel, 3, 4, "relu", params(3, 4, 20), (3,), 0.7, {}),
                ("sigmoid batch", RefModel, 2, 3, "sigmoid", params(2, 3, 22), (5, 2), None, {}),
                ("relu dead (zero gradients)", RefModel, 3, 4, "relu", dead, (3,), 1.0, {}),
                ("relu large", RefModel, 3, 4, "relu", params(3, 4, 23, scale=30.0), (2, 3), None, {}),
                ("wrong dW2", WrongW2, 3, 4, "sigmoid", params(3, 4, 24), (4, 3), None, {}),
                ("wrong db1", WrongB1, 2, 5, "relu", params(2, 5, 25), (2,), 0.3, {}),
                ("wrong W1 rows", Transposed, 3, 4, "relu", params(3, 4, 26), (3, 3), None, {}),
                ("eps/threshold", RefModel, 3, 4, "sigmoid", params(3, 4, 27), (3,), -0.4,
                 {"epsilon": 1e-4, "threshold": 1e-9}),
                ("threshold 0 on zero gradients (0 < 0 is False)", RefModel, 3, 4, "relu", dead, (3,), 1.0,
                 {"threshold": 0.0}),
                ("loose threshold wrong", WrongW2, 3, 4, "relu", params(3, 4, 28), (2, 3), None,
                 {"epsilon": 1e-6, "threshold": 1e-2})]
    for label, cls, d, h, act, p, xshape, yv, kw in gc_cases:
        def gc(cls=cls, d=d, h=h, act=act, p=p, xshape=xshape, yv=yv, kw=kw):
            m = cls(d, h, act)
            m.set_parameters(p)
            r = np.random.default_rng(30)
            x = r.normal(size=xshape)
            y = yv if yv is not None else r.normal(size=xshape[0])
            xc = x.copy()
            res = ns["check_all_gradients"](m, x, y, **kw)
            return {"results": res, "params restored": all(np.array_equal(v, p[n]) for n, v in m.get_parameters().items()),
                    "x unchanged": np.array_equal(x, xc),
                    "results are dicts": sorted(res) if isinstance(res, dict) else None}
        probe(f"check_all_gradients {label}")(gc)

    # SGD: default and other learning rates, exact
    for lr in (None, 0.05, 1.0, 0.0, 2.5):
        def sgd(lr=lr):
            m = RefModel(3, 4, "relu")
            p = params(3, 4, 40)
            m.set_parameters(p)
            r = np.random.default_rng(41)
            grads = {"dL_d" + n: r.normal(size=v.shape) for n, v in p.items()}
            before = {k: v.copy() for k, v in grads.items()}
            opt = ns["SGD"]() if lr is None else ns["SGD"](lr)
            out = opt.step(m, grads)
            return {"params": m.get_parameters(), "grads unchanged": all(np.array_equal(grads[k], before[k]) for k in grads),
                    "returns": out is None}
        probe(f"SGD(learning_rate={lr}).step")(sgd)

    # evaluate: a stand-in model with outputs exactly at the threshold, several thresholds, real models
    class Fixed:
        def __init__(self, f):
            self.f, self.seen = f, []

        def forward(self, X):
            self.seen.append(np.array(X))
            return self.f.copy()

    f_fixed = np.array([0.5, 0.49999, 0.50001, 0.3, 0.7, 1.2, -0.1, 0.5, 0.3, 0.29999])
    y_fixed = np.array([1, 0, 1, 0, 1, 1, 0, 0, 1, 0])
    X_fixed = np.random.default_rng(50).normal(size=(10, 2))
    for thr in (None, 0.5, 0.3, 0.7, 0.0):
        for yv in (y_fixed, y_fixed.astype(float)):
            def ev(thr=thr, yv=yv):
                m = Fixed(f_fixed)
                X = X_fixed.copy()
                out = ns["evaluate"](m, X, yv.copy()) if thr is None else ns["evaluate"](m, X, yv.copy(), thr)
                return {"out": out, "types": {k: isinstance(v, float) for k, v in out.items()} if isinstance(out, dict) else None,
                        "X unchanged": np.array_equal(X, X_fixed), "forward calls": len(m.seen),
                        "forward got X": all(np.array_equal(s, X_fixed) for s in m.seen)}
            probe(f"evaluate threshold={thr} y {yv.dtype}")(ev)
    for act in ("relu", "sigmoid"):
        def ev_model(act=act):
            m = RefModel(3, 6, act)
            m.set_parameters(params(3, 6, 51))
            r = np.random.default_rng(52)
            X, y = r.normal(size=(9, 3)), (r.random(9) > 0.5).astype(int)
            return ns["evaluate"](m, X, y), ns["evaluate"](m, X, y, threshold=0.1)
        probe(f"evaluate on a model ({act})")(ev_model)

    # train: a recording reference model and optimizer; several n / batch sizes / epochs; same seed
    class Recording(RefModel):
        log = None

        def forward(self, x):
            self.log.append(("forward", np.shape(x), float(np.sum(x))))
            return super().forward(x)

        def backward(self, x, y, f):
            self.log.append(("backward", np.shape(x), float(np.sum(x)), float(np.sum(y))))
            return super().backward(x, y, f)

    class RecordingSGD(RefSGD):
        def step(self, model, grads):
            model.log.append(("step", sorted(grads)))
            return super().step(model, grads)

    train_cases = [(10, 3, 3, True, {}), (8, 8, 2, False, {}), (5, 1, 2, True, {}), (7, 32, 2, True, {}),
                   (6, 4, 1, False, {}), (9, 2, 0, True, {}), (12, 5, 2, True, {"verbose": True, "print_every": 1}),
                   (11, 4, 3, False, {"verbose": True, "print_every": 2}), (40, None, None, True, {})]
    for n, bs, ep, val, kw in train_cases:
        def tr(n=n, bs=bs, ep=ep, val=val, kw=kw):
            r = np.random.default_rng(60 + n)
            X, y = r.normal(size=(n, 3)), (r.random(n) > 0.5).astype(float)
            Xv, yv = r.normal(size=(4, 3)), np.array([0.0, 1.0, 1.0, 0.0])
            m = Recording(3, 5, "sigmoid", seed=61)
            m.log = []
            Xc, yc = X.copy(), y.copy()
            args = {}
            if bs is not None:
                args.update(batch_size=bs, n_epochs=ep)
            if val:
                args.update(X_val=Xv, y_val=yv)
            np.random.seed(62)
            hist = ns["train"](m, X, y, RecordingSGD(0.1), **args, **kw)
            return {"history": hist, "params": m.get_parameters(), "calls": m.log[:400], "n calls": len(m.log),
                    "X, y unchanged": np.array_equal(X, Xc) and np.array_equal(y, yc),
                    "rng after": float(np.random.random())}
        probe(f"train n={n} batch_size={bs} n_epochs={ep} val={val} {kw}")(tr)

    def tr_int_y():
        r = np.random.default_rng(70)
        X, y = r.normal(size=(9, 2)), (r.random(9) > 0.5).astype(int)
        m = RefModel(2, 4, "relu", seed=71)
        np.random.seed(72)
        hist = ns["train"](m, X, y, RefSGD(0.2), n_epochs=2, batch_size=4, X_val=X[:3], y_val=y[:3])
        return {"history": hist, "params": m.get_parameters()}
    probe("train integer labels")(tr_int_y)

    # end to end: the namespace's own model, SGD, train and evaluate on XOR-like data
    for act, hidden, lr, bs in (("relu", 8, 0.05, 4), ("sigmoid", 6, 0.5, 1), ("relu", 16, 0.02, 1)):
        def e2e(act=act, hidden=hidden, lr=lr, bs=bs):
            r = np.random.default_rng(80)
            X = r.uniform(-1, 1, size=(40, 2))
            y = ((X[:, 0] > 0) != (X[:, 1] > 0)).astype(float)
            np.random.seed(81)
            m = ns["OneHiddenLayerMLP"](2, hidden, act)
            hist = ns["train"](m, X[:30], y[:30], ns["SGD"](lr), n_epochs=3, batch_size=bs, X_val=X[30:], y_val=y[30:])
            return {"history": hist, "params": m.get_parameters(), "eval": ns["evaluate"](m, X[30:], y[30:])}
        probe(f"end to end: own model/SGD/train ({act}, hidden {hidden}, lr {lr}, batch {bs})")(e2e)
    return probes


def observations(ns):
    return [(label, _observe(fn)) for label, fn in _probes(ns)]


def witness(reference_obs, cells):
    """None if the namespace built from `cells` matches every reference observation, else the first difference."""
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            ns = mutant_namespace(cells)
    except BaseException as e:  # noqa: BLE001
        return {"definition": f"the cells fail to run: {type(e).__name__}: {str(e)[:120]}"}
    found = {}
    for (label, expected), (label2, fn) in zip(reference_obs, _probes(ns)):
        family = family_of(label)
        if family in found:
            continue
        got = _observe(fn)
        if not _same(expected, got):
            where, want, have = _first_diff(expected, got)
            found[family] = f"{label}{' → ' + where if where else ''}: expected {want}, got {have}"
    return found


FAMILIES = ("ReLU", "Sigmoid", "forward", "backward", "relative_error", "numerical_gradient", "check_all_gradients",
            "SGD", "evaluate", "train", "end to end")


def family_of(label):
    return next(f for f in FAMILIES if label.startswith(f))


def printed_lines(ns):
    """How many lines train prints, per verbose setting (printing is not graded: a note, not a difference)."""
    import numpy as np
    from src import models, optimization
    out = []
    for verbose, every in ((False, 10), (True, 1), (True, 2), (True, 10)):
        buf = io.StringIO()
        try:
            with contextlib.redirect_stdout(buf):
                m = models.OneHiddenLayerMLP(2, 3, "relu", seed=1)
                X = np.random.default_rng(2).normal(size=(6, 2))
                ns["train"](m, X, X[:, 0] > 0, optimization.SGD(0.1), n_epochs=5, batch_size=4, verbose=verbose,
                            print_every=every)
        except Exception as e:  # noqa: BLE001
            out.append(type(e).__name__)
            continue
        out.append(len(buf.getvalue().splitlines()))
    return out


def _prepare_parent():
    os.environ.setdefault("MPLBACKEND", "Agg")
    if RELEASE_DIR not in sys.path:
        sys.path.insert(0, RELEASE_DIR)
    import matplotlib
    matplotlib.use("Agg")
    import numpy  # noqa: F401
    mutant_namespace({gid: code for gid, (code, _) in solution_cells().items()})   # imports data, visualization


def classify(mutants, jobs=2, timeout=MUTANT_TIMEOUT, progress=True):
    """{id: {"equivalent": bool, "witness": str}}: each mutant in a forked child with a wall limit."""
    _prepare_parent()
    reference = observations(reference_namespace())
    with contextlib.redirect_stdout(io.StringIO()):
        reference_lines = printed_lines(mutant_namespace({gid: code for gid, (code, _) in solution_cells().items()}))
    base = {gid: code for gid, (code, _) in solution_cells().items()}
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
                found = witness(reference, cells)
                note = ""
                if not found:
                    with contextlib.redirect_stdout(io.StringIO()):
                        lines = printed_lines(mutant_namespace(cells))
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
            print(f"  classified {len(results)}/{len(mutants)} ({time.monotonic() - start:.0f} s)", file=sys.stderr)

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


# --- notebooks, grading, reports -------------------------------------------------------------------

def build_notebook(mutant):
    """The student notebook: the release with every solution cell filled with the instructor's solution,
    the mutant's cell with the mutated code (as examples/catalogue.py builds notebooks)."""
    import nbformat
    release = nbformat.read(RELEASE, as_version=4)
    cells = {gid: code for gid, (code, _) in solution_cells().items()}
    if mutant is not None:
        cells[mutant["cell"]] = mutant["code"]
    for cell in release.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in cells:
            cell.source = cells[gid]
    return nbformat.writes(release)


def notebook_path(mutant_id):
    return os.path.join(NOTEBOOKS, mutant_id + ".ipynb")


def write_notebooks(mutants):
    os.makedirs(NOTEBOOKS, exist_ok=True)
    for m in mutants:
        text = build_notebook(m)
        path = notebook_path(m["id"])
        if not os.path.exists(path) or open(path, encoding="utf-8").read() != text:
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)


def class_dir(mutants, directory):
    """DIR/<id>/mlp/mlp.ipynb for each mutant (copies: the batch grader rejects links)."""
    for m in mutants:
        folder = os.path.join(directory, m["id"], "mlp")
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, "mlp.ipynb"), "w", encoding="utf-8") as f:
            f.write(build_notebook(m))
    return directory


def grade(mutants, work, jobs=2, wall_seconds=6.0):
    """{id: score} from the batch grader (the pytest path)."""
    from autograder import batch
    from autograder.sandbox import Limits
    units = batch.find_units(class_dir(mutants, os.path.join(work, "class")), ["mlp"])
    records, _ = batch.grade_class(units, os.path.join(work, "results"), jobs=jobs,
                                   limits=Limits(wall_seconds=wall_seconds), force=True,
                                   stream=io.StringIO())
    return {sid: {"score": r.get("score") if r else None, "status": r.get("status") if r else "missing",
                  "failed": sorted(t.get("name", "") for t in (r or {}).get("tests", [])
                                   if t.get("score", 0) < t.get("max_score", 0))}
            for (sid, _), r in records.items()}


def killed(record):
    return record["score"] is None or record["score"] < 100 - 1e-9


def load_mutants():
    with open(MUTANTS_JSON, encoding="utf-8") as f:
        return json.load(f)["mutants"]


def load_classification():
    try:
        with open(CLASSIFICATION_JSON, encoding="utf-8") as f:
            data = json.load(f)
        return data if data.get("fingerprint") == fingerprint() else None
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


def write_report(mutants, classification, grades, equivalent):
    n_killed = sum(killed(g) for g in grades.values())
    with open(SURVIVORS_MD, "w", encoding="utf-8") as f:
        f.write(f"Survivors: {len(grades) - n_killed} of {len(grades)} non-equivalent generated mutants "
                f"score 100 on the pytest path (kill rate {n_killed / len(grades):.1%}); {len(mutants)} mutants "
                f"generated, {len(equivalent)} equivalent.\n\n")
        f.write(survivors_table(mutants, classification, grades))
        f.write(f"\nEquivalent mutants ({len(equivalent)}: no probe tells them from src/; printing is not "
                f"graded, so a mutant that differs only in what train prints is equivalent, with a note):\n\n")
        f.write(equivalents_table(mutants, classification))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--grade", action="store_true", help="grade the non-equivalent mutants (batch grader)")
    parser.add_argument("--reclassify", action="store_true")
    parser.add_argument("--no-notebooks", action="store_true")
    args = parser.parse_args(argv)
    os.makedirs(OUT, exist_ok=True)
    init = os.path.join(OUT, "__init__.py")
    if not os.path.exists(init):
        open(init, "w").close()
    t0 = time.monotonic()
    everything = generate_all()
    mutants = sample(everything)
    counts = {op: sum(m["operator"] == op for m in mutants) for op in OPERATORS}
    with open(MUTANTS_JSON, "w", encoding="utf-8") as f:
        json.dump({"fingerprint": fingerprint(), "generated": len(everything), "sampled": len(mutants),
                   "all_per_operator": {op: sum(m["operator"] == op for m in everything) for op in OPERATORS},
                   "per_operator": counts, "mutants": mutants}, f, indent=1, ensure_ascii=False)
    print(f"{len(everything)} single-point mutants, {len(mutants)} kept; per operator {counts}", file=sys.stderr)
    data = None if args.reclassify else load_classification()
    if data is None or set(data["mutants"]) != {m["id"] for m in mutants}:
        t1 = time.monotonic()
        base = classify([{"id": "__original__", "cell": "train", "code": solution_cells()["train"][0]}], jobs=1)
        assert base["__original__"]["equivalent"] and not base["__original__"]["note"], \
            f"the instructor's solution differs from src/: {base}"
        results = classify(mutants, jobs=args.jobs)
        data = {"fingerprint": fingerprint(), "seconds": round(time.monotonic() - t1, 1), "mutants": results}
        with open(CLASSIFICATION_JSON, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1, ensure_ascii=False)
    classification = data["mutants"]
    equivalent = sorted(k for k, v in classification.items() if v["equivalent"])
    print(f"{len(equivalent)} equivalent, {len(mutants) - len(equivalent)} non-equivalent "
          f"(classified in {data['seconds']} s)", file=sys.stderr)
    if not args.no_notebooks:
        write_notebooks(mutants)
    if not args.grade and os.path.exists(GRADES_JSON):      # rewrite the report from the last grading
        with open(GRADES_JSON, encoding="utf-8") as f:
            grades = json.load(f)["grades"]
        if set(grades) == {m["id"] for m in mutants if not classification[m["id"]]["equivalent"]}:
            write_report(mutants, classification, grades, equivalent)
    if args.grade:
        import tempfile
        targets = [m for m in mutants if not classification[m["id"]]["equivalent"]]
        t2 = time.monotonic()
        with tempfile.TemporaryDirectory() as work:
            grades = grade(targets, work, jobs=args.jobs)
        seconds = time.monotonic() - t2
        n_killed = sum(killed(g) for g in grades.values())
        with open(GRADES_JSON, "w", encoding="utf-8") as f:
            json.dump({"fingerprint": fingerprint(), "seconds": round(seconds, 1), "grades": grades}, f, indent=1)
        write_report(mutants, classification, grades, equivalent)
        print(f"graded {len(grades)} in {seconds:.0f} s: killed {n_killed} ({n_killed / len(grades):.1%})", file=sys.stderr)
    print(f"total {time.monotonic() - t0:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
