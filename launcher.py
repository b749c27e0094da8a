"""Desktop entry point: start the local AlphaForge server and open the browser on it.

- picks a free port on 127.0.0.1 (8501 when free) and runs Streamlit in this process with the
  options of :mod:`engine.server` (loopback only, XSRF on, no usage stats, not dev mode,
  upload size limit);
- one instance per user: a second start finds the running server (``server.json`` in the
  AlphaForge home) and only opens the browser on it;
- shuts down cleanly: when the server stops (Ctrl+C, SIGTERM, SIGHUP when its terminal
  closes), every mining run still working in a background process is cancelled, which keeps
  its last checkpoint, so it can be resumed from the Factor mining page;
- logs to a rotating file in the platform's log folder;
- keeps kaleido's Chromium offline (see ``CHOREO_PROXY_SERVER`` below).

The frozen app (PyInstaller) has no Python interpreter, so this file is also the dispatcher
for everything that would otherwise run ``python ...``:

- ``--worker NAME ARGS...`` runs a background worker (``--worker mine --project P --run R``,
  what :func:`engine.mining.worker.worker_command` builds when ``sys.frozen`` is set);
- ``--cli ARGS...`` runs an ``alphaforge`` command (``AlphaForge-UI --cli report ...``);
- ``.../_unix_pipe_chromium_wrapper.py CHROMIUM ARGS...``: kaleido 1.x (PNG charts, PDF
  reports) drives Chromium through choreographer, which on Linux and macOS starts Chromium
  as ``[sys.executable, <choreographer>/browsers/_unix_pipe_chromium_wrapper.py, ...]``. In
  the frozen app ``sys.executable`` is this program, so the script is run here (it ships as
  a plain file in the bundle). On Windows choreographer starts Chromium directly.
"""

from __future__ import annotations

import os

# Before torch is imported anywhere: busy-waiting OpenMP threads make every kernel many times
# slower on a laptop whose cores are shared with the browser (measured in bench_expr.py).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# kaleido's Chromium (PNG charts, PDF reports) loads MathJax from a CDN and makes Google's
# background requests (time, updates, accounts). choreographer passes this proxy to it: an
# unused loopback port, so every such request fails on this computer and none leaves it
# (DNS included). Its pages and plotly.js are local files, which no proxy affects.
os.environ.setdefault("CHOREO_PROXY_SERVER", "http://127.0.0.1:9")

import argparse
import contextlib
import json
import logging
import signal
import sys
import threading
import time
import webbrowser
from collections.abc import Sequence
from logging.handlers import RotatingFileHandler
from pathlib import Path

LOG = logging.getLogger("alphaforge.launcher")
#: Worker entry points the frozen executable can dispatch to: name -> "module:function".
WORKERS = {"mine": "engine.mining.worker:main", "sweep": "engine.mining.sweep_worker:main"}
#: The helper script choreographer (kaleido's browser driver) runs with ``sys.executable``.
CHROMIUM_WRAPPER = "_unix_pipe_chromium_wrapper.py"
#: How long a shutdown waits for cancelled mining workers to write their checkpoint.
WORKER_STOP_TIMEOUT_S = 60.0


def _restore_library_path() -> None:
    """Give child processes the library path the user had, not the bundle's.

    PyInstaller's Linux bootloader points ``LD_LIBRARY_PATH`` at the bundle (and keeps the
    original in ``LD_LIBRARY_PATH_ORIG``). System programs this app starts (the browser via
    ``xdg-open``, Chromium for kaleido, also when started through the wrapper below) would
    otherwise load the bundle's copies of libraries and may crash. This process keeps the
    bundle's path (the loader reads it once, at start), and our own worker processes get it
    again from the bootloader.
    """
    if not getattr(sys, "frozen", False):
        return
    for var in ("LD_LIBRARY_PATH", "DYLD_LIBRARY_PATH"):
        original = os.environ.get(f"{var}_ORIG")
        if original is not None:
            os.environ[var] = original
        else:
            os.environ.pop(var, None)


def _setup_logging() -> Path:
    import platformdirs

    folder = Path(platformdirs.user_log_dir("AlphaForge", appauthor=False))
    folder.mkdir(parents=True, exist_ok=True)
    handler = RotatingFileHandler(folder / "alphaforge.log", maxBytes=2_000_000, backupCount=3,
                                  encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    return folder / "alphaforge.log"


def running_instance(home: Path) -> int | None:
    """Port of this user's running server, if there is one that answers."""
    from engine.process import pid_alive
    from engine.server import is_healthy

    path = home / "server.json"
    try:
        info = json.loads(path.read_text())
        port, pid = int(info["port"]), int(info["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if pid_alive(pid) and is_healthy(port):
        return port
    return None


def _open_when_ready(port: int) -> None:
    from engine.server import wait_healthy

    if wait_healthy(port):
        webbrowser.open(f"http://127.0.0.1:{port}")
    else:
        LOG.error("server did not become healthy on port %s", port)


# --------------------------------------------------------------------------- dispatch


def run_worker(name: str, argv: Sequence[str]) -> int:
    import importlib

    if name not in WORKERS:
        print(f"unknown worker '{name}'; known: {', '.join(WORKERS)}", file=sys.stderr)
        return 2
    module, func = WORKERS[name].split(":")
    return int(getattr(importlib.import_module(module), func)(list(argv)) or 0)


def run_cli(argv: Sequence[str]) -> int:
    """An ``alphaforge`` command in this process (the frozen app's command line)."""
    from engine.cli import main as cli_main

    try:
        return int(cli_main(list(argv)) or 0)
    except SystemExit as exc:  # argparse: --help, usage errors
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)


def is_chromium_wrapper(argv: Sequence[str]) -> bool:
    """True when choreographer re-launched this program to run its Chromium wrapper."""
    return bool(argv) and Path(argv[0]).name == CHROMIUM_WRAPPER and Path(argv[0]).is_file()


def run_chromium_wrapper(argv: Sequence[str]) -> int:
    """Run choreographer's wrapper script as ``python WRAPPER CHROMIUM ARGS...`` would."""
    import runpy

    sys.argv = list(argv)
    runpy.run_path(argv[0], run_name="__main__")
    return 0


# --------------------------------------------------------------------------- shutdown


def _projects(home: Path) -> list[Path]:
    """Every project folder under the home: single-user and per-account projects."""
    from engine.store.project import Project

    roots = [home / "projects", *sorted((home / "users").glob("*/projects"))]
    return [p for root in roots if root.is_dir() for p in sorted(root.iterdir())
            if Project.exists(p)]


def _running(pid: int) -> bool:
    """Whether a worker process still runs. An exited process stays a zombie (and answers
    ``kill(pid, 0)``) until its parent reaps it: this server reaps its own workers; a worker
    some other process started is read from ``/proc`` where there is one."""
    from engine.process import pid_alive

    try:  # read first: a zombie seen here is reaped just below if it is our child
        zombie = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        zombie = False
    if hasattr(os, "WNOHANG"):
        try:
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return False
        except ChildProcessError:
            pass  # not our child
    return not zombie and pid_alive(pid)


def stop_workers(home: Path, timeout: float = WORKER_STOP_TIMEOUT_S) -> list[str]:
    """Cancel every mining run and sweep whose worker process is alive and wait (up to
    ``timeout`` seconds) for them to stop. A cancelled worker finishes its batch (a sweep:
    its cells in flight), keeps its last checkpoint and marks the run 'cancelled', so it can
    be resumed. Returns the run ids."""
    from engine.errors import AlphaForgeError
    from engine.mining import worker
    from engine.store.project import Project

    pids: dict[str, int] = {}
    for root in _projects(home):
        try:
            project = Project.open(root)
            runs = [r for r in project.runs() if r.kind in (worker.RUN_KIND, "sweep")
                    and r.status == "running"]
        except (AlphaForgeError, OSError) as exc:
            LOG.warning("cannot read the runs of %s: %s", root, exc)
            continue
        for record in runs:
            pid = worker.worker_pid(project, record.run_id)
            if pid is not None and pid != os.getpid():
                worker.cancel(project, record.run_id)
                pids[record.run_id] = pid
                LOG.info("cancelling mining run %s (process %s)", record.run_id, pid)

    deadline = time.monotonic() + timeout
    while pids and time.monotonic() < deadline:
        if not any(_running(pid) for pid in pids.values()):
            break
        time.sleep(0.2)
    for run_id, pid in pids.items():
        if _running(pid):
            LOG.warning("mining run %s (process %s) did not stop within %.0f s; it keeps "
                        "running", run_id, pid, timeout)
    return sorted(pids)


# --------------------------------------------------------------------------- server


def serve(port: int, *, open_browser: bool, max_upload_mb: int) -> int:
    from streamlit.web import bootstrap

    from engine.server import APP_SCRIPT, file_options, server_options
    from engine.store import atomic
    from engine.store.project import default_home

    home = default_home()
    home.mkdir(parents=True, exist_ok=True)
    atomic.write_json(home / "server.json", {"pid": os.getpid(), "port": port})
    LOG.info("starting AlphaForge on http://127.0.0.1:%s", port)
    if open_browser:
        threading.Thread(target=_open_when_ready, args=(port,), daemon=True).start()
    # The theme of .streamlit/config.toml, then the options that keep the server local.
    options = {**file_options(), **server_options(port, headless=True,
                                                  max_upload_mb=max_upload_mb)}
    if hasattr(signal, "SIGHUP"):  # terminal closed: stop like Ctrl+C (Streamlit's handler)
        signal.signal(signal.SIGHUP, lambda signum, frame: os.kill(os.getpid(), signal.SIGTERM))
    try:
        bootstrap.load_config_options(flag_options=options)
        bootstrap.run(str(APP_SCRIPT), False, [], options)
    finally:
        (home / "server.json").unlink(missing_ok=True)
        stopped = stop_workers(home)
        if stopped:
            message = (f"cancelled {len(stopped)} mining run(s); resume them from Factor "
                       f"mining: {', '.join(stopped)}")
            LOG.info(message)
            with contextlib.suppress(OSError):  # the terminal may be gone (SIGHUP)
                print(message, flush=True)
        LOG.info("server stopped")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    _restore_library_path()
    if is_chromium_wrapper(argv):
        return run_chromium_wrapper(argv)
    if argv[:1] == ["--worker"]:
        if len(argv) < 2:
            print("usage: --worker NAME [ARGS...]", file=sys.stderr)
            return 2
        return run_worker(argv[1], argv[2:])
    if argv[:1] == ["--cli"]:
        return run_cli(argv[1:])
    from engine.server import DEFAULT_MAX_UPLOAD_MB, free_port
    from engine.store.project import default_home

    parser = argparse.ArgumentParser(
        prog="AlphaForge-UI", description=__doc__.splitlines()[0],
        epilog="--cli COMMAND ... runs an alphaforge command (e.g. --cli report --help); "
               "--worker NAME ... runs a background worker.")
    parser.add_argument("--port", type=int, default=8501, help="preferred port (default 8501)")
    parser.add_argument("--no-browser", action="store_true", help="do not open a browser")
    parser.add_argument("--max-upload-mb", type=int, default=DEFAULT_MAX_UPLOAD_MB,
                        help=f"largest file the Data page accepts, in MB "
                             f"(default {DEFAULT_MAX_UPLOAD_MB})")
    args = parser.parse_args(argv)
    log_file = _setup_logging()
    existing = running_instance(default_home())
    if existing is not None:
        print(f"AlphaForge is already running on http://127.0.0.1:{existing}")
        if not args.no_browser:
            webbrowser.open(f"http://127.0.0.1:{existing}")
        return 0
    port = free_port(args.port)
    print(f"AlphaForge on http://127.0.0.1:{port} (log: {log_file}; Ctrl+C stops it)",
          flush=True)
    return serve(port, open_browser=not args.no_browser, max_upload_mb=args.max_upload_mb)


if __name__ == "__main__":
    import multiprocessing

    multiprocessing.freeze_support()  # no-op unless a frozen Windows child of multiprocessing
    sys.exit(main())
