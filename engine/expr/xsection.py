"""NaN-aware cross-sectional primitives shared by operators and metrics.

Ranking and z-scoring across stocks appear in the formula language (``cs_rank``,
``cs_zscore``), in the factor metrics (RankIC, per-day normalisation) and in the combiner, so
they live here once. All functions work on the last dimension (stocks) of any tensor
``[..., N]``; non-finite values are treated as missing and come back as NaN.

Speed (CPU): ranking float32 rows sorts one int64 per cell — the value's order-preserving bits
above its column index — with numpy's SIMD sort (several times faster than an argsort), which
yields the stable sort order directly; only rows that hold ties take the tie-averaging pass.
Validity masks are built with float arithmetic (``x − x`` is 0 or NaN) rather than bool
tensors, which torch produces several times slower than floats.
"""

from __future__ import annotations

import numpy as np
import torch

_INF = float("inf")


def _tie_average(sorted_key: torch.Tensor, order: torch.Tensor) -> torch.Tensor:
    """Average 1-based ranks ``[R, N]`` (original order) of rows sorted ascending
    (``sorted_key``, with ``order`` the stable permutation that sorted them): each run of
    equal keys gets the mean of its positions."""
    n = sorted_key.shape[-1]
    pos = torch.arange(n, device=order.device).expand(order.shape)
    new_run = torch.ones_like(sorted_key, dtype=torch.bool)
    new_run[..., 1:] = sorted_key[..., 1:] != sorted_key[..., :-1]
    first = torch.cummax(torch.where(new_run, pos, torch.zeros_like(pos)), dim=-1).values
    run_end = torch.ones_like(new_run)
    run_end[..., :-1] = new_run[..., 1:]
    last = torch.cummin(torch.where(run_end, pos, torch.full_like(pos, n)).flip(-1),
                        dim=-1).values.flip(-1)
    dtype = torch.float64 if sorted_key.dtype == torch.float64 else torch.float32
    average = (first + last).to(dtype) / 2 + 1
    return torch.empty_like(average).scatter_(-1, order, average)


def _rank_sorted(x: torch.Tensor) -> torch.Tensor:
    """Generic path (any dtype / device): one stable sort, then tie averaging."""
    valid = torch.isfinite(x)
    filled = torch.where(valid, x, torch.full_like(x, _INF))
    sorted_x, order = torch.sort(filled, dim=-1, stable=True)
    ranks = _tie_average(sorted_x, order)
    return torch.where(valid, ranks, torch.full_like(ranks, float("nan"))).to(x.dtype)


def _tie_average_f32(sorted_key: torch.Tensor, order: torch.Tensor) -> torch.Tensor:
    """:func:`_tie_average` for float32 CPU rows with float32 run bookkeeping: positions are
    small integers (exact in float32) and float compares/scans are the fast torch kernels."""
    n = sorted_key.shape[-1]
    pos = torch.arange(n, dtype=torch.float32)
    new_run = torch.ones(sorted_key.shape, dtype=torch.float32)
    torch.ne(sorted_key[:, 1:], sorted_key[:, :-1], out=new_run[:, 1:])  # 1.0 / 0.0
    run_end = torch.ones_like(new_run)
    run_end[:, :-1] = new_run[:, 1:]
    first = torch.cummax(new_run.mul_(pos), dim=-1).values  # start of each cell's run
    # last = the nearest run end at or after each cell: a running min from the right over
    # (pos where a run ends, else n).
    ends = run_end.mul_(pos - n).add_(n).flip(-1)
    last = torch.cummin(ends, dim=-1).values.flip(-1)
    average = first.add_(last).mul_(0.5).add_(1.0)
    return torch.empty_like(average).scatter_(-1, order, average)


def _rank_packed(x: torch.Tensor) -> torch.Tensor:
    """CPU float32 path: the same ranks from one numpy sort of packed (bits, index) keys."""
    n = x.shape[-1]
    flat = x.reshape(-1, n)
    rows = flat.shape[0]
    # Missing -> +inf (sorts last, never ranked); -0.0 -> +0.0 so that equal values have
    # equal bits (ties are then exactly equal keys).
    key = torch.nan_to_num(flat, nan=_INF, posinf=_INF, neginf=_INF).add_(0.0)
    bits = key.numpy().view(np.int32)
    ordered = bits ^ ((bits >> 31) & 0x7FFFFFFF)  # signed order of the bits = float order
    # int64 = ordered (high word) · 2^32 + column (low word, little-endian): sorting these
    # sorts by value, then by column — a stable argsort, from numpy's SIMD sort.
    packed = np.empty((rows, n), dtype=np.int64)
    words = packed.view(np.int32).reshape(rows, n, 2)
    words[..., 0] = np.arange(n, dtype=np.int32)
    words[..., 1] = ordered
    packed.sort(axis=-1)  # in place: no second int64 buffer
    order = torch.from_numpy(packed).bitwise_and_(0xFFFFFFFF)
    sorted_key = key.gather(-1, order)
    # Equal neighbours are ties; +inf padding gives inf − inf = NaN, not 0.
    if n > 1:
        gaps = torch.diff(sorted_key, dim=-1)
        tied = torch.eq(gaps, 0.0, out=gaps).amax(dim=-1) > 0  # float compare: fast
        tied_rows = torch.nonzero(tied).flatten()
    else:
        tied_rows = torch.zeros(0, dtype=torch.int64)
    if len(tied_rows) * 2 > rows:  # mostly tied (prices): average every row, no gathers
        ranks = _tie_average_f32(sorted_key, order)
    else:
        positions = torch.arange(1, n + 1, dtype=torch.float32).expand(order.shape)
        ranks = torch.empty(order.shape, dtype=torch.float32).scatter_(-1, order, positions)
        if len(tied_rows):
            ranks[tied_rows] = _tie_average_f32(sorted_key[tied_rows], order[tied_rows])
    ranks.add_(flat - flat)  # NaN where the input is missing (x − x is 0 or NaN)
    return ranks.reshape(x.shape)


def rank_average(x: torch.Tensor) -> torch.Tensor:
    """1-based ranks along the last dim, ties get their average rank, NaN stays NaN.

    Sort-based (O(N log N) per row), unlike the reference code's O(N^2) tie handling
    (ALPHAFORGE_SPEC §8 #10).
    """
    if (x.device.type == "cpu" and x.dtype == torch.float32 and x.dim() >= 1
            and 0 < x.shape[-1] < 2**24 and x.numel() > 0):
        return _rank_packed(x)
    return _rank_sorted(x)


def _valid_count(x: torch.Tensor) -> torch.Tensor:
    """``[..., 1]`` number of finite values per row (float, exact below 2^24)."""
    return torch.nan_to_num(x * 0.0, nan=1.0, posinf=1.0, neginf=1.0).neg_().add_(1.0).sum(
        dim=-1, keepdim=True)


def rank_pct(x: torch.Tensor) -> torch.Tensor:
    """Percentile rank in (0, 1] along the last dim (average rank / count of valid values),
    as pandas ``rank(pct=True)``; NaN stays NaN."""
    ranks = rank_average(x)
    if ranks.dtype == torch.float32 and ranks.device.type == "cpu":
        return ranks.div_(_valid_count(x).clamp_(min=1))
    count = torch.isfinite(x).sum(dim=-1, keepdim=True).clamp(min=1)
    return ranks / count


def zscore(x: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """Per-row z-score over finite values (population std, ddof=0; ALPHAFORGE_SPEC §1).

    Rows with fewer than two valid values or zero dispersion come back as NaN.
    """
    # Missing values are NaN in float64 and drop out of the NaN-ignoring sums; the centred
    # values stay NaN there, so the result needs no final mask.
    xd = torch.nan_to_num(x.to(torch.float64), nan=float("nan"), posinf=float("nan"),
                          neginf=float("nan"))
    count = _valid_count(x).to(torch.float64)
    safe_count = count.clamp(min=1)
    mean = torch.nansum(xd, dim=-1, keepdim=True).div_(safe_count)
    centred = xd.sub_(mean)
    var = torch.nansum(centred * centred, dim=-1, keepdim=True).div_(safe_count)
    std = var.sqrt_()
    ok = (count >= 2) & (std > eps)
    scale = torch.where(ok, std, torch.full_like(std, float("nan")))
    return centred.div_(scale).to(x.dtype)
