"""The float64 reference of the fitness (ALPHAFORGE_SPEC §3), for tests only.

Written the plain way from :mod:`engine.metrics.factor`'s float64 daily series: IC from
:func:`daily_ic`, the factor return from :func:`daily_factor_return` on per-day z-scores,
and the gate from the first usable day. :mod:`engine.metrics.fitness` is the one
implementation the product uses; these functions are what it is checked against.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from engine.expr.xsection import zscore
from engine.metrics.factor import (
    DEFAULT_MIN_STOCKS,
    daily_factor_return,
    daily_ic,
    daily_rank_ic,
    summarize,
)

_RISK_FREE_DAILY = 0.03 / 252


@dataclass(frozen=True, eq=False)
class ReferenceFitness:
    score: torch.Tensor
    ic_mean: torch.Tensor
    icir: torch.Tensor
    rank_ic_mean: torch.Tensor | None
    rank_icir: torch.Tensor | None
    ret_mean: torch.Tensor
    retir: torch.Tensor
    sharpe: torch.Tensor
    ic_series: torch.Tensor
    ret_series: torch.Tensor
    passes_gate: torch.Tensor


def _clean(x: torch.Tensor) -> torch.Tensor:
    return torch.where(torch.isfinite(x) & (x > 0), x, 0.0)


def _distinct_finite(rows: torch.Tensor) -> torch.Tensor:
    finite = torch.isfinite(rows)
    s, _ = torch.sort(torch.where(finite, rows, torch.inf), dim=-1)
    fin_sorted = torch.isfinite(s)
    change = torch.ones_like(fin_sorted)
    change[..., 1:] = s[..., 1:] != s[..., :-1]
    return (change & fin_sorted).sum(-1)


def reference_gate(factor: torch.Tensor, target: torch.Tensor,
                   mask: torch.Tensor | None = None, min_stocks: int = DEFAULT_MIN_STOCKS,
                   day: int | None = None) -> torch.Tensor:
    t, n = target.shape
    f = factor.reshape(-1, t, n)
    tgt_ok = torch.isfinite(target)
    if mask is not None:
        tgt_ok = tgt_ok & mask.to(torch.bool)
        f = torch.where(mask.to(torch.bool), f, torch.nan)
    y = torch.where(tgt_ok, target, torch.nan)
    if day is None:
        usable = (tgt_ok.sum(-1) >= min_stocks) & torch.isfinite(f).any(-1)
        first = torch.where(usable.any(-1), usable.to(torch.int8).argmax(-1), 0)
    else:
        first = torch.full((f.shape[0],), day % t, dtype=torch.long)
    rows = f[torch.arange(f.shape[0]), first]
    y_rows = y[first]
    n_f = torch.isfinite(rows).sum(-1)
    n_y = torch.isfinite(y_rows).sum(-1)
    ok = (n_y > 0) & (n_f >= 0.8 * n_y)
    ok &= _distinct_finite(rows) >= 0.01 * _distinct_finite(y_rows)
    return ok.reshape(factor.shape[:-2])


def reference_fitness(factor: torch.Tensor, target: torch.Tensor,
                      mask: torch.Tensor | None = None, metric: str = "ic",
                      min_stocks: int = DEFAULT_MIN_STOCKS) -> ReferenceFitness:
    ic_series = daily_ic(factor, target, mask, min_stocks)
    ic = summarize(ic_series)
    ic_mean = ic.mean.abs()
    icir = ic_mean / ic.std
    rank_mean = rank_ir = None
    if metric in ("rank_ic", "rank_icir"):
        rank = summarize(daily_rank_ic(factor, target, mask, min_stocks))
        rank_mean = _clean(rank.mean.abs())
        rank_ir = _clean(rank.mean.abs() / rank.std)
    inside = factor if mask is None else torch.where(mask.to(torch.bool), factor, torch.nan)
    tgt = target if mask is None else torch.where(mask.to(torch.bool), target, torch.nan)
    ret_series = daily_factor_return(zscore(inside), zscore(tgt), mask, min_stocks)
    ret = summarize(ret_series)
    ret_mean = ret.mean.abs()
    sharpe = (ret_mean - _RISK_FREE_DAILY) / ret.std * math.sqrt(252)
    gate = reference_gate(factor, target, mask, min_stocks)
    chosen = {"ic": ic_mean, "icir": icir, "rank_ic": rank_mean, "rank_icir": rank_ir}[metric]
    assert chosen is not None
    return ReferenceFitness(
        score=torch.where(gate, _clean(chosen), 0.0), ic_mean=_clean(ic_mean),
        icir=_clean(icir), rank_ic_mean=rank_mean, rank_icir=rank_ir,
        ret_mean=_clean(ret_mean), retir=_clean(ret_mean / ret.std), sharpe=_clean(sharpe),
        ic_series=ic_series, ret_series=ret_series, passes_gate=gate)
