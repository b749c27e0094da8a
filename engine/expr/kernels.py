"""Tensor kernels behind every operator of the formula language (ALPHAFORGE_SPEC §2.2).

Every function takes ``[T, N]`` tensors (days x stocks; NaN = missing) or 0-dim constants and
returns a ``[T, N]`` tensor. They never loop in Python over days or tickers: rolling windows
are either one strided ``unfold`` reduction (sum, max, min, median) or a loop over the ``w``
lags of the window, each step a contiguous ``[T - w + 1, N]`` operation (centred moments,
weighted means). Both cost O(T·N·w) arithmetic and O(T·N) extra memory (the median sorts in
time chunks to stay bounded), with w <= a few hundred.

Why not cumulative sums: ``cumsum`` differences lose every digit once a series has met a huge
value (``Pow``/``Inv`` outputs reach 1e30), and ``E[x²] − E[x]²`` cancels catastrophically on
prices. Here every window is centred on its own mean in float64 before squaring.

NaN rules shared by all rolling kernels: window ``w`` covers days ``t−w+1 … t``; the result is
NaN where the window reaches before the first day or holds any NaN (as the reference's
unfold-based evaluation). Inputs are finite or NaN: the caller (``ops.Operator.apply``) casts
results to float32 and maps ±inf to NaN after every operator.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from engine.expr import xsection

#: Denominators with ``|y| < DIV_EPS`` give NaN instead of a huge or infinite ratio.
DIV_EPS = 1e-12
#: ``ts_corr`` uses denominator 1 when either centred sum of squares is below this (reference).
CORR_EPS = 1e-6
#: Elements a median chunk may sort at once (bounds the ``[rows, N, w]`` temporary).
_MEDIAN_CHUNK = 1 << 24

_F64 = torch.float64


# --------------------------------------------------------------------------- helpers


def _nan_like(x: torch.Tensor, dtype: torch.dtype | None = None) -> torch.Tensor:
    return torch.full(x.shape, float("nan"), dtype=dtype or x.dtype, device=x.device)


def _pad_front(body: torch.Tensor, t: int, fill: float | bool = float("nan")) -> torch.Tensor:
    """``[T − w + 1, N]`` window results -> ``[T, N]``, ``fill`` for the first w − 1 days."""
    missing = t - body.shape[0]
    if missing == 0:
        return body
    head = torch.full((missing, *body.shape[1:]), fill, dtype=body.dtype, device=body.device)
    return torch.cat([head, body], dim=0)


def window_complete(x: torch.Tensor, w: int) -> torch.Tensor:
    """``[T, N]`` bool: the window of ``w`` days ending at t exists and has no NaN.

    Inputs are finite or NaN (the evaluator's contract), so a window sum in float64 is NaN
    exactly when the window holds a NaN, and one strided reduction answers for every window.
    """
    if w > x.shape[0]:
        return torch.zeros(x.shape, dtype=torch.bool, device=x.device)
    sums = x.to(_F64).unfold(0, w, 1).sum(dim=-1)
    return _pad_front(~torch.isnan(sums), x.shape[0], fill=False)


def _finish(body: torch.Tensor, t: int) -> torch.Tensor:
    """Pad window results to ``[T, N]``.

    No explicit NaN mask is needed: sums, moments, weighted sums and max/min all propagate a
    NaN anywhere in their window (the reference's unfold semantics); only the median, which
    selects a value, masks explicitly.
    """
    return _pad_front(body, t)


def _lags(x: torch.Tensor, w: int) -> Iterator[torch.Tensor]:
    """The w aligned ``[T − w + 1, N]`` slices of each window, oldest first (contiguous)."""
    rows = x.shape[0] - w + 1
    for k in range(w):
        yield x[k: k + rows]


def _window_mean(x64: torch.Tensor, w: int) -> torch.Tensor:
    """``[T − w + 1, N]`` float64 window means (one strided reduction)."""
    return x64.unfold(0, w, 1).sum(dim=-1) / w


def _check_window(x: torch.Tensor, w: int) -> bool:
    """True when at least one complete window fits; raises on non-positive windows."""
    if w < 1:
        raise ValueError(f"window must be >= 1, got {w}")
    return w <= x.shape[0]


# --------------------------------------------------------------------------- element-wise


def safe_div(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``x / y``, NaN where ``|y| < DIV_EPS`` (division by ~0)."""
    x, y = torch.broadcast_tensors(x, y)
    return torch.where(y.abs() < DIV_EPS, torch.full_like(x, float("nan")), x / y)


def inv(x: torch.Tensor) -> torch.Tensor:
    return safe_div(torch.ones_like(x), x)


def slog1p(x: torch.Tensor) -> torch.Tensor:
    return torch.sign(x) * torch.log1p(x.abs())


def absolute(x: torch.Tensor) -> torch.Tensor:
    return torch.abs(x)


def log(x: torch.Tensor) -> torch.Tensor:
    return torch.log(x)


def sign(x: torch.Tensor) -> torch.Tensor:
    """−1, 0 or 1; NaN stays NaN (``torch.sign`` alone maps NaN to 0)."""
    return torch.sign(x).masked_fill(torch.isnan(x), float("nan"))


def add(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return x + y


def sub(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return x - y


def mul(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return x * y


def power(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """IEEE ``x ** y`` (negative base with fractional exponent -> NaN, overflow -> inf)."""
    return torch.pow(x, y)


def greater(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Element-wise max; NaN if either side is NaN."""
    x, y = torch.broadcast_tensors(x, y)
    return torch.maximum(x, y)


def less(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Element-wise min; NaN if either side is NaN."""
    x, y = torch.broadcast_tensors(x, y)
    return torch.minimum(x, y)


# --------------------------------------------------------------------------- shifts


def ref(x: torch.Tensor, d: int) -> torch.Tensor:
    """``out[t] = x[t − d]``; NaN for the first d days. ``d`` >= 0."""
    if d < 0:
        raise ValueError(f"Ref shift must be >= 0, got {d}")
    out = _nan_like(x)
    if d < x.shape[0]:
        out[d:] = x[: x.shape[0] - d]
    return out


def ts_delta(x: torch.Tensor, d: int) -> torch.Tensor:
    """``x[t] − x[t − d]``."""
    return x - ref(x, d)


def ts_div(x: torch.Tensor, d: int) -> torch.Tensor:
    """``x[t] / x[t − d]`` (NaN where the old value is ~0)."""
    return safe_div(x, ref(x, d))


def ts_pctchange(x: torch.Tensor, d: int) -> torch.Tensor:
    """``x[t] / x[t − d] − 1``, computed as ``(x[t] − x[t − d]) / x[t − d]`` in float64 so
    that small changes keep their digits (a float32 ratio minus 1 would lose them)."""
    x64 = x.to(_F64)
    old = ref(x64, d)
    return safe_div(x64 - old, old)


# --------------------------------------------------------------------------- rolling


def ts_sum(x: torch.Tensor, w: int) -> torch.Tensor:
    if not _check_window(x, w):
        return _nan_like(x)
    return _finish(x.to(_F64).unfold(0, w, 1).sum(dim=-1), x.shape[0])


def ts_mean(x: torch.Tensor, w: int) -> torch.Tensor:
    if not _check_window(x, w):
        return _nan_like(x)
    return _finish(_window_mean(x.to(_F64), w), x.shape[0])


def _centred_sum_sq(x64: torch.Tensor, w: int) -> torch.Tensor:
    """``Σ (x − window mean)²`` per window, ``[T − w + 1, N]`` float64 (two-pass)."""
    mean = _window_mean(x64, w)
    acc = torch.zeros_like(mean)
    dev = torch.empty_like(mean)
    for lag in _lags(x64, w):
        torch.sub(lag, mean, out=dev)
        acc.addcmul_(dev, dev)
    return acc


def ts_var(x: torch.Tensor, w: int) -> torch.Tensor:
    """Sample variance (ddof = 1): NaN for w = 1."""
    if not _check_window(x, w):
        return _nan_like(x)
    ss = _centred_sum_sq(x.to(_F64), w)
    return _finish(ss / (w - 1) if w > 1 else _nan_like(ss), x.shape[0])


def ts_std(x: torch.Tensor, w: int) -> torch.Tensor:
    """Sample standard deviation (ddof = 1): NaN for w = 1."""
    return torch.sqrt(ts_var(x, w))


def ts_max(x: torch.Tensor, w: int) -> torch.Tensor:
    if not _check_window(x, w):
        return _nan_like(x)
    return _finish(x.unfold(0, w, 1).amax(dim=-1), x.shape[0])


def ts_min(x: torch.Tensor, w: int) -> torch.Tensor:
    if not _check_window(x, w):
        return _nan_like(x)
    return _finish(x.unfold(0, w, 1).amin(dim=-1), x.shape[0])


def _lower_median_numpy(windows: torch.Tensor) -> torch.Tensor:
    """Lower median of ``[R, N, w]`` windows with numpy's introselect (CPU).

    ``np.partition`` is several times faster than ``torch.median`` over short windows on CPU.
    """
    w = windows.shape[-1]
    block = np.ascontiguousarray(windows.numpy())
    return torch.from_numpy(np.partition(block, (w - 1) // 2, axis=-1)[..., (w - 1) // 2])


def ts_med(x: torch.Tensor, w: int) -> torch.Tensor:
    """Window median; for even w the lower of the two middle values (as torch.median)."""
    if not _check_window(x, w):
        return _nan_like(x)
    windows = x.unfold(0, w, 1)  # [T − w + 1, N, w] view
    rows = max(1, _MEDIAN_CHUNK // max(1, x.shape[1] * w))  # bound the sorted temporary
    if x.device.type == "cpu":
        parts = [_lower_median_numpy(windows[i: i + rows])
                 for i in range(0, windows.shape[0], rows)]
    else:
        parts = [windows[i: i + rows].median(dim=-1).values
                 for i in range(0, windows.shape[0], rows)]
    out = _finish(torch.cat(parts, dim=0).to(x.dtype), x.shape[0])
    return torch.where(window_complete(x, w), out, torch.full_like(out, float("nan")))


def ts_mad(x: torch.Tensor, w: int) -> torch.Tensor:
    """Mean absolute deviation from the window mean (not the median)."""
    if not _check_window(x, w):
        return _nan_like(x)
    x64 = x.to(_F64)
    mean = _window_mean(x64, w)
    acc = torch.zeros_like(mean)
    dev = torch.empty_like(mean)
    for lag in _lags(x64, w):
        torch.sub(lag, mean, out=dev)
        acc.add_(dev.abs_())
    return _finish(acc / w, x.shape[0])


def _weighted(x: torch.Tensor, weights: list[float]) -> torch.Tensor:
    """``Σ_k weights[k] · x[t − w + 1 + k]`` (weights oldest -> newest), normalised.

    All-zero weights (ts_wma / ts_ema with w = 1) normalise to 0/0 = NaN, as the reference.
    """
    w = len(weights)
    if not _check_window(x, w):
        return _nan_like(x)
    total = sum(weights)
    x64 = x.to(_F64)
    acc = torch.zeros((x.shape[0] - w + 1, *x.shape[1:]), dtype=_F64, device=x.device)
    if total == 0:
        return _nan_like(x, _F64)
    for weight, lag in zip(weights, _lags(x64, w), strict=True):
        acc.add_(lag, alpha=weight / total)
    return _finish(acc, x.shape[0])


def ts_wma(x: torch.Tensor, w: int) -> torch.Tensor:
    """Weights 0, 1, …, w − 1 (oldest gets 0), normalised to sum 1."""
    return _weighted(x, [float(k) for k in range(w)])


def ts_ema(x: torch.Tensor, w: int) -> torch.Tensor:
    """Weights a^w, …, a^1 (oldest -> newest) with a = 1 − 2/(w + 1), normalised."""
    a = 1.0 - 2.0 / (w + 1)
    return _weighted(x, [a ** (w - k) for k in range(w)])


def _pair_moments(
    x: torch.Tensor, y: torch.Tensor, w: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Centred ``Σxy, Σxx, Σyy`` per window, each ``[T − w + 1, N]`` float64."""
    x, y = torch.broadcast_tensors(x, y)
    x64, y64 = x.to(_F64), y.to(_F64)
    mx, my = _window_mean(x64, w), _window_mean(y64, w)
    sxy, sxx, syy = (torch.zeros_like(mx) for _ in range(3))
    dx, dy = torch.empty_like(mx), torch.empty_like(my)
    for lx, ly in zip(_lags(x64, w), _lags(y64, w), strict=True):
        torch.sub(lx, mx, out=dx)
        torch.sub(ly, my, out=dy)
        sxy.addcmul_(dx, dy)
        sxx.addcmul_(dx, dx)
        syy.addcmul_(dy, dy)
    return sxy, sxx, syy


def ts_cov(x: torch.Tensor, y: torch.Tensor, w: int) -> torch.Tensor:
    """Sample covariance (divide by w − 1): NaN for w = 1."""
    x, y = torch.broadcast_tensors(x, y)
    if not _check_window(x, w):
        return _nan_like(x)
    sxy, _, _ = _pair_moments(x, y, w)
    return _finish(sxy / (w - 1) if w > 1 else _nan_like(sxy), x.shape[0])


def ts_corr(x: torch.Tensor, y: torch.Tensor, w: int) -> torch.Tensor:
    """Pearson correlation; denominator 1 when either centred Σ of squares < CORR_EPS."""
    x, y = torch.broadcast_tensors(x, y)
    if not _check_window(x, w):
        return _nan_like(x)
    sxy, sxx, syy = _pair_moments(x, y, w)
    den = torch.sqrt(sxx * syy)
    den = torch.where((sxx < CORR_EPS) | (syy < CORR_EPS), torch.ones_like(den), den)
    return _finish(sxy / den, x.shape[0])


# --------------------------------------------------------------------------- cross-section


def cs_rank(x: torch.Tensor) -> torch.Tensor:
    """Per-day percentile rank in (0, 1], ties averaged, NaN stays NaN."""
    return xsection.rank_pct(x)


def cs_zscore(x: torch.Tensor) -> torch.Tensor:
    """Per-day z-score (population std); NaN on days with < 2 values or no dispersion."""
    return xsection.zscore(x)
