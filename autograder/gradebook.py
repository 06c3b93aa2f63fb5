"""Record the sandboxed verdicts in nbgrader's gradebook, so no recorded grade comes from the student's kernel.

``nbgrader autograde`` runs each hidden test cell in the student's own kernel, where the student's
code can monkeypatch anything (``run_check`` itself, numpy's comparisons, builtins), and writes the
cells' pass/fail into ``gradebook.db`` as ``Grade.auto_score``. This module overwrites every
auto-graded test cell's ``auto_score`` with the verdict of the sandboxed grader (the pytest path's
checks: ``Submission.grade_all``, judged in the grading process), through nbgrader's own API, so
everything that reads the gradebook afterwards (``nbgrader generate_feedback``, ``nbgrader export``,
Formgrader) shows the sandbox's score.

Why ``auto_score`` and not ``manual_score``: ``auto_score`` is the autograder's field, the one
``nbgrader autograde`` writes and the one this replaces; ``manual_score`` is the human grader's
override (Formgrader shows it as such and lets it win over ``auto_score``). Writing the sandbox's
verdict there would erase or impersonate instructors' overrides, and a later ``nbgrader autograde``
would flag every cell "needs manual grade". So an instructor's override still wins (it is a human
decision, not the student's process), and the sync reports every override it leaves standing.

Cells graded by hand (a markdown answer cell marked grade + solution, or a task cell) are not
auto-graded: the sync skips them, so a score an instructor gives them in Formgrader is never touched,
and ``nbgrader export`` adds it to the automatic points. Only a *code* grade cell must call run_check.

Nothing here names an assignment: the assignment id, notebook name and student are parameters, and
which check a grade cell stands for is read from the cell's source as nbgrader stored it
(``run_check("<check>", globals())`` in its hidden block).
"""
import os
import re
import sys
from dataclasses import dataclass, field

from autograder import assignments

RUN_CHECK = re.compile(r"""run_check\(\s*["'](\w+)["']""")


def gradebook_url(path_or_url):
    """An SQLAlchemy URL for a gradebook given as a URL (``sqlite:///...``) or a file path."""
    if "://" in path_or_url:
        return path_or_url
    return f"sqlite:///{os.path.abspath(path_or_url)}"


def open_gradebook(path_or_url, course_id):
    """nbgrader's Gradebook (use it as a context manager). nbgrader's migrations call `alembic` from
    PATH, so the running interpreter's bin folder (the virtualenv's) is put on PATH first."""
    from nbgrader.api import Gradebook
    bin_dir = os.path.dirname(sys.executable)
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    return Gradebook(gradebook_url(path_or_url), course_id=course_id)


class SyncError(Exception):
    """The gradebook does not match the grading rule (a grade cell without a check, points that differ):
    nothing was written."""


def cells_to_checks(gb, assignment, notebook, checks=None):
    """{grade cell name: check name} for the notebook's auto-graded cells, from their stored source.

    Every code grade cell must call run_check on exactly one known check with the check's points, and
    every check must have exactly one cell; otherwise SyncError (a cell left out would keep the kernel's
    score). Hand-graded cells (manual_cells) are not in the mapping.
    """
    from nbgrader.api import MissingEntry
    checks = assignments.get(assignment).checks if checks is None else checks
    try:
        nb = gb.find_notebook(notebook, assignment)
    except MissingEntry:
        raise SyncError(f"{assignment}/{notebook} is not in the gradebook: run `nbgrader generate_assignment "
                        f"{assignment}` first") from None
    mapping, problems = {}, []
    for cell in nb.grade_cells:
        if cell.cell_type == "markdown":
            continue                # a written answer, graded by hand in Formgrader

        try:
            source = gb.find_source_cell(cell.name, notebook, assignment).source
        except Exception:  # noqa: BLE001 - MissingEntry: a grade cell nbgrader stored no source for
            source = ""
        names = RUN_CHECK.findall(source)
        if len(names) != 1 or names[0] not in checks:
            problems.append(f"grade cell '{cell.name}' calls run_check on {names or 'no check'}")
        elif cell.max_score != checks[names[0]].points:
            problems.append(f"grade cell '{cell.name}' is worth {cell.max_score:g} points, "
                            f"check '{names[0]}' {checks[names[0]].points}")
        else:
            mapping[cell.name] = names[0]
    twice = sorted({c for c in mapping.values() if list(mapping.values()).count(c) > 1})
    missing = sorted(set(checks) - set(mapping.values()))
    if twice:
        problems.append(f"checks graded by more than one cell: {twice}")
    if missing:
        problems.append(f"checks with no grade cell: {missing}")
    if problems:
        raise SyncError(f"{assignment}/{notebook}: " + "; ".join(problems))
    return mapping


def _grade_rows(gb, assignment, student=None):
    """[(Grade, student id, grade cell, notebook)] of every grade of the assignment (of one student)."""
    from nbgrader.api import Assignment, Grade, GradeCell, Notebook, Student, SubmittedAssignment, SubmittedNotebook
    query = (gb.db.query(Grade, Student.id, GradeCell.name, Notebook.name)
             .join(GradeCell, GradeCell.id == Grade.cell_id)
             .join(SubmittedNotebook, SubmittedNotebook.id == Grade.notebook_id)
             .join(Notebook, Notebook.id == SubmittedNotebook.notebook_id)
             .join(SubmittedAssignment, SubmittedAssignment.id == SubmittedNotebook.assignment_id)
             .join(Assignment, Assignment.id == SubmittedAssignment.assignment_id)
             .join(Student, Student.id == SubmittedAssignment.student_id)
             .filter(Assignment.name == assignment))
    if student is not None:
        query = query.filter(Student.id == student)
    return query.all()


HUMAN_FIELDS = ("manual_score", "extra_credit")          # what only a human writes (Formgrader)
NBGRADER_FIELDS = ("auto_score", "needs_manual_grade")   # what nbgrader autograde writes


def put_back(grade, fields, wanted):
    """Set `grade`'s `fields` to the values `wanted` where they differ. Returns ({field: found}, {field:
    put back}) of the fields it changed ({}, {} when none)."""
    found, put = {}, {}
    for name, value in zip(fields, wanted):
        if getattr(grade, name) != value:
            found[name], put[name] = getattr(grade, name), value
            setattr(grade, name, value)
    return found, put


def snapshot_overrides(gb, assignment):
    """{(student, grade cell, notebook): (manual_score, extra_credit)} for every grade of the assignment.

    Taken before `nbgrader autograde` runs, it lets the sync put back the human fields exactly as
    they were: a student's kernel runs with the instructor's file permissions and could write them."""
    return {(student, cell, nb): (grade.manual_score, grade.extra_credit)
            for grade, student, cell, nb in _grade_rows(gb, assignment)}


def snapshot_auto(gb, assignment, student=None):
    """{(student, grade cell, notebook): (auto_score, needs_manual_grade)} of the assignment's grades (of one
    student): nbgrader's own fields, as they stand now. Taken before any kernel runs for the students
    outside the run, and right after each student's own `nbgrader autograde` for theirs (a later kernel
    could rewrite them: on a hand-graded answer, nbgrader's auto_score counts when no manual score exists)."""
    return {(who, cell, nb): (grade.auto_score, grade.needs_manual_grade)
            for grade, who, cell, nb in _grade_rows(gb, assignment, student)}


def restore_untouched(gb, snapshots, synced, autos=None):
    """Put back every grade of a submission *not* synced in this run ({(student, assignment)}): its manual
    score and extra credit to `snapshots` ({assignment: snapshot_overrides()}), and, when `autos` is given
    ({assignment: snapshot_auto()}, all taken before autograde), its auto score and review flag: any
    student's kernel could have written any row. Returns [(student, assignment, grade cell, found, put
    back)] with {field: value} for the fields it changed (see put_back); commits."""
    changes = []
    for assignment, snapshot in snapshots.items():
        before = (autos or {}).get(assignment)
        for grade, student, cell, nb in _grade_rows(gb, assignment):
            if (student, assignment) in synced:
                continue
            found, put = put_back(grade, HUMAN_FIELDS, snapshot.get((student, cell, nb), (None, None)))
            if before is not None and (student, cell, nb) in before:
                more_found, more_put = put_back(grade, NBGRADER_FIELDS, before[(student, cell, nb)])
                found, put = {**found, **more_found}, {**put, **more_put}
            if put:
                changes.append((student, assignment, cell, found, put))
    gb.db.commit()
    return changes


@dataclass
class SyncReport:
    """What the sync did for one student."""
    student: str
    score: float | None                 # the recorded score now (None: a cell has no verdict, left for manual grading)
    max_score: float
    before: dict                        # {grade cell: auto_score before the sync} (None: nothing recorded)
    after: dict                         # {grade cell: auto_score written}
    created: bool = False               # the sync created the student's submission in the gradebook
    overrides: dict = field(default_factory=dict)   # {grade cell: manual_score}: a human override that wins
    restored: dict = field(default_factory=dict)    # {grade cell: ({field: found}, {field: put back})}
    checks: dict = field(default_factory=dict)      # {grade cell: the check it records}
    manual: dict = field(default_factory=dict)      # {hand-graded cell: its score, None while nobody graded it}
    manual_max: float = 0                           # the points of the hand-graded cells

    @property
    def auto_score(self):
        """The automatic points recorded now (None when a cell has no verdict)."""
        if any(v is None for v in self.after.values()):
            return None
        return sum(self.after.values())

    @property
    def manual_pending(self):
        """Hand-graded cells nobody has scored yet (Formgrader lists them as needing a manual grade)."""
        return sorted(cell for cell, value in self.manual.items() if value is None)

    @property
    def previous_score(self):
        """The auto-graded total before the sync (in nbgrader-run: the in-kernel verdict); None if absent."""
        if not self.before or any(v is None for v in self.before.values()):
            return None
        return sum(self.before.values())

    @property
    def unscored(self):
        """Grade cells left without a score (no sandboxed verdict): Formgrader flags them for manual grading."""
        return sorted(cell for cell, value in self.after.items() if value is None)

    @property
    def changed(self):
        """Grade cells whose recorded auto_score the sync changed (a kernel verdict the sandbox overruled)."""
        return sorted(cell for cell in self.after if self.before.get(cell) != self.after[cell])


def _points(results):
    """{check: points or None} from a {check: points} dict or [CheckResult] (a check the grader itself
    failed on, status "error", has no verdict: None)."""
    if isinstance(results, dict):
        return dict(results)
    return {r.name: None if getattr(r, "status", "") == "error" else r.points for r in results}


def sync_scores(gradebook, assignment, notebook, student, results, *, course_id, overrides=None, answers=None):
    """Set every auto-graded cell of `student`'s `notebook` in `assignment` to the sandbox's verdict.

    gradebook: a path, an SQLAlchemy URL, or an open nbgrader Gradebook.
    results: the sandboxed verdict, {check: points} or [CheckResult] (Submission.grade_all); None when
        there is no verdict (a grader error), and None for a check without one: those cells are cleared
        (auto_score None, "needs manual grade") so the kernel's verdict does not stand.
    overrides: a snapshot_overrides() taken before autograde: manual_score and extra_credit are put back
        to it (None for grades absent from it). Without it they are left as they are and reported.
    answers: a snapshot_auto() of this student taken right after their own autograde: the auto_score
        nbgrader gave each hand-graded answer is put back to it (a later kernel may have changed it).

    The student and their submission are created when nbgrader recorded none. Returns a SyncReport.
    The verdict is checked before anything is written, and the cells are written in one transaction.
    """
    if not hasattr(gradebook, "find_grade"):
        with open_gradebook(gradebook, course_id) as gb:
            return sync_scores(gb, assignment, notebook, student, results, course_id=course_id,
                               overrides=overrides, answers=answers)
    from nbgrader.api import MissingEntry
    gb = gradebook
    mapping = cells_to_checks(gb, assignment, notebook)
    points = None if results is None else _points(results)
    if points is not None:
        lacking = sorted(set(mapping.values()) - set(points))
        if lacking:
            raise SyncError(f"no sandboxed verdict for checks {lacking} of student '{student}'")
        wrong = [c for c in mapping.values() if points[c] is not None and not 0 <= points[c] <= assignments.get(assignment).checks[c].points]
        if wrong:
            raise SyncError(f"verdicts out of range for checks {wrong} of student '{student}'")
    created = False
    try:
        gb.find_student(student)
    except MissingEntry:
        gb.add_student(student)
    try:
        gb.find_submission(assignment, student)
    except MissingEntry:
        with gb.db.no_autoflush:          # as nbgrader's own callers: no half-built rows flushed early
            gb.add_submission(assignment, student)
        created = True
    nb = gb.find_submission_notebook(notebook, assignment, student)
    try:
        before, after, kept, restored, manual, manual_max = {}, {}, {}, {}, {}, 0.0
        for grade in nb.grades:
            name = grade.name
            if name not in mapping:
                # hand-graded: only a human writes it. What a kernel wrote during autograde is put back to
                # the snapshot (None for a new submission); its score as nbgrader counts it: the
                # instructor's, else nbgrader's own 0 for an answer left as released, else None (Formgrader:
                # needs grading)
                found, put = ({}, {}) if overrides is None else put_back(
                    grade, HUMAN_FIELDS, overrides.get((student, name, notebook), (None, None)))
                if answers is not None and (student, name, notebook) in answers:
                    more_found, more_put = put_back(grade, ("auto_score",), answers[(student, name, notebook)][:1])
                    found, put = {**found, **more_found}, {**put, **more_put}
                if put:
                    restored[name] = (found, put)
                    # nbgrader's own rule (SaveAutoGrades), as for the auto-graded cells below
                    grade.needs_manual_grade = grade.manual_score is not None or grade.auto_score is None
                manual[name] = grade.manual_score if grade.manual_score is not None else grade.auto_score
                manual_max += grade.max_score or 0
                continue
            before[name] = grade.auto_score
            verdict = None if points is None else points[mapping[name]]
            grade.auto_score = None if verdict is None else float(verdict)
            after[name] = grade.auto_score
            if overrides is not None:
                found, put = put_back(grade, HUMAN_FIELDS, overrides.get((student, name, notebook), (None, None)))
                if put:
                    restored[name] = (found, put)
            if grade.manual_score is not None:
                kept[name] = grade.manual_score
            # as nbgrader's SaveAutoGrades: a cell needs a human when a human override exists or no score does
            grade.needs_manual_grade = grade.manual_score is not None or grade.auto_score is None
        if set(after) != set(mapping):
            raise SyncError(f"student '{student}' has no grade for cells {sorted(set(mapping) - set(after))}")
        gb.db.commit()
    except BaseException:
        gb.db.rollback()
        raise
    gb.db.refresh(nb)
    unscored = any(v is None for v in after.values())
    return SyncReport(student, None if unscored else nb.score, nb.max_score, before, after, created,
                      kept, restored, mapping, manual, manual_max)

