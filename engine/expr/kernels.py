"""Tensor kernels behind every operator of the formula language (ALPHAFORGE_SPEC §2.2).

Every function takes ``[T, N]`` tensors (days x stocks; NaN = missing) or 0-dim constants and
returns a fresh ``[T, N]`` tensor (never a view of an input). They never loop in Python over
days or tickers. Rolling windows are strided ``unfold`` reductions (sum, mean, max, min and the
moment sums below), loops over the ``w`` lags of the window (mean absolute deviation, weighted
means), or a sorting network over shifted slices (median). Windowed float64 work runs in blocks
of ~128k cells with reused buffers, so that its operands stay in cache and no panel-sized
float64 temporary is made. All cost O(T·N·w) arithmetic at most.

Why not cumulative sums: ``cumsum`` differences lose every digit once a series has met a huge
value (``Pow``/``Inv`` outputs reach 1e30), and ``E[x²] − E[x]²`` cancels catastrophically on
prices. Every window sum here covers its own window only, in float64.

Centred moments (var, std, cov, corr) use window sums of data shifted by a per-block anchor near
the data, ``Σ(x − m)(y − m_y) = Σde − Σd·Σe / w`` (``d = x − a``), which is exact to float64
rounding of the data's scale unless a window is nearly flat or far from its anchor; such
windows are detected from their own sums and recomputed by the exact two-pass lag loop (flat
ones set to their exact 0). Results equal the two-pass float64 computation to float64
rounding, i.e. bit-identical after the float32 cast in all but rare last-bit cases. Anchors
use only days at or before each window's last day, so nothing looks ahead.

NaN rules shared by all rolling kernels: window ``w`` covers days ``t−w+1 … t``; the result is
NaN where the window reaches before the first day or holds any NaN (as the reference's
unfold-based evaluation). Inputs are finite or NaN: the caller (``ops.Operator.apply``) casts
results to float32 and maps ±inf to NaN after every operator.

Performance notes (CPU): ops producing ``bool`` tensors are several times slower than float
ops in torch, so element-wise NaN masks are built arithmetically (``F.threshold``,
``copysign``, ``x·0``) where that is exact; outputs are allocated once and written in place
(no pad-and-concatenate).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from engine.expr import xsection

#: Denominators with ``|y| < DIV_EPS`` give NaN instead of a huge or infinite ratio.
DIV_EPS = 1e-12
#: ``ts_corr`` uses denominator 1 when either centred Σ of squares is below this (reference).
CORR_EPS = 1e-6
#: Elements (rows x stocks x live wires) a median chunk may hold at once (~64 MB of float32).
_MEDIAN_CHUNK = 1 << 24
#: A window whose anchored shift term exceeds this multiple of its centred sum is recomputed
#: exactly: the anchored result's relative error is about ε·w·(this ratio) <= 1e-9.
_ANCHOR_AMP = 1e5
#: A cross term whose anchored shift exceeds this multiple of the scale sqrt(Σxx·Σyy) is
#: recomputed exactly: its error is then about ε·w·(this ratio) <= 1e-11 of the scale.
_CROSS_AMP = 1e3
#: Cells per block of a blocked window loop (its float64 operands then stay in cache).
_LOOP_CELLS = 1 << 17
#: Windows per anchor segment of the moment kernels. A constant, not a function of the
#: number of stocks: each stock's result then depends on its own series only, so a panel
#: evaluated in column groups gives bit-identical values (the miner's staged scorer).
_SEGMENT_WINDOWS = 256
#: Cells per operation of blocked loops when torch runs several threads (see _work_rows).
_THREADED_CELLS = 1 << 18
#: Windows up to this many days take the exact moment loop directly (it is as cheap there).
_EXACT_MAX_W = 4

_F64 = torch.float64
_F32 = torch.float32
_NAN = float("nan")


# --------------------------------------------------------------------------- helpers


def _nan_like(x: torch.Tensor, dtype: torch.dtype | None = None) -> torch.Tensor:
    return torch.full(x.shape, _NAN, dtype=dtype or x.dtype, device=x.device)


def _pad_front(body: torch.Tensor, t: int, fill: float | bool = _NAN) -> torch.Tensor:
    """``[T − w + 1, N]`` window results -> ``[T, N]``, ``fill`` for the first w − 1 days."""
    missing = t - body.shape[0]
    if missing == 0:
        return body
    head = torch.full((missing, *body.shape[1:]), fill, dtype=body.dtype, device=body.device)
    return torch.cat([head, body], dim=0)


def _output(x: torch.Tensor, head: int, dtype: torch.dtype | None = None
            ) -> tuple[torch.Tensor, torch.Tensor]:
    """A fresh ``[T, N]`` result whose first ``head`` days are NaN, and its body view
    ``[T − head, N]`` for the kernel to write into (no pad-and-concatenate copy)."""
    out = torch.empty(x.shape, dtype=dtype or x.dtype, device=x.device)
    out[:head].fill_(_NAN)
    return out, out[head:]


def window_complete(x: torch.Tensor, w: int) -> torch.Tensor:
    """``[T, N]`` bool: the window of ``w`` days ending at t exists and has no NaN.

    Inputs are finite or NaN (the evaluator's contract), so a window sum in float64 is NaN
    exactly when the window holds a NaN, and one strided reduction answers for every window.
    """
    if w > x.shape[0]:
        return torch.zeros(x.shape, dtype=torch.bool, device=x.device)
    sums = x.to(_F64).unfold(0, w, 1).sum(dim=-1)
    return _pad_front(~torch.isnan(sums), x.shape[0], fill=False)


def _window_mean(x64: torch.Tensor, w: int) -> torch.Tensor:
    """``[T − w + 1, N]`` float64 window means (one strided reduction)."""
    return x64.unfold(0, w, 1).sum(dim=-1).div_(w)


def _check_window(x: torch.Tensor, w: int) -> bool:
    """True when at least one complete window fits; raises on non-positive windows."""
    if w < 1:
        raise ValueError(f"window must be >= 1, got {w}")
    return w <= x.shape[0]


def _tiny_threshold(dtype: torch.dtype) -> float:
    """Largest ``v`` of ``dtype`` with ``v < DIV_EPS`` as torch compares it (the scalar is
    rounded to the tensor's dtype first), so ``|y| > v``  <=>  ``not |y| < DIV_EPS``."""
    np_dtype = np.float32 if dtype == _F32 else np.float64
    c = np_dtype(DIV_EPS)
    if not bool(torch.tensor(float(c), dtype=dtype) < DIV_EPS):
        c = np.nextafter(c, np_dtype(0))
    return float(c)


_TINY = {_F32: _tiny_threshold(_F32), _F64: _tiny_threshold(_F64)}


def _nan_where_tiny(y: torch.Tensor) -> torch.Tensor:
    """Fresh copy of ``y`` with NaN where ``|y| < DIV_EPS`` (two float passes, no bool mask)."""
    th = _TINY.get(y.dtype)
    if th is None:  # other float types: plain mask
        return y.masked_fill(y.abs() < DIV_EPS, _NAN)
    mag = F.threshold(y.abs(), th, _NAN, inplace=True)  # keeps |y| > th, NaN stays NaN
    return torch.copysign(mag, y, out=mag)


def _safe_div(x: torch.Tensor, y: torch.Tensor, out: torch.Tensor | None = None
              ) -> torch.Tensor:
    """``x / y``, NaN where ``|y| < DIV_EPS``: the same quotients as dividing and masking."""
    if y.dim() == 0 and not bool(y.abs() < DIV_EPS):
        return torch.div(x, y) if out is None else torch.div(x, y, out=out)
    den = _nan_where_tiny(y)
    if out is None:
        return torch.div(x, den)
    return torch.div(x, den, out=out)


# --------------------------------------------------------------------------- element-wise


def safe_div(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``x / y``, NaN where ``|y| < DIV_EPS`` (division by ~0)."""
    return _safe_div(x, y)


def inv(x: torch.Tensor) -> torch.Tensor:
    return torch.reciprocal(_nan_where_tiny(x))


def slog1p(x: torch.Tensor) -> torch.Tensor:
    return torch.log1p(x.abs()).mul_(torch.sign(x))


def absolute(x: torch.Tensor) -> torch.Tensor:
    return torch.abs(x)


def log(x: torch.Tensor) -> torch.Tensor:
    return torch.log(x)


def sign(x: torch.Tensor) -> torch.Tensor:
    """−1, 0 or 1; NaN stays NaN (``torch.sign`` alone maps NaN to 0)."""
    # x·0 is 0 (or −0) for finite and infinite-clipped values and NaN for NaN: adding it to
    # sign(x) restores the NaNs without a bool mask.
    nan_or_zero = torch.nan_to_num(x, nan=_NAN, posinf=1.0, neginf=-1.0).mul_(0.0)
    return nan_or_zero.add_(torch.sign(x))


def add(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return x + y


def sub(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return x - y


def mul(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return x * y


def power(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """IEEE ``x ** y`` (negative base with fractional exponent -> NaN, overflow -> inf).

    Always ``torch.pow``: shortcuts such as ``x·x`` for ``y = 2`` are correctly rounded where
    ``pow`` may be 1 ulp off, and formulas that z-score such near-constant values amplify the
    difference, so they would change results.
    """
    return torch.pow(x, y)


def greater(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Element-wise max; NaN if either side is NaN."""
    x, y = torch.broadcast_tensors(x, y)
    return torch.maximum(x, y)


def less(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Element-wise min; NaN if either side is NaN."""
    x, y = torch.broadcast_tensors(x, y)
    return torch.minimum(x, y)


def _compare(x: torch.Tensor, y: torch.Tensor,
             relation: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """1.0 where the relation holds, 0.0 where it does not, NaN where either side is NaN.

    NaN, not 0: a missing value is not "not greater" (numpy's answer, which Qlib keeps), and
    a count or mean over comparisons must not treat missing days as days that failed.
    """
    x, y = torch.broadcast_tensors(x, y)
    out = relation(x, y).to(torch.result_type(x, y))
    return out.masked_fill_(torch.isnan(x) | torch.isnan(y), _NAN)


def gt(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return _compare(x, y, torch.gt)


def ge(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return _compare(x, y, torch.ge)


def lt(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return _compare(x, y, torch.lt)


def le(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return _compare(x, y, torch.le)


def eq(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return _compare(x, y, torch.eq)


def ne(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return _compare(x, y, torch.ne)


# --------------------------------------------------------------------------- shifts


def ref(x: torch.Tensor, d: int) -> torch.Tensor:
    """``out[t] = x[t − d]``; NaN for the first d days. ``d`` >= 0."""
    if d < 0:
        raise ValueError(f"Ref shift must be >= 0, got {d}")
    t = x.shape[0]
    out, body = _output(x, min(d, t))
    if d < t:
        body.copy_(x[: t - d])
    return out


def ts_delta(x: torch.Tensor, d: int) -> torch.Tensor:
    """``x[t] − x[t − d]``."""
    if d < 0:
        raise ValueError(f"Ref shift must be >= 0, got {d}")
    t = x.shape[0]
    out, body = _output(x, min(d, t))
    if d < t:
        torch.sub(x[d:], x[: t - d], out=body)
    return out


def ts_div(x: torch.Tensor, d: int) -> torch.Tensor:
    """``x[t] / x[t − d]`` (NaN where the old value is ~0)."""
    if d < 0:
        raise ValueError(f"Ref shift must be >= 0, got {d}")
    t = x.shape[0]
    out, body = _output(x, min(d, t))
    if d < t:
        _safe_div(x[d:], x[: t - d], out=body)
    return out


def ts_pctchange(x: torch.Tensor, d: int) -> torch.Tensor:
    """``x[t] / x[t − d] − 1``, computed as ``(x[t] − x[t − d]) / x[t − d]`` in float64 so
    that small changes keep their digits (a float32 ratio minus 1 would lose them)."""
    if d < 0:
        raise ValueError(f"Ref shift must be >= 0, got {d}")
    t = x.shape[0]
    out, body = _output(x, min(d, t), dtype=_F64 if x.dtype == _F64 else _F32)
    if d < t:
        x64 = x.to(_F64)
        old = x64[: t - d]
        _safe_div(x64[d:] - old, old, out=body)
    return out


# --------------------------------------------------------------------------- rolling


def _blocks(x: torch.Tensor, w: int) -> Iterator[tuple[int, int, torch.Tensor]]:
    """``(r0, r1, x64)`` per block of windows ``r0 … r1 − 1``: ``x64`` = days ``r0 … r1 + w − 2``
    in float64, converted block by block into one reused buffer (valid until the next
    block), so no panel-sized float64 copy is ever made."""
    rows = x.shape[0] - w + 1
    block = min(rows, _work_rows(int(np.prod(x.shape[1:], dtype=np.int64))))
    buffer = torch.empty((block + w - 1, *x.shape[1:]), dtype=_F64, device=x.device)
    for r0 in range(0, rows, block):
        r1 = min(rows, r0 + block)
        x64 = buffer[: r1 - r0 + w - 1]
        x64.copy_(x[r0: r1 + w - 1])
        yield r0, r1, x64


def _window_total(x: torch.Tensor, w: int, mean: bool) -> torch.Tensor:
    if not _check_window(x, w):
        return _nan_like(x)
    out, body = _output(x, w - 1, dtype=_F32 if x.dtype == _F32 else _F64)
    total: torch.Tensor | None = None
    for r0, r1, x64 in _blocks(x, w):
        if total is None:
            total = torch.empty((r1 - r0, *x.shape[1:]), dtype=_F64, device=x.device)
        t = torch.sum(x64.unfold(0, w, 1), dim=-1, out=total[: r1 - r0])
        body[r0:r1] = t.div_(w) if mean else t
    return out


def ts_sum(x: torch.Tensor, w: int) -> torch.Tensor:
    return _window_total(x, w, mean=False)


def ts_mean(x: torch.Tensor, w: int) -> torch.Tensor:
    return _window_total(x, w, mean=True)


def _chunk_rows(n: int) -> int:
    """Rows per block of a blocked window loop: ~128k cells, so that its float64 operands
    (deviations, products, sums) stay in the core's cache between passes. Fixed by the data
    shape alone: the moment anchors are per block, and results must not depend on threads."""
    return max(8, _LOOP_CELLS // max(1, n))


def _work_rows(n: int) -> int:
    """Rows per operation of a blocked loop whose results do not depend on the blocking.

    One thread: cache-sized blocks (:func:`_chunk_rows`). Several threads: much larger ones,
    since every op is a parallel region whose hand-off (waking sleeping OpenMP threads) costs
    more than the cache misses it would save.
    """
    if torch.get_num_threads() <= 1:
        return _chunk_rows(n)
    return max(8, _THREADED_CELLS // max(1, n))


def _exact_moments(
    x64s: list[torch.Tensor], w: int, r0: int, r1: int
) -> tuple[torch.Tensor, ...]:
    """Two-pass sums of :func:`_block_moments` for windows ``r0 … r1 − 1``."""
    if len(x64s) == 1:
        return (_exact_sum_sq(x64s[0], w, r0, r1),)
    return _exact_pair_moments(x64s[0], x64s[1], w, r0, r1)


def _exact_sum_sq(x64: torch.Tensor, w: int, r0: int, r1: int) -> torch.Tensor:
    """Two-pass ``Σ (x − window mean)²`` for windows ``r0 … r1 − 1`` (float64, exact lags)."""
    mean = _window_mean(x64[r0: r1 + w - 1], w)
    dev = torch.empty_like(mean)
    acc = torch.empty_like(mean)
    for k in range(w):
        torch.sub(x64[r0 + k: r1 + k], mean, out=dev)
        if k == 0:
            torch.mul(dev, dev, out=acc)
        else:
            acc.addcmul_(dev, dev)
    return acc


def _exact_pair_moments(
    x64: torch.Tensor, y64: torch.Tensor, w: int, r0: int, r1: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Two-pass centred ``Σxy, Σxx, Σyy`` for windows ``r0 … r1 − 1`` (float64 lag loop)."""
    mx = _window_mean(x64[r0: r1 + w - 1], w)
    my = _window_mean(y64[r0: r1 + w - 1], w)
    dx, dy = torch.empty_like(mx), torch.empty_like(my)
    sxy, sxx, syy = torch.empty_like(mx), torch.empty_like(mx), torch.empty_like(mx)
    for k in range(w):
        torch.sub(x64[r0 + k: r1 + k], mx, out=dx)
        torch.sub(y64[r0 + k: r1 + k], my, out=dy)
        if k == 0:
            torch.mul(dx, dy, out=sxy)
            torch.mul(dx, dx, out=sxx)
            torch.mul(dy, dy, out=syy)
        else:
            sxy.addcmul_(dx, dy)
            sxx.addcmul_(dx, dx)
            syy.addcmul_(dy, dy)
    return sxy, sxx, syy


def _segment_anchors(days: torch.Tensor, w: int) -> torch.Tensor:
    """``[S, N]`` anchors of ``S`` segments of windows, from ``days`` ``[S, seg + w − 1, N]``
    (each segment's days): the NaN-ignoring mean of the segment's first window, or, where that
    window is all NaN, the segment's first finite value (0 if none).

    Only a complete window has a result, and every value used here comes from a day at or
    before the last day of each complete window of the segment: nothing looks ahead.
    """
    anchor = torch.nanmean(days[:, :w], dim=1)
    empty = torch.nonzero(torch.isnan(anchor))
    if len(empty):
        s_idx, n_idx = empty[:, 0], empty[:, 1]
        series = days[s_idx, :, n_idx]  # [m, seg + w − 1]: the empty ones' days
        first = torch.isfinite(series).to(torch.uint8).argmax(dim=1, keepdim=True)
        anchor[s_idx, n_idx] = series.gather(1, first)[:, 0]
    return anchor.nan_to_num_(nan=0.0, posinf=0.0, neginf=0.0)


def _block_moments(
    xs: list[torch.Tensor], w: int
) -> Iterator[tuple[int, int, list[torch.Tensor]]]:
    """Centred window sums, one block of windows at a time (float64).

    Yields ``(r0, r1, sums)`` for windows ``r0 … r1 − 1``: ``[Σ(x − m)²]`` for one series,
    ``[Σ(x − mx)(y − my), Σ(x − mx)², Σ(y − my)²]`` for two. The tensors are scratch
    buffers, overwritten by the next block.

    Each block shifts every series by an anchor ``a`` (:func:`_segment_anchors`) and gets ``Σd`` and
    ``Σd·e`` (``d = x − a``) from strided window reductions — a few Python calls per block
    instead of a loop over lags — then ``Σ(x − mx)(y − my) = Σde − Σd·Σe / w``. Its rounding
    error is about ``ε·w·|mx − a|·|my − b|``, negligible next to the result unless a series is
    nearly flat in the window or far from its anchor. Those windows (shift term ``(Σd)²/w``
    above ``_ANCHOR_AMP`` times the centred ``Σ(x − m)²``, which includes every flat window off
    its anchor, or a cross shift term ``|Σd·Σe/w|`` above ``_CROSS_AMP`` times the scale
    ``sqrt(Σ(x − mx)²·Σ(y − my)²)``) are recomputed with the exact two-pass lag loop (flat
    ones set to their exact 0), so every variance is within ~1e-9 relative of the two-pass
    one and every cross term within ~1e-12 of the scale (a correlation within ~1e-12
    absolute). Windows of a few days take the exact loop directly.

    The flags are scanned as floats (``shift − amp·centred > 0``) with one column maximum
    each, in reused buffers: bool masks and fresh panel-sized temporaries cost more on CPU
    than the window sums themselves.
    """
    t, n = xs[0].shape
    k = len(xs)
    rows = t - w + 1
    block = min(rows, _SEGMENT_WINDOWS)
    if w <= _EXACT_MAX_W:
        x64s = [x.to(_F64) for x in xs]
        for r0 in range(0, rows, block):
            r1 = min(rows, r0 + block)
            yield r0, r1, list(_exact_moments(x64s, w, r0, r1))
        return
    pairs = [(0, 0)] if k == 1 else [(0, 1), (0, 0), (1, 1)]
    kinds = k + len(pairs)
    seg = block  # windows per anchor: fixed, whatever the stocks and threads
    per_op = max(1, _work_rows(n) // seg)  # segments batched into one op (threads only)
    new = functools.partial(torch.empty, dtype=_F64, device=xs[0].device)
    inputs = new((k, per_op * seg + w - 1, n))  # the chunk's days in float64
    terms = new((kinds, per_op, seg + w - 1, n))  # d = x − a per series, then products
    sums = new((kinds, per_op, seg, n))  # their window sums: one strided reduction
    cross = new((2, per_op * seg, n)) if k == 2 else None  # cross flag work
    worst = new((k + (k == 2), n))  # per-column largest flag excess
    r0 = 0
    while r0 < rows:
        # whole segments, up to per_op of them; the last, shorter one on its own (its
        # anchor is that of a whole one: the mean of its first window)
        size = seg if rows - r0 >= seg else rows - r0
        nseg = min(per_op, (rows - r0) // seg) if size == seg else 1
        nb = nseg * size
        r1 = r0 + nb
        span = nb + w - 1
        x64s = [inputs[i, :span] for i in range(k)]
        term = terms[:, :nseg, : size + w - 1]
        for i, x in enumerate(xs):
            x64s[i].copy_(x[r0: r0 + span])
            # [nseg, size + w − 1, N] overlapping views, one per anchor segment
            days = x64s[i].unfold(0, size + w - 1, size).permute(0, 2, 1)
            torch.sub(days, _segment_anchors(days, w)[:, None, :], out=term[i])
        for p, (i, j) in enumerate(pairs):
            torch.mul(term[i], term[j], out=term[k + p])
        block_sums = sums[:, :nseg, :size]
        torch.sum(term.unfold(2, w, 1), dim=-1, out=block_sums)
        flat_sums = block_sums.reshape(kinds, nb, n)
        assert flat_sums.data_ptr() == block_sums.data_ptr()  # a view: written in place
        shifts = [flat_sums[i, :nb] for i in range(k)]
        centred = [flat_sums[k + p, :nb] for p in range(len(pairs))]
        excess = list(shifts)  # the shift buffers end up holding the flag excesses
        if cross is not None:  # cross term first: it needs the plain Σd, Σe
            tm, scale = cross[0, :nb], cross[1, :nb]
            torch.mul(shifts[0], shifts[1], out=tm).div_(w)
            centred[0].sub_(tm)
        for shift, own in zip(shifts, centred[-k:], strict=True):
            shift.mul_(shift).div_(w)  # (Σd)² / w
            own.sub_(shift)
            shift.sub_(own, alpha=_ANCHOR_AMP)  # > 0: the window is redone
        if cross is not None:
            # tm² − amp²·Σxx·Σyy > 0: the cross term's error may exceed 1e-12 of the scale
            torch.mul(centred[1], centred[2], out=scale)
            tm.mul_(tm).sub_(scale, alpha=_CROSS_AMP * _CROSS_AMP)
            excess.append(tm)
        for i, e in enumerate(excess):
            torch.amax(e.nan_to_num_(nan=-1.0), dim=0, out=worst[i])
        cols = torch.nonzero(worst.amax(dim=0) > 0).flatten()
        if len(cols):
            _repair([x64[: nb + w - 1] for x64 in x64s], centred, excess, cols, w, 0, nb)
        for own in centred[-k:]:
            own.clamp_min_(0.0)
        yield r0, r1, centred
        r0 = r1


def _repair(x64s: list[torch.Tensor], sums: list[torch.Tensor], excess: list[torch.Tensor],
            cols: torch.Tensor, w: int, r0: int, r1: int) -> None:
    """Replace the flagged windows' anchored sums (stocks ``cols``) with two-pass ones.

    ``excess``: per series (then the cross term, for two) a float whose positive values
    flag a window. Only the flagged windows are redone (a few percent of a flagged stock's
    windows on the CSI 300: redoing the stock's whole block cost a fifth of the mining
    time): they are gathered into ``[m, w]`` rows, and each row's two-pass sums depend on
    its own window only, so the result does not depend on which other windows were flagged.
    A flat window (max = min) is the usual culprit: its mean is taken as its first value, so
    its deviations are exactly 0 — ``Σ(x − mx)² = 0`` and a cross term of ``0·(anything)``
    (NaN if the other window has a NaN).
    """
    flag = excess[0][r0:r1, cols] > 0
    for e in excess[1:]:
        flag |= e[r0:r1, cols] > 0
    hit = torch.nonzero(flag)
    if not len(hit):
        return
    rows, stocks = hit[:, 0] + r0, cols[hit[:, 1]]
    devs = []
    for x64 in x64s:
        windows = x64.unfold(0, w, 1)[rows, stocks]  # [m, w] copies of the flagged windows
        mean = windows.sum(dim=-1).div_(w)
        flat = windows.amax(dim=-1) == windows.amin(dim=-1)
        mean = torch.where(flat, windows[:, 0], mean)
        devs.append(windows.sub_(mean[:, None]))
    if len(devs) == 1:
        fixed = [devs[0].square().sum(dim=-1)]
    else:
        dx, dy = devs
        fixed = [(dx * dy).sum(dim=-1), dx.square().sum(dim=-1), dy.square().sum(dim=-1)]
    for s, f in zip(sums, fixed, strict=True):
        s[rows, stocks] = f


def _variance_into(x: torch.Tensor, w: int, root: bool) -> torch.Tensor:
    if not _check_window(x, w):
        return _nan_like(x)
    if w == 1:
        return _nan_like(x, _F32 if x.dtype == _F32 else _F64)
    out, body = _output(x, w - 1, dtype=_F32 if x.dtype == _F32 else _F64)
    for r0, r1, (ss,) in _block_moments([x], w):
        var = ss.div_(w - 1)
        body[r0:r1].copy_(_sqrt_(var) if root else var)
    return out


def _sqrt_(x64: torch.Tensor) -> torch.Tensor:
    """In-place float64 square root; numpy's SIMD one on CPU (~1.5x torch's, and equal to
    it: both are correctly rounded)."""
    if x64.device.type == "cpu" and x64.is_contiguous():
        np.sqrt(x64.numpy(), out=x64.numpy())
        return x64
    return x64.sqrt_()


def ts_var(x: torch.Tensor, w: int) -> torch.Tensor:
    """Sample variance (ddof = 1): NaN for w = 1."""
    return _variance_into(x, w, root=False)


def ts_std(x: torch.Tensor, w: int) -> torch.Tensor:
    """Sample standard deviation (ddof = 1): NaN for w = 1."""
    return _variance_into(x, w, root=True)


def ts_max(x: torch.Tensor, w: int) -> torch.Tensor:
    if not _check_window(x, w):
        return _nan_like(x)
    out, body = _output(x, w - 1)
    torch.amax(x.unfold(0, w, 1), dim=-1, out=body)
    return out


def ts_min(x: torch.Tensor, w: int) -> torch.Tensor:
    if not _check_window(x, w):
        return _nan_like(x)
    out, body = _output(x, w - 1)
    torch.amin(x.unfold(0, w, 1), dim=-1, out=body)
    return out


# ----------------------------------------------------------------------------- median
#
# The median of every window comes from a sorting network run on whole shifted slices
# (``torch.minimum`` / ``torch.maximum`` of ``[rows, N]`` tensors), sharing work between
# overlapping windows: the sorted windows of 2b days starting at every day are merged from the
# sorted b-day windows starting at s and s + b (Batcher's odd-even merge), so all sorted
# 2^k-day windows cost O(k²·2^k) comparators per day, not per window. A window of w days is
# cut into power-of-two parts (w's binary digits); the smaller parts are merged, and the
# median is selected from the two remaining sorted lists with min/max alone:
#   j-th smallest of sorted A ∪ sorted B  =  min over p of  max(A[p − 1], B[j − p]).
# Only the comparators the selected value depends on are run. The result is one of the
# window's values (exact); NaN propagates through every comparator into every wire of a sorted
# window, so windows holding a NaN come out NaN without a separate mask.


@dataclass(frozen=True)
class _MinMax:
    """One network step: ``out = min|max(a, b)``; operands are (variable, row offset)."""

    is_max: bool
    out: int
    a: tuple[int, int]
    b: tuple[int, int]
    extent: int  # input days each output row spans (its length is rows − extent + 1)


@dataclass(frozen=True)
class _Program:
    steps: tuple[_MinMax, ...]
    result: tuple[int, int]
    free_after: tuple[tuple[int, ...], ...]  # variables no longer needed after each step
    live: int  # most variables alive at once


def _oddeven_merge(lo: int, hi: int, r: int) -> Iterator[tuple[int, int]]:
    """Batcher's comparators merging the sorted halves of positions ``lo..hi`` (inclusive,
    a power-of-two count), step ``r``."""
    step = r * 2
    if step < hi - lo:
        yield from _oddeven_merge(lo, hi, step)
        yield from _oddeven_merge(lo + r, hi, step)
        for i in range(lo + r, hi - r, step):
            yield (i, i + r)
    else:
        yield (lo, lo + r)


@functools.lru_cache(maxsize=64)
def _median_program(w: int) -> _Program:
    """The pruned min/max program computing the lower median of every ``w``-day window
    (``w >= 2``) from variable 0, the input. Pure function of ``w`` (memoised)."""
    Ref = tuple[int, int]
    steps: list[_MinMax] = []
    extent = {0: 1}

    def node(is_max: bool, a: Ref, b: Ref) -> Ref:
        out = len(extent)
        ext = max(extent[a[0]] + a[1], extent[b[0]] + b[1])
        extent[out] = ext
        steps.append(_MinMax(is_max, out, a, b, ext))
        return (out, 0)

    def merge(a: list[Ref], b: list[Ref]) -> list[Ref]:
        m = 1
        while m < max(len(a), len(b)):
            m *= 2
        # None = +inf padding: its comparators are no-ops or free swaps.
        wires: list[Ref | None] = [*a, *[None] * (m - len(a)), *b, *[None] * (m - len(b))]
        for i, j in _oddeven_merge(0, 2 * m - 1, 1):
            u, v = wires[i], wires[j]
            if v is None:
                continue
            if u is None:
                wires[i], wires[j] = v, None
                continue
            wires[i], wires[j] = node(False, u, v), node(True, u, v)
        merged = wires[: len(a) + len(b)]
        assert all(r is not None for r in merged)
        return [r for r in merged if r is not None]

    def shift(refs: list[Ref], k: int) -> list[Ref]:
        return [(v, o + k) for v, o in refs]

    parts = [1 << k for k in range(w.bit_length() - 1, -1, -1) if w >> k & 1]
    if len(parts) == 1:  # a power of two: select from its two halves
        parts = [w // 2, w // 2]
    sorted_windows: dict[int, list[Ref]] = {1: [(0, 0)]}
    size = 1
    while size < parts[0]:
        sorted_windows[2 * size] = merge(sorted_windows[size],
                                         shift(sorted_windows[size], size))
        size *= 2
    offsets = [sum(parts[:i]) for i in range(len(parts))]
    lists = [shift(sorted_windows[p], o) for p, o in zip(parts, offsets, strict=True)]
    rest = lists[-1]
    for part in reversed(lists[1:-1]):
        rest = merge(part, rest)
    first = lists[0]
    j = (w - 1) // 2
    terms: list[Ref] = []
    for p in range(max(0, j + 1 - len(rest)), min(len(first), j + 1) + 1):
        left = first[p - 1] if p >= 1 else None
        right = rest[j - p] if j - p >= 0 else None
        if left is None or right is None:
            term = left if right is None else right
            assert term is not None
            terms.append(term)
        else:
            terms.append(node(True, left, right))
    result = terms[0]
    for term in terms[1:]:
        result = node(False, result, term)
    assert extent[result[0]] + result[1] == w

    # Prune to what the result depends on, then record when each variable dies.
    needed = {result[0]}
    kept: list[_MinMax] = []
    for s in reversed(steps):
        if s.out in needed:
            kept.append(s)
            needed.update((s.a[0], s.b[0]))
    kept.reverse()
    last_use: dict[int, int] = {}
    for i, s in enumerate(kept):
        last_use[s.a[0]] = i
        last_use[s.b[0]] = i
    last_use[result[0]] = len(kept)
    free_after: list[list[int]] = [[] for _ in kept]
    for var, i in last_use.items():
        if i < len(kept) and var != 0:
            free_after[i].append(var)
    live = peak = 1
    for i, _ in enumerate(kept):
        live += 1
        peak = max(peak, live)
        live -= len(free_after[i])
    return _Program(tuple(kept), result, tuple(tuple(f) for f in free_after), peak)


def _run_program(prog: _Program, x: torch.Tensor, rows: int) -> torch.Tensor:
    """Execute a median program on ``x`` (``[rows + w − 1, N]``): ``[rows, N]`` medians."""
    env: dict[int, torch.Tensor] = {0: x}
    owner: dict[int, torch.Tensor] = {}  # variable -> the pooled buffer it lives in
    pool: list[torch.Tensor] = []  # free buffers: no allocation (and no page faults) per step
    total = x.shape[0]
    for step, dead in zip(prog.steps, prog.free_after, strict=True):
        length = total - step.extent + 1
        (va, oa), (vb, ob) = step.a, step.b
        a = env[va][oa: oa + length]
        b = env[vb][ob: ob + length]
        buf = pool.pop() if pool else torch.empty_like(x)
        out = buf[:length]
        if step.is_max:
            torch.maximum(a, b, out=out)
        else:
            torch.minimum(a, b, out=out)
        env[step.out], owner[step.out] = out, buf
        for var in dead:
            del env[var]
            pool.append(owner.pop(var))
    var, off = prog.result
    return env[var][off: off + rows]


def ts_med(x: torch.Tensor, w: int) -> torch.Tensor:
    """Window median; for even w the lower of the two middle values (as torch.median)."""
    if not _check_window(x, w):
        return _nan_like(x)
    if w == 1:
        return x.clone()
    t = x.shape[0]
    out, body = _output(x, w - 1)
    prog = _median_program(w)
    per_row = max(1, prog.live * int(np.prod(x.shape[1:], dtype=np.int64)))
    chunk = max(64, _MEDIAN_CHUNK // per_row)
    rows = t - w + 1
    for r0 in range(0, rows, chunk):
        r1 = min(rows, r0 + chunk)
        body[r0:r1] = _run_program(prog, x[r0: r1 + w - 1], r1 - r0)
    return out


# ----------------------------------------------------------------------- mean abs. deviation


def ts_mad(x: torch.Tensor, w: int) -> torch.Tensor:
    """Mean absolute deviation from the window mean (not the median)."""
    if not _check_window(x, w):
        return _nan_like(x)
    out, body = _output(x, w - 1, dtype=_F32 if x.dtype == _F32 else _F64)
    scratch: list[torch.Tensor] = []
    for r0, r1, x64 in _blocks(x, w):  # blocks keep the loop's operands in cache
        nb = r1 - r0
        if not scratch:
            scratch = [torch.empty((nb, *x.shape[1:]), dtype=_F64, device=x.device)
                       for _ in range(3)]
        mean, dev, acc = (b[:nb] for b in scratch)
        torch.sum(x64.unfold(0, w, 1), dim=-1, out=mean).div_(w)
        for k in range(w):
            torch.sub(x64[k: k + nb], mean, out=dev).abs_()
            if k == 0:
                acc.copy_(dev)
            else:
                acc.add_(dev)
        body[r0:r1] = acc.div_(w)
    return out


# ----------------------------------------------------------------------------- weighted


def _weighted(x: torch.Tensor, weights: list[float]) -> torch.Tensor:
    """``Σ_k weights[k] · x[t − w + 1 + k]`` (weights oldest -> newest), normalised.

    All-zero weights (ts_wma / ts_ema with w = 1) normalise to 0/0 = NaN, as the reference.
    Accumulated in float64: signed inputs can cancel, and the result must keep its digits.
    """
    w = len(weights)
    if not _check_window(x, w):
        return _nan_like(x)
    total = sum(weights)
    if total == 0:
        return _nan_like(x, _F32 if x.dtype == _F32 else _F64)
    out, body = _output(x, w - 1, dtype=_F32 if x.dtype == _F32 else _F64)
    buffer: torch.Tensor | None = None
    for r0, r1, x64 in _blocks(x, w):  # blocks keep the accumulator in cache
        nb = r1 - r0
        if buffer is None:
            buffer = torch.empty((nb, *x.shape[1:]), dtype=_F64, device=x.device)
        acc = torch.mul(x64[:nb], weights[0] / total, out=buffer[:nb])
        for k in range(1, w):
            acc.add_(x64[k: k + nb], alpha=weights[k] / total)
        body[r0:r1] = acc
    return out


def ts_wma(x: torch.Tensor, w: int) -> torch.Tensor:
    """Weights 0, 1, …, w − 1 (oldest gets 0), normalised to sum 1."""
    return _weighted(x, [float(k) for k in range(w)])


def ts_ema(x: torch.Tensor, w: int) -> torch.Tensor:
    """Weights a^w, …, a^1 (oldest -> newest) with a = 1 − 2/(w + 1), normalised."""
    a = 1.0 - 2.0 / (w + 1)
    return _weighted(x, [a ** (w - k) for k in range(w)])


# ------------------------------------------------------------------------ pair rolling


def _pair_inputs(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    x, y = torch.broadcast_tensors(x, y)
    return x.contiguous(), y.contiguous()


def ts_cov(x: torch.Tensor, y: torch.Tensor, w: int) -> torch.Tensor:
    """Sample covariance (divide by w − 1): NaN for w = 1."""
    x, y = _pair_inputs(x, y)
    if not _check_window(x, w):
        return _nan_like(x)
    dtype = _F32 if x.dtype == y.dtype == _F32 else _F64
    if w == 1:
        return _nan_like(x, dtype)
    out, body = _output(x, w - 1, dtype=dtype)
    for r0, r1, (sxy, _, _) in _block_moments([x, y], w):
        body[r0:r1].copy_(sxy.div_(w - 1))
    return out


def ts_corr(x: torch.Tensor, y: torch.Tensor, w: int) -> torch.Tensor:
    """Pearson correlation; denominator 1 when either centred Σ of squares < CORR_EPS."""
    x, y = _pair_inputs(x, y)
    if not _check_window(x, w):
        return _nan_like(x)
    out, body = _output(x, w - 1, dtype=_F32 if x.dtype == y.dtype == _F32 else _F64)
    den: torch.Tensor | None = None
    flat: torch.Tensor | None = None
    for r0, r1, (sxy, sxx, syy) in _block_moments([x, y], w):
        if den is None:  # scratch of the block size, reused (every op writes in place)
            den = torch.empty_like(sxy)
            flat = torch.empty(sxy.shape, dtype=torch.bool, device=sxy.device)
        assert flat is not None
        d, f = den[: r1 - r0], flat[: r1 - r0]
        # den = sqrt(sxx·syy), or 1 where min(sxx, syy) < CORR_EPS
        torch.lt(torch.minimum(sxx, syy, out=d), CORR_EPS, out=f)
        _sqrt_(torch.mul(sxx, syy, out=d)).masked_fill_(f, 1.0)
        body[r0:r1].copy_(sxy.div_(d))
    return out


# --------------------------------------------------------------------------- cross-section


def cs_rank(x: torch.Tensor) -> torch.Tensor:
    """Per-day percentile rank in (0, 1], ties averaged, NaN stays NaN."""
    return xsection.rank_pct(x)


def cs_zscore(x: torch.Tensor) -> torch.Tensor:
    """Per-day z-score (population std); NaN on days with < 2 values or no dispersion."""
    return xsection.zscore(x)
