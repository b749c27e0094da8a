"""The one liveness probe shared by the launcher, the mining worker and the bundle export."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from engine import process
from engine.process import pid_alive


def test_this_process_is_alive() -> None:
    assert pid_alive(os.getpid())


@pytest.mark.parametrize("pid", [0, -1, -os.getpid()])
def test_no_positive_id_is_no_process(pid: int) -> None:
    """kill(0, 0) and kill(-n, 0) would probe process groups, which are not the question."""
    assert not pid_alive(pid)


def test_an_exited_and_reaped_child_is_dead() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait(timeout=60)
    assert not pid_alive(proc.pid)


def test_an_impossible_id_is_dead() -> None:
    assert not pid_alive(2**70)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signal probe")
@pytest.mark.parametrize(("error", "alive"), [(PermissionError, True),
                                              (ProcessLookupError, False)])
def test_a_denied_probe_means_alive(monkeypatch: pytest.MonkeyPatch,
                                    error: type[OSError], alive: bool) -> None:
    """A process of another user refuses the signal: it exists all the same."""
    def kill(pid: int, sig: int) -> None:
        raise error()

    monkeypatch.setattr(process.os, "kill", kill)
    assert pid_alive(1234) is alive
