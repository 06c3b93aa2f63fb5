"""A real JupyterLab server and a real Chromium for the browser tests.

`start_lab` runs the venv's `jupyter lab` (with nbgrader's server and lab extensions, as an instructor
or a student would) on 127.0.0.1, a free port and a random token, with its runtime and data folders in
a temporary directory so that tests never touch ~/.local/share/jupyter or each other. `Lab.stop()`
kills the whole process group (the server and every kernel it started), also when a test fails.

`launch_chromium` starts Debian's /usr/bin/chromium through Playwright: `playwright install` cannot
download browsers on a closed network, and without the background-networking flags Chromium stalls on
DNS lookups there.
"""
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
STARTUP_TIMEOUT = 90  # seconds: a loaded 2-core CI machine takes ~10 s to import jupyter_server


def free_port():
    """A TCP port nobody listens on right now (the kernel picks it; the lab binds it a moment later)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Lab:
    """A running `jupyter lab` process: its base URL, token, log file and scratch folder."""

    def __init__(self, process, port, token, scratch, log_path):
        self.process, self.port, self.token = process, port, token
        self.scratch, self.log_path = scratch, log_path
        self.base = f"http://127.0.0.1:{port}"

    def url(self, path="lab"):
        """The URL of `path` (e.g. 'lab', 'formgrader', 'files/feedback/x/mlp/mlp.html') with the token,
        so the browser is logged in without a login page."""
        path = path.lstrip("/")
        sep = "&" if "?" in path else "?"
        return f"{self.base}/{path}{sep}token={self.token}"

    def log(self):
        """The server's output so far: shown when something in the browser goes wrong."""
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stop(self):
        """Stop the server, then kill whatever is left of it and of its kernels, and remove the
        scratch folder. Kernels run in sessions of their own (jupyter_client starts them so), so
        killing the server's process group alone would leave them running if the server died
        before shutting them down: their groups are looked up first and killed too. Safe to call twice."""
        groups = {self.process.pid} | {_group(pid) for pid in _descendants(self.process.pid)} - {None}
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)  # the server shuts its kernels down
                self.process.wait(timeout=10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass
        for group in groups:
            try:
                os.killpg(group, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        if self.process.poll() is None:
            self.process.wait(timeout=10)
        shutil.rmtree(self.scratch, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False


def _group(pid):
    """The process group of pid, or None if it has ended meanwhile."""
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None


def _descendants(pid):
    """Every process below pid (children of children too), from /proc's parent links."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    parent = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _lab_command(root_dir, port, token, scratch):
    """argv of the venv's `jupyter lab` serving root_dir. Workspaces and user settings live in the
    scratch folder (by default they are in ~/.jupyter/lab: a tab left open by one test would be
    restored in the next); no news or update checks (no network, and no prompt over the page)."""
    jupyter = os.path.join(os.path.dirname(sys.executable), "jupyter")
    argv = [jupyter, "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}", "--port-retries=0",
            f"--ServerApp.root_dir={root_dir}", f"--IdentityProvider.token={token}", "--ServerApp.password=",
            f"--LabApp.workspaces_dir={os.path.join(scratch, 'workspaces')}",
            f"--LabApp.user_settings_dir={os.path.join(scratch, 'settings')}",
            "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    if os.geteuid() == 0:
        argv.append("--allow-root")
    return argv


def _lab_env(scratch, env, config_dir):
    """The server's environment: the venv's bin first (nbgrader shells out to alembic), private
    runtime/data folders, and, when given, JUPYTER_CONFIG_DIR (e.g. a student's nbgrader config)."""
    full = dict(os.environ)
    full.update(env or {})
    bin_dir = os.path.dirname(sys.executable)
    full["PATH"] = bin_dir + os.pathsep + full.get("PATH", "")
    full["JUPYTER_RUNTIME_DIR"] = os.path.join(scratch, "runtime")
    full["IPYTHONDIR"] = os.path.join(scratch, "ipython")
    # The venv's share/jupyter (lab extensions, kernelspec) stays visible through sys.prefix; the
    # user data dir is private so a real ~/.local/share/jupyter cannot change what is tested.
    full["JUPYTER_DATA_DIR"] = os.path.join(scratch, "data")
    if config_dir is not None:
        full["JUPYTER_CONFIG_DIR"] = str(config_dir)
    full.pop("JUPYTER_TOKEN", None)
    return full


def _write_user_settings(scratch):
    """Lab settings the tests start from: never ask about (or fetch) Jupyter news. The question is a
    toast over the bottom right of every page, and the answer would be a network request."""
    folder = os.path.join(scratch, "settings", "@jupyterlab", "apputils-extension")
    os.makedirs(folder)
    with open(os.path.join(folder, "notification.jupyterlab-settings"), "w") as f:
        json.dump({"fetchNews": "false", "checkForUpdates": False}, f)


def _wait_until_up(lab, timeout):
    """Poll /api/status until the server answers; raise with the server log if it dies or hangs."""
    deadline = time.monotonic() + timeout
    status = f"{lab.base}/api/status?token={lab.token}"
    while time.monotonic() < deadline:
        if lab.process.poll() is not None:
            raise RuntimeError(f"jupyter lab exited with {lab.process.returncode}:\n{lab.log()[-3000:]}")
        try:
            with urllib.request.urlopen(status, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, socket.timeout, OSError):
            pass
        time.sleep(0.3)
    raise RuntimeError(f"jupyter lab did not answer /api/status within {timeout} s:\n{lab.log()[-3000:]}")


def start_lab(root_dir, env=None, config_dir=None, timeout=STARTUP_TIMEOUT):
    """Start `jupyter lab` serving root_dir and return a Lab once /api/status answers.

    env: extra environment variables for the server (and so its kernels); config_dir: a
    JUPYTER_CONFIG_DIR (else the caller's). nbgrader reads nbgrader_config.py from the server's working
    directory, which is root_dir: a course root makes this lab an instructor's lab.
    """
    root_dir = os.path.abspath(str(root_dir))
    if not os.path.isdir(root_dir):
        raise ValueError(f"start_lab: root_dir {root_dir!r} is not a directory")
    scratch = tempfile.mkdtemp(prefix="lab-")
    port, token = free_port(), secrets.token_hex(24)
    log_path = os.path.join(scratch, "server.log")
    _write_user_settings(scratch)
    with open(log_path, "wb") as log:
        process = subprocess.Popen(_lab_command(root_dir, port, token, scratch), cwd=root_dir,
                                   env=_lab_env(scratch, env, config_dir), stdout=log,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    lab = Lab(process, port, token, scratch, log_path)
    try:
        _wait_until_up(lab, timeout)
    except BaseException:
        lab.stop()
        raise
    return lab


def launch_chromium(playwright, **kwargs):
    """Debian's Chromium, headless, via Playwright (which cannot download its own browser here)."""
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=list(CHROMIUM_ARGS), **kwargs)
