"""Command line of the course's grader.

    python -m autograder grade PATH.ipynb [--json results.json]   # pytest path, one notebook
    python -m autograder nbgrader-run [--submissions DIR]         # release + nbgrader autograde of a class
"""
import argparse
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
    args = parser.parse_args(argv)

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
