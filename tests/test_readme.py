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


def test_grading_installs_torch_cpu_build_before_anything_that_pins_torch():
    """A pinned torch from PyPI is a multi-GB CUDA build: the grade-class workflow installs the CPU build
    from PyTorch's index first, in every job that installs requirements-grading.txt (which pins torch)."""
    assert any(line.strip() == "torch==2.13.0" for line in open(os.path.join(ROOT, "requirements-grading.txt")))
    workflow = open(os.path.join(ROOT, ".github", "workflows", "grade-class.yml")).read()
    installs = workflow.count("pip install -r requirements-grading.txt")
    assert installs == 2
    for part in workflow.split("pip install -r requirements-grading.txt")[:-1]:
        before = part.rsplit("\n", 2)[-2]          # the line before this install, in the same command
        assert "pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu" in before
