"""Portfolio performance statistics of a daily return series, with their conventions stated.

Conventions (the same as empyrical-reloaded, which the tests check to 1e-8):
- returns are simple daily returns (0.01 = +1 %), one per trading day, 252 trading days a year;
- cumulative return = Π(1 + r) - 1; annual return is geometric (CAGR):
  ``(1 + cumulative) ** (252 / n_days) - 1``;
- annual volatility = sample std (ddof = 1) x √252;
- the risk-free rate ``rf`` is an annual simple rate, ``rf / 252`` per day; Sharpe =
  mean(r - rf_d) / std(r - rf_d) x √252; Sortino = mean(r - rf_d) x 252 / (√mean(min(r -
  rf_d, 0)²) x √252) (downside deviation over all days, below the risk-free return);
- max drawdown is the largest fall of the wealth index ``Π(1 + r)`` (starting at 1 before the
  first day) from its running peak, a negative fraction; Calmar = annual return / |max drawdown|;
- hit rate = share of days with r > 0;
- against a benchmark b (days where b is known): excess return = annual return - benchmark
  annual return (both geometric); tracking error = std(r - b) x √252; information ratio =
  mean(r - b) / std(r - b) x √252 (empyrical's ``excess_sharpe`` x √252).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import polars as pl

from engine.errors import ConfigError

TRADING_DAYS = 252

CONVENTIONS: dict[str, str] = {
    "returns": "simple daily returns, one per trading day",
    "annualisation": f"{TRADING_DAYS} trading days per year",
    "annual_return": f"geometric (CAGR): (1 + cumulative) ** ({TRADING_DAYS} / n_days) - 1",
    "annual_volatility": f"sample std (ddof=1) x sqrt({TRADING_DAYS})",
    "risk_free": f"annual simple rate rf, rf / {TRADING_DAYS} per day",
    "sharpe": f"mean(r - rf_d) / std(r - rf_d, ddof=1) x sqrt({TRADING_DAYS})",
    "sortino": f"mean(r - rf_d) x {TRADING_DAYS} / (sqrt(mean(min(r - rf_d, 0)^2)) x "
               f"sqrt({TRADING_DAYS}))",
    "max_drawdown": "largest fall of the wealth index from its running peak (negative); the "
                    "index starts at 1 before the first day",
    "drawdown_duration": "trading days from the peak to the recovery (to the last day if not "
                         "recovered)",
    "calmar": "annual_return / |max_drawdown|",
    "hit_rate": "share of days with a positive return",
    "turnover": "mean daily traded value / portfolio value (bought + sold)",
    "excess_return": "annual_return - benchmark annual return (both geometric)",
    "information_ratio": f"mean(r - b) / std(r - b, ddof=1) x sqrt({TRADING_DAYS})",
    "monthly": "compounded return of each calendar month",
}


def _check(r: np.ndarray, what: str = "returns") -> np.ndarray:
    arr = np.asarray(r, dtype=np.float64)
    if arr.ndim != 1:
        raise ConfigError(f"{what} must be one daily series, got shape {arr.shape}")
    return arr


def cumulative_return(r: np.ndarray) -> float:
    """Π(1 + r) - 1."""
    return float(np.prod(1.0 + _check(r)) - 1.0)


def annual_return(r: np.ndarray, periods: int = TRADING_DAYS) -> float:
    """Geometric annual return (CAGR); NaN for an empty series."""
    arr = _check(r)
    if len(arr) == 0:
        return math.nan
    return float(np.prod(1.0 + arr) ** (periods / len(arr)) - 1.0)


def annual_volatility(r: np.ndarray, periods: int = TRADING_DAYS) -> float:
    arr = _check(r)
    return float(np.std(arr, ddof=1) * math.sqrt(periods)) if len(arr) > 1 else math.nan


def _ratio(num: float, den: float) -> float:
    return num / den if den > 0 and math.isfinite(den) else math.nan


def sharpe_ratio(r: np.ndarray, rf: float = 0.0, periods: int = TRADING_DAYS) -> float:
    """Annualised Sharpe with an annual risk-free rate ``rf`` (NaN for zero dispersion)."""
    x = _check(r) - rf / periods
    if len(x) < 2 or np.ptp(x) == 0:
        return math.nan
    return _ratio(float(np.mean(x)), float(np.std(x, ddof=1))) * math.sqrt(periods)


def downside_risk(r: np.ndarray, rf: float = 0.0, periods: int = TRADING_DAYS) -> float:
    x = np.minimum(_check(r) - rf / periods, 0.0)
    return float(np.sqrt(np.mean(x * x)) * math.sqrt(periods)) if len(x) else math.nan


def sortino_ratio(r: np.ndarray, rf: float = 0.0, periods: int = TRADING_DAYS) -> float:
    x = _check(r) - rf / periods
    if len(x) < 2:
        return math.nan
    return _ratio(float(np.mean(x)) * periods, downside_risk(r, rf, periods))


def hit_rate(r: np.ndarray) -> float:
    arr = _check(r)
    return float(np.mean(arr > 0)) if len(arr) else math.nan


@dataclass(frozen=True)
class Drawdown:
    """The worst peak-to-trough fall of the wealth index.

    depth: negative fraction (0 when the index never fell). peak_date: last date at the peak
    (None = the starting capital, before the first day). trough_date: the lowest point.
    recovery_date: first date back at the peak (None = not recovered by the end).
    duration_days: trading days from peak to recovery, or to the last day if not recovered.
    """

    depth: float
    peak_date: dt.date | None
    trough_date: dt.date | None
    recovery_date: dt.date | None
    peak_to_trough_days: int
    duration_days: int

    @property
    def recovered(self) -> bool:
        return self.recovery_date is not None or self.depth == 0

    def to_dict(self) -> dict[str, Any]:
        def iso(d: dt.date | None) -> str | None:
            return None if d is None else d.isoformat()

        return {
            "depth": self.depth,
            "peak_date": iso(self.peak_date),
            "trough_date": iso(self.trough_date),
            "recovery_date": iso(self.recovery_date),
            "peak_to_trough_days": self.peak_to_trough_days,
            "duration_days": self.duration_days,
            "recovered": self.recovered,
        }


def drawdown_series(r: np.ndarray) -> np.ndarray:
    """``[n]`` fall of the wealth index from its running peak on each day (<= 0)."""
    wealth = np.concatenate([[1.0], np.cumprod(1.0 + _check(r))])
    peak = np.maximum.accumulate(wealth)
    return (wealth / peak - 1.0)[1:]


def max_drawdown(r: np.ndarray, dates: np.ndarray | None = None) -> Drawdown:
    """Depth, dates and duration of the worst drawdown (dates as ``datetime64`` or None)."""
    arr = _check(r)
    n = len(arr)
    if n == 0:
        return Drawdown(math.nan, None, None, None, 0, 0)
    wealth = np.concatenate([[1.0], np.cumprod(1.0 + arr)])
    peak = np.maximum.accumulate(wealth)
    dd = wealth / peak - 1.0
    trough = int(np.argmin(dd))
    if dd[trough] >= 0:
        return Drawdown(0.0, None, None, None, 0, 0)
    top = int(np.flatnonzero(wealth[: trough + 1] == peak[trough])[-1])
    back = np.flatnonzero(wealth[trough + 1:] >= peak[trough])
    rec = trough + 1 + int(back[0]) if len(back) else None

    def date(i: int | None) -> dt.date | None:
        if i is None or i == 0 or dates is None:
            return None
        return pd.Timestamp(dates[i - 1]).date()

    return Drawdown(
        depth=float(dd[trough]),
        peak_date=date(top),
        trough_date=date(trough),
        recovery_date=date(rec),
        peak_to_trough_days=trough - top,
        duration_days=(rec if rec is not None else n) - top,
    )


def calmar_ratio(r: np.ndarray, periods: int = TRADING_DAYS) -> float:
    depth = max_drawdown(r).depth
    if not depth < 0:
        return math.nan
    value = annual_return(r, periods) / abs(depth)
    return value if math.isfinite(value) else math.nan


def information_ratio(r: np.ndarray, b: np.ndarray, periods: int = TRADING_DAYS) -> float:
    active = _check(r) - _check(b, "benchmark")
    if len(active) < 2 or np.ptp(active) == 0:
        return math.nan
    return _ratio(float(np.mean(active)), float(np.std(active, ddof=1))) * math.sqrt(periods)


def monthly_returns(returns: pd.Series) -> pl.DataFrame:
    """Compounded return of each calendar month: columns year, month, return."""
    index = pd.DatetimeIndex(returns.index)
    frame = pl.DataFrame({
        "year": index.year.to_numpy().astype(np.int32),
        "month": index.month.to_numpy().astype(np.int8),
        "r": returns.to_numpy(dtype=np.float64),
    })
    return (frame.group_by("year", "month", maintain_order=True)
            .agg(((pl.col("r") + 1.0).product() - 1.0).alias("return"))
            .sort("year", "month"))


@dataclass(frozen=True, eq=False)
class PortfolioSummary:
    """Every statistic of :func:`summary` (see the module docstring for conventions).

    Benchmark-relative fields are None without a benchmark; ``turnover`` is None unless a
    turnover series was given. ``monthly`` is a long frame (year, month, return).
    """

    start: dt.date
    end: dt.date
    n_days: int
    rf: float
    cumulative_return: float
    annual_return: float
    annual_volatility: float
    sharpe: float
    sortino: float
    max_drawdown: float
    drawdown: Drawdown
    calmar: float
    hit_rate: float
    turnover: float | None
    benchmark_days: int | None
    benchmark_cumulative_return: float | None
    benchmark_annual_return: float | None
    excess_return: float | None
    tracking_error: float | None
    information_ratio: float | None
    monthly: pl.DataFrame

    def monthly_table(self) -> pl.DataFrame:
        """Wide monthly table: one row per year, columns 1..12 (null = no trading day)."""
        wide = self.monthly.with_columns(pl.col("month").cast(pl.Utf8)).pivot(
            on="month", index="year", values="return")
        months = [str(m) for m in range(1, 13)]
        for m in months:
            if m not in wide.columns:
                wide = wide.with_columns(pl.lit(None, dtype=pl.Float64).alias(m))
        return wide.select("year", *months).sort("year")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values (NaN -> None), with the ``conventions`` they follow."""

        def clean(x: float | None) -> float | None:
            return None if x is None or not math.isfinite(x) else float(x)

        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "n_days": self.n_days,
            "rf": self.rf,
            "cumulative_return": clean(self.cumulative_return),
            "annual_return": clean(self.annual_return),
            "annual_volatility": clean(self.annual_volatility),
            "sharpe": clean(self.sharpe),
            "sortino": clean(self.sortino),
            "max_drawdown": clean(self.max_drawdown),
            "drawdown": self.drawdown.to_dict(),
            "calmar": clean(self.calmar),
            "hit_rate": clean(self.hit_rate),
            "turnover": clean(self.turnover),
            "benchmark_days": self.benchmark_days,
            "benchmark_cumulative_return": clean(self.benchmark_cumulative_return),
            "benchmark_annual_return": clean(self.benchmark_annual_return),
            "excess_return": clean(self.excess_return),
            "tracking_error": clean(self.tracking_error),
            "information_ratio": clean(self.information_ratio),
            "monthly": [
                {"year": int(y), "month": int(m), "return": clean(v)}
                for y, m, v in self.monthly.iter_rows()
            ],
            "conventions": dict(CONVENTIONS),
        }


def summary(
    returns: pd.Series,
    benchmark: pd.Series | None = None,
    rf: float = 0.0,
    turnover: pd.Series | None = None,
) -> PortfolioSummary:
    """All statistics of a daily return series indexed by date.

    ``benchmark`` is aligned by date; days where it is missing are left out of the relative
    statistics only (``benchmark_days`` says how many remain). ``rf`` is an annual rate.
    """
    if not isinstance(returns, pd.Series):
        raise ConfigError(f"returns must be a pandas Series indexed by date, got "
                          f"{type(returns).__name__}")
    if len(returns) < 2:
        raise ConfigError(f"need at least 2 daily returns for statistics, got {len(returns)}")
    if not math.isfinite(rf):
        raise ConfigError(f"the risk-free rate must be a finite number, got {rf}")
    index = pd.DatetimeIndex(returns.index)
    r = returns.to_numpy(dtype=np.float64)
    bad = ~np.isfinite(r)
    if bad.any():
        raise ConfigError(f"returns are not finite on {int(bad.sum())} day(s), first on "
                          f"{index[np.argmax(bad)].date()}")
    dd = max_drawdown(r, index.to_numpy())
    rel: dict[str, Any] = dict.fromkeys(
        ("benchmark_days", "benchmark_cumulative_return", "benchmark_annual_return",
         "excess_return", "tracking_error", "information_ratio"))
    if benchmark is not None:
        b_all = benchmark.reindex(index).to_numpy(dtype=np.float64)
        ok = np.isfinite(b_all)
        rs, bs = r[ok], b_all[ok]
        rel["benchmark_days"] = int(ok.sum())
        if ok.sum() >= 2:
            rel["benchmark_cumulative_return"] = cumulative_return(bs)
            rel["benchmark_annual_return"] = annual_return(bs)
            rel["excess_return"] = annual_return(rs) - annual_return(bs)
            rel["tracking_error"] = annual_volatility(rs - bs)
            rel["information_ratio"] = information_ratio(rs, bs)
    mean_turnover = None
    if turnover is not None:
        mean_turnover = float(np.nanmean(turnover.to_numpy(dtype=np.float64)))
    return PortfolioSummary(
        start=index[0].date(),
        end=index[-1].date(),
        n_days=len(r),
        rf=rf,
        cumulative_return=cumulative_return(r),
        annual_return=annual_return(r),
        annual_volatility=annual_volatility(r),
        sharpe=sharpe_ratio(r, rf),
        sortino=sortino_ratio(r, rf),
        max_drawdown=dd.depth,
        drawdown=dd,
        calmar=calmar_ratio(r),
        hit_rate=hit_rate(r),
        turnover=mean_turnover,
        monthly=monthly_returns(returns),
        **rel,
    )
