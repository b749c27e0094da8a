"""Quantile portfolios: how returns line up with the score, and the long-short spread.

On each rebalance signal day the buyable names (finite score, in the universe, a price on the
next day) are split into ``n_quantiles`` equal-count groups by score (q1 = lowest, qn =
highest); each group is held equal-weight from the next day's execution (same timing as
:mod:`engine.backtest.topk`) until the next rebalance, re-weighted to equal weight at every
execution. ``spread = qn - q1`` is the return of a unit-long top, unit-short bottom portfolio;
``spread_net`` subtracts the costs of both legs' trades (weight changes between consecutive
days, intra-day drift ignored; growing a short is a sale, covering it a purchase). An empty
group holds cash (return 0). An idealised analysis: unlike the top-k backtest, the daily
re-weighting ignores that a member may have no price that day (its return is still 0 until it
trades again). Fully vectorised over days and stocks.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import torch

from engine.backtest.costs import CostModel
from engine.backtest.prices import TRADE_AT, execution_price, holding_returns
from engine.backtest.topk import signal_days
from engine.combine.base import config_from_dict
from engine.data.panel import Panel
from engine.errors import ConfigError
from engine.expr.xsection import rank_pct

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class QuantileConfig:
    """Quantile portfolio settings: groups, rebalance period, execution price, costs."""

    n_quantiles: int = 5
    rebalance: int = 1
    trade_at: str = "open"
    buy_bps: float = 5.0
    sell_bps: float = 15.0

    def __post_init__(self) -> None:
        checks = [
            (self.n_quantiles >= 2, f"n_quantiles must be at least 2, got {self.n_quantiles}"),
            (self.rebalance >= 1, f"rebalance must be at least 1 day, got {self.rebalance}"),
            (self.trade_at in TRADE_AT,
             f"trade_at must be one of {', '.join(TRADE_AT)}, got '{self.trade_at}'"),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(f"quantile backtest: {message}")
        CostModel(self.buy_bps, self.sell_bps)  # validates the cost fields

    @property
    def costs(self) -> CostModel:
        return CostModel(self.buy_bps, self.sell_bps)

    def to_dict(self) -> dict[str, Any]:
        return {"schema_version": SCHEMA_VERSION, **dataclasses.asdict(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> QuantileConfig:
        return config_from_dict(cls, data, "quantile config", SCHEMA_VERSION)


@dataclass(frozen=True, eq=False)
class QuantileResult:
    """daily: date, q1 .. qn (gross returns of each group), spread (qn - q1), spread_cost,
    spread_net, turnover_top / turnover_bottom (two-sided weight change of the qn / q1 leg),
    n_top / n_bottom (names held)."""

    config: QuantileConfig
    daily: pl.DataFrame

    def returns(self, column: str = "spread_net") -> pd.Series:
        """One daily column indexed by date (default: the net long-short spread)."""
        if column not in self.daily.columns or column == "date":
            raise ConfigError(f"no return column '{column}'; have: "
                              + ", ".join(c for c in self.daily.columns if c != "date"))
        index = pd.DatetimeIndex(self.daily["date"].to_numpy(), name="date")
        return pd.Series(self.daily[column].to_numpy(), index=index, name=column)


def assign(score: np.ndarray, buyable: np.ndarray, n_quantiles: int) -> np.ndarray:
    """``[..., N]`` int8 group 1..n of each buyable name by score (0 = not held)."""
    x = torch.from_numpy(np.where(buyable, score, np.nan))
    pct = rank_pct(x).numpy()
    q = np.ceil(pct * n_quantiles)
    return np.where(buyable & np.isfinite(q), np.clip(q, 1, n_quantiles), 0).astype(np.int8)


def simulate(
    scores: np.ndarray | torch.Tensor,
    price: np.ndarray,
    universe: np.ndarray | torch.Tensor,
    dates: np.ndarray,
    config: QuantileConfig | None = None,
) -> QuantileResult:
    """Quantile portfolios on arrays ``[T, N]`` (see the module docstring)."""
    cfg = config if config is not None else QuantileConfig()
    s = (scores.detach().cpu().numpy() if isinstance(scores, torch.Tensor)
         else np.asarray(scores)).astype(np.float64)
    uni = (universe.cpu().numpy() if isinstance(universe, torch.Tensor)
           else np.asarray(universe)).astype(bool)
    p = np.asarray(price, dtype=np.float64)
    t, n = s.shape
    if p.shape != (t, n) or uni.shape != (t, n) or len(dates) != t:
        raise ConfigError(f"scores {s.shape}, prices {p.shape}, universe {uni.shape} and "
                          f"{len(dates)} dates do not match")
    s0, s1, sched = signal_days(s, cfg.rebalance)
    if s0 + 1 >= t:
        raise ConfigError("the first score is on the last day of the data: no day to trade on")
    r, tradeable = holding_returns(p)
    days = np.arange(s0 + 1, min(s1 + 1, t - 1) + 1)

    # Group held from the execution of day e (e = s0 .. last): decided on the last scheduled
    # signal day g <= e - 1, among names with a price at g + 1.
    sig = np.zeros((t, n), dtype=np.int8)
    rows = np.flatnonzero(sched[: t - 1])
    sig[rows] = assign(s[rows], np.isfinite(s[rows]) & uni[rows] & tradeable[rows + 1],
                       cfg.n_quantiles)
    exec_days = np.arange(s0, days[-1] + 1)
    last_sig = np.where(sched, np.arange(t), -1)
    np.maximum.accumulate(last_sig, out=last_sig)
    gov = np.full(len(exec_days), -1)
    gov[1:] = last_sig[exec_days[1:] - 1]
    held = np.where((gov >= 0)[:, None], sig[np.maximum(gov, 0)], 0)  # [E, N], E = D + 1

    out: dict[str, np.ndarray] = {}
    weights = {}
    for q in range(1, cfg.n_quantiles + 1):
        member = held == q
        count = member.sum(1, keepdims=True)
        w = np.where(member, 1.0 / np.maximum(count, 1), 0.0)  # [E, N]
        weights[q] = w
        out[f"q{q}"] = (w[:-1] * r[days]).sum(1)  # held from e-1, earned on e
    top, bottom = weights[cfg.n_quantiles], weights[1]
    d_top = np.diff(top, axis=0)  # trades at the execution of each day in `days`
    d_bot = np.diff(bottom, axis=0)
    costs = cfg.costs
    cost_top = costs.cost(np.clip(d_top, 0, None).sum(1), np.clip(-d_top, 0, None).sum(1))
    cost_bot = costs.cost(np.clip(-d_bot, 0, None).sum(1), np.clip(d_bot, 0, None).sum(1))
    spread = out[f"q{cfg.n_quantiles}"] - out["q1"]
    spread_cost = np.asarray(cost_top) + np.asarray(cost_bot)
    daily = pl.DataFrame({
        "date": pl.Series(dates[days]).cast(pl.Date),
        **out,
        "spread": spread,
        "spread_cost": spread_cost,
        "spread_net": spread - spread_cost,
        "turnover_top": np.abs(d_top).sum(1),
        "turnover_bottom": np.abs(d_bot).sum(1),
        "n_top": (top[1:] > 0).sum(1).astype(np.int32),
        "n_bottom": (bottom[1:] > 0).sum(1).astype(np.int32),
    })
    return QuantileResult(config=cfg, daily=daily)


def run(scores: np.ndarray | torch.Tensor, panel: Panel,
        config: QuantileConfig | None = None) -> QuantileResult:
    """:func:`simulate` with the panel's execution price, universe and calendar."""
    cfg = config if config is not None else QuantileConfig()
    return simulate(scores, execution_price(panel, cfg.trade_at), panel.universe, panel.dates,
                    cfg)
