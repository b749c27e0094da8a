"""End to end on the shared S&P 500 file: two classic factors computed here with torch ->
dynamic and equal-weight Mega-Alphas -> top-k backtest at the open -> portfolio summary."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import polars as pl
import torch

from engine.backtest import quantile, topk
from engine.combine import CombineConfig, combine_panel
from engine.combine.reasons import reason_texts
from engine.data.panel import build
from engine.i18n import Translator


def classic_factors(close: torch.Tensor) -> torch.Tensor:
    """``[2, T, N]``: 5-day reversal -(close / close[-5] - 1) and 20-day low volatility
    -std(daily returns, 20)."""
    c = close.to(torch.float64)
    rev5 = torch.full_like(c, float("nan"))
    rev5[5:] = -(c[5:] / c[:-5] - 1)
    ret = torch.full_like(c, float("nan"))
    ret[1:] = c[1:] / c[:-1] - 1
    lowvol = torch.full_like(c, float("nan"))
    lowvol[20:] = -ret.unfold(0, 20, 1)[1:].std(-1)
    return torch.stack([rev5, lowvol]).to(torch.float32)


def test_combine_and_backtest_on_us_data(us_file: Path) -> None:
    panel = build(pl.read_parquet(us_file))
    assert panel.n_tickers == 505 and panel.n_days == 1259
    factors = classic_factors(panel.feature("close"))
    names = ["reversal_5d", "low_vol_20d"]
    test_days = panel.date_mask("2016-06-01", None)
    results = {
        m: combine_panel(panel, factors, names, score_days=test_days,
                         config=CombineConfig(method=m, price="close", window=250))
        for m in ("dynamic", "equal")
    }
    dyn = results["dynamic"]
    first = int(np.flatnonzero(test_days)[0])
    assert torch.isnan(dyn.score[:first]).all()
    assert torch.isfinite(dyn.score[first:]).float().mean() > 0.9
    stats = dyn.summary()
    # weak signals on large US stocks (data README: |RankIC| ~ 0.015): a much larger value
    # would mean leakage
    assert abs(stats["rank_ic"]) < 0.06 and abs(results["equal"].summary()["rank_ic"]) < 0.06
    assert dyn.weights.height == 2 * int(test_days.sum())
    assert all("RankIC" in r for r in reason_texts(dyn.weights.filter("active"), Translator()))

    res = topk.run(dyn.score, panel, topk.TopKConfig(top_k=50, drop_n=5, trade_at="open"))
    d = res.daily
    np.testing.assert_allclose(d["net"], d["gross"] - d["cost"], atol=1e-15)
    assert d["n_holdings"].max() == 50
    assert 0.0 < d["turnover"][1:].mean() < 0.5  # drop 5 of 50: ~0.2 two-sided at most
    assert d["benchmark"].is_finite().all()
    assert abs(d["benchmark"].mean()) < 0.003
    s = res.summary(rf=0.0)
    assert math.isfinite(s.sharpe) and -1 < s.annual_return < 1 and s.max_drawdown < 0
    assert s.benchmark_days == d.height and math.isfinite(s.information_ratio)
    q = quantile.run(dyn.score, panel)
    assert q.daily.height == d.height and q.daily["n_top"].min() >= 90
