"""grade-all over the whole course: a class of 3 students x 2 assignments, in the real sandbox.

ann submits both solutions (the instructor's source notebooks: full marks), ben both releases (blank: 0),
cat only mlp's solution (multiclass is `missing`: 0 in the totals, no row in the CSV). The sandbox grades
the auto-graded checks only: multiclass's max_score is 80 (its 20 hand-graded points are Formgrader's).
"""
import contextlib
import csv
import io
import json
import os
import shutil
import sys

import pytest

from autograder import assignments, batch

pytestmark = pytest.mark.slow

MLP, MC = assignments.get("mlp"), assignments.get("multiclass")
CLASS = {"ann": {"mlp": MLP.source_notebook, "multiclass": MC.source_notebook},
         "ben": {"mlp": MLP.release_notebook, "multiclass": MC.release_notebook},
         "cat": {"mlp": MLP.source_notebook}}


def make_course_class(directory):
    """DIR/<student>/<assignment>/<notebook>.ipynb from CLASS."""
    for student, submitted in CLASS.items():
        for assignment, notebook in submitted.items():
            folder = os.path.join(directory, student, assignment)
            os.makedirs(folder)
            shutil.copy(notebook, folder)
    return str(directory)


def run(tmp_path, directory, capsys=None, **options):
    """batch.main in cwd tmp_path (no stray ./gradebook.db), 2 workers; (exit status, stdout)."""
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        options = {"results_dir": "results", **options}
        code = batch.main(str(directory), jobs=2, **options)
    finally:
        os.chdir(cwd)
    return code, capsys.readouterr().out if capsys else ""


def read_rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def stamps(results):
    return {(a, s): os.stat(os.path.join(results, a, s, "results.json")).st_mtime_ns
            for a in os.listdir(results) for s in os.listdir(os.path.join(results, a))}


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """One grade-all run over the class (every assignment, default --out and --totals)."""
    root = tmp_path_factory.mktemp("course")
    directory = make_course_class(root / "class")
    cwd, out = os.getcwd(), io.StringIO()
    os.chdir(root)
    try:
        with contextlib.redirect_stdout(out):
            code = batch.main(directory, jobs=2, results_dir="results")
    finally:
        os.chdir(cwd)
    return {"root": root, "directory": directory, "code": code, "out": out.getvalue(),
            "rows": read_rows(root / "sandbox-grades.csv"), "totals": read_rows(root / "sandbox-totals.csv"),
            "stamps": stamps(str(root / "results"))}


def test_one_row_per_student_and_assignment_submitted(course):
    assert course["code"] == 0
    got = [(r["student"], r["assignment"], r["score"], r["max_score"], r["status"]) for r in course["rows"]]
    assert got == [("ann", "mlp", "100", "100", "graded"), ("ann", "multiclass", "80", "80", "graded"),
                   ("ben", "mlp", "0", "100", "graded"), ("ben", "multiclass", "0", "80", "graded"),
                   ("cat", "mlp", "100", "100", "graded")]
    assert all(r["isolation"] for r in course["rows"])
    with open(course["root"] / "sandbox-grades.csv") as f:
        assert f.readline().strip() == ",".join(batch.CSV_FIELDS)


def test_course_totals_count_the_missing_assignment_as_zero(course):
    with open(course["root"] / "sandbox-totals.csv") as f:
        assert f.readline().strip() == "student,mlp,multiclass,total,max_total,missing"
    assert course["totals"] == [
        {"student": "ann", "mlp": "100", "multiclass": "80", "total": "180", "max_total": "180", "missing": ""},
        {"student": "ben", "mlp": "0", "multiclass": "0", "total": "0", "max_total": "180", "missing": ""},
        {"student": "cat", "mlp": "100", "multiclass": "", "total": "100", "max_total": "180",
         "missing": "multiclass"}]


def test_the_summary_gives_each_assignment_and_the_totals(course):
    out = course["out"]
    assert "mlp: 3 submission(s), 3 graded; mean score of the graded: 66.7 / 100" in out
    assert ("multiclass: 2 submission(s), 2 graded; mean score of the graded: 40.0 / 80 "
            "(+20 points graded by hand in Formgrader, not in these scores)") in out
    assert "3 student(s) with a course total (1 missing some assignment, counted 0)" in out
    assert "graded now: 5, already graded (resumed): 0" in out


def test_results_go_to_results_assignment_student(course):
    results = course["root"] / "results"
    assert sorted(course["stamps"]) == [("mlp", "ann"), ("mlp", "ben"), ("mlp", "cat"),
                                        ("multiclass", "ann"), ("multiclass", "ben")]
    for assignment, student in course["stamps"]:
        with open(results / assignment / student / "results.json") as f:
            record = json.load(f)
        assert (record["assignment"], record["student"], record["status"]) == (assignment, student, "graded")
        assert record["grader_sha256"] == batch.grader_sha256(assignment)
        assert record["max_score"] == assignments.get(assignment).max_score
        assert len(record["tests"]) == len(assignments.get(assignment).checks)


def test_a_second_run_grades_nothing(course, capsys):
    code, out = run(course["root"], course["directory"], capsys, out="again.csv", totals="again-totals.csv")
    assert code == 0 and "graded now: 0, already graded (resumed): 5" in out
    assert stamps(str(course["root"] / "results")) == course["stamps"]
    assert read_rows(course["root"] / "again.csv") == course["rows"]
    assert read_rows(course["root"] / "again-totals.csv") == course["totals"]


def test_assignment_option_grades_only_that_assignment(course, tmp_path, capsys):
    code, out = run(tmp_path, course["directory"], capsys, assignment=["mlp"])
    assert code == 0 and "graded now: 3, already graded (resumed): 0" in out and "multiclass" not in out
    assert os.listdir(tmp_path / "results") == ["mlp"]
    assert {r["assignment"] for r in read_rows(tmp_path / "sandbox-grades.csv")} == {"mlp"}
    assert [(r["student"], r["total"], r["max_total"], r["missing"]) for r in read_rows(tmp_path / "sandbox-totals.csv")] \
        == [("ann", "100", "100", ""), ("ben", "0", "100", ""), ("cat", "100", "100", "")]


def test_shards_partition_the_units_by_student_and_merge_to_the_full_run(course, capsys):
    """Shards of the graded class (resumed: nothing is regraded); each student's units in one shard."""
    root, shards = course["root"], []
    for i in (1, 2):
        code, out = run(root, course["directory"], capsys, shard=f"{i}/2", out=f"shard-{i}.csv",
                        totals=f"shard-{i}-totals.csv")
        assert code == 0 and "graded now: 0" in out
        shards.append(read_rows(root / f"shard-{i}.csv"))
    students = [{r["student"] for r in rows} for rows in shards]
    assert not students[0] & students[1] and students[0] | students[1] == set(CLASS)
    for rows in shards:
        for row in rows:
            assert batch.shard_of(row["student"], 2) == shards.index(rows) + 1
    assert sorted((r["student"], r["assignment"]) for rows in shards for r in rows) == \
        [(r["student"], r["assignment"]) for r in course["rows"]]
    assert batch.merge_main([str(root / "shard-1.csv"), str(root / "shard-2.csv")], str(root / "merged.csv"),
                            totals=str(root / "merged-totals.csv")) == 0
    assert "merged 2 file(s): 5 submission(s) of 3 student(s)" in capsys.readouterr().out
    assert read_rows(root / "merged.csv") == course["rows"]
    assert read_rows(root / "merged-totals.csv") == course["totals"]


def make_gradebook(path):
    """A gradebook of both assignments as nbgrader would hold them after autograde + manual grading: mlp
    (one code cell of 100), multiclass (a code cell of 80 and a hand-graded markdown cell of 20)."""
    bin_dir = os.path.dirname(sys.executable)
    os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{path}") as gb:
        gb.add_assignment("mlp")
        gb.add_notebook("mlp", "mlp")
        gb.add_grade_cell("test_all", "mlp", "mlp", max_score=100, cell_type="code")
        gb.add_assignment("multiclass")
        gb.add_notebook("multiclass", "multiclass")
        gb.add_grade_cell("test_all_mc", "multiclass", "multiclass", max_score=80, cell_type="code")
        gb.add_grade_cell("answer", "multiclass", "multiclass", max_score=20, cell_type="markdown")
        scores = {("ann", "mlp"): 100, ("ben", "mlp"): 40, ("cat", "mlp"): 100, ("ann", "multiclass"): 80}
        for student in CLASS:
            gb.add_student(student)
        for (student, assignment), score in scores.items():
            gb.add_submission(assignment, student)
            cell = "test_all" if assignment == "mlp" else "test_all_mc"
            gb.find_grade(cell, assignment, assignment, student).auto_score = score
        gb.find_grade("answer", "multiclass", "multiclass", "ann").manual_score = 17   # Formgrader's points
        gb.db.commit()


@pytest.mark.filterwarnings("ignore::Warning")
def test_the_gradebook_is_compared_per_student_and_assignment_on_auto_graded_points(course, capsys):
    root = course["root"]
    make_gradebook(str(root / "gradebook.db"))
    code, out = run(root, course["directory"], capsys, out="compared.csv", totals="compared-totals.csv")
    assert code == 0
    assert "nbgrader gradebook gradebook.db: 4 of 5 submission(s) compared (auto-graded points), " \
           "1 whose scores differ (a tampering signal)" in out
    assert "  ben/mlp: grade-all 0, nbgrader 40" in out and "ann/multiclass:" not in out   # 80 = 80: the 17 is manual
    got = {(r["student"], r["assignment"]): r["nbgrader_score"] for r in read_rows(root / "compared.csv")}
    assert got == {("ann", "mlp"): "100", ("ann", "multiclass"): "80", ("ben", "mlp"): "40",
                   ("ben", "multiclass"): "", ("cat", "mlp"): "100"}
    os.remove(root / "gradebook.db")
