"""The adversarial corpus graded by an unprivileged user (CI runs as root).

As root, the sandbox drops to uids 60000+k; an ordinary instructor runs it unprivileged, in a
user namespace, with a different set of mechanisms (no uid drop, no staged binds). Both must hold.
When this test runs as root it:

1. creates the system user ``autograder-ci`` (``useradd --system --create-home``) if missing;
2. copies the repository's files (``git ls-files --cached --others --exclude-standard``: the
   tracked ones and the new ones not ignored, read from the working tree, so it also works before
   a commit; CI runs on a clean clone, where this is HEAD) into a folder of that user;
3. builds, as that user, a virtualenv with the first ``python3`` on a plain system PATH (root's
   interpreter may live where other users cannot read it, e.g. /root/.pyenv) and
   ``pip install -r requirements-grading.txt``. The virtualenv is cached in the user's home,
   keyed by the requirements file and that interpreter's version: a rerun reuses it;
4. runs ``python -m pytest -q tests/test_adversarial.py`` there as that user (``runuser``) and
   asserts it passes.

Run by an ordinary user, tests/test_adversarial.py already is the unprivileged run: this skips.
"""
import hashlib
import os
import pwd
import shutil
import subprocess
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
USER = "autograder-ci"
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
REQUIREMENTS = "requirements-grading.txt"
TESTS = ["tests/test_adversarial.py", "tests/test_adversarial_multiclass.py", "tests/test_sandbox.py",
         "tests/test_hostile_input.py"]
PASSED_ENV = ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "PIP_TRUSTED_HOST", "PIP_CERT",
              "PIP_DEFAULT_TIMEOUT", "PIP_DISABLE_PIP_VERSION_CHECK", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY",
              "http_proxy", "https_proxy", "no_proxy", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "LANG",
              "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def as_user(home, args, cwd, timeout):
    """Run `args` as USER with a clean environment (its own HOME, a system PATH)."""
    env = {"HOME": home, "PATH": SYSTEM_PATH, "USER": USER, "LOGNAME": USER, "PYTHONDONTWRITEBYTECODE": "1"}
    env.update({k: os.environ[k] for k in PASSED_ENV if k in os.environ})
    command = ["runuser", "-u", USER, "--", "env", "-i"] + [f"{k}={v}" for k, v in env.items()] + list(args)
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def ensure_user():
    try:
        return pwd.getpwnam(USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--create-home", "--shell", "/usr/sbin/nologin", USER], check=True)
        return pwd.getpwnam(USER)


def copy_tracked_files(destination, uid, gid):
    """The repository's tracked files, as they are in the working tree, into `destination` (owned by uid)."""
    names = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, check=True).stdout
    if os.path.exists(destination):
        shutil.rmtree(destination)
    os.makedirs(destination)
    for name in filter(None, names.decode().split("\0")):
        source, target = os.path.join(ROOT, name), os.path.join(destination, name)
        if not os.path.lexists(source):
            continue                      # deleted in the working tree
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copy2(source, target, follow_symlinks=False)
    for folder, dirs, files in os.walk(destination):
        for name in [folder] + [os.path.join(folder, n) for n in dirs + files]:
            os.lchown(name, uid, gid)


def ensure_venv(home, repo, timeout):
    """The cached virtualenv for requirements-grading.txt and the user's python3; built if missing."""
    version = as_user(home, ["python3", "-c", "import sys; print(sys.version)"], repo, 60)
    assert version.returncode == 0, f"no python3 on {USER}'s PATH: {version.stderr}"
    with open(os.path.join(repo, REQUIREMENTS), "rb") as f:
        key = hashlib.sha256(f.read() + version.stdout.encode()).hexdigest()[:16]
    venv = os.path.join(home, f"venv-{key}")
    if os.path.exists(os.path.join(venv, ".complete")):
        return venv, False
    as_user(home, ["rm", "-rf", venv], repo, 120)             # a build that did not finish
    steps = [["python3", "-m", "venv", venv],
             [os.path.join(venv, "bin", "pip"), "install", "-q", "-r", os.path.join(repo, REQUIREMENTS)],
             ["touch", os.path.join(venv, ".complete")]]
    for step in steps:
        done = as_user(home, step, repo, timeout)
        assert done.returncode == 0, f"{' '.join(step)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return venv, True


@pytest.mark.slow
def test_the_adversarial_corpus_holds_when_graded_by_an_unprivileged_user():
    if os.geteuid() != 0:
        pytest.skip("not root: tests/test_adversarial.py, run by this ordinary user, is already the unprivileged run")
    if shutil.which("runuser") is None or shutil.which("useradd") is None:
        pytest.skip("runuser and useradd are needed to run the tests as an unprivileged user")
    started = time.monotonic()
    user = ensure_user()
    home = user.pw_dir
    os.makedirs(home, exist_ok=True)
    os.chown(home, user.pw_uid, user.pw_gid)
    repo = os.path.join(home, "repository")
    copy_tracked_files(repo, user.pw_uid, user.pw_gid)
    venv, built = ensure_venv(home, repo, timeout=1200)
    ready = time.monotonic()
    run = as_user(home, [os.path.join(venv, "bin", "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider",
                         *TESTS], repo, timeout=900)
    done = time.monotonic()
    print(f"\nsetup {ready - started:.1f} s (virtualenv {'built' if built else 'reused'}), "
          f"tests as {USER} {done - ready:.1f} s")
    assert run.returncode == 0, f"the tests failed as {USER}:\n{run.stdout[-12000:]}\n{run.stderr[-3000:]}"
