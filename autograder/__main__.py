"""Command line of the course's grader.

    python -m autograder grade PATH.ipynb [--json results.json]   # pytest path, one notebook
                                          [--assignment ID]       # (default: recognised from the notebook)
                                          [--trust-submissions]   # (also grade-all): no sandbox needed
    python -m autograder nbgrader-run [--submissions DIR]         # release + nbgrader autograde of these students,
                                      [--assignment ID ...]       # every assignment found in DIR; feedback,
                                                                   # grades.csv (nbgrader export)
    python -m autograder grade-all DIR [--jobs N] [--shard i/N]   # sandboxed, parallel, resumable batch grading
                                       [--assignment ID ...]     # of every assignment (DIR/<student>/<id>/*.ipynb)
                                       [--out sandbox-grades.csv] [--totals sandbox-totals.csv]
    python -m autograder merge-csv A.csv B.csv ... [--out sandbox-grades.csv] [--totals sandbox-totals.csv]

No command overwrites another command's output: grade-all and merge-csv refuse an existing --out they
did not write (e.g. nbgrader-run's grades.csv), nbgrader-run refuses a grades.csv that grade-all wrote;
--overwrite replaces it all the same.
    python -m autograder sync-gradebook [ID] [--student S]        # gradebook.db's scores := the sandbox's verdicts
                                                                   # (after `nbgrader autograde` by hand; default:
                                                                   # every assignment with submitted/ notebooks)
"""
import argparse
import os
import sys

from autograder.assignments import UnknownAssignment
from autograder.sandbox import IsolationUnavailable
from autograder.submission import InvalidSubmission

TRUST_HELP = ("run student code without a sandbox when none can be made on this machine (only if you "
              "trust every submission; results.json and the CSV record the isolation used)")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    grade = sub.add_parser("grade", help="grade one notebook with the hidden pytest suite")
    grade.add_argument("path")
    grade.add_argument("--json", dest="json_out", help="write Gradescope's results.json here (always, also "
                                                       "for a notebook that cannot be graded)")
    grade.add_argument("--assignment", help="the notebook's assignment id (default: recognised from its nbgrader "
                                             "cells; give it for Gradescope, so an unreadable file still gets "
                                             "the assignment's maximum)")
    grade.add_argument("--trust-submissions", action="store_true", help=TRUST_HELP)
    run = sub.add_parser("nbgrader-run", help="generate the release, autograde the submissions in DIR (only "
                                              "those students) with nbgrader, record the sandbox's scores, write "
                                              "their feedback and grades.csv (nbgrader export: every student "
                                              "in the gradebook), print a grade table")
    run.add_argument("--submissions", default="examples/submissions",
                     help="folder of <student>.ipynb (assignment recognised from its nbgrader cells), "
                          "<student>.<assignment>.ipynb, or <student>/<assignment>/<notebook>.ipynb "
                          "(default: %(default)s)")
    run.add_argument("--assignment", action="append", dest="assignments", metavar="ID",
                     help="grade only this assignment's submissions (repeatable; default: every assignment "
                          "found). A flat file whose assignment cannot be read (not a notebook) is graded for "
                          "the --assignment given when there is exactly one, else for the course's first "
                          "assignment")
    run.add_argument("--no-pytest", action="store_true", help="skip the pytest-path column of the table")
    run.add_argument("--trust-submissions", action="store_true", help=TRUST_HELP)
    run.add_argument("--overwrite", action="store_true",
                     help="replace a grades.csv that grade-all or merge-csv wrote (refused otherwise)")
    batch = sub.add_parser("grade-all", help="grade every DIR/<student>/<assignment>/*.ipynb of the course's "
                                             "assignments in parallel sandboxes (resumable; see autograder/batch.py)")
    batch.add_argument("directory")
    batch.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="parallel workers (default: cores)")
    batch.add_argument("--out", default="sandbox-grades.csv",
                       help="CSV of scores and statuses (default: %(default)s; not grades.csv, which is nbgrader "
                            "export's). An existing file grade-all did not write is refused unless --overwrite")
    batch.add_argument("--assignment", action="append", dest="assignments", metavar="ID",
                       help="grade only this assignment (repeatable; default: every assignment of the course)")
    batch.add_argument("--totals", default="sandbox-totals.csv",
                       help="CSV of course totals, one row per student: a score column per assignment graded, "
                            "total, max_total, missing (assignments not submitted, counted 0). Auto-graded points "
                            "only: points graded by hand in Formgrader are not in it (default: %(default)s; same "
                            "overwrite rule as --out)")
    batch.add_argument("--overwrite", action="store_true",
                       help="replace --out/--totals even when another command wrote them (e.g. nbgrader "
                            "export's grades.csv)")
    batch.add_argument("--results-dir", default="results",
                       help="where <assignment>/<student>/results.json go (default: %(default)s)")
    batch.add_argument("--shard", help="grade only shard i of N (i/N, 1-based; a stable hash of the student id)")
    batch.add_argument("--force", action="store_true", help="regrade submissions already graded")
    batch.add_argument("--gradebook", help="nbgrader gradebook to compare scores with (default: ./gradebook.db "
                                           "when present)")
    batch.add_argument("--timeout", type=float, help="a flat wall-clock limit in seconds per check, cells included "
                       "(default: 50× the reference solution's own time on this machine, at least 5 s for "
                       "the cells and 2 s per check: autograder/timing.py)")
    batch.add_argument("--trust-submissions", action="store_true", help=TRUST_HELP)
    merge = sub.add_parser("merge-csv", help="merge the CSVs written by grade-all shards")
    merge.add_argument("paths", nargs="+", help="the CSVs grade-all wrote, one per shard")
    merge.add_argument("--out", default="sandbox-grades.csv",
                       help="merged CSV (default: %(default)s). An existing file that grade-all or merge-csv did "
                            "not write is refused unless --overwrite")
    merge.add_argument("--totals", default="sandbox-totals.csv",
                       help="course totals of the merged rows (default: %(default)s; same overwrite rule as --out)")
    merge.add_argument("--overwrite", action="store_true",
                       help="replace --out/--totals even when another command wrote them")
    sync = sub.add_parser("sync-gradebook", help="set gradebook.db's scores to the sandboxed grader's verdicts "
                                                 "(after `nbgrader autograde` by hand or from Formgrader)")
    sync.add_argument("assignment", nargs="?", default=None,
                      help="assignment id (default: every assignment with notebooks in submitted/)")
    sync.add_argument("--student", action="append", dest="students",
                      help="only this student (repeatable; default: everyone in submitted/)")
    sync.add_argument("--trust-submissions", action="store_true",
                      help="grade without a sandbox when none can be made on this machine (only if you trust "
                           "every submission)")
    args = parser.parse_args(argv)

    if args.command == "grade-all":
        from autograder import batch as batching
        try:
            return batching.main(args.directory, jobs=args.jobs, out=args.out, results_dir=args.results_dir,
                                 shard=args.shard, force=args.force, gradebook=args.gradebook,
                                 timeout=args.timeout, trust=args.trust_submissions, overwrite=args.overwrite,
                                 assignment=args.assignments, totals=args.totals)
        except ValueError as e:
            print(f"grade-all: {e}", file=sys.stderr)
            return 2
    if args.command == "merge-csv":
        from autograder import batch as batching
        try:
            return batching.merge_main(args.paths, args.out, overwrite=args.overwrite, totals=args.totals)
        except ValueError as e:
            print(f"merge-csv: {e}", file=sys.stderr)
            return 2

    if args.command == "sync-gradebook":
        from autograder import nbgrader_run
        return nbgrader_run.sync_main(args.assignment, args.students, trust=args.trust_submissions)

    if args.command == "grade":
        from autograder import grade as grading
        from autograder.protocol import clean_text, safe_str
        try:
            return grading.main(args.path, args.json_out, trust=args.trust_submissions, assignment=args.assignment)
        except UnknownAssignment as e:
            print(f"grade: {e}", file=sys.stderr)
            return 2
        except InvalidSubmission as e:
            print(" ".join(clean_text(f"cannot grade {args.path}: {e}").split()), file=sys.stderr)
            return 2
        except IsolationUnavailable as e:
            print(" ".join(safe_str(e, 1000).split()), file=sys.stderr)
            return 2
        except OSError as e:                 # results.json cannot be written where --json says
            print(clean_text(f"grade: {type(e).__name__}: {safe_str(e)}"), file=sys.stderr)
            return 2
    from autograder import nbgrader_run
    return nbgrader_run.main(args.submissions, with_pytest=not args.no_pytest, trust=args.trust_submissions,
                             overwrite=args.overwrite, only=args.assignments)


if __name__ == "__main__":
    sys.exit(main())
