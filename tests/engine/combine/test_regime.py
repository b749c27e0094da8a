"""The dynamic combiner tracks a regime change that fixed weights cannot: constructed factors,
and the synthetic demo market's planted signal whose sign flips halfway."""

from __future__ import annotations

import numpy as np
import torch

from engine.combine import CombineConfig, combine, combine_panel
from engine.data.panel import build
from engine.data.synthetic import PLANTED_SIGNALS, SyntheticConfig, generate

METHODS = ("dynamic", "equal", "static", "icweighted")


def test_dynamic_beats_fixed_weights_on_a_constructed_sign_flip() -> None:
    k, t, n, flip = 6, 500, 80, 250
    g = torch.Generator().manual_seed(0)
    y = torch.randn(t, n, generator=g)
    f = torch.randn(k, t, n, generator=g)
    sign = torch.ones(t, 1)
    sign[flip:] = -1.0
    f[0] = 0.15 * y + f[0]  # steady weak signal
    f[1] = 0.40 * sign * y + f[1]  # strong signal that flips
    names = [f"f{i}" for i in range(k)]
    dates = np.arange(t).astype("datetime64[D]")
    rank_ic = {}
    for method in METHODS:
        cfg = CombineConfig(method=method, window=60, horizon=5)
        res = combine(f, y, names=names, dates=dates, score_days=150, config=cfg)
        rank_ic[method] = res.summary()["rank_ic"]
    assert rank_ic["dynamic"] > 0.15
    for method in METHODS[1:]:
        assert rank_ic["dynamic"] > rank_ic[method] + 0.05, rank_ic


def _planted_factors(panel) -> torch.Tensor:
    """The three planted signals (formulas of PLANTED_SIGNALS) and two noise factors."""
    close = panel.feature("close").to(torch.float64)
    volume = panel.feature("volume").to(torch.float64)
    t = close.shape[0]

    def nan_like() -> torch.Tensor:
        return torch.full_like(close, float("nan"))

    rev = nan_like()
    rev[5:] = -(close[5:] / close[:-5] - 1)
    ret = nan_like()
    ret[1:] = close[1:] / close[:-1] - 1
    lowvol = nan_like()
    lowvol[20:] = -ret.unfold(0, 20, 1)[1:].std(-1)
    corr = nan_like()
    c = close.unfold(0, 10, 1)  # [T-9, N, 10]
    v = volume.unfold(0, 10, 1)
    cc, vc = c - c.mean(-1, keepdim=True), v - v.mean(-1, keepdim=True)
    corr[9:] = (cc * vc).sum(-1) / torch.sqrt((cc * cc).sum(-1) * (vc * vc).sum(-1))
    g = torch.Generator().manual_seed(1)
    noise = torch.randn(2, t, close.shape[1], generator=g, dtype=torch.float64)
    return torch.stack([rev, lowvol, corr, noise[0], noise[1]]).to(torch.float32)


def test_dynamic_beats_fixed_weights_on_the_synthetic_market() -> None:
    cfg = SyntheticConfig(n_tickers=150, n_days=800, seed=3)
    assert [s.name for s in PLANTED_SIGNALS][2] == "vol_price_corr_10d"
    assert PLANTED_SIGNALS[2].flips and cfg.flip_day == 400
    panel = build(generate(cfg))
    factors = _planted_factors(panel)
    names = [s.name for s in PLANTED_SIGNALS] + ["noise_a", "noise_b"]
    results = {
        m: combine_panel(panel, factors, names, score_days=300,
                         config=CombineConfig(method=m, window=120))
        for m in METHODS
    }
    # from 80 days after the flip (day 400): once the 120-day look-back has mostly moved past it
    since = panel.dates[480].item()
    after = {m: r.daily.filter(r.daily["date"] >= since)["rank_ic"].drop_nans().mean()
             for m, r in results.items()}
    for m in METHODS[1:]:
        assert after["dynamic"] > after[m] + 0.01, after
    # the flipping signal is used with a negative weight once the look-back is past the flip
    w = results["dynamic"].weights
    late = w.filter((w["factor"] == "vol_price_corr_10d") & (w["date"] >= panel.dates[600].item()))
    assert (late.filter("active")["coef"] < 0).mean() > 0.9
    assert late["flipped"].mean() > 0.9
