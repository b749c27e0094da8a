"""The desktop launcher: loopback server, one instance per user, clean shutdown (running
mining workers cancelled with their checkpoint kept), and the dispatch the frozen app needs
(workers, CLI commands, kaleido's Chromium wrapper)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import launcher
from engine.errors import ConfigError
from engine.server import file_options, free_port, server_options, wait_healthy
from tests.conftest import REPO

pytestmark = pytest.mark.e2e


def _wait_for(predicate, timeout: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_single_instance_and_clean_shutdown(tmp_path: Path) -> None:
    """Second start finds the first; stopping the server cancels a running mining worker,
    which keeps its checkpoint and can be resumed."""
    from engine.data.synthetic import SyntheticConfig
    from engine.mining import worker
    from engine.mining.config import preset
    from engine.store.demo import ensure_demo

    (tmp_path / "settings.json").write_text('{"mode": "single"}')
    project, _, _ = ensure_demo(tmp_path / "projects" / "demo",
                                SyntheticConfig(n_tickers=30, n_days=300))
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
        small = preset("laptop", warmup=256, new_per_round=128, random_per_round=128,
                       p_epochs=5, g_steps=10, time_budget_s=600, max_rounds=1000,
                       stop_when_full=False)  # still running when the terminal closes
        run_id = worker.start(project, small, dataset="demo")
        assert _wait_for(lambda: worker.has_checkpoint(project, run_id), 120), \
            (project.run_dir(run_id) / worker.LOG_FILE).read_text()[-2000:]
        pid = worker.worker_pid(project, run_id)
        assert pid is not None
    finally:
        # the terminal closes (SIGHUP; the worker has its own session and gets nothing)
        os.killpg(first.pid, signal.SIGHUP)
        out = first.communicate(timeout=90)[0].decode()
    assert not (tmp_path / "server.json").exists()
    assert project.run_record(run_id).status == "cancelled", out
    assert worker.worker_pid(project, run_id) is None and not launcher._running(pid)
    assert worker.has_checkpoint(project, run_id)
    assert f"cancelled 1 mining run(s); resume them from Factor mining: {run_id}" in out


def test_stop_workers_finds_runs_of_every_account(tmp_path: Path) -> None:
    """Runs in single-user and per-account project folders; a dead worker is left alone."""
    from engine.mining import worker
    from engine.store.project import Project

    sleeper = ("import pathlib, sys, time\n"
               "while not pathlib.Path(sys.argv[1]).exists(): time.sleep(0.05)\n")
    procs, expected = [], []
    for root in (tmp_path / "projects" / "a", tmp_path / "users" / "7" / "projects" / "b"):
        project = Project.create(root)
        record = project.new_run(worker.RUN_KIND, {})
        folder = project.run_dir(record.run_id)
        proc = subprocess.Popen([sys.executable, "-c", sleeper, str(folder / worker.CANCEL_FILE)])
        (folder / worker.PID_FILE).write_text(json.dumps({"pid": proc.pid}))
        procs.append(proc)
        expected.append(record.run_id)
    dead = Project.open(tmp_path / "projects" / "a").new_run(worker.RUN_KIND, {})
    try:
        started = time.monotonic()
        assert launcher.stop_workers(tmp_path, timeout=60) == sorted(expected)
        # returns when the workers are gone, though exited children stay zombies until reaped
        assert time.monotonic() - started < 30
        assert all(p.wait(5) == 0 for p in procs)
    finally:
        for p in procs:
            p.kill()
    assert not (Project.open(tmp_path / "projects" / "a").run_dir(dead.run_id)
                / worker.CANCEL_FILE).exists()
    assert launcher.stop_workers(tmp_path / "empty", timeout=1) == []


def test_unknown_worker_is_refused() -> None:
    res = subprocess.run([sys.executable, "launcher.py", "--worker", "nope"], cwd=REPO,
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 2 and "unknown worker 'nope'" in res.stderr


def test_cli_dispatch(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = tmp_path / "demo"
    assert launcher.main(["--cli", "demo", "--project", str(project), "--tickers", "20",
                          "--days", "80", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True
    assert launcher.main(["--cli", "datasets", "--project", str(project)]) == 0
    assert "demo" in capsys.readouterr().out
    assert launcher.main(["--cli", "--help"]) == 0
    assert launcher.main(["--cli", "no-such-command"]) == 2


def test_frozen_worker_command_runs_the_app_itself(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.mining import worker
    from engine.store.project import Project

    project = Project.create(tmp_path / "p")
    plain = worker.worker_command(project, "r1")
    assert plain[:3] == [sys.executable, "-m", "engine.mining.worker"]
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", "/opt/AlphaForge-UI/AlphaForge-UI")
    frozen = worker.worker_command(project, "r1", resume=True)
    assert frozen[:3] == ["/opt/AlphaForge-UI/AlphaForge-UI", "--worker", "mine"]
    assert frozen[3:] == plain[3:] + ["--resume"]


def test_kaleido_relaunches_sys_executable_with_a_wrapper(tmp_path: Path) -> None:
    """kaleido 1.x -> choreographer starts Chromium as ``[sys.executable, WRAPPER.py,
    CHROMIUM, ...]`` on Linux/macOS; in the frozen app that is AlphaForge-UI, which must run
    the wrapper script. This pins the assumption and runs the dispatch for real."""
    from choreographer.browsers.chromium import Chromium
    from choreographer.channels.pipe import Pipe

    channel = Pipe()
    try:
        browser = Chromium(channel, path="/bin/echo", tmp_dir=str(tmp_path))
        browser.pre_open()
        cli = list(browser.get_cli())
    finally:
        channel.close()
    if sys.platform == "win32":
        assert cli[0] == "/bin/echo"  # Windows: Chromium is started directly
        return
    assert cli[0] == sys.executable
    assert launcher.is_chromium_wrapper(cli[1:])
    # set by launcher.py: kaleido's Chromium sends nothing off this computer (MathJax CDN,
    # Google's background requests) because every request goes to a dead loopback proxy
    assert "--proxy-server=http://127.0.0.1:9" in cli
    res = subprocess.run([sys.executable, "launcher.py", cli[1], "/bin/echo", "from chromium"],
                         cwd=REPO, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines() == ["from chromium", "{bye}"]


def test_server_options_upload_limit_and_theme() -> None:
    assert server_options(8501)["server.maxUploadSize"] == 1024
    assert server_options(8501, max_upload_mb=50)["server.maxUploadSize"] == 50
    with pytest.raises(ConfigError, match="at least 1 MB"):
        server_options(8501, max_upload_mb=0)
    theme = file_options()
    assert theme["theme.primaryColor"].startswith("#")
    assert file_options(REPO / "no-such-config.toml") == {}
