"""What a mining run's status and zoo read as, without running a miner."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.mining import worker
from engine.mining.zoo import Factor, FactorSet
from engine.store import atomic
from engine.store.project import Project


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return Project.create(tmp_path / "p", name="p")


def _run(project: Project, pid: int | None) -> str:
    record = project.new_run(worker.RUN_KIND, {}, seed=0)
    if pid is not None:
        atomic.write_json(project.run_dir(record.run_id) / worker.PID_FILE, {"pid": pid})
    return record.run_id


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait(timeout=60)
    return proc.pid


def test_a_running_record_with_a_live_worker_is_running(project: Project) -> None:
    run_id = _run(project, os.getpid())
    assert worker.run_status(project, run_id) == "running"
    assert worker.run_status(project, project.run_record(run_id)) == "running"


@pytest.mark.parametrize("pid", [None, 0, "dead"])
def test_a_running_record_without_a_worker_is_stopped(project: Project,
                                                      pid: int | str | None) -> None:
    """The machine slept or the process was killed: the record still says running."""
    run_id = _run(project, _dead_pid() if pid == "dead" else pid)  # type: ignore[arg-type]
    assert worker.run_status(project, run_id) == "stopped"


def test_alive_given_is_trusted_and_ended_records_keep_their_status(project: Project
                                                                    ) -> None:
    run_id = _run(project, None)
    record = project.run_record(run_id)
    assert worker.run_status(project, record, alive=True) == "running"
    assert worker.run_status(project, record, alive=False) == "stopped"
    for status in ("done", "cancelled", "failed"):
        ended = record.finished(status)  # type: ignore[arg-type]
        assert worker.run_status(project, ended, alive=False) == status


def test_read_zoo_is_none_before_the_first_checkpoint(project: Project) -> None:
    run_id = _run(project, None)
    assert worker.read_zoo(project, run_id) is None
    zoo = FactorSet(run_id, (Factor("ts_mean($close, 5)", 0.1),), source={"kind": "mined"})
    atomic.write_json(project.run_dir(run_id) / worker.ZOO_FILE, zoo.to_dict())
    read = worker.read_zoo(project, run_id)
    assert read is not None and read.formulas == ["ts_mean($close, 5)"]
