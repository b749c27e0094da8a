"""Top-k / drop-n backtest: Qlib's selection rule, accounting identities against an
independent share ledger, t+1 execution, untradeable names, rebalance period, benchmark."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pytest

from engine.backtest import topk
from engine.backtest.prices import equal_weight_benchmark, forward_fill
from engine.backtest.topk import TopKConfig, select, simulate
from engine.errors import ConfigError
from tests.engine.combine._markets import make_panel, random_prices

T, N = 120, 40


def market(seed: int = 0, missing: float = 0.03):
    rng = np.random.default_rng(seed)
    price = random_prices(T, N, seed, missing)
    universe = rng.random((T, N)) > 0.1
    scores = rng.normal(size=(T, N))
    scores[:20] = np.nan
    scores[rng.random((T, N)) < 0.05] = np.nan
    dates = np.busday_offset(np.datetime64("2021-01-04"), np.arange(T))
    tickers = [f"S{i:02d}" for i in range(N)]
    return scores, price, universe, dates, tickers


def wide(frame: pl.DataFrame, dates: np.ndarray, tickers: list[str], col: str) -> np.ndarray:
    """Long (date, ticker, value) -> [T, N] (0 where absent)."""
    out = np.zeros((len(dates), len(tickers)))
    t_of = {d: i for i, d in enumerate(pd.DatetimeIndex(dates).date)}
    n_of = {s: j for j, s in enumerate(tickers)}
    for d, s, v in frame.select("date", "ticker", col).iter_rows():
        out[t_of[d], n_of[s]] += v
    return out


# ------------------------------------------------------------------------------------------
# Selection rule


def test_select_initial_fill_takes_the_best_k() -> None:
    score = np.array([0.1, 0.9, 0.5, np.nan, 0.7])
    held = np.zeros(5, dtype=bool)
    ok = np.ones(5, dtype=bool)
    sell, buy = select(score, held, ok & np.isfinite(score), ok, top_k=2, drop_n=1)
    assert sell.tolist() == [] and buy.tolist() == [1, 4]


def test_select_swaps_at_most_drop_n_and_only_when_beaten() -> None:
    score = np.array([0.1, 0.9, 0.5, 0.2, 0.7, 0.8])
    held = np.array([True, False, True, True, False, False])  # holds 0.1, 0.5, 0.2
    ok = np.ones(6, dtype=bool)
    sell, buy = select(score, held, ok, ok, top_k=3, drop_n=2)
    assert sorted(sell.tolist()) == [0, 3] and buy.tolist() == [1, 5]
    # nothing better outside: nothing sold
    held2 = np.array([False, True, False, False, True, True])
    sell, buy = select(score, held2, ok, ok, top_k=3, drop_n=2)
    assert sell.tolist() == [] and buy.tolist() == []


def test_select_cannot_sell_an_untradeable_name() -> None:
    score = np.array([np.nan, 0.9, 0.5])
    held = np.array([True, False, True])
    sellable = np.array([False, True, True])
    sell, buy = select(score, held, np.ones(3, dtype=bool), sellable, top_k=2, drop_n=1)
    assert sell.tolist() == [] and buy.tolist() == []


# ------------------------------------------------------------------------------------------
# Accounting


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(("top_k", "drop_n", "rebalance"), [(10, 3, 1), (5, 5, 3), (8, 0, 1)])
def test_accounting_adds_up_against_a_share_ledger(seed: int, top_k: int, drop_n: int,
                                                   rebalance: int) -> None:
    scores, price, universe, dates, tickers = market(seed)
    cfg = TopKConfig(top_k=top_k, drop_n=drop_n, rebalance=rebalance, buy_bps=7, sell_bps=13)
    res = simulate(scores, price, universe, dates, tickers, cfg)
    daily = res.daily
    days = np.searchsorted(dates, daily["date"].to_numpy().astype("datetime64[D]"))
    w_after = wide(res.positions, dates, tickers, "weight")
    buys = wide(res.trades.filter(side="buy"), dates, tickers, "weight")
    sells = wide(res.trades.filter(side="sell"), dates, tickers, "weight")
    pf = forward_fill(price)

    # net = gross - cost; turnover = bought + sold = the trades of the day
    np.testing.assert_allclose(daily["net"], daily["gross"] - daily["cost"], atol=1e-15)
    np.testing.assert_allclose(daily["bought"], buys[days].sum(1), atol=1e-12)
    np.testing.assert_allclose(daily["sold"], sells[days].sum(1), atol=1e-12)
    np.testing.assert_allclose(daily["turnover"], daily["bought"] + daily["sold"], atol=1e-15)
    cost = (7 * daily["bought"] + 13 * daily["sold"]) * 1e-4 * (1 + daily["gross"])
    np.testing.assert_allclose(daily["cost"], cost, atol=1e-15)

    # An independent ledger in shares and cash: positions x returns - costs = P&L
    shares = np.zeros(N)
    value = 1.0
    for j, d in enumerate(days):
        mark = np.nan_to_num(pf[d])
        before = shares @ mark + (value - shares @ np.nan_to_num(pf[d - 1]))  # + cash
        assert before / value - 1 == pytest.approx(daily["gross"][j], abs=1e-12)
        pre_w = shares * mark / before
        traded = w_after[d] - pre_w
        assert np.clip(traded, 0, None).sum() == pytest.approx(daily["bought"][j], abs=1e-12)
        assert np.clip(-traded, 0, None).sum() == pytest.approx(daily["sold"][j], abs=1e-12)
        after = before - daily["cost"][j] * value
        assert after / value - 1 == pytest.approx(daily["net"][j], abs=1e-12)
        held = w_after[d] > 0
        shares = np.zeros(N)
        shares[held] = w_after[d][held] * after / mark[held]
        value = after
    assert value == pytest.approx(float(np.prod(1 + daily["net"].to_numpy())), rel=1e-12)

    # never levered, fully invested once filled, at most top_k names held
    sums = res.positions.group_by("date").agg(pl.col("weight").sum())["weight"]
    assert (sums <= 1 + 1e-12).all() and sums.max() == pytest.approx(1.0)
    assert daily["n_holdings"].max() <= top_k


def test_buys_respect_signal_universe_and_prices_and_execute_next_day() -> None:
    scores, price, universe, dates, tickers = market(3, missing=0.08)
    res = simulate(scores, price, universe, dates, tickers, TopKConfig(top_k=8, drop_n=3))
    t_idx = np.searchsorted(dates, res.trades["date"].to_numpy().astype("datetime64[D]"))
    n_idx = np.array([tickers.index(s) for s in res.trades["ticker"]])
    buy = (res.trades["side"] == "buy").to_numpy()
    assert np.isfinite(price[t_idx, n_idx]).all()  # every trade has a price that day
    # bought names had a score and were in the universe on the signal day (the day before),
    # and kept names are never topped up (buys are new entries only)
    w = wide(res.positions, dates, tickers, "weight")
    assert (w[t_idx[buy] - 1, n_idx[buy]] == 0).all()
    assert np.isfinite(scores[t_idx[buy] - 1, n_idx[buy]]).all()
    assert universe[t_idx[buy] - 1, n_idx[buy]].all()
    # the first trade is the day after the first score
    first_score = int(np.flatnonzero(np.isfinite(scores).any(1))[0])
    assert res.daily["date"][0] == pd.Timestamp(dates[first_score + 1]).date()
    assert res.daily["gross"][0] == 0.0 and res.daily["bought"][0] == pytest.approx(1.0)


def test_future_scores_and_prices_do_not_change_the_past() -> None:
    scores, price, universe, dates, tickers = market(4)
    cfg = TopKConfig(top_k=6, drop_n=2)
    a = simulate(scores, price, universe, dates, tickers, cfg)
    t = 70
    s2, p2 = scores.copy(), price.copy()
    rng = np.random.default_rng(9)
    s2[t + 1:] = rng.normal(size=s2[t + 1:].shape)
    p2[t + 1:] *= np.exp(rng.normal(0, 0.2, p2[t + 1:].shape))
    b = simulate(s2, p2, universe, dates, tickers, cfg)
    cut = pd.Timestamp(dates[t]).date()
    for name in ("daily", "positions", "trades"):
        fa, fb = getattr(a, name), getattr(b, name)
        assert fa.filter(pl.col("date") <= cut).equals(fb.filter(pl.col("date") <= cut)), name


def test_a_held_name_without_a_price_is_held_at_its_last_price_until_sellable() -> None:
    t, n = 12, 4
    price = np.full((t, n), 10.0)
    price[:, 0] = np.linspace(10, 12, t)
    scores = np.tile(np.array([4.0, 3.0, 2.0, 1.0]), (t, 1))
    scores[5:, 0] = -1.0  # name 0 becomes the worst from signal day 5 on ...
    price[6:9, 0] = np.nan  # ... but has no price on days 6-8
    dates = np.busday_offset(np.datetime64("2021-01-04"), np.arange(t))
    res = simulate(scores, price, np.ones((t, n), dtype=bool), dates, list("ABCD"),
                   TopKConfig(top_k=2, drop_n=1, buy_bps=0, sell_bps=0))
    trades_a = res.trades.filter(ticker="A")
    assert trades_a["side"].to_list() == ["buy", "sell"]
    assert trades_a["date"].to_list() == [pd.Timestamp(dates[1]).date(),
                                          pd.Timestamp(dates[9]).date()]
    held_a = res.positions.filter(ticker="A")["date"].to_list()
    assert held_a[-1] == pd.Timestamp(dates[8]).date()
    # while stuck its return is 0 (its price is the last one), so the portfolio earns 0
    daily = res.daily.filter(pl.col("date").is_between(pd.Timestamp(dates[7]).date(),
                                                       pd.Timestamp(dates[8]).date()))
    assert (daily["gross"] == 0).all()
    # on the sale day it earns the move from its last price (day 5) to day 9
    day9 = res.daily.filter(date=pd.Timestamp(dates[9]).date())
    w_a = res.positions.filter((pl.col("ticker") == "A") & (pl.col("date") ==
                                                              pd.Timestamp(dates[8]).date()))
    assert day9["gross"][0] == pytest.approx(w_a["weight"][0] * (price[9, 0] / price[5, 0] - 1))


def test_rebalance_every_n_days_trades_only_on_schedule() -> None:
    scores, price, universe, dates, tickers = market(5, missing=0.0)
    res = simulate(scores, price, universe, dates, tickers, TopKConfig(top_k=5, rebalance=5))
    first = int(np.flatnonzero(np.isfinite(scores).any(1))[0])
    trade_days = np.searchsorted(dates, np.unique(res.trades["date"].to_numpy()).astype(
        "datetime64[D]"))
    assert ((trade_days - 1 - first) % 5 == 0).all()


def test_zero_costs_make_net_equal_gross() -> None:
    scores, price, universe, dates, tickers = market(6)
    res = simulate(scores, price, universe, dates, tickers, TopKConfig(buy_bps=0, sell_bps=0,
                                                                       top_k=5))
    np.testing.assert_array_equal(res.daily["net"], res.daily["gross"])


def test_hand_computed_two_stock_example() -> None:
    price = np.array([[10.0, 20.0], [10.0, 20.0], [11.0, 20.0], [11.0, 22.0], [12.1, 22.0]])
    scores = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [np.nan] * 2, [np.nan] * 2])
    dates = np.busday_offset(np.datetime64("2021-01-04"), np.arange(5))
    res = simulate(scores, price, np.ones((5, 2), dtype=bool), dates, ["A", "B"],
                   TopKConfig(top_k=1, drop_n=1, buy_bps=10, sell_bps=20))
    d = res.daily
    assert d["date"].to_list() == [pd.Timestamp(x).date() for x in dates[1:4]]
    # day 1: buy A at 10 (cost 10 bps); day 2: A +10 %, no trade (day 1 still ranks A first);
    # day 3: A flat, switch to B on day 2's signal (sell 1 at 20 bps, buy 1 at 10 bps)
    assert d["gross"].to_list() == pytest.approx([0.0, 0.1, 0.0])
    assert d["cost"].to_list() == pytest.approx([0.001, 0.0, 0.003])
    assert d["net"].to_list() == pytest.approx([-0.001, 0.1, -0.003])
    assert d["turnover"].to_list() == pytest.approx([1.0, 0.0, 2.0])
    assert res.positions["ticker"].to_list() == ["A", "A", "B"]


def test_benchmarks() -> None:
    scores, price, universe, dates, tickers = market(7)
    res = simulate(scores, price, universe, dates, tickers, TopKConfig(top_k=5))
    bench = equal_weight_benchmark(price, universe)
    d = 50
    r = price[d] / price[d - 1] - 1
    ok = np.isfinite(r) & universe[d - 1]
    assert bench[d] == pytest.approx(r[ok].mean())
    days = np.searchsorted(dates, res.daily["date"].to_numpy().astype("datetime64[D]"))
    np.testing.assert_allclose(res.daily["benchmark"], bench[days])
    # a user series through the panel entry point, aligned by date (missing dates -> NaN)
    panel = make_panel(price, universe)
    user = pd.Series(0.001, index=pd.DatetimeIndex(panel.dates[::2]))
    res2 = topk.run(scores, panel, TopKConfig(top_k=5), benchmark=user)
    b = res2.benchmark()
    assert set(np.unique(b.dropna())) == {0.001} and b.isna().any()
    s = res2.summary()
    assert s.benchmark_days == int(b.notna().sum()) and s.turnover is not None


def test_result_series_and_summary() -> None:
    scores, price, universe, dates, tickers = market(8)
    res = simulate(scores, price, universe, dates, tickers, TopKConfig(top_k=5))
    net = res.returns()
    assert isinstance(net.index, pd.DatetimeIndex) and len(net) == res.daily.height
    assert (res.returns("gross") >= net).all()
    d = res.summary(rf=0.02).to_dict()
    assert d["conventions"] and d["n_days"] == len(net)


def test_config_validation_and_round_trip() -> None:
    cfg = TopKConfig(top_k=20, drop_n=2, trade_at="vwap")
    assert TopKConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ConfigError, match="drop_n"):
        TopKConfig(top_k=3, drop_n=4)
    with pytest.raises(ConfigError, match="trade_at"):
        TopKConfig(trade_at="midday")
    with pytest.raises(ConfigError, match="buy_bps"):
        TopKConfig(buy_bps=-1)
    with pytest.raises(ConfigError, match="top_k must be an integer, got '50'"):
        TopKConfig.from_dict({"top_k": "50"})
    with pytest.raises(ConfigError, match="unknown field"):
        TopKConfig.from_dict({"topk": 50})
    assert TopKConfig.from_dict({"buy_bps": 3}).buy_bps == 3.0
    scores, price, universe, dates, tickers = market(0)
    with pytest.raises(ConfigError, match="no finite value"):
        simulate(np.full_like(scores, np.nan), price, universe, dates, tickers)
