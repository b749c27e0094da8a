"""The Classic factor set: parses, evaluates, and reproduces the data README's sanity figures."""

from __future__ import annotations

import torch

from engine.data.panel import Panel
from engine.data.schema import BASE_FEATURES
from engine.data.target import forward_return
from engine.expr.classic import CLASSIC, classic_exprs
from engine.expr.evaluate import Evaluator
from engine.expr.parse import parse, to_text
from engine.expr.xsection import rank_pct

from .conftest import random_panel


def test_about_twenty_factors_with_descriptions() -> None:
    assert 20 <= len(CLASSIC) <= 30
    for name, factor in CLASSIC.items():
        assert name.isidentifier() and name == name.lower()
        assert factor.description and "\n" not in factor.description


def test_all_parse_with_default_preset_on_base_features() -> None:
    exprs = classic_exprs()
    assert list(exprs) == list(CLASSIC)
    for name, expr in exprs.items():
        assert parse(CLASSIC[name].formula, features=BASE_FEATURES, preset="default") == expr
        assert to_text(expr) == CLASSIC[name].formula, "formulas are stored in canonical form"


def test_all_evaluate_to_usable_values() -> None:
    raw = random_panel(n_days=90, n_tickers=12, seed=2, nan_frac=0.002)
    # every listed stock in the universe (a cs_rank inside a 10-day window would otherwise
    # need 10 days of membership in a row)
    panel = Panel(values=raw.values, dates=raw.dates, tickers=raw.tickers,
                  features=raw.features, universe=~torch.isnan(raw.feature("close")))
    values = Evaluator(panel).evaluate_many(list(classic_exprs().values()))
    finite = torch.isfinite(values[:, -20:]).float().mean(dim=(1, 2))  # last 20 days
    for name, share in zip(CLASSIC, finite.tolist(), strict=True):
        if name != "mom_12_1":  # needs 250 days of history; the panel has 90
            assert share > 0.5, name


def _mean_rank_ic(factor: torch.Tensor, target: torch.Tensor, min_names: int = 20) -> float:
    both = torch.isfinite(factor) & torch.isfinite(target)
    nan = torch.tensor(float("nan"))
    fr = rank_pct(torch.where(both, factor, nan).double())
    tr = rank_pct(torch.where(both, target, nan).double())
    fr, tr = torch.where(both, fr, 0.0), torch.where(both, tr, 0.0)
    n = both.sum(dim=1)
    fc = torch.where(both, fr - fr.sum(1, keepdim=True) / n[:, None], 0.0)
    tc = torch.where(both, tr - tr.sum(1, keepdim=True) / n[:, None], 0.0)
    ic = (fc * tc).sum(1) / (fc.norm(dim=1) * tc.norm(dim=1))
    return float(ic[n >= min_names].mean())


def test_reproduces_readme_sanity_figures(us_panel_full: Panel) -> None:
    """shared/data/README.md: mean daily RankIC vs close[t+21]/close[t+1] − 1 over all
    tickers: 20-day low volatility −0.017, 5-day reversal +0.014."""
    ev = Evaluator(us_panel_full)
    target = forward_return(us_panel_full, horizon=20, price="close")
    lowvol = _mean_rank_ic(ev.evaluate(CLASSIC["lowvol_20"].formula), target)
    reversal = _mean_rank_ic(ev.evaluate(CLASSIC["rev_5"].formula), target)
    assert abs(lowvol - (-0.017)) < 0.0015
    assert abs(reversal - 0.014) < 0.0015
