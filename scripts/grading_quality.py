"""Regenerate docs/grading-quality.md: how right the grades are, measured.

    python scripts/grading_quality.py [--rerun-study] [--seeds 200] [--no-nbgrader]
    python scripts/grading_quality.py --saved-only        # only the Validate and generated-mutant sections

1. Grades every corpus notebook (tests/corpus/: mutants and correct alternatives) in both
   paths: the pytest path (sandbox + judges) and the nbgrader path (a real `nbgrader
   autograde` in a throwaway copy of the course). Kill rate: mutants that lose points;
   false-failure rate: correct alternatives that lose any.
2. The tolerance study: every comparison the judges make, as the normalised error
   e = max |got − expected| / (atol + rtol·|expected|) (a comparison passes iff e ≤ 1),
   largest over the correct alternatives and smallest over the mutants' failing checks.
3. The XOR threshold study (scripts/measure_thresholds.py; saved in
   docs/xor-threshold-study.json, rerun with --rerun-study).
4. What the visible tests catch, per assignment: the sections scripts/validate_rate.py --write-doc
   measured (`nbgrader validate` on each corpus; saved in tests/corpus/validate_rate.md and
   tests/multiclass_validate_rate.md).
5. The generated mutants of every assignment (tests/generated/<id>/survivors.md, written by
   `python scripts/generate_mutants.py --grade`); `--saved-only` rewrites just these sections and the Validate ones.
"""
import argparse
import os
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))
sys.path.insert(0, os.path.join(ROOT, "scripts"))

from autograder.assignments.mlp import judges, probes  # noqa: E402
from autograder.assignments.mlp.checks import CHECKS, MAX_SCORE  # noqa: E402
from autograder.sandbox import ForkServer, Limits  # noqa: E402
from autograder.submission import Submission  # noqa: E402
import measure_thresholds  # noqa: E402
from tests.corpus import ALTERNATIVES, CORPUS, HINTS, MUTANTS, path  # noqa: E402
from tests.corpus.mutants import PARTS  # noqa: E402

DOC = os.path.join(ROOT, "docs", "grading-quality.md")
GENERATED = os.path.join(ROOT, "tests", "generated")
GROUPS = {  # (rtol, atol) -> what the tolerance is for
    (judges.RTOL, judges.ATOL): "RTOL, ATOL: activations, forward, backward",
    (judges.NUMERICAL_RTOL, judges.NUMERICAL_ATOL): "NUMERICAL_RTOL, NUMERICAL_ATOL: numerical_gradient",
    (judges.EXACT_RTOL, judges.EXACT_ATOL): "EXACT_RTOL, EXACT_ATOL: SGD step, evaluate",
    (judges.HISTORY_RTOL, judges.HISTORY_ATOL): "HISTORY_RTOL, HISTORY_ATOL: train's loss history",
}


def normalised_error(got, expected, rtol, atol):
    if got is None:
        return float("inf")
    values, expected = judges.as_array(got), np.asarray(expected, dtype=float)
    if values.shape != expected.shape:
        return float("inf")
    with np.errstate(all="ignore"):
        e = np.abs(values - expected) / (atol + rtol * np.abs(expected))
    e = np.where(np.isnan(e), np.inf, e)
    return float(e.max()) if e.size else 0.0


class Recorder:
    """Wraps judges.compare to record the normalised error of each comparison, by tolerance group."""

    def __init__(self):
        self.original = judges.compare
        self.records = []

    def __enter__(self):
        def compare(label, got, expected, rtol=judges.RTOL, atol=judges.ATOL, **kwargs):
            self.records.append(((rtol, atol), normalised_error(got, expected, rtol, atol)))
            return self.original(label, got, expected, rtol=rtol, atol=atol, **kwargs)
        judges.compare = compare
        return self

    def __exit__(self, *exc):
        judges.compare = self.original


def grade_pytest_path():
    """{name: {check: CheckResult}}, {name: {check: {group: max normalised error}}}."""
    results, errors = {}, {}
    with ForkServer() as server:
        for example in CORPUS:
            submission = Submission.load(path(example))
            outcomes = server.run(submission.jobs(list(CHECKS), limits=Limits()))
            results[example.name], errors[example.name] = {}, {}
            for name in CHECKS:
                with Recorder() as rec:
                    results[example.name][name] = submission._judge(CHECKS[name], outcomes[name])
                per_group = {}
                for group, e in rec.records:
                    per_group[group] = max(per_group.get(group, 0.0), e)
                errors[example.name][name] = per_group
    return results, errors


def grade_nbgrader_path():
    """{name: {check: points}} from a real nbgrader autograde of every corpus notebook."""
    from nbgrader_course import autograde, cell_scores, make_course
    with tempfile.TemporaryDirectory() as tmp:
        course = make_course(tmp)
        autograde(course, {e.name: path(e) for e in CORPUS})
        return {e.name: {gid[len("test_"):]: score for gid, score in cell_scores(course, e.name).items()}
                for e in CORPUS}


def lost(points_by_check):
    return {name: CHECKS[name].points - p for name, p in points_by_check.items() if p < CHECKS[name].points}


def fmt_lost(lost_points):
    return ", ".join(f"{name} −{p:g}" for name, p in lost_points.items()) or "—"


def first_line(results):
    for r in results.values():
        if r.message:
            return r.message.splitlines()[0].replace("|", "\\|")
    return ""


def tolerance_section(errors):
    lines = ["## Tolerances, measured", "",
             "Every comparison a judge makes is `allclose(got, expected, rtol, atol)`. Its normalised error is "
             "e = max |got − expected| / (atol + rtol·|expected|): the comparison passes iff e ≤ 1. "
             "Largest e over every comparison of every correct alternative (they must pass), and smallest e "
             "over the mutants, taking for each mutant the worst comparison in each of its failing checks "
             "(shape mismatches count as ∞):", "",
             "| tolerance (rtol, atol): used for | max e, correct alternatives | min e, mutants (failing checks) | "
             "closest mutant |", "|---|---|---|---|"]
    alternatives = {a.name for a in ALTERNATIVES}
    for group, label in GROUPS.items():
        alt = max((errs.get(group, 0.0) for n in alternatives for errs in errors[n].values()), default=0.0)
        mutant_min, closest = float("inf"), ""
        for m in MUTANTS:
            for check in m.fails:
                e = errors[m.name][check].get(group)
                if e is not None and e > 1 and e < mutant_min:
                    mutant_min, closest = e, f"{m.name} ({check})"
        lines.append(f"| {label} ({group[0]:g}, {group[1]:g}) | {alt:.3g} | "
                     f"{'—' if mutant_min == float('inf') else f'{mutant_min:.3g}'} | {closest or '—'} |")
    lines += ["", "So every correct alternative is at least 1/max-e times inside its tolerance and every mutant "
              "comparison that must fail is min-e times outside it. The tolerances are not tight in either "
              "direction: equivalent formulas differ by rounding (~1e-16 relative, e ≲ 1e-6 with rtol 1e-7), "
              "and the smallest real mistake in the corpus is orders of magnitude away. "
              "The numerical-gradient tolerance (1e-7) sits between the centred difference's own error "
              "(O(ε²) ≈ 1e-10 with ε = 1e-5, plus rounding ≈ 1e-16·|f|/ε) and the one-sided difference's O(ε) "
              "error. The gradient checker's own bars are the assignment's: a correct model's relative error "
              "must be below the threshold 1e-7 it is called with, and the wrong model's (dL/db1 doubled: "
              "relative error 1/3) at least 1e-3.", ""]
    return lines


def threshold_section(study):
    s = measure_thresholds.summary
    thr, min_change = study["threshold"], study["min_change"]
    setup = study["setup"]
    runs = study["runs"]
    correct = {n: s(runs[n], thr) for n in study["correct"]}
    near = {n: s(runs[n], thr) for n in study["near_misses"]}
    correct_min = min(v["acc_min"] for v in correct.values())
    correct_change = min(v["change_min"] for v in correct.values())
    near_change = max((v["change_max_above_threshold"] or 0.0) for v in near.values())
    lines = ["## The XOR threshold, measured", "",
             f"Setting (`probes.XOR_SETUP`): hidden {setup['hidden_dim']}, ReLU, learning rate "
             f"{setup['learning_rate']}, {setup['n_epochs']} epochs, batches of {setup['batch_size']} (plain "
             "per-sample SGD); data `generate_xor_data` seeds 0 (train, 200) and 1 (validation, 100); the "
             "grade uses init seed 0. The check passes when the validation accuracy is above "
             f"`judges.XOR_MIN_ACCURACY` = {thr:.0%} **and** training moved the parameters by at least "
             f"`judges.XOR_MIN_CHANGE` = {min_change:.1%} of their size (‖θ_final − θ_init‖ / ‖θ_init‖), so the "
             "accuracy must come from training, not from a lucky initialisation. Here the init seed varies over "
             f"{study['seeds']} seeds (0–{study['seeds'] - 1}) for the reference, every correct alternative whose "
             "code reaches the XOR run, and the near-miss mutants.", "",
             f"- correct runs: {sum(v['runs'] for v in correct.values())}, all pass: "
             f"**{all(v['passing'] == v['runs'] for v in correct.values())}**; lowest accuracy "
             f"{correct_min:.0%} (margin **{correct_min - thr:+.0%}** above the threshold); smallest parameter "
             f"change {correct_change:.1%} (**{correct_change / min_change:.2f}×** the minimum);",
             f"- near-miss runs: {sum(v['runs'] for v in near.values())}, failing: "
             f"**{sum(v['runs'] - v['passing'] for v in near.values())}**; per near miss: "
             + "; ".join(f"`{n}` fails {v['runs'] - v['passing']}/{v['runs']}, highest accuracy {v['acc_max']:.0%}"
                         for n, v in near.items())
             + f"; the only near-miss runs above the accuracy threshold (first batch only) moved their parameters by at most "
               f"{near_change:.1%} (**{min_change / max(near_change, 1e-12):.2f}×** below the minimum).", "",
             "| implementation | kind | runs | passing | accuracy min / median / max | parameter change min | "
             "final train loss median |",
             "|---|---|---|---|---|---|---|"]
    for group, kind in ((correct, "correct"), (near, "near miss")):
        for name, v in group.items():
            lines.append(f"| `{name}` | {kind} | {v['runs']} | {v['passing']} | {v['acc_min']:.2f} / "
                         f"{v['acc_median']:.2f} / {v['acc_max']:.2f} | {v['change_min']:.1%} | "
                         f"{v['loss_median']:.4f} |")
    lines += ["", "Why this setting: the seed's (hidden 8, learning rate 0.5, batches of 32, 200 epochs) left about "
              "one correct run in five stuck near 75% (dead ReLUs). At learning rate 0.2 every correct run "
              "passed, but so did a `train` that uses only the first mini-batch of each epoch (99 of 100 seeds) "
              "and an SGD that ignores its learning rate (45 of 100): XOR on four corners is easy enough that "
              "200 steps, or a lucky step size of 1, still solve it. Per-sample SGD on a 32-unit layer at "
              "learning rate 0.02 for 3 epochs (600 steps) separates correct runs from the learning-rate "
              "near misses: a step size of 1 diverges on a layer that wide. Three steps (first mini-batch "
              "only) do not fit XOR either, except from the few initialisations that already nearly solve it "
              "(f(0, 0) = b2 = 0 is right at initialisation, so one lucky draw of the three other corners "
              "suffices). No accuracy or loss bar separates those runs (their final training loss is below "
              "the worst correct run's, and a loss-halving rule fails too: a first big step can cut a large "
              "initial loss 16-fold while a correct run from a good initialisation only reaches 0.41 of it); "
              "what separates them is how far the parameters moved, hence the second condition. The first-"
              "batch mutant also always loses the train_loop points, which count steps exactly. The grade "
              "itself uses fixed seeds, so it is reproducible bit for bit.", ""]
    return lines


def generated_section():
    """The generated mutants, per assignment (scripts/generate_mutants.py --grade writes
    tests/generated/<id>/survivors.md)."""
    from test_generated_mutants import KILL_RATE, NBGRADER_SAMPLE
    found = [(name, os.path.join(GENERATED, name, "survivors.md")) for name in sorted(os.listdir(GENERATED))
             if os.path.isfile(os.path.join(GENERATED, name, "survivors.md"))]
    lines = ["## Generated mutants", "",
             "Every single-point mutant of each assignment's solution cells (`python scripts/generate_mutants.py "
             "--grade`: arithmetic and comparison operators, constants, axes, indices, transposes, dropped "
             "statements, swapped arguments, unary and boolean operators, return values, calls), each classified "
             "equivalent or not by differential testing against `src/` (the assignment's battery, "
             "`autograder/assignments/<id>/differential.py`: every graded function on varied inputs), then graded; "
             "a mutant is killed when it scores below the assignment's auto-graded maximum. "
             f"`tests/test_generated_mutants.py` asserts at least {KILL_RATE:.0%} of the non-equivalent ones are "
             "killed by the pytest path (all of them) and by the nbgrader path (a fixed sample spread over the cells: "
             + ", ".join(f"{n} {NBGRADER_SAMPLE[n]}" for n in sorted(NBGRADER_SAMPLE)) + ").", ""]
    if not found:
        return lines + ["Run `python scripts/generate_mutants.py --grade` to measure them.", ""]
    for name, survivors in found:
        with open(survivors, encoding="utf-8") as f:
            table = f.read().strip()
        lines += [f"### {name}", "", table.replace("\n## ", "\n#### ").replace("\n### ", "\n#### "), ""]
    return lines


def replace_saved_sections(doc=None):
    """Rewrite only the sections made from saved measurements (what Validate catches, per assignment,
    and the generated mutants) in the doc: fast, nothing is graded again."""
    doc = doc or DOC
    with open(doc, encoding="utf-8") as f:
        lines = f.read().split("\n")
    start = next(k for k, line in enumerate(lines) if line.startswith("## Visible tests"))
    end = lines.index("## Generated mutants")
    lines = lines[:start] + validate_section() + lines[end:]
    start = lines.index("## Generated mutants")
    end = next((k for k in range(start + 1, len(lines)) if lines[k].startswith("## ")), len(lines))
    with open(doc, "w", encoding="utf-8") as f:
        f.write("\n".join(lines[:start] + generated_section() + lines[end:]))


def validate_section():
    """What the visible tests catch, per assignment (scripts/validate_rate.py --write-doc saves
    validate_rate.SECTIONS: tests/corpus/validate_rate.md, tests/multiclass_validate_rate.md)."""
    from validate_rate import SECTIONS, heading
    lines = []
    for name in sorted(SECTIONS):
        if os.path.exists(SECTIONS[name]):
            with open(SECTIONS[name], encoding="utf-8") as f:
                lines += [f.read().rstrip("\n"), ""]
        else:
            lines += [heading(name), "",
                      f"Run `python scripts/validate_rate.py --assignment {name} --write-doc` to measure it.", ""]
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--rerun-study", action="store_true")
    parser.add_argument("--seeds", type=int, default=200)
    parser.add_argument("--no-nbgrader", action="store_true", help="skip the nbgrader path (its column shows n/a)")
    parser.add_argument("--saved-only", action="store_true",
                        help="only rewrite the sections made from saved measurements: what Validate catches "
                             "(validate_rate.SECTIONS) and the generated mutants (tests/generated/); grades nothing")
    args = parser.parse_args(argv)
    if args.saved_only:
        replace_saved_sections()
        return
    t0 = time.time()
    pytest_results, errors = grade_pytest_path()
    t_pytest = time.time() - t0
    t0 = time.time()
    nb = None if args.no_nbgrader else grade_nbgrader_path()
    t_nb = time.time() - t0
    if args.rerun_study or not os.path.exists(measure_thresholds.STUDY):
        measure_thresholds.run_study(args.seeds)
    study = measure_thresholds.load_study()

    py_points = {n: {c: r.points for c, r in res.items()} for n, res in pytest_results.items()}
    paths = {"pytest": py_points} if nb is None else {"pytest": py_points, "nbgrader": nb}

    def rates(points):
        killed = [m for m in MUTANTS if lost(points[m.name])]
        exact = [m for m in MUTANTS if set(lost(points[m.name])) == set(m.fails)]
        false = [a for a in ALTERNATIVES if sum(points[a.name].values()) != MAX_SCORE]
        return killed, exact, false

    lines = ["# Grading quality", "",
             "Generated by `python scripts/grading_quality.py` (do not edit by hand). The corpus: "
             f"{len(MUTANTS)} wrong implementations (mutants) and {len(ALTERNATIVES)} correct-but-different ones "
             "in `tests/corpus/` (notebooks in `tests/corpus/notebooks/`, built by `python -m tests.corpus`); "
             "`tests/test_grading_quality.py` asserts all of this in CI.", ""]
    for name, points in paths.items():
        killed, exact, false = rates(points)
        lines.append(f"- **{name} path**: kill rate **{len(killed) / len(MUTANTS):.0%}** ({len(killed)}/{len(MUTANTS)} "
                     f"mutants lose points; {len(exact)}/{len(MUTANTS)} lose exactly the checks of the part they "
                     f"break), false-failure rate **{len(false) / len(ALTERNATIVES):.0%}** "
                     f"({len(false)}/{len(ALTERNATIVES)} correct alternatives below {MAX_SCORE}).")
    hinted = [m for m in MUTANTS if m.name in HINTS and any(HINTS[m.name] in r.message
                                                           for r in pytest_results[m.name].values())]
    lines += [f"- Misconception hints: {len(hinted)}/{len(HINTS)} mutants with a known signature get their hint; "
              f"{len(MUTANTS) - len(HINTS)} have no exact signature (the message still names the quantity, "
              "the entry, expected and got).",
              f"- Time: pytest path {t_pytest:.0f} s for {len(CORPUS)} notebooks"
              + ("" if nb is None else f"; nbgrader path {t_nb:.0f} s") + ".", "",
              "## Mutants", "",
              "Points lost per check in each path (xor_training trains the student's own model, SGD and "
              "train, so a mutant of any of them may lose it) and the first line of the feedback the student "
              "reads (the same judge message in both paths).", "",
              "| mutant | part | what it gets wrong | lost (pytest) | lost (nbgrader) | feedback (first line) |",
              "|---|---|---|---|---|---|"]
    for m in MUTANTS:
        nb_lost = "n/a" if nb is None else fmt_lost(lost(nb[m.name]))
        lines.append(f"| `{m.name}` | {'+'.join(sorted(PARTS[m.name]))} | {m.description} | "
                     f"{fmt_lost(lost(py_points[m.name]))} | {nb_lost} | {first_line(pytest_results[m.name])} |")
    lines += ["", "## Correct alternatives", "", "| alternative | what differs | pytest | nbgrader |", "|---|---|---|---|"]
    for a in ALTERNATIVES:
        nb_score = "n/a" if nb is None else f"{sum(nb[a.name].values()):g}"
        lines.append(f"| `{a.name}` | {a.description} | {sum(py_points[a.name].values()):g} | {nb_score} |")
    lines += [""] + validate_section() + generated_section() + tolerance_section(errors) + threshold_section(study)
    with open(DOC, "w", encoding="utf-8") as f:
        f.write("\n".join(lines))
    print("\n".join(lines[:12]))


if __name__ == "__main__":
    main()
