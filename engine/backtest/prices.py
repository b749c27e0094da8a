"""Execution prices and the returns a position earns between two executions.

Signals are known at day t's close and traded at day t+1 at the configured price (open, close
or vwap), so positions are marked from one execution to the next: holding from the execution
of day d-1 to that of day d earns ``P[d] / P[d-1] - 1`` with P the execution price (open-to-open
returns when trading at the open). A name without a price on a day cannot be traded that day and
keeps its last price (return 0) until it trades again.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch

from engine.data.panel import Panel
from engine.errors import ConfigError

TRADE_AT: tuple[str, ...] = ("open", "close", "vwap")


def execution_price(panel: Panel, trade_at: str) -> np.ndarray:
    """``[T, N]`` float64 execution price from the panel, NaN (untradeable) where missing or
    not positive."""
    if trade_at not in TRADE_AT:
        raise ConfigError(f"trade_at must be one of {', '.join(TRADE_AT)}, got '{trade_at}'")
    p = panel.feature(trade_at).detach().cpu().numpy().astype(np.float64)
    return np.where(np.isfinite(p) & (p > 0), p, np.nan)


def forward_fill(price: np.ndarray) -> np.ndarray:
    """Last known price of each column (NaN before its first price), ``[T, N]``."""
    t, n = price.shape
    ok = np.isfinite(price)
    idx = np.where(ok, np.arange(t)[:, None], -1)
    np.maximum.accumulate(idx, axis=0, out=idx)
    out = price[np.maximum(idx, 0), np.arange(n)[None, :]]
    return np.where(idx >= 0, out, np.nan)


def holding_returns(price: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``R [T, N]`` float64 return from the execution of day d-1 to that of day d (0 on day 0,
    0 while the price is missing: the name is held at its last price) and ``tradeable [T, N]``
    bool (a price exists that day)."""
    tradeable = np.isfinite(price)
    filled = forward_fill(price)
    r = np.zeros_like(filled)
    with np.errstate(invalid="ignore", divide="ignore"):
        r[1:] = filled[1:] / filled[:-1] - 1.0
    return np.where(np.isfinite(r), r, 0.0), tradeable


def equal_weight_benchmark(price: np.ndarray, universe: np.ndarray) -> np.ndarray:
    """``[T]`` daily return of the equal-weight universe, rebalanced at every execution: mean
    of ``P[d] / P[d-1] - 1`` over names in the universe on day d-1 with a price on both days
    (NaN on day 0 or when no name qualifies)."""
    out = np.full(price.shape[0], np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = price[1:] / price[:-1] - 1.0
    ok = np.isfinite(r) & universe[:-1]
    count = ok.sum(1)
    total = np.where(ok, r, 0.0).sum(1)
    out[1:] = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    return out


def align_series(series: pd.Series, dates: Sequence[np.datetime64] | np.ndarray,
                 what: str) -> np.ndarray:
    """A user-supplied daily series (pandas, indexed by date) on the panel calendar, ``[T]``
    float64; dates it does not cover are NaN."""
    if not isinstance(series, pd.Series):
        raise ConfigError(f"{what} must be a pandas Series indexed by date, got "
                          f"{type(series).__name__}")
    try:
        index = pd.DatetimeIndex(series.index).normalize()
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{what}: its index is not made of dates ({err})") from err
    if index.has_duplicates:
        dup = index[index.duplicated()][0].date()
        raise ConfigError(f"{what}: date {dup} appears more than once")
    values = pd.Series(series.to_numpy(dtype=np.float64), index=index)
    return values.reindex(pd.DatetimeIndex(np.asarray(dates))).to_numpy(dtype=np.float64)


def ticker_benchmark(panel: Panel, ticker: str) -> pd.Series:
    """Daily close-to-close returns of one ticker of the panel (an index ETF, a market
    proxy) as a benchmark series indexed by date; NaN where a close is missing."""
    if ticker not in list(panel.tickers):
        raise ConfigError(f"benchmark ticker '{ticker}' is not in the dataset "
                          f"({len(panel.tickers)} tickers)")
    close = panel.feature("close")[:, list(panel.tickers).index(ticker)].to(torch.float64).numpy()
    ret = np.full_like(close, np.nan)
    ret[1:] = close[1:] / close[:-1] - 1.0
    return pd.Series(ret, index=pd.DatetimeIndex(np.asarray(panel.dates)))
