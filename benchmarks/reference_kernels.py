"""The moment kernels of commit ccf3da6 (var, std, cov, corr), frozen as the reference of
``bench_mining.py``'s throughput: the reference scorer evaluates with them, so that the ratio
counts the kernel work done since then too. A verbatim copy; do not edit.

The helpers they call did not change and are imported from :mod:`engine.expr.kernels`.
"""
# ruff: noqa

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager

import torch

from engine.expr import ops as O
from engine.expr.kernels import (
    _ANCHOR_AMP, _EXACT_MAX_W, _F32, _F64, _NAN, CORR_EPS, _check_window, _chunk_rows,
    _exact_moments, _nan_like, _output, _pair_inputs, _segment_anchors, _sqrt_, _work_rows,
)


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
    nearly flat in the window or far from its anchor, or the cross term itself cancels. Those
    windows (shift term ``(Σd)²/w`` above ``_ANCHOR_AMP`` times the centred ``Σ(x − m)²``,
    which includes every flat window off its anchor, or ``|Σd·Σe/w|`` above ``_ANCHOR_AMP``
    times the centred cross term) are recomputed with the exact two-pass lag loop (flat ones
    set to their exact 0), so every result is within ~1e-9 relative of the two-pass one.
    Windows of a few days take the exact loop directly.
    """
    t, n = xs[0].shape
    k = len(xs)
    rows = t - w + 1
    block = min(rows, _chunk_rows(n))
    if w <= _EXACT_MAX_W:
        x64s = [x.to(_F64) for x in xs]
        for r0 in range(0, rows, block):
            r1 = min(rows, r0 + block)
            yield r0, r1, list(_exact_moments(x64s, w, r0, r1))
        return
    pairs = [(0, 0)] if k == 1 else [(0, 1), (0, 0), (1, 1)]
    kinds = k + len(pairs)
    seg = block  # windows per anchor: fixed by the data shape (see _chunk_rows)
    per_op = max(1, _work_rows(n) // seg)  # segments batched into one op (threads only)
    new = functools.partial(torch.empty, dtype=_F64, device=xs[0].device)
    inputs = new((k, per_op * seg + w - 1, n))  # the chunk's days in float64
    terms = new((kinds, per_op, seg + w - 1, n))  # d = x − a per series, then products
    sums = new((kinds, per_op, seg, n))  # their window sums: one strided reduction
    tmp = new((per_op * seg, n))
    for r0 in range(0, rows, per_op * seg):
        r1 = min(rows, r0 + per_op * seg)
        nb = r1 - r0
        nseg = -(-nb // seg)
        span, have = nseg * seg + w - 1, min(t, r0 + nseg * seg + w - 1) - r0
        x64s = [inputs[i, :span] for i in range(k)]
        for i, x in enumerate(xs):
            x64s[i][:have].copy_(x[r0: r0 + have])
            x64s[i][have:].fill_(_NAN)  # past the last day: windows dropped below
            # [nseg, seg + w − 1, N] overlapping views, one per anchor segment
            days = x64s[i].unfold(0, seg + w - 1, seg).permute(0, 2, 1)
            torch.sub(days, _segment_anchors(days, w)[:, None, :], out=terms[i, :nseg])
        for p, (i, j) in enumerate(pairs):
            torch.mul(terms[i, :nseg], terms[j, :nseg], out=terms[k + p, :nseg])
        torch.sum(terms[:, :nseg].unfold(2, w, 1), dim=-1, out=sums[:, :nseg])
        flat_sums = sums.view(kinds, per_op * seg, n)
        shifts = [flat_sums[i, :nb] for i in range(k)]
        centred = [flat_sums[k + p, :nb] for p in range(len(pairs))]
        tm = tmp[:nb]
        flags = []
        if k == 2:  # cross term first: it needs the plain Σd, Σe
            torch.mul(shifts[0], shifts[1], out=tm).div_(w)
            centred[0].sub_(tm)
            # a cross term that cancels (|correlation| << 1) is redone, like the others
            cross = torch.gt(tm.abs_(), centred[0].abs() * _ANCHOR_AMP)
        for shift, own in zip(shifts, centred[-k:], strict=True):
            shift.mul_(shift).div_(w)  # (Σd)² / w
            own.sub_(shift)
            flags.append(torch.gt(shift, own * _ANCHOR_AMP))
        if k == 2:
            flags[0] |= cross  # handled with series 0 in _repair (flat x -> exact 0 too)
        cols = torch.nonzero(torch.stack(flags).any(dim=0).any(dim=0)).flatten()
        if len(cols):
            _repair([x64[: nb + w - 1] for x64 in x64s], centred, flags, cols, w, 0, nb)
        for own in centred[-k:]:
            own.clamp_min_(0.0)
        yield r0, r1, centred


def _repair(x64s: list[torch.Tensor], sums: list[torch.Tensor], flags: list[torch.Tensor],
            cols: torch.Tensor, w: int, r0: int, r1: int) -> None:
    """Replace the flagged windows' anchored sums (stocks ``cols``) with the two-pass ones.

    A flat window (max = min) is the usual culprit; its two-pass deviations are exactly 0
    (the float64 mean of equal values is that value), so its sums are set directly —
    ``Σ(x − mx)² = 0`` and a cross term of ``0·(anything)`` (NaN if the other window has a
    NaN). Any other flagged window takes the exact lag loop.
    """
    redo = torch.zeros((r1 - r0, len(cols)), dtype=torch.bool, device=cols.device)
    fixed = [s[:, cols] for s in sums]
    for i, (x64, flag) in enumerate(zip(x64s, flags, strict=True)):
        windows = x64[r0: r1 + w - 1, cols].unfold(0, w, 1)
        flat = flag[:, cols] & (windows.amax(dim=-1) == windows.amin(dim=-1))
        fixed[len(fixed) - len(x64s) + i].masked_fill_(flat, 0.0)
        if len(x64s) == 2:
            fixed[0] = torch.where(flat, fixed[0] * 0.0, fixed[0])
        redo |= flag[:, cols] & ~flat
    if bool(redo.any()):
        exact = _exact_moments([x64[r0: r1 + w - 1, cols] for x64 in x64s], w, 0, r1 - r0)
        fixed = [torch.where(redo, good, fast) for good, fast in zip(exact, fixed, strict=True)]
    for s, f in zip(sums, fixed, strict=True):
        s[:, cols] = f


def _variance_into(x: torch.Tensor, w: int, root: bool) -> torch.Tensor:
    if not _check_window(x, w):
        return _nan_like(x)
    if w == 1:
        return _nan_like(x, _F32 if x.dtype == _F32 else _F64)
    out, body = _output(x, w - 1, dtype=_F32 if x.dtype == _F32 else _F64)
    for r0, r1, (ss,) in _block_moments([x], w):
        var = ss.div_(w - 1)
        body[r0:r1] = _sqrt_(var) if root else var
    return out


def ts_var(x: torch.Tensor, w: int) -> torch.Tensor:
    """Sample variance (ddof = 1): NaN for w = 1."""
    return _variance_into(x, w, root=False)


def ts_std(x: torch.Tensor, w: int) -> torch.Tensor:
    """Sample standard deviation (ddof = 1): NaN for w = 1."""
    return _variance_into(x, w, root=True)


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
        torch.div(sxy, w - 1, out=body[r0:r1])
    return out


def ts_corr(x: torch.Tensor, y: torch.Tensor, w: int) -> torch.Tensor:
    """Pearson correlation; denominator 1 when either centred Σ of squares < CORR_EPS."""
    x, y = _pair_inputs(x, y)
    if not _check_window(x, w):
        return _nan_like(x)
    out, body = _output(x, w - 1, dtype=_F32 if x.dtype == y.dtype == _F32 else _F64)
    for r0, r1, (sxy, sxx, syy) in _block_moments([x, y], w):
        # den = sqrt(sxx·syy), or 1 where min(sxx, syy) < CORR_EPS: ``torch.where`` on a
        # [rows, N] block whose operands are in cache.
        flat = torch.minimum(sxx, syy) < CORR_EPS
        den = torch.where(flat, 1.0, _sqrt_(sxx.mul_(syy)))
        torch.div(sxy, den, out=body[r0:r1])
    return out


_REFERENCE = {"ts_var": ts_var, "ts_std": ts_std, "ts_cov": ts_cov, "ts_corr": ts_corr}


@contextmanager
def reference_kernels() -> Iterator[None]:
    """Evaluate with the ccf3da6 moment kernels inside the block (the registry's operators
    get their old ``fn`` back afterwards)."""
    saved = {name: O.REGISTRY[name].fn for name in _REFERENCE}
    try:
        for name, fn in _REFERENCE.items():
            object.__setattr__(O.REGISTRY[name], "fn", fn)
        yield
    finally:
        for name, fn in saved.items():
            object.__setattr__(O.REGISTRY[name], "fn", fn)
