"""Re-running a mining run or a strategy from what it saved gives identical results on CPU,
and the comparison reports what differs when something does."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
import torch

from engine.backtest.topk import TopKConfig
from engine.combine.service import StrategySpec, backtest_strategy, build_strategy, combine_config
from engine.data.synthetic import generate
from engine.errors import ConfigError, StoreError
from engine.mining import worker
from engine.reproduce import (
    compare_mining,
    compare_tables,
    compare_values,
    rerun_mining,
    rerun_strategy,
)
from engine.store import atomic
from engine.store.project import Project
from engine.store.strategies import load_strategy
from tests.engine.mining.conftest import SMALL, make_project, tiny


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def market() -> pl.DataFrame:
    return generate(SMALL)


@pytest.fixture
def project(tmp_path: Path, market: pl.DataFrame) -> Project:
    return make_project(tmp_path / "proj", market)


def _mine(project: Project) -> str:
    cfg = tiny(max_rounds=1, zoo_size=10, ic_thresh=0.02, icir_thresh=0.1)
    return worker.run_mining(project, cfg, dataset="demo")


def test_mining_rerun_is_identical_and_tampering_shows(project: Project) -> None:
    run_id = _mine(project)
    torch.set_num_threads(2)  # the re-run uses the original's thread count, then restores
    comparison = rerun_mining(project, run_id)
    assert torch.get_num_threads() == 2
    assert comparison.identical, comparison.differences
    assert comparison.kind == "mine" and comparison.original == run_id
    assert comparison.rerun != run_id and project.run_record(comparison.rerun).status == "done"
    items = {r.item for r in comparison.rows}
    assert {"formulas", "fitness", "train.ic", "valid.rank_icir"} <= items
    assert all(r.max_abs_diff == 0 for r in comparison.rows)
    assert comparison.rows[0].n_compared >= 1

    # change one metric of the original's zoo and drop its last formula
    path = project.root / "factors" / f"{run_id}.json"
    data = json.loads(path.read_text())
    data["factors"][0]["metrics"]["valid"]["ic"] += 0.25
    dropped = data["factors"].pop()["formula"]
    atomic.write_json(path, data)
    diff = compare_mining(project, run_id, comparison.rerun)
    assert not diff.identical
    rows = {r.item: r for r in diff.differences}
    assert rows["valid.ic"].max_abs_diff == pytest.approx(0.25)
    assert rows["valid.ic"].n_different == 1
    assert rows["formulas"].n_different == 1 and dropped in rows["formulas"].note
    assert not math.isfinite(rows["formulas"].max_abs_diff)
    assert diff.to_dict()["identical"] is False


def test_mining_rerun_refusals(project: Project, market: pl.DataFrame) -> None:
    run_id = _mine(project)
    unfinished = worker.create_run(project, tiny(max_rounds=1), "demo")
    with pytest.raises(ConfigError, match="not finished: resume it"):
        rerun_mining(project, unfinished)
    other = market.with_columns(pl.col("close") * 1.01)
    make_project(project.root, other, name="tmp")  # same project: a second dataset
    project.rename_dataset("demo", "old")
    project.rename_dataset("tmp", "demo")
    with pytest.raises(StoreError, match="'demo' .* is not the data run .* computed on"):
        rerun_mining(project, run_id)


def test_strategy_rerun_is_identical_and_tampering_shows(project: Project) -> None:
    spec = StrategySpec(name="mega", dataset="demo", factor_set="classic",
                        test=("2015-10-01", None), train=None,
                        config=combine_config("dynamic", window=60))
    build_strategy(project, spec)
    backtest_strategy(project, "mega", TopKConfig(top_k=10, drop_n=2), rf=0.01)
    comparison = rerun_strategy(project, "mega")
    assert comparison.identical, comparison.differences
    assert comparison.rerun == "mega-rerun"
    tables = {r.table for r in comparison.rows}
    assert {"weights", "scores", "daily", "backtest_daily", "summary", "backtest"} <= tables
    rerun = load_strategy(project, "mega-rerun")
    assert rerun.backtest is not None and rerun.backtest["rf"] == 0.01

    with pytest.raises(StoreError, match="already exists"):
        rerun_strategy(project, "mega")
    scores = load_strategy(project, "mega").table("scores")
    atomic.write_parquet(project.root / "strategies" / "mega" / "scores.parquet",
                         scores.with_columns(pl.col("score") + 1e-3))
    diff = rerun_strategy(project, "mega", overwrite=True)
    assert [(r.table, r.item) for r in diff.differences] == [("scores", "score")]
    assert diff.differences[0].max_abs_diff == pytest.approx(1e-3)
    assert rerun_strategy(project, "mega", new_name="again", tolerance=1e-2).identical
    with pytest.raises(ConfigError, match="other than 'mega'"):
        rerun_strategy(project, "mega", new_name="mega")


def test_compare_tables_and_values() -> None:
    a = pl.DataFrame({"d": ["x", "y", None], "v": [1.0, float("nan"), None], "n": [1, 2, 3]})
    assert all(r.n_different == 0 for r in compare_tables("t", a, a.clone()))
    b = a.with_columns(pl.Series("v", [1.5, 2.0, None]), pl.Series("d", ["x", "z", None]))
    rows = {r.item: r for r in compare_tables("t", a, b)}
    assert rows["v"].n_different == 2 and math.isinf(rows["v"].max_abs_diff)  # NaN vs 2.0
    assert rows["d"].n_different == 1 and rows["n"].n_different == 0
    assert rows["v"].n_compared == 3
    rows = {r.item: r for r in compare_tables("t", a, b.with_columns(pl.lit(2.0).alias("v")),
                                              tol=1.0)}
    assert rows["v"].n_different == 2  # NaN and null vs 2.0; 1.0 vs 2.0 within tolerance
    assert compare_tables("t", a, a.drop("n"))[0].item == "columns"
    assert compare_tables("t", a, a.head(2))[0].item == "rows"
    assert compare_values("s", "x", [None, 1], [None, 1]).n_different == 0
    assert compare_values("s", "x", ["a"], ["b"]).n_different == 1
    assert compare_values("s", "x", [1, 2], [1]).n_different == 1


def test_a_run_cut_by_its_time_budget_gets_a_note(project: Project) -> None:
    run_id = worker.run_mining(project, tiny(max_rounds=1, time_budget_s=1e-3), dataset="demo")
    comparison = rerun_mining(project, run_id, tolerance=1.0)
    assert any("time budget" in note for note in comparison.notes)
    assert comparison.to_dict()["notes"] == list(comparison.notes)
