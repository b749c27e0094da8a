"""Quantile portfolios: group returns, spread, costs of the legs, timing."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.backtest import quantile
from engine.backtest.costs import CostModel
from engine.backtest.prices import holding_returns
from engine.backtest.quantile import QuantileConfig, assign, simulate
from engine.errors import ConfigError
from tests.engine.backtest.test_topk import market
from tests.engine.combine._markets import make_panel


def test_assign_splits_buyable_names_into_equal_groups() -> None:
    score = np.array([[5.0, 1.0, 3.0, np.nan, 2.0, 4.0, 0.0, 6.0, 7.0, 8.0, 9.0]])
    buyable = np.isfinite(score)
    q = assign(score, buyable, 5)
    assert q[0, 3] == 0
    assert np.bincount(q[0], minlength=6)[1:].tolist() == [2, 2, 2, 2, 2]
    assert q[0, 6] == 1 and q[0, 10] == 5


def test_group_returns_spread_and_costs() -> None:
    scores, price, universe, dates, _ = market(1)
    cfg = QuantileConfig(n_quantiles=4, buy_bps=5, sell_bps=15)
    res = simulate(scores, price, universe, dates, cfg)
    d = res.daily
    r, tradeable = holding_returns(price)
    days = np.searchsorted(dates, d["date"].to_numpy().astype("datetime64[D]"))
    # day j+1 earns the group formed on signal day days[j] - 1 among names buyable then
    j = 30
    e, sig = days[j + 1], days[j] - 1
    ok = np.isfinite(scores[sig]) & universe[sig] & tradeable[sig + 1]
    groups = assign(scores[sig][None], ok[None], 4)[0]
    for q in range(1, 5):
        assert d[f"q{q}"][j + 1] == pytest.approx(r[e][groups == q].mean())
    np.testing.assert_allclose(d["spread"], d["q4"] - d["q1"])
    np.testing.assert_allclose(d["spread_net"], d["spread"] - d["spread_cost"])
    assert d["q1"][0] == 0 and d["spread"][0] == 0  # nothing held before the first execution
    # first day: both legs are built: long 1 bought, short 1 sold
    assert d["spread_cost"][0] == pytest.approx(CostModel(5, 15).cost(1.0, 0.0)
                                                + CostModel(5, 15).cost(0.0, 1.0))
    assert d["turnover_top"][0] == pytest.approx(1.0)


def test_a_perfect_score_gives_a_positive_spread_and_a_useless_one_does_not() -> None:
    scores, price, universe, dates, _ = market(2, missing=0.0)
    r, _ = holding_returns(price)
    oracle = np.full_like(r, np.nan)
    oracle[:-2] = r[2:]  # signal at t sees the return earned on t+2 (cheating on purpose)
    res = simulate(oracle, price, universe, dates)
    assert res.daily["spread"].mean() > 0.02
    monotone = [res.daily[f"q{q}"].mean() for q in range(1, 6)]
    assert monotone == sorted(monotone)
    res_noise = simulate(scores, price, universe, dates)
    assert abs(res_noise.daily["spread"].mean()) < 0.01


def test_rebalance_period_holds_groups() -> None:
    scores, price, universe, dates, _ = market(3, missing=0.0)
    res = simulate(scores, price, universe, dates, QuantileConfig(rebalance=5, buy_bps=0,
                                                                  sell_bps=0))
    turn = res.daily["turnover_top"].to_numpy()
    first = int(np.flatnonzero(np.isfinite(scores).any(1))[0])
    days = np.searchsorted(dates, res.daily["date"].to_numpy().astype("datetime64[D]"))
    off_schedule = (days - 1 - first) % 5 != 0
    assert (turn[off_schedule] == 0).all() and (turn[~off_schedule] > 0).all()
    np.testing.assert_array_equal(res.daily["spread_net"], res.daily["spread"])


def test_panel_entry_point_and_config() -> None:
    scores, price, universe, dates, _ = market(4)
    res = quantile.run(scores, make_panel(price, universe), QuantileConfig(trade_at="close"))
    s = res.returns()
    assert isinstance(s.index, pd.DatetimeIndex) and s.name == "spread_net"
    assert QuantileConfig.from_dict(res.config.to_dict()) == res.config
    with pytest.raises(ConfigError, match="n_quantiles"):
        QuantileConfig(n_quantiles=1)
    with pytest.raises(ConfigError, match="no return column 'q9'"):
        res.returns("q9")
