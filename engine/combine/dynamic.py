"""The dynamic Mega-Alpha: re-select and re-fit the factor combination every day (spec §6).

For each scored day t the look-back is the days ``[t - window - (h+1), t - (h+1))``: the gap of
h + 1 days guarantees that every target in it (``p[d+h+1] / p[d+1] - 1``) was realised before t.
Over the look-back, per factor: mean and std of the daily IC and RankIC; a factor qualifies when
|mean RankIC| > 0.02 and |RankICIR| > 0.2 (a consistently negative factor qualifies too, its
sign flipped: spec §8 #5); the top ``n_factors`` by |RankICIR| are kept, or the single best when
none qualifies; a pooled OLS with intercept on every (day, stock) row of the look-back with a
finite target gives the weights that score day t.

Incremental (the point of this module): the per-day normal-equation blocks ``X_d'X_d`` and
``X_d'y_d`` of all K factors are computed once (T·N·K²), prefix-summed over days, and a window's
pooled system is the difference of two prefix entries (O(K²) per day); the daily IC / RankIC
series are prefix-summed likewise (window mean and std in O(1)). Only the k x k solve on the
selected subset remains per day, batched over days. A naive re-fit reads T·L·N·K values.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import torch

from engine.combine.base import (
    CombinationResult,
    CombineConfig,
    Prepared,
    apply_weights,
    design_sums,
    mega_daily,
    solve_subsets,
    weights_frame,
)
from engine.combine.reasons import PARAMS_COLUMN, encode


def lookback_bounds(days: np.ndarray, config: CombineConfig) -> tuple[np.ndarray, np.ndarray]:
    """``[lo, hi)`` day indices of each scored day's look-back (``hi <= lo`` = empty)."""
    t_idx = np.flatnonzero(days)
    hi = np.maximum(t_idx - config.gap, 0)
    lo = np.zeros_like(hi) if config.window is None else np.maximum(hi - config.window, 0)
    return lo, hi


def _prefix(x: torch.Tensor) -> torch.Tensor:
    """Cumulative sums along the last dim with a leading 0: ``out[..., j] = sum(x[..., :j])``."""
    pad = torch.zeros(*x.shape[:-1], 1, dtype=x.dtype)
    return torch.cat([pad, torch.cumsum(x, dim=-1)], dim=-1)


def window_stats(
    series: torch.Tensor, lo: np.ndarray, hi: np.ndarray
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Mean, sample std and count of ``series [K, T]`` over ``[lo, hi)`` for D windows, each
    ``[D, K]`` float64, from prefix sums of the finite values, their squares and their count."""
    finite = torch.isfinite(series)
    x = torch.where(finite, series, 0.0)
    cn, cs, cq = _prefix(finite.to(torch.float64)), _prefix(x), _prefix(x * x)
    lo_t, hi_t = torch.from_numpy(lo), torch.from_numpy(hi)
    n = (cn[:, hi_t] - cn[:, lo_t]).T
    s = (cs[:, hi_t] - cs[:, lo_t]).T
    q = (cq[:, hi_t] - cq[:, lo_t]).T
    mean = torch.where(n > 0, s / n.clamp(min=1), torch.nan)
    var = (q - s * s / n.clamp(min=1)) / (n - 1).clamp(min=1)
    std = torch.where(n > 1, var.clamp(min=0).sqrt(), torch.nan)
    return mean, std, n


def _window_systems(
    prep: Prepared, lo: np.ndarray, hi: np.ndarray
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pooled ``X'X [D, K+1, K+1]`` and ``X'y [D, K+1]`` of each look-back window, as
    differences of prefix sums of the per-day blocks (only days some window reads are built)."""
    last = int(hi.max()) if len(hi) else 0
    gram, rhs = design_sums(prep, np.arange(prep.n_days) < last)
    gram = torch.cumsum(gram, dim=0)  # inclusive prefix: gram[j] = sum of days 0..j
    rhs = torch.cumsum(rhs, dim=0)
    k1 = prep.n_factors + 1
    d = len(hi)
    a = torch.zeros(d, k1, k1, dtype=torch.float64)
    b = torch.zeros(d, k1, dtype=torch.float64)
    has = hi > 0
    hi_i = torch.from_numpy(hi[has] - 1)
    a[has] = gram[hi_i]
    b[has] = rhs[hi_i]
    sub = has & (lo > 0)
    lo_i = torch.from_numpy(lo[sub] - 1)
    a[sub] -= gram[lo_i]
    b[sub] -= rhs[lo_i]
    return a, b


def _ranks(key: torch.Tensor) -> torch.Tensor:
    """1-based descending rank of each entry along the last dim (stable on ties)."""
    order = torch.argsort(-key, dim=-1, stable=True)
    ranks = torch.empty_like(order)
    ar = torch.arange(1, key.shape[-1] + 1).expand_as(order)
    ranks.scatter_(-1, order, ar)
    return ranks


def fit(prep: Prepared, days: np.ndarray, config: CombineConfig) -> CombinationResult:
    """Dynamic Mega-Alpha on the scored ``days [T]`` bool (see the module docstring)."""
    lo, hi = lookback_bounds(days, config)
    m_ric, sd_ric, n_ric = window_stats(prep.rank_ic, lo, hi)
    m_ic, sd_ic, _ = window_stats(prep.ic, lo, hi)
    realised = _prefix(prep.realised.to(torch.float64))
    n_real = (realised[torch.from_numpy(hi)] - realised[torch.from_numpy(lo)]).numpy()
    scorable = torch.from_numpy(n_real >= config.min_lookback_days)  # [D]

    ir_ric = torch.where(sd_ric > 0, m_ric / sd_ric, torch.nan)
    ir_ic = torch.where(sd_ic > 0, m_ic / sd_ic, torch.nan)
    has_ir = torch.isfinite(ir_ric) & scorable.unsqueeze(-1)
    abs_ir = torch.where(has_ir, ir_ric.abs(), -1.0)
    qualifies = (has_ir & (m_ric.abs() > config.rank_ic_threshold)
                 & (ir_ric.abs() > config.rank_icir_threshold))
    q_rank = _ranks(torch.where(qualifies, abs_ir, -1.0))
    selected = qualifies & (q_rank <= config.n_factors)
    fallback = ~qualifies.any(-1) & has_ir.any(-1)  # [D]
    best = _ranks(abs_ir) == 1
    selected |= fallback.unsqueeze(-1) & best
    flipped = selected & (m_ric < 0)

    a, b = _window_systems(prep, lo, hi)
    use = torch.cat([scorable.unsqueeze(-1), selected], dim=-1)
    sol = solve_subsets(a, b, use)
    intercept, coef = sol[:, 0], sol[:, 1:]
    sel_rank = torch.where(selected, _ranks(torch.where(selected, abs_ir, -1.0)), 0)

    score = apply_weights(prep, days, coef, intercept)
    reasons, reason_params = _reasons(config, n_real, scorable, selected, fallback, flipped,
                                      qualifies, q_rank, m_ric, ir_ric, n_ric)
    weights = weights_frame(prep, days, {
        "active": (coef != 0).numpy(),
        "flipped": flipped.numpy(),
        "coef": coef.numpy(),
        "intercept": intercept.unsqueeze(-1).expand_as(coef).numpy(),
        "ic": m_ic.numpy(),
        "icir": ir_ic.numpy(),
        "rank_ic": m_ric.numpy(),
        "rank_icir": ir_ric.numpy(),
        "rank": sel_rank.numpy(),
    }, reasons).with_columns(pl.Series(PARAMS_COLUMN, reason_params, dtype=pl.Utf8))
    return CombinationResult(
        config=config,
        names=prep.names,
        dates=prep.dates,
        score=score,
        scored=days,
        weights=weights,
        daily=mega_daily(prep, score, days, coef, config.min_stocks),
    )


def _reasons(
    config: CombineConfig,
    n_real: np.ndarray,
    scorable: torch.Tensor,
    selected: torch.Tensor,
    fallback: torch.Tensor,
    flipped: torch.Tensor,
    qualifies: torch.Tensor,
    q_rank: torch.Tensor,
    m_ric: torch.Tensor,
    ir_ric: torch.Tensor,
    n_ric: torch.Tensor,
) -> tuple[list[str], list[str]]:
    """One reason per (day, factor), row-major (the weights frame's order): its code
    (:data:`engine.combine.reasons.CODES`) and its parameters as JSON, so it is worded in the
    reader's language when shown."""
    sel, fb, fl, qu = selected.tolist(), fallback.tolist(), flipped.tolist(), qualifies.tolist()
    qr, m, ir, nr = q_rank.tolist(), m_ric.tolist(), ir_ric.tolist(), n_ric.tolist()
    n_sel = selected.sum(-1).tolist()
    n_qual = qualifies.sum(-1).tolist()
    thr_ic, thr_ir = config.rank_ic_threshold, config.rank_icir_threshold
    codes: list[str] = []
    params: list[str] = []
    for d, ok in enumerate(scorable.tolist()):
        if not ok:
            codes.extend(["not_scored"] * len(sel[d]))
            params.extend([encode("not_scored", days=int(n_real[d]),
                                  min=config.min_lookback_days)] * len(sel[d]))
            continue
        for j in range(len(sel[d])):
            stats = {"rank_ic": m[d][j], "rank_icir": ir[d][j]}
            if sel[d][j] and fb[d]:
                code, extra = "fallback", {"flipped": fl[d][j]}
            elif sel[d][j]:
                code, extra = "selected", {"rank": qr[d][j], "count": n_sel[d],
                                           "flipped": fl[d][j]}
            elif qu[d][j]:
                code, extra = "beyond_top", {"rank": qr[d][j], "count": n_qual[d],
                                             "keep": config.n_factors}
            elif nr[d][j] < 2 or ir[d][j] != ir[d][j]:
                code, stats, extra = "few_days", {}, {"days": int(nr[d][j])}
            else:
                low_ic, low_ir = not abs(m[d][j]) > thr_ic, not abs(ir[d][j]) > thr_ir
                code = ("below_both" if low_ic and low_ir
                        else "below_rank_ic" if low_ic else "below_rank_icir")
                extra = {"rank_ic_min": thr_ic, "rank_icir_min": thr_ir}
            codes.append(code)
            params.append(encode(code, **stats, **extra))
    return codes, params

