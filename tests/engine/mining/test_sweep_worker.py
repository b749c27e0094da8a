"""A sweep in a background process (what the Sweeps page starts): the command it spawns,
cancel between cells with the finished ones kept, resume of the missing ones, progress and
ETA, and 'stopped' when the process is gone."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from engine.data.synthetic import generate
from engine.errors import ConfigError
from engine.mining import executors, sweep_store, sweep_worker, worker
from engine.mining import sweep as S
from engine.store import atomic
from tests.engine.mining.conftest import make_project
from tests.engine.mining.test_sweep import FAST, MARKET


def _spec() -> Any:
    return S.SweepSpec(dataset="demo", methods=("random",), seeds=(0, 1), test_years=(2017,),
                       max_evaluations=90, overrides=FAST, backtest={"top_k": 5, "drop_n": 1},
                       combine={"window": 120, "n_factors": 3})


def test_start_spawns_the_sweep_worker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = make_project(tmp_path / "p", generate(MARKET))
    seen: dict[str, Any] = {}
    monkeypatch.setattr(worker, "spawn", lambda p, run_id, command: seen.update(
        run=run_id, command=command))
    run_id = sweep_worker.start(project, _spec(), workers=3)
    assert seen["run"] == run_id and project.run_record(run_id).kind == "sweep"
    assert seen["command"][:3] == [sys.executable, "-m", "engine.mining.sweep_worker"]
    assert seen["command"][seen["command"].index("--workers") + 1] == "3"
    # the record says running but no process holds it: shown as stopped, resumable
    assert sweep_worker.status(project, run_id) == "stopped"
    progress = sweep_store.sweep_progress(project, run_id)
    assert (progress.done, progress.total, progress.eta_s) == (0, 2, None)


def test_cancel_keeps_the_finished_cell_and_resume_runs_the_other(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = make_project(tmp_path / "p", generate(MARKET))
    run_id = sweep_store.create_sweep(project, _spec())
    folder = project.run_dir(run_id)
    args = ["--project", str(project.root), "--run", run_id, "--workers", "1"]
    real = executors._run_cell

    def then_cancel(*a: Any) -> Any:  # the user presses Cancel while the first cell runs
        out = real(*a)
        sweep_worker.cancel(project, run_id)
        return out

    with monkeypatch.context() as m:
        m.setattr(executors, "_run_cell", then_cancel)
        assert sweep_worker.main(args) == 0
    assert project.run_record(run_id).status == "cancelled"
    assert len(sweep_store.done_cells(project, run_id)) == 1
    assert not (folder / worker.PID_FILE).exists()
    assert sweep_worker.main(args) == 0  # what Resume spawns
    assert project.run_record(run_id).status == "done"
    assert len(sweep_store.done_cells(project, run_id)) == 2
    with pytest.raises(ConfigError, match="already finished"):
        sweep_worker.resume(project, run_id)


def test_progress_has_an_eta_while_running(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", generate(MARKET))
    run_id = sweep_store.create_sweep(project, _spec())
    folder = project.run_dir(run_id)
    cells = folder / sweep_store.CELLS_DIR
    cells.mkdir()
    first = S.cells(_spec())[0]
    atomic.write_json(cells / f"{first.id}.json", {"id": first.id, "wall_s": 40.0,
                                                   "executor": "local"})
    atomic.write_json(folder / worker.PID_FILE, {"pid": __import__("os").getpid(),
                                                 "workers": 2, "executor": "local"})
    p = sweep_store.sweep_progress(project, run_id)
    assert (p.done, p.total, p.status, p.workers, p.executor) == (1, 2, "running", 2, "local")
    assert p.eta_s == pytest.approx(40.0)  # one cell left, one worker busy with it
