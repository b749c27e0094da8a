"""Top-k / drop-n portfolio backtest (Qlib's TopkDropoutStrategy, ALPHAFORGE_SPEC §7).

Timeline of one day d (all amounts are fractions of the portfolio value):
1. The positions set at the execution of day d-1 earn ``R[d] = P[d] / P[d-1] - 1`` (P = the
   execution price; a name without a price keeps its last one): ``gross[d] = Σ w_i R_i[d]``.
   Weights drift to ``w~ = w (1 + R) / (1 + gross)``.
2. If day d-1 was a rebalance day with scores, the trades decided on its close are executed at
   day d's price (Qlib's rule, :func:`select`): among held names and the best buyable non-held
   names, the held names ranked in the bottom ``drop_n`` are sold, and as many of the best new
   names are bought, plus enough to fill any shortfall below ``top_k`` (the initial fill). Equal
   weight at entry: the cash (what the sales freed plus any left over) is split evenly among the
   names bought; kept names are not re-weighted, so weights drift between entries (as in Qlib;
   re-equalising every day would trade the whole book's dispersion daily). A name can be bought
   only if it has a finite score and is in the universe on the signal day and has a price on
   the execution day; a held name without a price cannot be sold that day, keeps its last
   price (return 0) and is sold once it trades again if the rule still says so.
3. ``bought = Σ max(w - w~, 0)``, ``sold = Σ max(w~ - w, 0)``, ``turnover = bought + sold``;
   costs ``c = (buy_bps·bought + sell_bps·sold)·1e-4`` of the value after step 1, i.e.
   ``cost[d] = c (1 + gross[d])`` of the value at the start of the day, so that
   ``net[d] = gross[d] - cost[d]`` exactly and the value compounds as ``Π (1 + net)``.

The loop over days is inherently sequential (holdings are path dependent) but every step is a
few numpy operations on ``[N]`` arrays.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import torch

from engine.backtest.costs import CostModel
from engine.backtest.prices import (
    TRADE_AT,
    align_series,
    equal_weight_benchmark,
    execution_price,
    holding_returns,
)
from engine.combine.base import config_from_dict
from engine.data.panel import Panel
from engine.errors import ConfigError
from engine.metrics.portfolio import PortfolioSummary, summary

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class TopKConfig:
    """Top-k / drop-n strategy settings (defaults: Qlib's 50 / 5, daily, costs 5 / 15 bps).

    top_k: names held. drop_n: at most this many held names replaced per rebalance.
    rebalance: rebalance every this many signal days (1 = daily). trade_at: execution price
    of the day after the signal ("open", "close" or "vwap").
    """

    top_k: int = 50
    drop_n: int = 5
    rebalance: int = 1
    trade_at: str = "open"
    buy_bps: float = 5.0
    sell_bps: float = 15.0

    def __post_init__(self) -> None:
        def need(ok: bool, message: str, *, code: str, **params: object) -> None:
            if not ok:
                raise ConfigError(f"top-k backtest: {message}", code=code, params=params)

        need(self.top_k >= 1, f"top_k must be at least 1, got {self.top_k}",
             code="config_at_least", field="top_k", min=1, got=self.top_k)
        need(0 <= self.drop_n <= self.top_k,
             f"drop_n must be between 0 and top_k ({self.top_k}), got {self.drop_n}",
             code="config_between", field="drop_n", min=0, max=self.top_k, got=self.drop_n)
        need(self.rebalance >= 1, f"rebalance must be at least 1 day, got {self.rebalance}",
             code="config_at_least", field="rebalance", min=1, got=self.rebalance)
        need(self.trade_at in TRADE_AT,
             f"trade_at must be one of {', '.join(TRADE_AT)}, got '{self.trade_at}'",
             code="config_unknown_choice", field="trade_at", value=self.trade_at,
             choices=", ".join(TRADE_AT))
        CostModel(self.buy_bps, self.sell_bps)  # validates the cost fields

    @property
    def costs(self) -> CostModel:
        return CostModel(self.buy_bps, self.sell_bps)

    def to_dict(self) -> dict[str, Any]:
        return {"schema_version": SCHEMA_VERSION, **dataclasses.asdict(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TopKConfig:
        return config_from_dict(cls, data, "top-k config", SCHEMA_VERSION)


@dataclass(frozen=True, eq=False)
class BacktestResult:
    """What a backtest did, day by day.

    daily: one row per execution day: date, gross, cost, net (fractions of the value at the
        start of the day; net = gross - cost), bought, sold, turnover (= bought + sold, of the
        value before trading), n_holdings (after trading), benchmark (its return that day).
    positions: date, ticker, weight: holdings after the day's trades (weights of the value).
    trades: date, ticker, side ("buy" / "sell"), weight (traded value / portfolio value before
        trading), price (execution price).
    """

    config: TopKConfig
    daily: pl.DataFrame
    positions: pl.DataFrame
    trades: pl.DataFrame

    def _series(self, column: str) -> pd.Series:
        index = pd.DatetimeIndex(self.daily["date"].to_numpy(), name="date")
        return pd.Series(self.daily[column].to_numpy(), index=index, name=column)

    def returns(self, kind: str = "net") -> pd.Series:
        """Daily ``net`` (default) or ``gross`` returns indexed by date."""
        if kind not in ("net", "gross"):
            raise ConfigError(f"return kind must be 'net' or 'gross', got '{kind}'")
        return self._series(kind)

    def benchmark(self) -> pd.Series:
        """Daily benchmark returns indexed by date (NaN where it has none)."""
        return self._series("benchmark")

    def turnover(self) -> pd.Series:
        return self._series("turnover")

    def summary(self, rf: float = 0.0, kind: str = "net") -> PortfolioSummary:
        """Portfolio statistics of the returns against the benchmark, with the mean turnover."""
        return summary(self.returns(kind), self.benchmark(), rf, self.turnover())


def select(
    score: np.ndarray,
    held: np.ndarray,
    buyable: np.ndarray,
    sellable: np.ndarray,
    top_k: int,
    drop_n: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Qlib's top-k / drop-n rule for one day: indices to sell and to buy.

    ``score [N]`` (NaN ranks last), ``held``, ``buyable``, ``sellable`` ``[N]`` bool. The
    candidates are the ``drop_n + top_k - |held|`` best buyable names not held; among held and
    candidates ranked together, held names in the bottom ``drop_n`` are sold (if sellable) and
    the best candidates fill the freed slots plus any shortfall below ``top_k``.
    """
    key = np.where(np.isfinite(score), score, -np.inf)
    last = np.flatnonzero(held)
    last = last[np.argsort(-key[last], kind="stable")]
    cand = np.flatnonzero(buyable & ~held)
    cand = cand[np.argsort(-key[cand], kind="stable")]
    today = cand[: max(drop_n + top_k - len(last), 0)]
    comb = np.concatenate([last, today])
    comb = comb[np.argsort(-key[comb], kind="stable")]
    bottom = comb[len(comb) - drop_n:] if drop_n > 0 else comb[:0]
    in_bottom = np.zeros(len(score), dtype=bool)
    in_bottom[bottom] = True
    sell = last[in_bottom[last] & sellable[last]]
    buy = today[: max(len(sell) + top_k - len(last), 0)]
    return sell, buy


def signal_days(scores: np.ndarray, rebalance: int) -> tuple[int, int, np.ndarray]:
    """First and last day with any finite score, and the ``[T]`` bool rebalance schedule
    (every ``rebalance`` days from the first, on days that have scores)."""
    has = np.isfinite(scores).any(1)
    if not has.any():
        raise ConfigError("the scores have no finite value: nothing to trade",
                          code="backtest_no_scores")
    idx = np.flatnonzero(has)
    s0, s1 = int(idx[0]), int(idx[-1])
    sched = np.zeros(len(has), dtype=bool)
    sched[s0:s1 + 1:rebalance] = True
    return s0, s1, sched & has


def simulate(
    scores: np.ndarray | torch.Tensor,
    price: np.ndarray,
    universe: np.ndarray | torch.Tensor,
    dates: np.ndarray,
    tickers: Sequence[str],
    config: TopKConfig | None = None,
    benchmark: np.ndarray | None = None,
) -> BacktestResult:
    """Run the top-k / drop-n backtest on arrays (see the module docstring).

    scores ``[T, N]`` (NaN = no signal; the backtest runs from the day after the first day with
    a score to the day after the last one), price ``[T, N]`` execution price (NaN = no trade
    possible), universe ``[T, N]`` bool, dates ``[T]``, benchmark ``[T]`` daily returns
    (None = equal-weight universe at the same execution price).
    """
    cfg = config if config is not None else TopKConfig()
    s = (scores.detach().cpu().numpy() if isinstance(scores, torch.Tensor)
         else np.asarray(scores)).astype(np.float64)
    uni = (universe.cpu().numpy() if isinstance(universe, torch.Tensor)
           else np.asarray(universe)).astype(bool)
    p = np.asarray(price, dtype=np.float64)
    t, n = s.shape
    if p.shape != (t, n) or uni.shape != (t, n) or len(dates) != t or len(tickers) != n:
        raise ConfigError(f"scores {s.shape}, prices {p.shape}, universe {uni.shape}, "
                          f"{len(dates)} dates and {len(tickers)} tickers do not match")
    s0, s1, sched = signal_days(s, cfg.rebalance)
    if s0 + 1 >= t:
        raise ConfigError("the first score is on the last day of the data: no day to trade on",
                          code="backtest_no_trading_day")
    r, tradeable = holding_returns(p)
    bench = (equal_weight_benchmark(p, uni) if benchmark is None
             else np.asarray(benchmark, dtype=np.float64))
    if bench.shape != (t,):
        raise ConfigError(f"the benchmark must be one return per day ({t}), got {bench.shape}")
    costs = cfg.costs
    days = np.arange(s0 + 1, min(s1 + 1, t - 1) + 1)

    w = np.zeros(n)
    held = np.zeros(n, dtype=bool)
    rec = np.zeros((len(days), 6))  # gross, cost, net, bought, sold, n_holdings
    pos_t, pos_i, pos_w = [], [], []
    tr_t, tr_i, tr_w = [], [], []
    for j, d in enumerate(days):
        gross = float(w @ r[d])
        drift = w * (1.0 + r[d]) / (1.0 + gross) if gross != -1.0 else np.zeros(n)
        target = drift
        if sched[d - 1]:
            buyable = np.isfinite(s[d - 1]) & uni[d - 1] & tradeable[d]
            sell, buy = select(s[d - 1], held, buyable, tradeable[d], cfg.top_k, cfg.drop_n)
            target = drift.copy()
            target[sell] = 0.0
            held[sell] = False
            if len(buy):
                target[buy] = max(1.0 - float(target.sum()), 0.0) / len(buy)
                held[buy] = True
        delta = target - drift
        bought = float(delta[delta > 0].sum())
        sold = float(-delta[delta < 0].sum())
        cost = float(costs.cost(bought, sold)) * (1.0 + gross)
        rec[j] = gross, cost, gross - cost, bought, sold, held.sum()
        traded = np.flatnonzero(np.abs(delta) > 0)
        tr_t.append(np.full(len(traded), d))
        tr_i.append(traded)
        tr_w.append(delta[traded])
        w = target
        nz = np.flatnonzero(held)
        pos_t.append(np.full(len(nz), d))
        pos_i.append(nz)
        pos_w.append(w[nz])

    date_s = pl.Series("date", dates[days]).cast(pl.Date)
    daily = pl.DataFrame({
        "date": date_s,
        "gross": rec[:, 0], "cost": rec[:, 1], "net": rec[:, 2],
        "bought": rec[:, 3], "sold": rec[:, 4], "turnover": rec[:, 3] + rec[:, 4],
        "n_holdings": rec[:, 5].astype(np.int32),
        "benchmark": bench[days].astype(np.float64),
    })
    tick = pl.Series(list(tickers), dtype=pl.Utf8)
    pt, pi = np.concatenate(pos_t), np.concatenate(pos_i)
    positions = pl.DataFrame({
        "date": pl.Series(dates[pt]).cast(pl.Date),
        "ticker": tick.gather(pi),
        "weight": np.concatenate(pos_w),
    })
    tt, ti, tw = np.concatenate(tr_t), np.concatenate(tr_i), np.concatenate(tr_w)
    trades = pl.DataFrame({
        "date": pl.Series(dates[tt]).cast(pl.Date),
        "ticker": tick.gather(ti),
        "side": np.where(tw > 0, "buy", "sell"),
        "weight": np.abs(tw),
        "price": p[tt, ti],
    })
    return BacktestResult(config=cfg, daily=daily, positions=positions, trades=trades)


def run(
    scores: np.ndarray | torch.Tensor,
    panel: Panel,
    config: TopKConfig | None = None,
    benchmark: pd.Series | None = None,
) -> BacktestResult:
    """:func:`simulate` on a panel: execution price ``config.trade_at`` of the panel, its
    universe and calendar; ``benchmark`` an optional user series of daily returns indexed by
    date (default: the equal-weight universe)."""
    cfg = config if config is not None else TopKConfig()
    bench = None if benchmark is None else align_series(benchmark, panel.dates, "benchmark")
    return simulate(scores, execution_price(panel, cfg.trade_at), panel.universe, panel.dates,
                    panel.tickers, cfg, bench)
