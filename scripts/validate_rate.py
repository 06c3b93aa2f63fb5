"""How much the *visible* tests catch: `nbgrader validate` (the real CLI, what a student's Validate
button runs) on every corpus mutant, every correct alternative and the perfect example, per assignment.

    python scripts/validate_rate.py [--assignment mlp|multiclass] [--workers 2] [--write-doc]

Corpora: mlp's is tests/corpus (notebooks on disk), multiclass's is tests/multiclass_corpus.py
(notebooks built on the fly by `build(example)` into a temporary folder). Each notebook is validated
as `<the assignment's notebook>.ipynb` in a folder of its own, next to every other file of the
assignment's release folder (mlp: data.py, visualization.py; multiclass: training.py, ...), as in a
student's folder.

Written answers are graded by hand, not by Validate, yet `nbgrader validate` fails an answer cell
left as released ("You did not provide a response"). Multiclass's corpus notebooks keep the
release's answer cells, so the script copies the perfect example's written answers into them:
only the code's tests then decide. (mlp has no written answers.)

Prints, per assignment: mutants flagged / total, the mutants that validate passes, the alternatives
that falsely fail, whether the perfect example passes, and the time per notebook. --write-doc saves
each assignment's section to its own file (SECTIONS: tests/corpus/validate_rate.md for mlp,
tests/multiclass_validate_rate.md for multiclass); docs/grading-quality.md is generated, so this script
does not edit it: scripts/grading_quality.py (validate_section) puts the saved sections in it.

`nbgrader validate` exits 0 whether or not the notebook passes, so its output decides:
"Success! Your notebook passes all the tests." is a pass, "VALIDATION FAILED" a failure, anything
else (a crash of nbgrader itself, an unreadable notebook) is reported as an error, never as a pass.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import nbformat

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from autograder import assignments  # noqa: E402

EXAMPLES = os.path.join(ROOT, "examples", "submissions")
# per assignment: the module of its hand-written corpus (MUTANTS, ALTERNATIVES, and either path(example):
# notebooks on disk, or build(example): notebook text made on the fly), its perfect example, its section
CORPORA = {"mlp": "tests.corpus", "multiclass": "tests.multiclass_corpus"}
PERFECT = {"mlp": os.path.join(EXAMPLES, "perfect.ipynb"), "multiclass": os.path.join(EXAMPLES, "mc_perfect.ipynb")}
SECTIONS = {"mlp": os.path.join(ROOT, "tests", "corpus", "validate_rate.md"),
            "multiclass": os.path.join(ROOT, "tests", "multiclass_validate_rate.md")}
HEADING = "## Visible tests: what `nbgrader validate` catches"
PASSED = "Success! Your notebook passes all the tests."
FAILED = re.compile(r"VALIDATION FAILED ON (\d+) CELL")
GOAL = 0.75
TIMEOUT = 300


@dataclass
class Outcome:
    name: str
    verdict: str        # passed | failed | error
    failed_cells: int   # cells validate reported as failing (0 unless failed)
    output: str         # validate's stdout and stderr
    seconds: float = 0.0


def verdict(output):
    """(verdict, failed cells) from validate's output: its exit code is 0 either way."""
    found = FAILED.search(output)
    if found:
        return "failed", int(found.group(1))
    if PASSED in output:
        return "passed", 0
    return "error", 0


def heading(assignment):
    """The section's heading: mlp's keeps the original one (docs/grading-quality.md has it)."""
    return HEADING if assignment == "mlp" else f"{HEADING} in `{assignment}`"


def release_helpers(assignment):
    """Every file of the assignment's release folder but its notebooks: what sits next to a
    student's notebook (mlp: data.py, visualization.py; multiclass: training.py, ...)."""
    folder = assignments.get(assignment).release_dir
    return sorted(os.path.join(folder, f) for f in os.listdir(folder)
                  if not f.endswith(".ipynb") and os.path.isfile(os.path.join(folder, f)))


def validate(name, notebook, assignment="mlp"):
    """Run `nbgrader validate` on a copy of `notebook`, named as the assignment's notebook, next to
    the release's helpers, as in a student's folder."""
    bin_dir = os.path.dirname(sys.executable)
    env = dict(os.environ, PATH=bin_dir + os.pathsep + os.environ.get("PATH", ""),
               OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", MPLBACKEND="Agg")
    target = assignments.get(assignment).notebook + ".ipynb"
    t0 = time.time()
    with tempfile.TemporaryDirectory(prefix="validate-") as folder:
        for helper in release_helpers(assignment):
            shutil.copy(helper, folder)
        shutil.copy(notebook, os.path.join(folder, target))
        try:
            proc = subprocess.run([os.path.join(bin_dir, "nbgrader"), "validate", target], cwd=folder, env=env,
                                  capture_output=True, text=True, timeout=TIMEOUT)
            output = proc.stdout + proc.stderr
        except subprocess.TimeoutExpired:
            return Outcome(name, "error", 0, f"nbgrader validate did not finish in {TIMEOUT} s", time.time() - t0)
    return Outcome(name, *verdict(output), output, time.time() - t0)


def validate_all(named_notebooks, workers=2, assignment="mlp"):
    """{name: Outcome} for [(name, notebook path)] of one assignment, `workers` validations at a time."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return {o.name: o for o in pool.map(lambda item: validate(*item, assignment), named_notebooks)}


# --- the corpora ------------------------------------------------------------------------------------

def corpus(assignment):
    """(mutants, alternatives) of the assignment's hand-written corpus (imported late: each is big)."""
    module = corpus_module(assignment)
    return list(module.MUTANTS), list(module.ALTERNATIVES)


def corpus_module(assignment):
    import importlib
    if assignment not in CORPORA:
        raise assignments.UnknownAssignment(f"no validate corpus for '{assignment}' (add it to CORPORA)")
    return importlib.import_module(CORPORA[assignment])


def _grade_id(cell):
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def with_written_answers(text, perfect):
    """The notebook `text` with every written answer (a graded markdown solution cell) taken from the
    `perfect` notebook: hand-graded answers are not what Validate's tests check."""
    nb = nbformat.reads(text, as_version=4)
    answers = {_grade_id(c): c.source for c in nbformat.read(perfect, as_version=4).cells
               if c.cell_type == "markdown" and c.metadata.get("nbgrader", {}).get("solution")}
    for cell in nb.cells:
        if cell.cell_type == "markdown" and _grade_id(cell) in answers:
            cell.source = answers[_grade_id(cell)]
    return nbformat.writes(nb)


def notebooks(assignment, examples, folder):
    """[(name, notebook path)] for the corpus `examples`: on disk when the corpus has `path(example)`, else
    built (`build(example)`) with the perfect example's written answers and written into `folder`."""
    module = corpus_module(assignment)
    if hasattr(module, "path"):
        return [(e.name, module.path(e)) for e in examples]
    items = []
    for e in examples:
        target = os.path.join(folder, e.name + ".ipynb")
        with open(target, "w", encoding="utf-8") as f:
            f.write(with_written_answers(module.build(e), PERFECT[assignment]))
        items.append((e.name, target))
    return items


def blank_failures(assignment):
    """How many cells `nbgrader validate` must fail on the blank release: every graded cell (each
    test cell fails, and each written answer left as released is "no response")."""
    nb = nbformat.read(assignments.get(assignment).release_notebook, as_version=4)
    return sum(1 for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade"))


# --- the rate ---------------------------------------------------------------------------------------

@dataclass
class Rate:
    assignment: str
    flagged: list       # mutants validate fails
    missed: list        # mutants validate passes
    mutant_errors: list  # mutants validate could not judge
    false_failures: list  # alternatives that do not pass
    n_mutants: int
    n_alternatives: int
    perfect: str        # the perfect example's verdict
    seconds: float      # wall time of the whole batch
    per_notebook: list  # seconds of each validation (its own wall time)

    @property
    def rate(self):
        return len(self.flagged) / self.n_mutants

    @property
    def ok(self):
        return self.rate >= GOAL and not self.false_failures and self.perfect == "passed"


def measure(assignment="mlp", workers=2):
    """Validate the assignment's whole corpus and its perfect example: (Rate, {name: Outcome})."""
    mutants, alternatives = corpus(assignment)
    with tempfile.TemporaryDirectory(prefix="validate-corpus-") as folder:
        items = notebooks(assignment, mutants + alternatives, folder) + [("perfect", PERFECT[assignment])]
        t0 = time.time()
        out = validate_all(items, workers, assignment)
        seconds = time.time() - t0
    return Rate(assignment,
                flagged=[m.name for m in mutants if out[m.name].verdict == "failed"],
                missed=[m.name for m in mutants if out[m.name].verdict == "passed"],
                mutant_errors=[m.name for m in mutants if out[m.name].verdict == "error"],
                false_failures=[a.name for a in alternatives if out[a.name].verdict != "passed"],
                n_mutants=len(mutants), n_alternatives=len(alternatives),
                perfect=out["perfect"].verdict, seconds=seconds,
                per_notebook=[o.seconds for o in out.values()]), out


def section(r, workers=2):
    """The markdown section for docs/grading-quality.md."""
    missed = ", ".join(f"`{n}`" for n in r.missed) or "none"
    false = ", ".join(f"`{n}`" for n in r.false_failures) or "none"
    where = CORPORA[r.assignment].replace(".", "/")
    corpus_text = (f"every corpus notebook ({where}/)" if hasattr(corpus_module(r.assignment), "path") else
                   f"every notebook of {where}.py (built from the release and the instructor's solution, with the "
                   "perfect example's written answers: Validate fails an unanswered written answer, which is "
                   "graded by hand, not by the tests)")
    n = len(r.per_notebook)
    lines = [heading(r.assignment), "",
             f"Generated by `python scripts/validate_rate.py --assignment {r.assignment} --write-doc`: "
             "`nbgrader validate` (the student's Validate button; it runs only the visible tests, the hidden ones "
             f"are not in the student's notebook) on {corpus_text}, {workers} at a time.", "",
             f"- Mutants flagged: **{len(r.flagged)}/{r.n_mutants} ({r.rate:.0%})** (goal: at least {GOAL:.0%}).",
             f"- Mutants validate passes: {missed}.",
             f"- Correct alternatives that fail validate: {len(r.false_failures)}/{r.n_alternatives} ({false}).",
             f"- The perfect example: {r.perfect}.",
             f"- Time: {r.seconds:.0f} s for {n} notebooks ({sum(r.per_notebook) / n:.1f} s per validation, "
             f"{workers} at a time)."]
    if r.mutant_errors:
        lines.append(f"- Mutants validate could not judge (nbgrader error): {', '.join(r.mutant_errors)}.")
    return "\n".join(lines) + "\n"


def write_section(assignment, text):
    """Save the assignment's section to its own file (scripts/grading_quality.py includes it)."""
    with open(SECTIONS[assignment], "w", encoding="utf-8") as f:
        f.write(text)


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--assignment", choices=sorted(PERFECT), help="one assignment (default: all)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--write-doc", action="store_true", help="save each section to its file (SECTIONS)")
    args = parser.parse_args(argv)
    ok = True
    for assignment in [args.assignment] if args.assignment else sorted(PERFECT):
        r, _ = measure(assignment, args.workers)
        text = section(r, args.workers)
        print(text)
        if args.write_doc:
            write_section(assignment, text)
            print(f"(saved in {os.path.relpath(SECTIONS[assignment], ROOT)})\n")
        ok = ok and r.ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
