"""Desktop entry point: start the local AlphaForge server and open the browser on it.

- picks a free port on 127.0.0.1 (8501 when free) and runs Streamlit in this process with the
  options of :mod:`engine.server` (loopback only, XSRF on, no usage stats, not dev mode);
- one instance per user: a second start finds the running server (``server.json`` in the
  AlphaForge home) and only opens the browser on it;
- logs to a rotating file in the platform's log folder;
- ``--worker NAME ARGS...`` runs a background worker (e.g. mining) instead of the server, so
  the frozen app can start workers without a Python interpreter.
"""

from __future__ import annotations

import os

# Before torch is imported anywhere: busy-waiting OpenMP threads make every kernel many times
# slower on a laptop whose cores are shared with the browser (measured in bench_expr.py).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import json
import logging
import sys
import threading
import webbrowser
from collections.abc import Sequence
from logging.handlers import RotatingFileHandler
from pathlib import Path

import platformdirs  # noqa: E402

from engine.server import APP_SCRIPT, free_port, is_healthy, server_options, wait_healthy
from engine.store import atomic
from engine.store.project import default_home

LOG = logging.getLogger("alphaforge.launcher")
#: Worker entry points the frozen executable can dispatch to: name -> "module:function".
WORKERS = {"mine": "engine.mining.worker:main"}


def _setup_logging() -> Path:
    folder = Path(platformdirs.user_log_dir("AlphaForge", appauthor=False))
    folder.mkdir(parents=True, exist_ok=True)
    handler = RotatingFileHandler(folder / "alphaforge.log", maxBytes=2_000_000, backupCount=3,
                                  encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    return folder / "alphaforge.log"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (OSError, ValueError):
        return False
    return True


def running_instance(home: Path) -> int | None:
    """Port of this user's running server, if there is one that answers."""
    path = home / "server.json"
    try:
        info = json.loads(path.read_text())
        port, pid = int(info["port"]), int(info["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if _pid_alive(pid) and is_healthy(port):
        return port
    return None


def _open_when_ready(port: int) -> None:
    if wait_healthy(port):
        webbrowser.open(f"http://127.0.0.1:{port}")
    else:
        LOG.error("server did not become healthy on port %s", port)


def run_worker(name: str, argv: Sequence[str]) -> int:
    import importlib

    if name not in WORKERS:
        print(f"unknown worker '{name}'; known: {', '.join(WORKERS)}", file=sys.stderr)
        return 2
    module, func = WORKERS[name].split(":")
    return int(getattr(importlib.import_module(module), func)(list(argv)) or 0)


def serve(port: int, *, open_browser: bool) -> int:
    from streamlit.web import bootstrap

    home = default_home()
    home.mkdir(parents=True, exist_ok=True)
    atomic.write_json(home / "server.json", {"pid": os.getpid(), "port": port})
    LOG.info("starting AlphaForge on http://127.0.0.1:%s", port)
    if open_browser:
        threading.Thread(target=_open_when_ready, args=(port,), daemon=True).start()
    options = server_options(port, headless=True)
    try:
        bootstrap.load_config_options(flag_options=options)
        bootstrap.run(str(APP_SCRIPT), False, [], options)
    finally:
        (home / "server.json").unlink(missing_ok=True)
        LOG.info("server stopped")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--worker"]:
        if len(argv) < 2:
            print("usage: --worker NAME [ARGS...]", file=sys.stderr)
            return 2
        return run_worker(argv[1], argv[2:])
    parser = argparse.ArgumentParser(prog="AlphaForge-UI", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8501, help="preferred port (default 8501)")
    parser.add_argument("--no-browser", action="store_true", help="do not open a browser")
    args = parser.parse_args(argv)
    log_file = _setup_logging()
    existing = running_instance(default_home())
    if existing is not None:
        print(f"AlphaForge is already running on http://127.0.0.1:{existing}")
        if not args.no_browser:
            webbrowser.open(f"http://127.0.0.1:{existing}")
        return 0
    port = free_port(args.port)
    print(f"AlphaForge on http://127.0.0.1:{port} (log: {log_file}; Ctrl+C stops it)")
    return serve(port, open_browser=not args.no_browser)


if __name__ == "__main__":
    sys.exit(main())
