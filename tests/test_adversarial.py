"""The adversarial corpus (tests/adversarial/corpus.py), graded in one batch with honest neighbours.

Each hostile case must get exactly the grade its honest content deserves (100 minus the points of
the checks in ``fails``), the expected status and a readable reason; the honest submissions must
get the same grade next to the hostile ones as alone; nothing a case starts may outlive grading;
and no case can write the results or change a file outside its own results (the class folder,
the results folder and the repository are snapshotted before and after).

As root the sandbox runs as uids 60000-60999; run by an ordinary user (tests/test_unprivileged.py
runs this module as one when CI is root) it runs as that user, in a user namespace.
"""
import csv
import hashlib
import json
import os
import stat
import subprocess
import time

import pytest

from autograder import batch
from autograder.assignments.mlp.checks import CHECKS
from autograder.sandbox import ForkServer, Limits
from autograder.submission import Submission
from tests.adversarial.corpus import CASES, ROOT

LIMITS = Limits(wall_seconds=6)          # the endless loops cost 6 s per affected check, not 20 (and a
#                                         loaded CI machine still fills the memory limit well within it)


def deserved(case):
    return 0 if case.fails is None else 100 - sum(CHECKS[name].points for name in case.fails)


def _processes():
    """{pid: (uid, ppid, state)} of every process now."""
    found = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            uid = os.stat(f"/proc/{pid}").st_uid
            with open(f"/proc/{pid}/stat") as f:
                state, ppid = f.read().rsplit(")", 1)[1].split()[:2]
        except (OSError, ValueError, IndexError):
            continue
        found[int(pid)] = (uid, int(ppid), state)
    return found


def _ancestors():
    pids, pid = set(), os.getpid()
    while pid > 1:
        pids.add(pid)
        try:
            with open(f"/proc/{pid}/stat") as f:
                pid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError):
            break
    return pids


def orphans_of_sandbox_uids(settle_seconds=3.0, before=None):
    """Live processes a grader failed to clean up: as root, a process of a sandbox uid whose parent
    is init; as an ordinary user, a process of this user that was not running before grading
    (`before`), is not this test or an ancestor of it, and whose parent is init.

    A process the grader has just SIGKILLed may still be exiting (or be a zombie waiting for
    init to reap it): it is dead, so zombies are ignored and the scan is repeated for a moment.
    """
    me, mine = os.geteuid(), _ancestors()
    deadline = time.monotonic() + settle_seconds
    while True:
        found = []
        for pid, (uid, ppid, state) in _processes().items():
            if state in ("Z", "X") or ppid != 1:
                continue
            if me == 0 and 60000 <= uid < 61000:
                found.append(pid)
            elif me != 0 and uid == me and pid not in mine and pid not in (before or {}):
                found.append(pid)
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def snapshot_tree(top):
    """{relative path: what it is} for everything under `top` (never following a symlink)."""
    found = {}
    if not os.path.lexists(top):
        return found
    for folder, dirs, files in os.walk(top):
        for name in dirs + files:
            path = os.path.join(folder, name)
            info = os.lstat(path)
            if stat.S_ISLNK(info.st_mode):
                what = ("link", os.readlink(path))
            elif stat.S_ISREG(info.st_mode):
                with open(path, "rb") as f:
                    what = ("file", oct(info.st_mode), info.st_nlink, hashlib.sha256(f.read()).hexdigest())
            else:
                what = ("other", oct(info.st_mode))
            found[os.path.relpath(path, top)] = what
    return found


def snapshot_repository():
    """({file: sha256} of the repository's tracked files (every file but hidden folders and caches
    when it is not a git checkout, e.g. tests/test_unprivileged.py's copy), names at its top)."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True)
    if listed.returncode == 0 and os.path.isdir(os.path.join(ROOT, ".git")):
        names = list(filter(None, listed.stdout.decode().split("\0")))
    else:
        names = []
        for folder, dirs, files in os.walk(ROOT):
            dirs[:] = [d for d in dirs if not d.startswith(".") and d != "__pycache__"]
            names += [os.path.relpath(os.path.join(folder, f), ROOT) for f in files]
    found = {}
    for name in names:
        try:
            with open(os.path.join(ROOT, name), "rb") as f:
                found[name] = hashlib.sha256(f.read()).hexdigest()
        except OSError:
            found[name] = None
    return found, set(os.listdir(ROOT))


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Grade the whole corpus in one batch (2 workers): {case: (record, per-check results)}."""
    from tests.adversarial.corpus import write_corpus
    root = tmp_path_factory.mktemp("adversarial")
    results_dir = str(root / "results")
    # the fake_results attack aims at where grade-all writes this assignment's results
    write_corpus(str(root / "class"), os.path.join(results_dir, "mlp"), str(root / "outside"))
    before = {"class": snapshot_tree(root / "class"), "outside": snapshot_tree(root / "outside"),
              "repository": snapshot_repository(), "tmp": set(os.listdir("/tmp")), "processes": set(_processes())}
    students = batch.find_units(str(root / "class"), ["mlp"])
    started = time.monotonic()
    records, skipped = batch.grade_class(students, results_dir, jobs=2, limits=LIMITS)
    seconds = time.monotonic() - started
    orphans = orphans_of_sandbox_uids(before=before["processes"])
    after = {"class": snapshot_tree(root / "class"), "outside": snapshot_tree(root / "outside"),
             "repository": snapshot_repository(), "tmp": set(os.listdir("/tmp"))}
    rows = batch.csv_rows(records)
    batch.write_csv_atomically(rows, str(root / "grades.csv"))
    with open(root / "grades.csv", newline="") as f:
        table = {row["student"]: row for row in csv.DictReader(f)}
    print(f"graded {len(records)} submissions in {seconds:.1f} s")
    records = {student: record for (student, _), record in records.items()}     # one assignment: mlp
    return {"records": records, "table": table, "root": root, "orphans": orphans, "before": before,
            "after": after, "results": snapshot_tree(os.path.join(results_dir, "mlp")), "students": students}


def _expected(case, record):
    """(status, score, fails, reason) the case deserves (or one of its `also` alternatives). link_victim's
    notebook has a second name in the class (link_hardlink_neighbour): the grader may grade it, or
    refuse it as a hard link."""
    if case.name == "link_victim" and record["status"] == "invalid":
        return "invalid", 0, None, "hard link"
    for status, reason in case.also:
        if record["status"] == status:
            return status, deserved(case), case.fails, reason
    return case.status, deserved(case), case.fails, case.reason


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_each_case_gets_what_its_honest_content_deserves(graded, case):
    record, row = graded["records"][case.name], graded["table"][case.name]
    status, score, fails, reason = _expected(case, record)
    failed = {t["name"] for t in record["tests"] if t["status"] == "failed"}
    assert (record["status"], record["score"]) == (status, score), (row["reason"], sorted(failed))
    assert row["status"] == status and row["score"] == f"{score:g}"
    if fails is not None:
        assert failed == {CHECKS[name].title for name in fails}
    if reason:
        assert reason in row["reason"]
    else:
        assert row["reason"] == ""
    assert record["grader_sha256"]                                      # written by the grader, not forged
    assert record["submission_sha256"] or record["status"] == "invalid"


def test_honest_neighbours_grade_the_same_alone(graded):
    """The honest submissions' per-check results are identical to grading each alone."""
    from tests.adversarial.corpus import BY_CASE
    with ForkServer() as server:
        for name in ("honest_perfect", "honest_wrong_relu", "honest_unstable_sigmoid"):
            path = os.path.join(graded["root"], "class", name, "mlp", "mlp.ipynb")
            alone = Submission.load(path).grade_all(server, limits=LIMITS)
            together = graded["records"][name]["tests"]
            assert [(r.title, r.points, r.message or "passed") for r in alone] == \
                   [(t["name"], t["score"], t["output"]) for t in together]
            assert sum(r.points for r in alone) == deserved(BY_CASE[name])


def test_no_process_a_case_started_survives_grading(graded):
    assert graded["orphans"] == []


def test_no_case_could_write_its_results_file(graded):
    path = os.path.join(graded["root"], "results", "mlp", "fake_results", "results.json")
    with open(path) as f:
        record = json.load(f)
    assert record["score"] == 94 and record["student"] == "fake_results"
    assert not os.path.exists(os.path.join(graded["root"], "results.json"))


def test_the_pytest_path_ignores_test_cells_entirely(graded):
    """Deleting, editing, duplicating, retyping test cells or changing their points changes nothing:
    the graded cells are the release's setup cell and the student's solution cells."""
    from tests.adversarial.corpus import notebook_bytes, BY_CASE
    reference = Submission.load(os.path.join(graded["root"], "class", "honest_wrong_relu", "mlp", "mlp.ipynb"))
    for name in ("delete_tests", "edit_tests", "duplicate_tests", "retype_tests", "tamper_metadata"):
        tampered = Submission.load(os.path.join(graded["root"], "class", name, "mlp", "mlp.ipynb"))
        assert tampered.cells == reference.cells and tampered.missing == []
        assert notebook_bytes(BY_CASE[name]) != notebook_bytes(BY_CASE["honest_wrong_relu"])


def test_every_case_was_graded_under_its_own_name(graded):
    assert sorted(s.student for s in graded["students"]) == sorted(c.name for c in CASES)


def test_nothing_outside_each_students_results_changed(graded):
    """The class folder, the targets outside it and the repository's tracked files are as they
    were; the results folder holds exactly one results.json per student; no attack's marker
    appears in /tmp or at the repository's top."""
    before, after = graded["before"], graded["after"]
    assert after["class"] == before["class"]
    assert after["outside"] == before["outside"]
    assert sorted(graded["results"]) == sorted([c.name for c in CASES] + [f"{c.name}/results.json" for c in CASES])
    tracked_before, top_before = before["repository"]
    tracked_after, top_after = after["repository"]
    changed = [name for name in tracked_after if tracked_after[name] != tracked_before.get(name)]
    # other people may edit the working tree meanwhile: a change counts only if an attack's marker is in it
    for name in changed:
        if name != "tests/adversarial/corpus.py" and tracked_after[name] is not None:
            with open(os.path.join(ROOT, name), "rb") as f:
                assert b"ADVERSARIAL-MARKER" not in f.read(), name
    assert not [n for n in top_after - top_before if "adv" in n]
    assert not [n for n in after["tmp"] - before["tmp"] if n.startswith("adv")]


def test_nothing_passes_from_one_submission_to_the_next_on_one_server():
    """Two submissions in a row on the same fork server: whatever the first leaves behind (files in
    every writable place it finds, /dev included, a listening abstract socket, a re-forking daemon),
    the second sees none of it."""
    from tests.adversarial.corpus import MARKERS
    places = MARKERS + ("/dev/shm/adv_marker2", "/dev/pts/adv_marker")
    leave = ("import os, socket, time\n"
             f"for p in {places!r}:\n"
             "    try:\n        open(p, 'w').write('adv')\n    except OSError:\n        pass\n"
             "s = socket.socket(socket.AF_UNIX)\ns.bind('\\0adv-next')\ns.listen()\n"
             "if os.fork() == 0:\n    os.setsid()\n    while True:\n        time.sleep(0.01)\n")
    look = ("import os, socket\nfound = [p for p in " + repr(places) + " if os.path.exists(p)]\n"
            "try:\n    socket.socket(socket.AF_UNIX).connect('\\0adv-next')\n    found.append('socket')\n"
            "except OSError:\n    pass\n"
            "raise Exception('found ' + repr(found))\n")
    job = {"assignment": "mlp", "checks": ["relu"], "inputs": {"relu": {}}, "files": {}, "limits": LIMITS}
    with ForkServer() as server:
        server.run(dict(job, cells=[["leave", leave]]))
        errors = server.run(dict(job, cells=[["look", look]]))["relu"]["cell_errors"]
    assert [e["error"] for e in errors] == ["Exception: found []"]
