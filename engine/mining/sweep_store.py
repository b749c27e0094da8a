"""The sweep's driver: the only writer of a sweep into the project.

A sweep is a run of kind ``sweep`` (``runs/<id>/``: its spec as the config, ``cells/`` with
one JSON record per finished cell, ``summary.json``). Each mined cell is also saved as a
normal mining run (kind ``mine``: config, zoo, its started/done events), so ``alphaforge
rerun`` and bundles work on a cell like on any run. Cells are written one by one as they
finish (atomic writes), so a killed sweep resumes with the cells it has and runs only the
missing ones; executors never write (:mod:`engine.mining.executors`).
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from engine.errors import ConfigError, StoreError
from engine.mining import sweep as S
from engine.mining.executors import execute
from engine.mining.worker import RUN_KIND, ZOO_FILE
from engine.mining.zoo import Factor, FactorSet
from engine.store import atomic
from engine.store.project import Project
from engine.store.strategies import strategy_names

SWEEP_KIND = "sweep"
CELLS_DIR = "cells"
SUMMARY_FILE = "summary.json"
Progress = Callable[[dict[str, Any]], None]


def create_sweep(project: Project, spec: S.SweepSpec) -> str:
    """A new sweep run (status 'running') holding ``spec``; nothing runs yet."""
    panel = project.load_panel(spec.dataset)
    for cell in S.cells(spec):  # every cell's split must exist before anything runs
        S.cell_config(spec, cell, panel)
    record = project.new_run(SWEEP_KIND, spec.to_dict(), dataset=spec.dataset)
    return record.run_id


def sweep_ids(project: Project) -> list[str]:
    """The project's sweeps, newest first."""
    return [r.run_id for r in reversed(project.runs()) if r.kind == SWEEP_KIND]


def sweep_spec(project: Project, run_id: str) -> S.SweepSpec:
    record = project.run_record(run_id)
    if record.kind != SWEEP_KIND:
        raise ConfigError(f"run {run_id} is a '{record.kind}' run, not a sweep")
    return S.SweepSpec.from_dict(record.config)


def done_cells(project: Project, run_id: str) -> dict[str, dict[str, Any]]:
    """Records of the cells finished so far, by cell id."""
    folder = project.run_dir(run_id) / CELLS_DIR
    if not folder.is_dir():
        return {}
    out = {}
    for path in sorted(folder.glob("*.json")):
        data = atomic.read_json(path)
        if isinstance(data, dict) and "id" in data:
            out[str(data["id"])] = data
    return out


def _save_cell_run(project: Project, spec: S.SweepSpec, record: Mapping[str, Any]) -> str:
    """The cell as a normal, finished mining run; returns its run id."""
    run = project.new_run(RUN_KIND, record["config"], seed=int(record["cell"]["seed"]),
                          dataset=spec.dataset)
    folder = project.run_dir(run.run_id)
    source = {"kind": "mined", "run_id": run.run_id, "dataset": spec.dataset,
              "dataset_hash": run.dataset_hash, "generator": record["config"]["generator"],
              "seed": record["cell"]["seed"], "split": record["split"],
              "evaluated": record["evaluated"], "rounds": record["rounds"], "sweep_cell":
              record["id"]}
    factors = tuple(Factor(formula=z["formula"], fitness=float(z.get("fitness", 0.0)),
                           metrics=z.get("metrics", {})) for z in record["zoo"])
    atomic.write_json(folder / ZOO_FILE,
                      FactorSet(name=run.run_id, factors=factors, source=source).to_dict())
    lines = "".join(json.dumps(e) + "\n" for e in record.get("events", []))
    atomic.write_text(folder / "progress.jsonl", lines)
    project.save_record(run.finished("done"))
    return run.run_id


def run_sweep(project: Project, spec: S.SweepSpec | None = None, *, resume: str | None = None,
              executor: str = "local", workers: int | None = None, address: str | None = None,
              progress: Progress | None = None,
              should_stop: Callable[[], bool] | None = None) -> str:
    """Run a new sweep (``spec``) or the missing cells of ``resume``; returns the run id.

    Progress events: ``cell`` (one per finished cell: done, total, cell id, eta_s) and
    ``done``. The summary is written once every cell is in.
    """
    if resume is not None:
        run_id = resume
        spec = sweep_spec(project, run_id)
    elif spec is None:
        raise ConfigError("a new sweep needs a spec")
    else:
        run_id = create_sweep(project, spec)
    project.save_record(replace(project.run_record(run_id), status="running", ended=None,
                                error=None))
    panel = project.load_panel(spec.dataset)
    grid = S.cells(spec)
    have = done_cells(project, run_id)
    todo = [c for c in grid if c.id not in have]
    folder = project.run_dir(run_id) / CELLS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    t0, finished = time.monotonic(), 0
    try:
        for cell, rec in execute(executor, panel, spec, todo, workers=workers,
                                 address=address, should_stop=should_stop):
            if cell.method != S.CLASSIC_METHOD:
                rec["run_id"] = _save_cell_run(project, spec, rec)
            rec.pop("events", None)
            rec["executor"] = executor
            atomic.write_json(folder / f"{cell.id}.json", rec)
            finished += 1
            if progress is not None:
                per = (time.monotonic() - t0) / finished
                progress({"event": "cell", "cell": cell.id, "done": len(have) + finished,
                          "total": len(grid), "eta_s": per * (len(todo) - finished),
                          "executor": executor})
    except BaseException as exc:
        project.save_record(project.run_record(run_id).finished(
            "cancelled" if isinstance(exc, KeyboardInterrupt) else "failed",
            error=f"{type(exc).__name__}: {exc}"))
        raise
    if len(done_cells(project, run_id)) < len(grid):
        project.save_record(project.run_record(run_id).finished("cancelled"))
        return run_id
    write_summary(project, run_id)
    project.save_record(project.run_record(run_id).finished("done"))
    if progress is not None:
        progress({"event": "done", "done": len(grid), "total": len(grid)})
    return run_id


@dataclass(frozen=True)
class SweepProgress:
    """Where a sweep stands, as the app shows it. ``status``: the record's, or 'stopped'
    (running, but no live process); ``eta_s``: the mean wall time of its finished cells times
    the cells left, shared among its workers (None before the first cell or once done)."""

    done: int
    total: int
    status: str
    eta_s: float | None
    executor: str | None
    workers: int | None


def sweep_progress(project: Project, run_id: str) -> SweepProgress:
    from engine.mining import worker

    spec = sweep_spec(project, run_id)
    records = list(done_cells(project, run_id).values())
    total = len(S.cells(spec))
    status = worker.run_status(project, run_id)
    info: dict[str, Any] = {}
    pid_file = project.run_dir(run_id) / worker.PID_FILE
    if pid_file.exists():
        with contextlib.suppress(StoreError):
            loaded = atomic.read_json(pid_file)
            info = loaded if isinstance(loaded, dict) else {}
    workers = int(info["workers"]) if isinstance(info.get("workers"), int) else None
    walls = [float(r["wall_s"]) for r in records if isinstance(r.get("wall_s"), int | float)]
    left = total - len(records)
    eta = None
    if walls and left > 0 and status == "running":
        eta = sum(walls) / len(walls) * left / max(1, min(workers or 1, left))
    executor = info.get("executor") or (records[-1].get("executor") if records else None)
    return SweepProgress(done=len(records), total=total, status=status, eta_s=eta,
                         executor=str(executor) if executor else None, workers=workers)


def summarize_sweep(project: Project, run_id: str) -> dict[str, Any]:
    """Table rows, paired verdicts and significance of the sweep's finished cells; the
    deflated Sharpe ratio counts the project's saved strategies as trials too."""
    records = list(done_cells(project, run_id).values())
    table = S.results_table(records)
    return {"table": table.to_dicts() if table.height else [],
            "verdicts": [v.to_dict() for v in S.verdicts(records)],
            "significance": S.significance(records, extra_trials=len(strategy_names(project))),
            "cells": len(records)}


def write_summary(project: Project, run_id: str) -> dict[str, Any]:
    summary = summarize_sweep(project, run_id)
    atomic.write_json(project.run_dir(run_id) / SUMMARY_FILE, summary)
    return summary
