"""Panels for the formula-language tests: a random synthetic one and a slice of the real data."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
import torch

from engine.data.panel import Panel, build
from engine.data.schema import BASE_FEATURES
from tests.conftest import SHARED_DATA, US_FILE

#: Extra numeric column of the random panel: signed, to exercise Log/Sign/Pow on negatives.
EXTRA = "signal"


def random_panel(n_days: int = 90, n_tickers: int = 12, seed: int = 0,
                 nan_frac: float = 0.02) -> Panel:
    """A random market: positive prices and volumes, a signed extra feature, NaN holes,
    a ragged start (late listings) and a universe that drops some stocks on some days."""
    rng = np.random.default_rng(seed)
    t, n = n_days, n_tickers
    close = 50 * np.exp(np.cumsum(rng.normal(0, 0.02, (t, n)), axis=0))
    open_ = close * np.exp(rng.normal(0, 0.01, (t, n)))
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0, 0.01, (t, n))))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0, 0.01, (t, n))))
    volume = rng.lognormal(13, 0.5, (t, n))
    vwap = (high + low + close) / 3
    signal = rng.normal(0, 1, (t, n))
    values = np.stack([open_, close, high, low, volume, vwap, signal], axis=-1).astype(np.float32)
    values[rng.random(values.shape) < nan_frac] = np.nan
    start = rng.integers(0, t // 4, n)  # late listings
    start[: n // 2] = 0
    values[np.arange(t)[:, None] < start[None, :]] = np.nan
    present = ~np.isnan(values[..., 1])
    universe = present & (rng.random((t, n)) > 0.1)
    dates = np.datetime64("2020-01-01") + np.arange(t).astype("timedelta64[D]")
    return Panel(values=torch.from_numpy(values), dates=dates,
                 tickers=tuple(f"T{i:02d}" for i in range(n)),
                 features=(*BASE_FEATURES, EXTRA), universe=torch.from_numpy(universe))


@pytest.fixture(scope="session")
def small_panel() -> Panel:
    return random_panel()


@pytest.fixture(scope="session")
def us_panel() -> Panel:
    """60 tickers of the shared S&P 500 file (all days), vwap derived as (h + l + c) / 3."""
    if not SHARED_DATA.exists():
        pytest.skip("../shared/data is absent")
    frame = pl.read_parquet(US_FILE)
    tickers = sorted(frame.get_column("ticker").unique().to_list())
    # every 9th ticker plus short histories (APTV, DWDP) and NaN open/high/low (REGN, ES, O)
    keep = sorted(set(tickers[::9][:55]) | {"APTV", "DWDP", "REGN", "ES", "O"})
    frame = frame.filter(pl.col("ticker").is_in(keep)).with_columns(
        vwap=(pl.col("high") + pl.col("low") + pl.col("close")) / 3
    )
    return build(frame, vwap_derived=True)


@pytest.fixture(autouse=True)
def _one_intra_op_thread():
    """Run these tests with one torch thread, restored afterwards.

    The kernels are many small tensor operations; on an oversubscribed 2-core machine (the
    test box runs several suites at once) OpenMP's thread hand-offs made them up to 100x
    slower than single-threaded. Results do not depend on the thread count.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def us_panel_full() -> Panel:
    """All 505 tickers of the shared S&P 500 file, vwap derived as (h + l + c) / 3."""
    if not SHARED_DATA.exists():
        pytest.skip("../shared/data is absent")
    frame = pl.read_parquet(US_FILE).with_columns(
        vwap=(pl.col("high") + pl.col("low") + pl.col("close")) / 3
    )
    return build(frame, vwap_derived=True)
