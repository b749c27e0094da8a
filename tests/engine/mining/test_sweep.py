"""Sweeps: walk-forward splits, a tiny grid that gives the same records in this process, on
a process pool and on a throw-away Ray head, resume after a kill runs only missing cells,
and only the driver writes into the project."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from engine.data.panel import Panel, build
from engine.data.synthetic import SyntheticConfig, generate
from engine.errors import ConfigError
from engine.mining import sweep as S
from engine.mining import sweep_store
from engine.mining.executors import execute
from tests.engine.mining.conftest import make_project

#: A small market over 2015–2017 so that test year 2017 has a training and a validation year.
MARKET = SyntheticConfig(n_tickers=40, n_days=760, seed=1)
FAST: dict[str, Any] = dict(batch_size=32, warmup=60, warmup_max_batches=4, g_steps=2,
                            g_patience=1, p_epochs=2, p_patience=1, new_per_round=30,
                            new_max_batches=2, random_per_round=10, max_rounds=1,
                            zoo_size=4, gp_population=30, warmup_seeds=-1, min_stocks=4)


@pytest.fixture(scope="module")
def market() -> Any:
    return generate(MARKET)


def _spec(**kw: Any) -> S.SweepSpec:
    base: dict[str, Any] = dict(dataset="demo", methods=("gp", "random"), seeds=(0, 1),
                                test_years=(2017,), max_evaluations=90, overrides=FAST,
                                backtest={"top_k": 5, "drop_n": 1},
                                combine={"window": 120, "n_factors": 3})
    base.update(kw)
    return S.SweepSpec(**base)


def test_walk_forward_keeps_the_gaps(market: Any) -> None:
    panel: Panel = build(market)
    train, valid, test = S.walk_forward(panel, 2017)
    assert train.start == str(panel.dates[0]) and train.end < "2016-01-01" <= valid.start
    assert valid.end < test.start and test.start >= "2017-01-01"
    days = [str(d) for d in panel.dates]
    assert days.index(valid.start) - days.index(train.end) == 22  # horizon + 1 days apart
    assert days.index(test.start) - days.index(valid.end) == 22
    with pytest.raises(ConfigError, match="2015"):
        S.walk_forward(panel, 2015)


def test_grid_is_the_same_inline_on_a_pool_and_on_ray(market: Any) -> None:
    panel = build(market)
    spec = _spec()
    grid = S.cells(spec)
    assert [c.id for c in grid] == ["2017-gp-s0", "2017-gp-s1", "2017-random-s0",
                                    "2017-random-s1"]
    inline = {c.id: r for c, r in execute("local", panel, spec, grid, workers=1)}
    pool = {c.id: r for c, r in execute("local", panel, spec, grid, workers=2)}
    assert inline.keys() == pool.keys()
    for key in inline:
        assert S.same_result(inline[key], pool[key]), key
    assert all(r["zoo_size"] > 0 and math.isfinite(r["test_rank_ic"]) for r in inline.values())
    ray = pytest.importorskip("ray")
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False,
             _node_ip_address="127.0.0.1", configure_logging=False)
    try:
        on_ray = {c.id: r for c, r in execute("ray", panel, spec, grid[:2], workers=2)}
    finally:
        ray.shutdown()
    for key in on_ray:
        assert S.same_result(inline[key], on_ray[key]), key


def test_resume_runs_only_the_missing_cells(tmp_path: Path, market: Any,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    project = make_project(tmp_path / "p", market)
    spec = _spec(methods=("random", "classic"), seeds=(0,))
    calls: list[str] = []
    original = S.run_cell

    def counted(panel: Panel, spec_: S.SweepSpec, cell: S.Cell) -> dict[str, Any]:
        calls.append(cell.id)
        if cell.method == "classic" and len(calls) == 2:
            raise KeyboardInterrupt  # the driver is killed mid-sweep
        return original(panel, spec_, cell)

    monkeypatch.setattr("engine.mining.sweep.run_cell", counted)
    with pytest.raises(KeyboardInterrupt):
        sweep_store.run_sweep(project, spec, workers=1)
    (run_id,) = [r.run_id for r in project.runs() if r.kind == "sweep"]
    assert project.run_record(run_id).status == "cancelled"
    assert list(sweep_store.done_cells(project, run_id)) == ["2017-random-s0"]
    sweep_store.run_sweep(project, resume=run_id, workers=1)
    assert calls == ["2017-random-s0", "2017-classic-s0", "2017-classic-s0"]
    assert project.run_record(run_id).status == "done"
    summary = sweep_store.summarize_sweep(project, run_id)
    assert {row["method"] for row in summary["table"]} == {"random", "classic"}
    assert summary["significance"]["deflated_sharpe"]["n_trials"] == 2
    # the mined cell is a normal finished mining run of the project
    cell = sweep_store.done_cells(project, run_id)["2017-random-s0"]
    assert project.run_record(cell["run_id"]).kind == "mine"
    assert (project.run_dir(cell["run_id"]) / "zoo.json").exists()
