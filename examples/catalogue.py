"""The example submissions: what each one is, how it is made, and which checks it must fail.

Every example is a student notebook made from the *release* (as a student would receive it):
the solution cells are filled with the instructor's solution, then edited the way a student
would get them wrong. Edits are exact text replacements inside one solution cell (each must
match exactly once, so a change to the source notebook that invalidates an example fails the
build loudly instead of silently producing a correct "wrong" submission).

    python -m examples.catalogue      # rewrites examples/submissions/*.ipynb

`fails` is the exact set of checks the example must fail in both grading paths
(None: not graded normally, see `reason`).
"""
import copy
import json
import os
import re
import sys
from dataclasses import dataclass, field

import nbformat

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SUBMISSIONS = os.path.join(ROOT, "examples", "submissions")
SOURCE = os.path.join(ROOT, "source", "mlp", "mlp.ipynb")
RELEASE = os.path.join(ROOT, "release", "mlp", "mlp.ipynb")

BACKWARD = {"backward_appendix_a", "backward_relu", "backward_sigmoid"}


@dataclass(frozen=True)
class Example:
    name: str
    kind: str                      # perfect | blank | wrong | broken
    description: str
    edits: dict = field(default_factory=dict)   # grade_id -> [(old, new), ...]
    fails: frozenset = frozenset()             # checks this submission must fail (both paths)
    broken: str = ""               # how a broken notebook is damaged: invalid_json | delete_test_cell


EXAMPLES = [
    Example("perfect", "perfect", "the instructor's solution, as a student would submit it"),
    Example("blank", "blank", "the release, submitted untouched"),
    Example("no_relu_mask", "wrong", "backward forgets to multiply by the activation derivative (no ReLU mask)",
            {"model": [("da1 = np.outer(df, self.W2[0]) * self.activation.derivative(A1)",
                        "da1 = np.outer(df, self.W2[0])")]},
            fails=frozenset(BACKWARD)),
    Example("sgd_sign_error", "wrong", "the SGD step adds the gradient (gradient ascent)",
            {"sgd": [("p - self.learning_rate * grads", "p + self.learning_rate * grads")]},
            fails=frozenset({"sgd_step", "xor_training"})),
    Example("gradcheck_divides_by_eps", "wrong", "centred difference divided by ε instead of 2ε",
            {"gradient_check": [("(f_plus - f_minus) / (2 * epsilon)", "(f_plus - f_minus) / epsilon")]},
            fails=frozenset({"numerical_gradient", "gradient_check"})),
    Example("derivative_at_activation", "wrong",
            "backward evaluates φ' at the activation h1 instead of the pre-activation a1 (wrong for sigmoid)",
            {"model": [("self.activation.derivative(A1)", "self.activation.derivative(H1)")]},
            fails=frozenset({"backward_sigmoid"})),
    Example("batch_gradient_summed", "wrong", "batch gradients summed instead of averaged",
            {"model": [("df = (np.reshape(f, n) - np.reshape(y, n)) / n", "df = np.reshape(f, n) - np.reshape(y, n)")]},
            # not xor_training: the XOR check trains with batches of 1 (probes.XOR_SETUP), where sum = mean
            fails=frozenset({"backward_relu", "backward_sigmoid"})),
    Example("relu_derivative_all_ones", "wrong", "ReLU derivative returns 1 everywhere (no mask)",
            {"activations": [("return (np.asarray(z, dtype=float) > 0).astype(float)",
                              "return np.ones_like(np.asarray(z, dtype=float))")]},
            fails=frozenset({"relu"})),
    Example("accuracy_broadcast", "wrong", "accuracy compares an (n, 1) column with y: an (n, n) broadcast",
            {"evaluate": [("(f >= threshold).astype(int) == y", "(f.reshape(-1, 1) >= threshold).astype(int) == y")]},
            fails=frozenset({"evaluate"})),
    Example("syntax_error", "broken", "a syntax error in the model cell",
            {"model": [("def forward(self, x):", "def forward(self, x)")]},
            fails=frozenset({"forward_appendix_a", "forward_random", "xor_training"} | BACKWARD)),
    Example("endless_loop", "broken", "train never returns (an endless loop)",
            {"train": [("history = {'train_loss': [], 'val_loss': []}",
                        "history = {'train_loss': [], 'val_loss': []}\n    while True:\n        pass")]},
            fails=frozenset({"train_loop", "xor_training"})),
    Example("os_exit", "broken", "the evaluate cell calls os._exit(0), killing the Python process",
            {"evaluate": [("def evaluate(", "import os\nos._exit(0)\n\n\ndef evaluate(")]},
            fails=frozenset({"evaluate", "train_loop", "xor_training"})),  # train's cell comes after it
    Example("deleted_test_cell", "broken", "the student deleted a test cell (nbgrader puts it back)",
            broken="delete_test_cell"),
    Example("invalid_json", "broken", "the file is truncated: not valid JSON", broken="invalid_json"),
]
BY_NAME = {e.name: e for e in EXAMPLES}


def _grade_id(cell):
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def solution_code(source):
    """The instructor's solution cell as a student would have written it: every marker line removed,
    including the last one (a cell's final line has no newline after it)."""
    return re.sub(r"\n?[ \t]*### (BEGIN|END) SOLUTION[ \t]*(?=\n|$)", "", source)


def apply_edits(source, edits, where):
    for old, new in edits:
        count = source.count(old)
        if count != 1:
            raise ValueError(f"{where}: the text {old!r} occurs {count} times in the solution (expected once)")
        source = source.replace(old, new)
    return source


def build(example):
    """The example's notebook as text (JSON, or the damaged bytes for invalid_json)."""
    release = nbformat.read(RELEASE, as_version=4)
    if example.kind == "blank":
        return nbformat.writes(release)
    solutions = {_grade_id(c): solution_code(c.source) for c in nbformat.read(SOURCE, as_version=4).cells
                 if c.metadata.get("nbgrader", {}).get("solution")}
    nb = copy.deepcopy(release)
    for cell in nb.cells:
        gid = _grade_id(cell)
        if gid in solutions:
            cell.source = apply_edits(solutions[gid], example.edits.get(gid, []), f"{example.name}/{gid}")
    unknown = set(example.edits) - set(solutions)
    if unknown:
        raise ValueError(f"{example.name}: no solution cell {sorted(unknown)}")
    if example.broken == "delete_test_cell":
        nb.cells = [c for c in nb.cells if _grade_id(c) != "test_evaluate"]
    text = nbformat.writes(nb)
    if example.broken == "invalid_json":
        text = text[: len(text) // 2]
    return text


def write_all(directory=SUBMISSIONS):
    os.makedirs(directory, exist_ok=True)
    for example in EXAMPLES:
        with open(os.path.join(directory, example.name + ".ipynb"), "w", encoding="utf-8") as f:
            f.write(build(example))
    write_readme(directory)


def write_readme(directory=SUBMISSIONS):
    """DIR/README.md: every example of both catalogues (mlp's here, multiclass's in multiclass_catalogue)."""
    from examples import multiclass_catalogue
    with open(os.path.join(directory, "README.md"), "w", encoding="utf-8") as f:
        f.write("# Example submissions\n\nGenerated by `python -m examples.catalogue` (mlp) and `python -m "
                "examples.multiclass_catalogue` (multiclass, `mc_*`) from the releases and the instructor's "
                "solutions; do not edit by hand.\n\n| student | assignment | kind | what it is |\n|---|---|---|---|\n")
        f.writelines(f"| `{e.name}` | mlp | {e.kind} | {e.description} |\n" for e in EXAMPLES)
        f.writelines(f"| `{e.name}` | multiclass | {e.kind} | {e.description}"
                     + (f" (fails: {', '.join(sorted(e.fails))})" if e.kind == "wrong" else "") + " |\n"
                     for e in multiclass_catalogue.EXAMPLES)


if __name__ == "__main__":
    write_all(sys.argv[1] if len(sys.argv) > 1 else SUBMISSIONS)
    print(json.dumps([e.name for e in EXAMPLES]))
