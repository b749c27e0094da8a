"""Tests of the synthetic demo market: schema, determinism, realism and the planted signals.

The planted signals are recomputed here directly with torch (a reference implementation that
does not share code with the generator or the formula evaluator) and scored with a per-day
Spearman correlation against the 20-day vwap target.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import polars as pl
import pytest
import torch

from engine.data.panel import Panel, build
from engine.data.synthetic import (
    PLANTED_SIGNALS,
    SyntheticConfig,
    generate,
    ticker_names,
)
from engine.data.target import forward_return
from engine.errors import ConfigError
from engine.expr.xsection import rank_average

SMALL = SyntheticConfig(n_tickers=40, n_days=200, seed=3)


# ---------------------------------------------------------------- reference signal code


def _ref(x: torch.Tensor, d: int) -> torch.Tensor:
    """``out[t] = x[t - d]`` along dim 0, NaN before the start."""
    out = torch.full_like(x, float("nan"))
    out[d:] = x[:-d]
    return out


def _windows(x: torch.Tensor, w: int) -> torch.Tensor:
    """``[T, N, w]`` trailing windows (days t-w+1 ... t); NaN rows where history is short."""
    out = torch.full((*x.shape, w), float("nan"), dtype=x.dtype)
    out[w - 1 :] = x.unfold(0, w, 1)
    return out


def reversal_5d(panel: Panel) -> torch.Tensor:
    close = panel.feature("close").double()
    return -(close / _ref(close, 5) - 1.0)


def low_vol_20d(panel: Panel) -> torch.Tensor:
    close = panel.feature("close").double()
    ret = close / _ref(close, 1) - 1.0
    return -_windows(ret, 20).std(dim=-1)  # ddof=1; a NaN in the window gives NaN


def vol_price_corr_10d(panel: Panel) -> torch.Tensor:
    c = _windows(panel.feature("close").double(), 10)
    v = _windows(panel.feature("volume").double(), 10)
    cc = c - c.mean(dim=-1, keepdim=True)
    vc = v - v.mean(dim=-1, keepdim=True)
    ssc, ssv = (cc * cc).sum(-1), (vc * vc).sum(-1)
    denom = torch.where((ssc < 1e-6) | (ssv < 1e-6), torch.ones_like(ssc), (ssc * ssv).sqrt())
    return (cc * vc).sum(-1) / denom


REFERENCE = {
    "reversal_5d": reversal_5d,
    "low_vol_20d": low_vol_20d,
    "vol_price_corr_10d": vol_price_corr_10d,
}


def daily_rank_ic(factor: torch.Tensor, target: torch.Tensor, min_stocks: int = 10) -> np.ndarray:
    """``[T]`` per-day Spearman correlation over stocks where both are finite (NaN on days
    with fewer than ``min_stocks``)."""
    both = torch.isfinite(factor) & torch.isfinite(target)
    nan = torch.tensor(float("nan"), dtype=torch.float64)
    rf = rank_average(torch.where(both, factor.double(), nan))
    rt = rank_average(torch.where(both, target.double(), nan))
    count = both.sum(-1)
    mf = torch.nanmean(rf, dim=-1, keepdim=True)
    mt = torch.nanmean(rt, dim=-1, keepdim=True)
    df = torch.where(both, rf - mf, torch.zeros_like(rf))
    dt_ = torch.where(both, rt - mt, torch.zeros_like(rt))
    ic = (df * dt_).sum(-1) / ((df * df).sum(-1) * (dt_ * dt_).sum(-1)).sqrt()
    return torch.where(count >= min_stocks, ic, nan).numpy()


def half_means(config: SyntheticConfig, frame: pl.DataFrame) -> dict[str, tuple[float, float]]:
    """Mean daily RankIC of each planted formula before / after the flip date."""
    panel = build(frame)
    target = forward_return(panel, horizon=20, price="vwap")
    before = panel.dates < np.datetime64(config.flip_date(), "D")
    out = {}
    for signal in PLANTED_SIGNALS:
        ic = daily_rank_ic(REFERENCE[signal.name](panel), target)
        out[signal.name] = (float(np.nanmean(ic[before])), float(np.nanmean(ic[~before])))
    return out


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def small() -> pl.DataFrame:
    return generate(SMALL)


@pytest.fixture(scope="module")
def default_frame() -> pl.DataFrame:
    return generate(SyntheticConfig())


# ---------------------------------------------------------------- config


def test_config_round_trips_through_dict() -> None:
    cfg = SyntheticConfig(n_tickers=50, seed=7, flip_fraction=0.6)
    data = cfg.to_dict()
    assert data["schema_version"] == 1
    assert SyntheticConfig.from_dict(data) == cfg
    assert SyntheticConfig.from_dict({"market_vol": 1}) == SyntheticConfig(market_vol=1.0)


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({"n_tickers": 3}, "n_tickers"),
        ({"bogus": 1}, "bogus"),
        ({"n_days": "100"}, "n_days"),
        ({"seed": True}, "seed"),
        ({"start": "2015-01-03"}, "business day"),
        ({"start": "yesterday"}, "start"),
        ({"garch_alpha": 0.5, "garch_beta": 0.6}, "garch"),
        ({"schema_version": 99}, "schema_version"),
    ],
)
def test_config_errors_name_the_field(data: dict, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        SyntheticConfig.from_dict(data)


def test_flip_date_is_halfway() -> None:
    cfg = SyntheticConfig(n_days=100)
    assert cfg.flip_day == 50
    assert cfg.flip_date() == cfg.dates()[50].astype(dt.date)
    assert cfg.dates()[0].astype(dt.date) == dt.date(2015, 1, 2)
    assert all(d.astype(dt.date).weekday() < 5 for d in cfg.dates())


# ---------------------------------------------------------------- frame


def test_schema_and_dtypes(small: pl.DataFrame) -> None:
    assert small.schema == pl.Schema(
        {
            "date": pl.Date,
            "ticker": pl.Utf8,
            "open": pl.Float64,
            "high": pl.Float64,
            "low": pl.Float64,
            "close": pl.Float64,
            "volume": pl.Float64,
            "vwap": pl.Float64,
            "in_universe": pl.Boolean,
        }
    )
    assert small.null_count().sum_horizontal().item() == 0
    assert small.select(pl.struct("date", "ticker").is_unique().all()).item()
    assert small.equals(small.sort("date", "ticker"))
    assert set(small["ticker"].unique()) <= set(ticker_names(SMALL.n_tickers))
    assert ticker_names(3) == ["SYN0001", "SYN0002", "SYN0003"]
    assert ticker_names(12000)[-1] == "SYN12000"


def test_same_seed_identical_other_seed_different(small: pl.DataFrame) -> None:
    assert generate(SMALL).equals(small)
    assert not generate(dataclasses.replace(SMALL, seed=4)).equals(small)


def test_ohlc_consistent_and_positive(default_frame: pl.DataFrame) -> None:
    bad = default_frame.filter(
        (pl.col("low") > pl.min_horizontal("open", "close"))
        | (pl.col("high") < pl.max_horizontal("open", "close"))
        | (pl.col("vwap") < pl.col("low"))
        | (pl.col("vwap") > pl.col("high"))
        | (pl.col("low") <= 0)
        | (pl.col("volume") < 1)
    )
    assert bad.height == 0, bad.head()
    assert all(
        np.isfinite(default_frame[c].to_numpy()).all()
        for c in ("open", "high", "low", "close", "volume", "vwap")
    )


def test_missing_days_listings_delistings_and_universe(default_frame: pl.DataFrame) -> None:
    cfg = SyntheticConfig()
    spans = default_frame.group_by("ticker").agg(
        pl.col("date").min().alias("first"),
        pl.col("date").max().alias("last"),
        pl.len().alias("rows"),
    )
    dates = cfg.dates()
    first_day, last_day = dates[0].astype(dt.date), dates[-1].astype(dt.date)
    late = spans.filter(pl.col("first") > first_day)
    early = spans.filter(pl.col("last") < last_day)
    assert spans.height == cfg.n_tickers
    assert late.height >= 5 and early.height >= 5
    # rows absent at random inside a stock's life: rare but present
    calendar = pl.DataFrame({"date": dates}).with_columns(pl.col("date").cast(pl.Date))
    index = calendar.with_row_index("i")
    life = spans.join(index.rename({"date": "first", "i": "i0"}), on="first").join(
        index.rename({"date": "last", "i": "i1"}), on="last"
    )
    gaps = (life["i1"] - life["i0"] + 1 - life["rows"]).sum()
    rate = gaps / default_frame.height
    assert 0.0002 < rate < 0.005
    # point-in-time universe: some rows out, most in, membership changes over time
    share = default_frame["in_universe"].mean()
    assert 0.75 < share < 0.97
    switches = (
        default_frame.sort("ticker", "date")
        .group_by("ticker", maintain_order=True)
        .agg((pl.col("in_universe").cast(pl.Int8).diff().abs().sum()).alias("n"))
    )
    assert (switches["n"] > 0).sum() >= 10


def test_returns_are_fat_tailed_and_volatility_clusters(default_frame: pl.DataFrame) -> None:
    panel = build(default_frame)
    close = panel.feature("close").double()
    ret = (close / _ref(close, 1)).log()
    ok = torch.isfinite(ret)
    r = ret[ok].numpy()
    z = (r - r.mean()) / r.std()
    assert (z**4).mean() > 5.0  # excess kurtosis well above a normal's 3
    # |return| autocorrelation at lag 1 (per stock, pooled): clustering
    a = ret.abs()
    both = torch.isfinite(a[1:]) & torch.isfinite(a[:-1])
    x, y = a[1:][both].numpy(), a[:-1][both].numpy()
    assert np.corrcoef(x, y)[0, 1] > 0.1
    # volume co-moves with |return|
    lv = panel.feature("volume").double().log()
    both = torch.isfinite(lv) & torch.isfinite(a)
    assert np.corrcoef(lv[both].numpy(), a[both].numpy())[0, 1] > 0.05


# ---------------------------------------------------------------- planted signals


def test_planted_signals_are_described_as_data() -> None:
    names = [s.name for s in PLANTED_SIGNALS]
    assert names == list(REFERENCE)
    assert sum(s.flips for s in PLANTED_SIGNALS) == 1
    for s in PLANTED_SIGNALS:
        assert s.sign_before in (-1, 1) and s.sign_after in (-1, 1)
        for lo, hi in (s.rank_ic_before, s.rank_ic_after):
            assert lo < hi
        assert np.sign(s.rank_ic_before[0]) == s.sign_before
        assert np.sign(s.rank_ic_after[0]) == s.sign_after
        assert "$" in s.formula


def test_planted_rank_ic_in_documented_range(default_frame: pl.DataFrame) -> None:
    means = half_means(SyntheticConfig(), default_frame)
    for s in PLANTED_SIGNALS:
        before, after = means[s.name]
        assert s.rank_ic_before[0] <= before <= s.rank_ic_before[1], (s.name, before)
        assert s.rank_ic_after[0] <= after <= s.rank_ic_after[1], (s.name, after)
        assert np.sign(before) == s.sign_before and np.sign(after) == s.sign_after
        if s.flips:
            assert np.sign(before) != np.sign(after)


def test_no_flip_keeps_signs() -> None:
    cfg = SyntheticConfig(n_days=800, flip_fraction=1.0, seed=1)
    means = half_means(dataclasses.replace(cfg, flip_fraction=0.5), generate(cfg))
    for s in PLANTED_SIGNALS:
        before, after = means[s.name]
        assert before > 0 and after > 0, (s.name, before, after)


@pytest.mark.parametrize("seed", [1, 2])
def test_planted_rank_ic_in_range_for_other_seeds(seed: int) -> None:
    _check_ranges(SyntheticConfig(seed=seed))


@pytest.mark.slow
def test_planted_rank_ic_in_range_for_the_documented_seeds() -> None:
    """The documented ranges were measured over seeds 0-19 (docs/synthetic-market.md)."""
    for seed in range(3, 20):
        _check_ranges(SyntheticConfig(seed=seed))


def _check_ranges(cfg: SyntheticConfig) -> None:
    means = half_means(cfg, generate(cfg))
    for s in PLANTED_SIGNALS:
        before, after = means[s.name]
        assert s.rank_ic_before[0] <= before <= s.rank_ic_before[1], (cfg.seed, s.name, before)
        assert s.rank_ic_after[0] <= after <= s.rank_ic_after[1], (cfg.seed, s.name, after)
