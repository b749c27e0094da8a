"""A plain pandas reference of every operator, written from ALPHAFORGE_SPEC §2.2 alone.

Inputs and outputs are wide DataFrames (index = days, columns = tickers) in float64. Rolling
statistics use ``DataFrame.rolling(w, min_periods=w)`` (so a NaN anywhere in the window gives
NaN) or ``rolling.apply`` on each raw window. ``finish`` applies the evaluator's output contract
(float32, ±inf -> NaN) so results compare directly with the engine's.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

DIV_EPS = 1e-12
CORR_EPS = 1e-6


def finish(frame: pd.DataFrame) -> pd.DataFrame:
    """Cast to float32 and back, mapping ±inf (including float32 overflow) to NaN."""
    with np.errstate(over="ignore", invalid="ignore"):
        values = frame.to_numpy(dtype=np.float64).astype(np.float32).astype(np.float64)
    values[~np.isfinite(values)] = np.nan
    return pd.DataFrame(values, index=frame.index, columns=frame.columns)


def _div(x: pd.DataFrame | float, y: pd.DataFrame | float) -> pd.DataFrame:
    """x / y, NaN where |y| < DIV_EPS (division by ~0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = x / y
    if isinstance(y, pd.DataFrame):
        return out.where(np.abs(y) >= DIV_EPS)
    return out if abs(y) >= DIV_EPS else out * np.nan


def unary(name: str, x: pd.DataFrame) -> pd.DataFrame:
    with np.errstate(divide="ignore", invalid="ignore"):
        out = {
            "Inv": lambda: _div(1.0, x),
            "S_log1p": lambda: np.sign(x) * np.log1p(np.abs(x)),
            "Abs": lambda: np.abs(x),
            "Sign": lambda: np.sign(x),
            "Log": lambda: np.log(x),
        }[name]()
    return finish(out)


def binary(name: str, x: pd.DataFrame | float, y: pd.DataFrame | float) -> pd.DataFrame:
    with np.errstate(all="ignore"):
        out = {
            "Add": lambda: x + y,
            "Sub": lambda: x - y,
            "Mul": lambda: x * y,
            "Div": lambda: _div(x, y),
            "Pow": lambda: np.power(x, y),
            "Greater": lambda: np.maximum(x, y),
            "Less": lambda: np.minimum(x, y),
            **{name: _comparison(relation, x, y) for name, relation in _RELATIONS.items()},
        }[name]()
    return finish(out)


_RELATIONS = {"Gt": np.greater, "Ge": np.greater_equal, "Lt": np.less, "Le": np.less_equal,
              "Eq": np.equal, "Ne": np.not_equal}


def _comparison(relation, x: pd.DataFrame | float, y: pd.DataFrame | float):
    """1.0 / 0.0 where the relation holds or not, NaN where either side is NaN."""
    def apply() -> pd.DataFrame:
        out = relation(x, y).astype(float)
        missing = np.isnan(x) | np.isnan(y)
        return out.where(~missing)
    return apply


def _lower_median(a: np.ndarray) -> float:
    return float(np.sort(a)[(len(a) - 1) // 2])


def _mad(a: np.ndarray) -> float:
    return float(np.abs(a - a.mean()).mean())


#: Flatness rule of Qlib's Corr / Rsquare: NaN where the window's sample std is <= this.
QLIB_FLAT_STD = 2e-5


def _trend(what: str, x: pd.DataFrame, w: int) -> pd.DataFrame:
    """OLS of each window on the day numbers 1 … w: slope, R² (NaN when flat) or today's
    residual; NaN for w = 1 and windows holding a NaN (numpy windows, plain two-pass sums)."""
    out = np.full(x.shape, np.nan)
    if 2 <= w <= len(x):
        a = np.lib.stride_tricks.sliding_window_view(x.to_numpy(np.float64), w, axis=0)
        dx = np.arange(1, w + 1, dtype=float) - (w + 1) / 2
        dy = a - a.mean(axis=-1, keepdims=True)
        sxy, sxx, syy = dy @ dx, dx @ dx, (dy * dy).sum(axis=-1)
        slope = sxy / sxx
        if what == "slope":
            body = slope
        elif what == "resi":
            body = dy[..., -1] - slope * dx[-1]
        else:
            with np.errstate(invalid="ignore", divide="ignore"):
                body = np.where(np.sqrt(syy / (w - 1)) <= QLIB_FLAT_STD, np.nan,
                                sxy**2 / (sxx * syy))
        out[w - 1:] = body
    return pd.DataFrame(out, index=x.index, columns=x.columns)


def _weighted(weights: np.ndarray):
    total = weights.sum()

    def apply(a: np.ndarray) -> float:
        return float(a @ weights / total) if total != 0 else np.nan

    return apply


def rolling(name: str, x: pd.DataFrame, w: int) -> pd.DataFrame:
    r = x.rolling(w, min_periods=w)
    with np.errstate(all="ignore"):
        if name == "Ref":
            out = x.shift(w)
        elif name == "ts_delta":
            out = x - x.shift(w)
        elif name == "ts_div":
            out = _div(x, x.shift(w))
        elif name == "ts_pctchange":
            out = _div(x, x.shift(w)) - 1
        elif name == "ts_mean":
            out = r.mean()
        elif name == "ts_sum":
            out = r.sum()
        elif name == "ts_std":
            out = r.std(ddof=1)
        elif name == "ts_var":
            out = r.var(ddof=1)
        elif name == "ts_max":
            out = r.max()
        elif name == "ts_min":
            out = r.min()
        elif name == "ts_med":
            out = r.apply(_lower_median, raw=True)
        elif name == "ts_mad":
            out = r.apply(_mad, raw=True)
        elif name == "ts_wma":
            out = r.apply(_weighted(np.arange(w, dtype=float)), raw=True)
        elif name == "ts_ema":
            a = 1 - 2 / (w + 1)
            out = r.apply(_weighted(a ** np.arange(w, 0, -1, dtype=float)), raw=True)
        elif name == "ts_rank":
            out = r.rank(pct=True)
        elif name == "ts_argmax":
            out = r.apply(lambda a: np.argmax(a) + 1.0, raw=True)
        elif name == "ts_argmin":
            out = r.apply(lambda a: np.argmin(a) + 1.0, raw=True)
        elif name in ("ts_slope", "ts_rsquare", "ts_resi"):
            out = _trend(name[3:], x, w)
        else:
            raise KeyError(name)
    return finish(out)


def quantile(x: pd.DataFrame, q: float, w: int) -> pd.DataFrame:
    """``ts_quantile``: pandas' linear-interpolation rolling quantile."""
    return finish(x.rolling(w, min_periods=w).quantile(q))


def pair_rolling(name: str, x: pd.DataFrame, y: pd.DataFrame, w: int) -> pd.DataFrame:
    both = x.notna() & y.notna()
    x, y = x.where(both), y.where(both)
    rx, ry = x.rolling(w, min_periods=w), y.rolling(w, min_periods=w)
    if name == "ts_cov":
        return finish(rx.cov(y, pairwise=False, ddof=1))
    if name == "ts_corr":
        sxy = rx.cov(y, pairwise=False, ddof=0) * w
        sxx, syy = rx.var(ddof=0) * w, ry.var(ddof=0) * w
        den = np.sqrt(sxx * syy).where((sxx >= CORR_EPS) & (syy >= CORR_EPS), 1.0)
        return finish((sxy / den).where(sxy.notna()))
    if name == "ts_corr_nan":
        flat = (rx.std(ddof=1) <= QLIB_FLAT_STD) | (ry.std(ddof=1) <= QLIB_FLAT_STD)
        return finish(rx.corr(y, pairwise=False).mask(flat))
    raise KeyError(name)


def cross_section(name: str, x: pd.DataFrame, universe: pd.DataFrame) -> pd.DataFrame:
    x = x.where(universe)
    if name == "cs_rank":
        return finish(x.rank(axis=1, method="average", pct=True))
    if name == "cs_zscore":
        mean = x.mean(axis=1)
        std = x.std(axis=1, ddof=0)
        count = x.count(axis=1)
        out = x.sub(mean, axis=0).div(std, axis=0)
        ok = (count >= 2) & (std > 1e-12)
        return finish(out.where(ok, axis=0))
    raise KeyError(name)
