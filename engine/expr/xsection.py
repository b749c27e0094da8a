"""NaN-aware cross-sectional primitives shared by operators and metrics.

Ranking and z-scoring across stocks appear in the formula language (``cs_rank``,
``cs_zscore``), in the factor metrics (RankIC, per-day normalisation) and in the combiner, so
they live here once. All functions work on the last dimension (stocks) of any tensor
``[..., N]``; non-finite values are treated as missing and come back as NaN.
"""

from __future__ import annotations

import torch


def rank_average(x: torch.Tensor) -> torch.Tensor:
    """1-based ranks along the last dim, ties get their average rank, NaN stays NaN.

    Sort-based (O(N log N) per row), unlike the reference code's O(N^2) tie handling
    (ALPHAFORGE_SPEC §8 #10).
    """
    valid = torch.isfinite(x)
    filled = torch.where(valid, x, torch.full_like(x, float("inf")))
    sorted_x, order = torch.sort(filled, dim=-1, stable=True)
    n = x.shape[-1]
    pos = torch.arange(n, device=x.device).expand_as(sorted_x)
    new_group = torch.ones_like(sorted_x, dtype=torch.bool)
    new_group[..., 1:] = sorted_x[..., 1:] != sorted_x[..., :-1]
    first = torch.cummax(torch.where(new_group, pos, torch.zeros_like(pos)), dim=-1).values
    end_group = torch.ones_like(new_group)
    end_group[..., :-1] = new_group[..., 1:]
    last_rev = torch.where(end_group, pos, torch.full_like(pos, n)).flip(-1)
    last = torch.cummin(last_rev, dim=-1).values.flip(-1)
    avg = (first + last).to(torch.float64 if x.dtype == torch.float64 else torch.float32)
    avg = avg / 2 + 1
    ranks = torch.empty_like(avg)
    ranks.scatter_(-1, order, avg)
    return torch.where(valid, ranks, torch.full_like(ranks, float("nan"))).to(x.dtype)


def rank_pct(x: torch.Tensor) -> torch.Tensor:
    """Percentile rank in (0, 1] along the last dim (average rank / count of valid values),
    as pandas ``rank(pct=True)``; NaN stays NaN."""
    ranks = rank_average(x)
    count = torch.isfinite(x).sum(dim=-1, keepdim=True).clamp(min=1)
    return ranks / count


def zscore(x: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """Per-row z-score over finite values (population std, ddof=0; ALPHAFORGE_SPEC §1).

    Rows with fewer than two valid values or zero dispersion come back as NaN.
    """
    valid = torch.isfinite(x)
    xd = torch.where(valid, x, torch.zeros_like(x)).to(torch.float64)
    count = valid.sum(dim=-1, keepdim=True)
    mean = xd.sum(dim=-1, keepdim=True) / count.clamp(min=1)
    centred = torch.where(valid, xd - mean, torch.zeros_like(xd))
    var = (centred * centred).sum(dim=-1, keepdim=True) / count.clamp(min=1)
    std = var.sqrt()
    ok = (count >= 2) & (std > eps)
    out = torch.where(valid & ok, centred / std.clamp(min=eps), torch.full_like(xd, float("nan")))
    return out.to(x.dtype)
