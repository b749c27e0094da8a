"""The `app` command: start the local Streamlit server."""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import threading
from pathlib import Path

from engine.cli.common import Output, project_path

#: Seconds the server gets to stop after SIGTERM before it is killed.
_STOP_TIMEOUT_S = 10.0


def _open_when_ready(port: int) -> None:
    import webbrowser

    from engine.server import wait_healthy

    if wait_healthy(port):
        webbrowser.open(f"http://127.0.0.1:{port}")


def serve_child(cmd: list[str], cwd: Path) -> int:
    """Run the server process until it exits, and never leave it behind: SIGTERM or SIGHUP to
    this process, or Ctrl+C, stop it too (a terminal sends Ctrl+C to both, but a service
    manager or ``kill`` sends SIGTERM to this process only, and the server kept serving)."""
    proc = subprocess.Popen(cmd, cwd=cwd)

    def forward(signum: int, _frame: object) -> None:
        proc.terminate()

    names = [n for n in ("SIGTERM", "SIGHUP") if hasattr(signal, n)]
    previous = {n: signal.signal(getattr(signal, n), forward) for n in names}
    try:
        while True:
            try:
                return proc.wait()
            except KeyboardInterrupt:
                proc.terminate()
    finally:
        for n, handler in previous.items():
            signal.signal(getattr(signal, n), handler)
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(_STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def cmd_app(args: argparse.Namespace) -> Output:
    """Start the Streamlit app on 127.0.0.1 (blocks until the server stops)."""
    from engine.server import APP_SCRIPT, command_line_flags
    from engine.store.project import default_home
    from engine.store.settings import AppSettings, load_settings, save_settings

    if args.single_user or args.accounts:
        mode = "single" if args.single_user else "accounts"
        save_settings(default_home(), AppSettings(mode=mode,
                                                  language=load_settings(default_home()).language))
    if not args.no_demo:
        from engine.store.demo import ensure_demo

        ensure_demo(project_path(args))

    # Always headless: a non-headless Streamlit asks for an e-mail on first start (and fails
    # without a terminal); the browser is opened here once the server answers.
    cmd = [sys.executable, "-m", "streamlit", "run", str(APP_SCRIPT),
           *command_line_flags(args.port, headless=True)]
    print(f"AlphaForge is starting on http://127.0.0.1:{args.port} (Ctrl+C stops it)")
    if not args.no_browser:
        threading.Thread(target=_open_when_ready, args=(args.port,), daemon=True).start()
    code = serve_child(cmd, APP_SCRIPT.parents[1])
    return Output({"exit_code": code}, f"server stopped (exit code {code})")


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("app", parents=[common], help="start the desktop app (local web server)")
    p.add_argument("--port", type=int, default=8501)
    p.add_argument("--no-browser", action="store_true", help="do not open a browser window")
    p.add_argument("--no-demo", action="store_true", help="do not create the demo project")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--single-user", action="store_true",
                      help="one person on this computer: no login (remembered)")
    mode.add_argument("--accounts", action="store_true",
                      help="several people: local accounts with login (remembered)")
    p.set_defaults(func=cmd_app)

