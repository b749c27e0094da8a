"""Mining runs in a project: files, records, progress, factor sets; cancel -> resumable;
resume (after a cancel, a SIGTERM or a kill -9) ends with the same zoo as a straight run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from engine.errors import ConfigError, StoreError
from engine.mining import worker
from engine.mining.config import MiningConfig
from engine.mining.zoo import load_factor_set
from engine.store.project import Project, read_progress
from tests.engine.mining.conftest import make_project, tiny


@pytest.fixture
def project(tmp_path: Path, small_frame: pl.DataFrame) -> Project:
    return make_project(tmp_path / "proj", small_frame)


def _zoo(project: Project, run_id: str) -> list[tuple[str, float]]:
    return [(f.formula, f.fitness) for f in load_factor_set(project, run_id).factors]


def test_a_run_leaves_record_progress_checkpoint_and_factor_set(project: Project) -> None:
    seen: list[dict[str, Any]] = []
    cfg = tiny(max_rounds=1)
    run_id = worker.run_mining(project, cfg, dataset="demo", progress_cb=seen.append)
    record = project.run_record(run_id)
    assert record.status == "done" and record.kind == "mine" and record.seed == 0
    assert record.dataset == "demo" and record.dataset_hash
    assert MiningConfig.from_dict(record.config) == cfg and "torch" in record.versions
    events = read_progress(project, run_id)
    assert [e["event"] for e in events][0] == "started" and events[-1]["event"] == "done"
    assert [e["event"] for e in seen] == [e["event"] for e in events]
    rnd = next(e for e in events if e["event"] == "round")
    for key in ("step", "evaluated", "share_valid", "share_new", "best_fitness",
                "median_fitness", "zoo_size", "elapsed_s", "eta_s", "time"):
        assert key in rnd
    folder = project.run_dir(run_id)
    assert (folder / worker.CHECKPOINT_FILE).exists() and (folder / worker.ZOO_FILE).exists()
    fs = load_factor_set(project, run_id)
    assert fs.factors and fs.source["run_id"] == run_id and fs.source["generator"] == "cnn"
    assert set(fs.factors[0].metrics) == {"train", "valid"}
    assert {"ic", "rank_ic", "icir", "rank_icir"} <= set(fs.factors[0].metrics["valid"])
    zoo_file = json.loads((folder / worker.ZOO_FILE).read_text())
    assert [f["formula"] for f in zoo_file["factors"]] == fs.formulas


@pytest.mark.parametrize("generator", ["cnn", "gp"])
def test_cancel_then_resume_ends_with_the_straight_runs_zoo(project: Project,
                                                            generator: str) -> None:
    cfg = tiny(generator=generator, max_rounds=3, zoo_size=40, ic_thresh=0.05,
               icir_thresh=0.3)
    straight = worker.run_mining(project, cfg, dataset="demo")
    run_id = worker.create_run(project, cfg, "demo")

    def stop_after_first_round(event: dict[str, Any]) -> None:
        if event["event"] == "round" and event["round"] == 1:
            worker.cancel(project, run_id)

    assert worker.run(project, run_id, progress_cb=stop_after_first_round) is None
    assert project.run_record(run_id).status == "cancelled"
    assert worker.has_checkpoint(project, run_id)
    assert worker.run_mining(project, resume=run_id) == run_id
    assert project.run_record(run_id).status == "done"
    assert _zoo(project, run_id) == _zoo(project, straight)
    events = [e["event"] for e in read_progress(project, run_id)]
    assert "cancelled" in events and "resumed" in events


def test_resume_rules(project: Project) -> None:
    cfg = tiny(max_rounds=1)
    run_id = worker.run_mining(project, cfg, dataset="demo")
    with pytest.raises(ConfigError, match="has already finished; nothing to resume"):
        worker.run_mining(project, resume=run_id)
    with pytest.raises(ConfigError, match="already has a checkpoint; resume it instead"):
        worker.run(project, run_id)
    other = worker.create_run(project, cfg, "demo")
    with pytest.raises(ConfigError, match="different config"):
        worker.run_mining(project, cfg.with_(seed=9), resume=other)
    with pytest.raises(StoreError, match="no dataset 'nope'"):
        worker.run_mining(project, cfg, dataset="nope")
    with pytest.raises(ConfigError, match="needs a config and a dataset"):
        worker.run_mining(project, cfg)


def _wait_for(project: Project, run_id: str, event: str, timeout: float = 120) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if any(e["event"] == event for e in read_progress(project, run_id)):
            return
        time.sleep(0.2)
    log = (project.run_dir(run_id) / worker.LOG_FILE).read_text(errors="replace")
    raise AssertionError(f"no '{event}' event within {timeout} s; worker log:\n{log}")


def _wait_exit(proc: subprocess.Popen[bytes], timeout: float = 120) -> int:
    return proc.wait(timeout=timeout)


def test_background_run_killed_then_resumed_matches_a_straight_run(project: Project) -> None:
    """kill -9 in the middle of a run leaves a resumable run, never a corrupt one."""
    cfg = tiny(max_rounds=2, zoo_size=40, ic_thresh=0.05, icir_thresh=0.3)
    straight = worker.run_mining(project, cfg, dataset="demo")
    run_id = worker.create_run(project, cfg, "demo")
    proc = worker.spawn(project, run_id)
    try:
        _wait_for(project, run_id, "warmup")  # then killed during round 0
        os.kill(proc.pid, signal.SIGKILL)
        _wait_exit(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert project.run_record(run_id).status == "running"  # never got to say anything
    assert worker.worker_pid(project, run_id) is None
    worker.run_mining(project, resume=run_id)
    assert _zoo(project, run_id) == _zoo(project, straight)


@pytest.mark.slow
def test_sigterm_cancels_a_background_run_which_resumes_in_background(project: Project
                                                                      ) -> None:
    cfg = tiny(max_rounds=3, zoo_size=40, ic_thresh=0.05, icir_thresh=0.3)
    run_id = worker.start(project, cfg, dataset="demo")
    _wait_for(project, run_id, "warmup")
    pid = worker.worker_pid(project, run_id)
    assert pid is not None
    os.kill(pid, signal.SIGTERM)
    _wait_for(project, run_id, "cancelled")
    deadline = time.monotonic() + 60
    while worker.worker_pid(project, run_id) is not None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert project.run_record(run_id).status == "cancelled"
    worker.resume_in_background(project, run_id)
    deadline = time.monotonic() + 180
    while project.run_record(run_id).status != "done" and time.monotonic() < deadline:
        time.sleep(0.5)
    assert project.run_record(run_id).status == "done"
    straight = worker.run_mining(project, cfg, dataset="demo")
    assert _zoo(project, run_id) == _zoo(project, straight)
