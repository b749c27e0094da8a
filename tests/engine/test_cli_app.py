"""`alphaforge app` never leaves its server behind: SIGTERM to the command stops the
Streamlit process it started (it used to keep serving after the command was killed)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from engine.cli.app import serve_child


def test_sigterm_to_the_command_stops_its_server(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    child = (f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); "
             "time.sleep(120)")
    parent = ("import sys; from pathlib import Path; from engine.cli.app import serve_child; "
              f"sys.exit(serve_child([sys.executable, '-c', {child!r}], Path('.')))")
    proc = subprocess.Popen([sys.executable, "-c", parent], cwd=Path(__file__).parents[2])
    deadline = time.monotonic() + 30
    while not pid_file.exists() or not pid_file.read_text():
        assert time.monotonic() < deadline, "the child did not start"
        time.sleep(0.1)
    pid = int(pid_file.read_text())
    proc.send_signal(signal.SIGTERM)
    proc.wait(20)  # the command ends ...
    deadline = time.monotonic() + 15
    while _alive(pid):  # ... and so does its server
        assert time.monotonic() < deadline, "the server outlived the command"
        time.sleep(0.1)


def test_a_server_that_exits_returns_its_code(tmp_path: Path) -> None:
    assert serve_child([sys.executable, "-c", "raise SystemExit(3)"], tmp_path) == 3


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (exited, not yet reaped by its parent) counts as gone
    try:
        return "zombie" not in Path(f"/proc/{pid}/status").read_text().lower()
    except OSError:
        return False
