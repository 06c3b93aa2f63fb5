"""The README's two commands are the ones CI and the course actually run."""
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def readme_commands():
    lines = open(os.path.join(ROOT, "README.md")).read().splitlines()
    return [line.strip() for line in lines[:12] if line.startswith("    ")]


def test_readme_opens_with_the_main_and_the_test_command():
    main, tests = readme_commands()
    assert main.endswith("python -m autograder nbgrader-run")
    assert tests.endswith("python -m pytest")
    assert main.split(" && ")[:2] == tests.split(" && ")[:2], "both set up the same way"


def test_ci_runs_the_readme_test_command():
    ci = open(os.path.join(ROOT, ".ci", "run")).read().splitlines()
    assert readme_commands()[1] in ci
