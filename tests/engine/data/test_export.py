"""Exports: Parquet and CSV re-import to the same dataset hash, alphalens accepts the frames,
Qlib's layout is what Qlib reads; nothing is half-written or silently overwritten."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from engine.data.export import (
    alphalens_factors,
    alphalens_prices,
    export,
    to_alphalens,
    to_csv,
    to_parquet,
    to_qlib,
)
from engine.data.io import ROW, RawTable
from engine.data.synthetic import SyntheticConfig, generate
from engine.data.validate import check, load
from engine.errors import DataError, StoreError
from engine.store.project import Project
from tests.conftest import make_market


@pytest.fixture
def project(tmp_path: Path) -> Project:
    frame = generate(SyntheticConfig(n_tickers=12, n_days=120, seed=2))
    raw = RawTable(frame.with_columns(pl.int_range(1, frame.height + 1).cast(pl.Utf8)
                                      .alias(ROW)), source="synthetic")
    project = Project.create(tmp_path / "p")
    project.save_dataset("m", check(raw))
    return project


def test_parquet_and_csv_reimport_to_the_same_hash(project: Project, tmp_path: Path) -> None:
    meta = project.dataset_meta("m")
    frame = project.load_frame("m")
    for result in (to_parquet(frame, tmp_path / "x.parquet"), to_csv(frame, tmp_path / "x.csv")):
        again = project.save_dataset(f"re_{result.format}", load(str(result.path)))
        assert again.content_hash == meta.content_hash, result.format
    assert (tmp_path / "x.csv").read_text().startswith("date,ticker,")


def test_existing_targets_need_overwrite(project: Project, tmp_path: Path) -> None:
    frame = project.load_frame("m")
    target = tmp_path / "x.csv"
    target.write_text("keep me")
    with pytest.raises(StoreError, match="already exists"):
        to_csv(frame, target)
    assert target.read_text() == "keep me"
    with pytest.raises(StoreError, match="is a folder"):
        to_csv(frame, tmp_path, overwrite=True)  # a file export never replaces a folder
    to_csv(frame, target, overwrite=True)
    assert target.read_text().startswith("date,")
    (tmp_path / "q").mkdir()
    with pytest.raises(DataError, match="already exists"):
        to_qlib(frame, tmp_path / "q")
    to_qlib(frame, tmp_path / "q", overwrite=True)
    assert (tmp_path / "q" / "calendars" / "day.txt").is_file()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp-")]


def test_qlib_layout(project: Project, tmp_path: Path) -> None:
    frame = project.load_frame("m")
    result = to_qlib(frame, tmp_path / "q", universe="sp")
    root = result.path
    calendar = (root / "calendars" / "day.txt").read_text().split()
    assert calendar == [str(d) for d in frame.get_column("date").unique().sort()]
    spans = [ln.split("\t") for ln in (root / "instruments" / "all.txt").read_text().splitlines()]
    assert len(spans) == frame.get_column("ticker").n_unique()
    members = (root / "instruments" / "sp.txt").read_text().splitlines()
    assert members and all(len(m.split("\t")) == 3 for m in members)
    ticker = spans[0][0]
    raw = np.fromfile(root / "features" / ticker.lower() / "close.day.bin", dtype="<f4")
    assert calendar[int(raw[0])] == spans[0][1]
    closes = frame.filter(pl.col("ticker") == ticker).sort("date").get_column("close")
    assert np.allclose(raw[1:][np.isfinite(raw[1:])], closes.drop_nulls().to_numpy(), rtol=1e-6)


def test_qlib_refuses_colliding_or_bad_names(tmp_path: Path) -> None:
    frame = make_market(2, 40).with_columns(
        pl.when(pl.col("ticker") == "T01").then(pl.lit("t00")).otherwise(pl.col("ticker"))
        .alias("ticker"))
    with pytest.raises(DataError, match="differ only in case"):
        to_qlib(frame, tmp_path / "q")
    slash = make_market(2, 40).with_columns(pl.col("ticker").str.replace("T01", "BRK/B"))
    with pytest.raises(DataError, match="cannot be a Qlib folder name"):
        to_qlib(slash, tmp_path / "q")
    with pytest.raises(DataError, match="cannot be a universe name"):
        to_qlib(make_market(2, 40), tmp_path / "q", universe="all")
    assert not (tmp_path / "q").exists()


def test_alphalens_accepts_the_frames(project: Project, tmp_path: Path) -> None:
    alphalens = pytest.importorskip("alphalens")
    frame = project.load_frame("m")
    prices = alphalens_prices(frame, "close")
    factors = alphalens_factors(frame)
    assert list(factors.index.names) == ["date", "asset"]
    factor = factors["close"].pct_change(5).rename("factor")  # any column works as a factor
    factor = factor.dropna()
    clean = alphalens.utils.get_clean_factor_and_forward_returns(
        factor, prices, quantiles=3, periods=(1, 5), max_loss=1.0)
    assert len(clean) > 0 and "1D" in clean.columns
    result = to_alphalens(frame, tmp_path / "al", factors=["close", "volume"])
    import pandas as pd

    back = pd.read_parquet(result.path / "factors.parquet")
    assert list(back.columns) == ["close", "volume"] and back.index.names == ["date", "asset"]
    assert pd.read_parquet(result.path / "prices.parquet").shape == prices.shape


def test_unknown_format_and_columns(project: Project, tmp_path: Path) -> None:
    frame = project.load_frame("m")
    with pytest.raises(DataError, match="unknown export format 'xlsx'"):
        export(frame, "xlsx", tmp_path / "x")
    with pytest.raises(DataError, match="no 'adj' column"):
        alphalens_prices(frame, "adj")
    with pytest.raises(DataError, match="no column"):
        alphalens_factors(frame, ["nope"])
