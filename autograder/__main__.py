"""Command line of the course's grader.

    python -m autograder grade PATH.ipynb [--json results.json]   # pytest path, one notebook
    python -m autograder nbgrader-run [--submissions DIR]         # release + nbgrader autograde of a class
    python -m autograder grade-all DIR [--jobs N] [--shard i/N]   # sandboxed, parallel, resumable batch grading
    python -m autograder merge-csv A.csv B.csv ... --out grades.csv  # merge the CSVs of grade-all shards
"""
import argparse
import os
import sys

from autograder.submission import InvalidSubmission


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    grade = sub.add_parser("grade", help="grade one notebook with the hidden pytest suite")
    grade.add_argument("path")
    grade.add_argument("--json", dest="json_out", help="write Gradescope's results.json here")
    run = sub.add_parser("nbgrader-run", help="generate the release, autograde every submission with nbgrader, "
                                              "write feedback and grades.csv, print a grade table")
    run.add_argument("--submissions", default="examples/submissions",
                     help="folder of <student>.ipynb files, or of <student>/mlp/mlp.ipynb (default: %(default)s)")
    run.add_argument("--no-pytest", action="store_true", help="skip the pytest-path column of the table")
    batch = sub.add_parser("grade-all", help="grade every DIR/<student>/mlp/*.ipynb in parallel sandboxes "
                                             "(resumable; see autograder/batch.py)")
    batch.add_argument("directory")
    batch.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="parallel workers (default: cores)")
    batch.add_argument("--out", default="grades.csv", help="CSV of scores and statuses (default: %(default)s)")
    batch.add_argument("--results-dir", default="results",
                       help="where <student>/results.json go (default: %(default)s)")
    batch.add_argument("--shard", help="grade only shard i of N (i/N, 1-based; a stable hash of the student id)")
    batch.add_argument("--force", action="store_true", help="regrade students already graded")
    batch.add_argument("--gradebook", help="nbgrader gradebook to compare scores with (default: ./gradebook.db "
                                           "when present)")
    batch.add_argument("--timeout", type=float, help="wall-clock seconds per check (default: 20)")
    merge = sub.add_parser("merge-csv", help="merge the CSVs written by grade-all shards")
    merge.add_argument("paths", nargs="+")
    merge.add_argument("--out", default="grades.csv")
    args = parser.parse_args(argv)

    if args.command == "grade-all":
        from autograder import batch as batching
        try:
            return batching.main(args.directory, jobs=args.jobs, out=args.out, results_dir=args.results_dir,
                                 shard=args.shard, force=args.force, gradebook=args.gradebook,
                                 timeout=args.timeout)
        except ValueError as e:
            print(f"grade-all: {e}", file=sys.stderr)
            return 2
    if args.command == "merge-csv":
        from autograder import batch as batching
        try:
            return batching.merge_main(args.paths, args.out)
        except ValueError as e:
            print(f"merge-csv: {e}", file=sys.stderr)
            return 2

    if args.command == "grade":
        from autograder import grade as grading
        try:
            return grading.main(args.path, args.json_out)
        except InvalidSubmission as e:
            print(f"cannot grade {args.path}: {e}", file=sys.stderr)
            return 2
    from autograder import nbgrader_run
    return nbgrader_run.main(args.submissions, with_pytest=not args.no_pytest)


if __name__ == "__main__":
    sys.exit(main())
