"""Window statistics that Qlib's expression language has and the paper's operator set lacks:
rank within the window, quantile, the trend regression (slope, R², residual), the position of
the maximum / minimum, and Qlib's correlation (NaN on flat windows).

Same contract as :mod:`engine.expr.kernels`: ``[T, N]`` tensors in (NaN = missing), a fresh
``[T, N]`` tensor out (float32 for float32 input); window ``w`` covers days ``t − w + 1 … t``;
the result is NaN where the window reaches before the first day or holds a NaN; nothing reads a
day after t. Qlib computes these with ``min_periods=1`` and skips NaN inside a window, so its
values exist from the first day; ours need the whole window, and equal Qlib's wherever the
window is complete.

Memory: lag loops (rank, arg-max, regression sums) hold a few panel-sized tensors at most; the
quantile partially sorts its windows in day blocks of about ``_SORT_CELLS`` values, so a
2,674 x 644 panel with w = 60 never materialises its 100 million window values at once.
"""

from __future__ import annotations

import math

import torch

from engine.expr import kernels as K

#: Qlib's flatness rule for Corr and Rsquare: NaN where a window's sample std is <= this
#: (``np.isclose(std, 0, atol=2e-5)`` in qlib/data/ops.py).
QLIB_FLAT_STD = 2e-5
#: Window values ts_quantile reads per block (the partial sort's output and indices are smaller).
_SORT_CELLS = 1 << 22

_F32 = torch.float32
_F64 = torch.float64
_NAN = float("nan")


def _out_dtype(x: torch.Tensor) -> torch.dtype:
    return _F32 if x.dtype == _F32 else _F64


def _mask_incomplete(out: torch.Tensor, x: torch.Tensor, w: int) -> torch.Tensor:
    """NaN where the window ending on that day is not complete (in place)."""
    return out.masked_fill_(~K.window_complete(x, w), _NAN)


# --------------------------------------------------------------------------- order statistics


def ts_rank(x: torch.Tensor, w: int) -> torch.Tensor:
    """Percentile rank of today's value among the window's w values, ties averaged: in (0, 1].

    ``(below + 1 + ties / 2) / w`` with ``below`` / ``ties`` the other days of the window that
    are smaller / equal — pandas' ``rolling(w).rank(pct=True)`` (Qlib's ``Rank``).
    """
    if not K._check_window(x, w):
        return K._nan_like(x)
    t = x.shape[0]
    out, body = K._output(x, w - 1, dtype=_out_dtype(x))
    today = x[w - 1:]
    below = torch.zeros(today.shape, dtype=body.dtype, device=x.device)
    ties = torch.zeros_like(below)
    for k in range(1, w):  # the day k days before today, for every window at once
        older = x[w - 1 - k: t - k]
        below.add_(torch.lt(older, today).to(body.dtype))
        ties.add_(torch.eq(older, today).to(body.dtype))
    torch.add(below, ties, alpha=0.5, out=body).add_(1.0).div_(w)
    return _mask_incomplete(out, x, w)


def ts_quantile(x: torch.Tensor, q: float, w: int) -> torch.Tensor:
    """The q-quantile of the window, interpolated linearly between order statistics.

    Position ``q · (w − 1)`` in the sorted window, as pandas' ``rolling(w).quantile(q)``
    (Qlib's ``Quantile(x, w, q)``); q = 0 is the minimum, q = 1 the maximum.
    """
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"quantile must be in [0, 1], got {q}")
    if not K._check_window(x, w):
        return K._nan_like(x)
    t = x.shape[0]
    out, body = K._output(x, w - 1, dtype=_out_dtype(x))
    pos = q * (w - 1)
    lo = int(pos)
    hi = min(lo + 1, w - 1)
    frac = pos - lo
    # Order statistics lo and hi are among the hi + 1 smallest and among the w − lo largest
    # values: a partial sort (topk) of the shorter end is ~3x cheaper than sorting windows.
    smallest = hi + 1 <= w - lo
    k = hi + 1 if smallest else w - lo
    at_lo, at_hi = (lo, hi) if smallest else (w - 1 - lo, w - 1 - hi)
    rows = t - w + 1
    chunk = max(1, _SORT_CELLS // max(1, w * math.prod(x.shape[1:])))
    for r0 in range(0, rows, chunk):
        r1 = min(rows, r0 + chunk)
        windows = x[r0: r1 + w - 1].unfold(0, w, 1)  # [r1 − r0, N, w] view
        # sorted ascending (smallest) or descending; windows holding NaN are masked below
        part = torch.topk(windows, k, dim=-1, largest=not smallest).values
        low = part[..., at_lo].to(_F64)
        body[r0:r1] = low.add_(part[..., at_hi].to(_F64).sub_(low), alpha=frac)
    return _mask_incomplete(out, x, w)


def _arg_extreme(x: torch.Tensor, w: int, larger: bool) -> torch.Tensor:
    """1-based position, from the window's oldest day, of its first maximum (minimum)."""
    if not K._check_window(x, w):
        return K._nan_like(x)
    t = x.shape[0]
    rows = t - w + 1
    out, body = K._output(x, w - 1, dtype=_out_dtype(x))
    best = x[:rows].clone()  # each window's oldest day
    pos = torch.zeros(best.shape, dtype=body.dtype, device=x.device)
    beats = torch.gt if larger else torch.lt
    for k in range(1, w):  # oldest to newest; strict: a tie keeps the earlier day
        value = x[k: k + rows]
        newer = beats(value, best)
        best = torch.where(newer, value, best)
        pos.masked_fill_(newer, float(k))
    torch.add(pos, 1.0, out=body)
    return _mask_incomplete(out, x, w)


def ts_argmax(x: torch.Tensor, w: int) -> torch.Tensor:
    """Position of the window's maximum, 1 = oldest day … w = today (first one on ties), as
    Qlib's ``IdxMax`` (``np.argmax + 1``)."""
    return _arg_extreme(x, w, larger=True)


def ts_argmin(x: torch.Tensor, w: int) -> torch.Tensor:
    """Position of the window's minimum, 1 = oldest day … w = today (first one on ties)."""
    return _arg_extreme(x, w, larger=False)


# --------------------------------------------------------------------------- trend regression


def _trend(x: torch.Tensor, w: int, what: str) -> torch.Tensor:
    """OLS of the window's values on the day numbers 1 … w (oldest first): its slope, its R²,
    or today's residual — Qlib's ``Slope``, ``Rsquare`` and ``Resi``.

    With centred day numbers ``c_k = k − (w − 1)/2`` (so ``Σc = 0``) the regression needs only
    ``Sxy = Σ c_k·y_k`` (a lag loop with fixed weights, no cancellation against the level of y)
    and ``Sxx = w(w² − 1)/12``: slope = Sxy / Sxx; residual = y_today − mean − slope·(w − 1)/2;
    R² = Sxy² / (Sxx·Syy) with the two-pass ``Syy``, NaN where the window's sample std is at
    most ``QLIB_FLAT_STD`` (Qlib's rule). Float64 per day block; w = 1 has no regression (NaN).
    """
    if not K._check_window(x, w) or w == 1:
        return K._nan_like(x, _out_dtype(x))
    out, body = K._output(x, w - 1, dtype=_out_dtype(x))
    sxx = w * (w * w - 1) / 12.0
    centre = (w - 1) / 2.0
    scratch: list[torch.Tensor] = []
    for r0, r1, x64 in K._blocks(x, w):  # x64: the block's days, float64
        nb = r1 - r0
        if not scratch:
            scratch = [torch.empty((nb, *x.shape[1:]), dtype=_F64, device=x.device)
                       for _ in range(2)]
        sxy, res = (s[:nb] for s in scratch)
        torch.mul(x64[:nb], -centre, out=sxy)
        for k in range(1, w):
            sxy.add_(x64[k: k + nb], alpha=k - centre)
        if what == "slope":
            body[r0:r1] = sxy.div_(sxx)
        elif what == "resi":
            torch.sum(x64.unfold(0, w, 1), dim=-1, out=res).div_(-w)  # −mean
            res.add_(x64[w - 1: w - 1 + nb]).sub_(sxy, alpha=centre / sxx)
            body[r0:r1] = res
        else:
            syy = K._exact_sum_sq(x64, w, 0, nb)
            flat = syy <= (w - 1) * QLIB_FLAT_STD**2
            rsq = sxy.mul_(sxy).div_(syy.mul_(sxx)).masked_fill_(flat, _NAN)
            body[r0:r1] = rsq
    return out


def ts_slope(x: torch.Tensor, w: int) -> torch.Tensor:
    """Slope of the window's least-squares line against the day number (units of x per day)."""
    return _trend(x, w, "slope")


def ts_rsquare(x: torch.Tensor, w: int) -> torch.Tensor:
    """R² of the window's least-squares line against the day number; NaN on flat windows."""
    return _trend(x, w, "rsquare")


def ts_resi(x: torch.Tensor, w: int) -> torch.Tensor:
    """Today's residual from the window's least-squares line: x[t] minus the fitted value."""
    return _trend(x, w, "resi")


# --------------------------------------------------------------------------- correlation


def ts_corr_nan(x: torch.Tensor, y: torch.Tensor, w: int) -> torch.Tensor:
    """Pearson correlation, NaN where either window's sample std is at most ``QLIB_FLAT_STD``
    (Qlib's ``Corr``). ``ts_corr`` instead divides by 1 on nearly flat windows (the paper's
    reference), which gives ~0 there and a covariance sum on windows of small variance.
    """
    x, y = K._pair_inputs(x, y)
    if not K._check_window(x, w):
        return K._nan_like(x)
    out, body = K._output(x, w - 1, dtype=_F32 if x.dtype == y.dtype == _F32 else _F64)
    limit = (w - 1) * QLIB_FLAT_STD**2  # Σ(x − mean)² at which the std is the limit
    for r0, r1, (sxy, sxx, syy) in K._block_moments([x, y], w):
        flat = (sxx <= limit) | (syy <= limit)
        den = K._sqrt_(sxx.mul_(syy))
        body[r0:r1] = sxy.div_(den).masked_fill_(flat, _NAN)
    return out
