"""The desktop launcher: loopback server, one instance per user, clean shutdown, workers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.server import free_port, wait_healthy
from tests.conftest import REPO

pytestmark = pytest.mark.e2e


def test_single_instance_and_clean_shutdown(tmp_path: Path) -> None:
    (tmp_path / "settings.json").write_text('{"mode": "single"}')
    env = {**os.environ, "ALPHAFORGE_HOME": str(tmp_path), "XDG_STATE_HOME": str(tmp_path)}
    port = free_port(0)
    first = subprocess.Popen([sys.executable, "launcher.py", "--no-browser", "--port", str(port)],
                             cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             start_new_session=True)
    try:
        assert wait_healthy(port, timeout=90)
        info = json.loads((tmp_path / "server.json").read_text())
        assert info == {"pid": first.pid, "port": port}
        second = subprocess.run([sys.executable, "launcher.py", "--no-browser"], cwd=REPO,
                                env=env, capture_output=True, text=True, timeout=60)
        assert second.returncode == 0
        assert f"already running on http://127.0.0.1:{port}" in second.stdout
    finally:
        os.killpg(first.pid, signal.SIGTERM)
        first.wait(30)
    deadline = time.time() + 10
    while (tmp_path / "server.json").exists() and time.time() < deadline:
        time.sleep(0.2)
    assert not (tmp_path / "server.json").exists()


def test_unknown_worker_is_refused() -> None:
    res = subprocess.run([sys.executable, "launcher.py", "--worker", "nope"], cwd=REPO,
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 2 and "unknown worker 'nope'" in res.stderr
