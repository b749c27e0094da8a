"""Alpha158: Qlib's text word for word, every factor parses and evaluates, and a sample covering
every operator equals a pandas re-computation of Qlib's own semantics once windows are full."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
import torch

from engine.data.panel import Panel, build
from engine.data.synthetic import SyntheticConfig, generate
from engine.expr.alpha158 import ALPHA158, WINDOWS, alpha158_exprs
from engine.expr.evaluate import Evaluator
from engine.expr.qlib import parse_qlib, to_qlib

#: Last day whose value may differ from Qlib's: the longest window (60) behind a Ref(x, 1).
WARM_UP = 61

#: Verbatim from microsoft/qlib qlib/contrib/data/loader.py (Alpha158DL.get_feature_config).
QLIB_TEXT = {
    "KMID": "($close-$open)/$open",
    "KUP2": "($high-Greater($open, $close))/($high-$low+1e-12)",
    "KSFT": "(2*$close-$high-$low)/$open",
    "VWAP0": "$vwap/$close",
    "QTLU5": "Quantile($close, 5, 0.8)/$close",
    "RSV10": "($close-Min($low, 10))/(Max($high, 10)-Min($low, 10)+1e-12)",
    "IMXD30": "(IdxMax($high, 30)-IdxMin($low, 30))/30",
    "CORD5": "Corr($close/Ref($close,1), Log($volume/Ref($volume, 1)+1), 5)",
    "CNTD60": "Mean($close>Ref($close, 1), 60)-Mean($close<Ref($close, 1), 60)",
    "SUMD20": "(Sum(Greater($close-Ref($close, 1), 0), 20)-Sum(Greater(Ref($close, 1)-$close, "
              "0), 20))/(Sum(Abs($close-Ref($close, 1)), 20)+1e-12)",
    "WVMA60": "Std(Abs($close/Ref($close, 1)-1)*$volume, 60)/(Mean(Abs($close/Ref($close, 1)-1)"
              "*$volume, 60)+1e-12)",
    "VSUMD5": "(Sum(Greater($volume-Ref($volume, 1), 0), 5)-Sum(Greater(Ref($volume, 1)-$volume,"
              " 0), 5))/(Sum(Abs($volume-Ref($volume, 1)), 5)+1e-12)",
}
FAMILIES = ["ROC", "MA", "STD", "BETA", "RSQR", "RESI", "MAX", "MIN", "QTLU", "QTLD", "RANK",
            "RSV", "IMAX", "IMIN", "IMXD", "CORR", "CORD", "CNTP", "CNTN", "CNTD", "SUMP",
            "SUMN", "SUMD", "VMA", "VSTD", "WVMA", "VSUMP", "VSUMN", "VSUMD"]


@pytest.fixture(scope="module")
def market() -> Panel:
    """The demo market with its imperfections (missing days, listings, delistings)."""
    return build(generate(SyntheticConfig(n_tickers=20, n_days=150, seed=2)))


@pytest.fixture(scope="module")
def clean() -> Panel:
    """A demo market without missing values: after the warm-up every window is complete."""
    return build(generate(SyntheticConfig(n_tickers=12, n_days=140, seed=5, missing_rate=0.0,
                                          listing_fraction=0.0, delisting_fraction=0.0)))


def test_the_set_is_qlibs_158_in_qlibs_order() -> None:
    kbar = ["KMID", "KLEN", "KMID2", "KUP", "KUP2", "KLOW", "KLOW2", "KSFT", "KSFT2"]
    rolling = [f"{f}{d}" for f in FAMILIES for d in WINDOWS]
    assert list(ALPHA158) == [*kbar, "OPEN0", "HIGH0", "LOW0", "VWAP0", *rolling]
    assert len(ALPHA158) == 158 and WINDOWS == (5, 10, 20, 30, 60)
    for name, text in QLIB_TEXT.items():
        assert ALPHA158[name] == text, name


def test_every_factor_parses_and_exports_back_to_its_text() -> None:
    exprs = alpha158_exprs()
    assert list(exprs) == list(ALPHA158)
    for name, expr in exprs.items():
        back = to_qlib(expr)
        assert back.replace(" ", "") == ALPHA158[name].replace(" ", ""), name
        assert parse_qlib(back) == expr, name


def test_every_factor_evaluates_on_the_demo_market(market: Panel) -> None:
    exprs = alpha158_exprs(market.features)
    values = Evaluator(market).evaluate_many(list(exprs.values()))
    assert values.shape == (158, market.n_days, market.n_tickers)
    assert values.dtype == torch.float32
    listed = ~torch.isnan(market.feature("close"))[WARM_UP:]
    for name, v in zip(exprs, values, strict=True):
        assert not torch.isinf(v).any(), name
        defined = (~torch.isnan(v[WARM_UP:]) & listed).sum() / listed.sum()
        assert defined > 0.6, f"{name}: only {float(defined):.0%} of listed cells have a value"


# --------------------------------------------------------------------------- Qlib's semantics
#
# A re-computation of Qlib's operators (qlib/data/ops.py, _libs/rolling.pyx) in pandas, on wide
# frames (days x stocks): rolling windows with min_periods=1 that skip NaN, numpy comparisons
# (False on NaN), Corr / Rsquare NaN where a window's std is within 2e-5 of 0.


def _rolling(x: pd.DataFrame, n: int):
    return x.rolling(n, min_periods=1)


def _flat(x: pd.DataFrame, n: int) -> pd.DataFrame:
    return pd.DataFrame(np.isclose(_rolling(x, n).std(), 0, atol=2e-05), index=x.index,
                        columns=x.columns)


def _corr(x: pd.DataFrame, y: pd.DataFrame, n: int) -> pd.DataFrame:
    return _rolling(x, n).corr(y).mask(_flat(x, n) | _flat(y, n))


def _trend(y: pd.DataFrame, n: int, what: str) -> pd.DataFrame:
    """rolling_slope / rolling_rsquare / rolling_resi: OLS of the window's non-NaN values on
    their positions (today = n), with Qlib's raw-sum formulas, from the first day."""
    a = y.to_numpy(np.float64)
    out = np.full(a.shape, np.nan)
    for t in range(len(a)):
        win = a[max(0, t - n + 1): t + 1]
        pos = np.arange(n - len(win) + 1, n + 1, dtype=np.float64)
        for j in range(a.shape[1]):
            ok = ~np.isnan(win[:, j])
            xs, ys, m = pos[ok], win[ok, j], int(ok.sum())
            sx, sy, sxx, sxy, syy = xs.sum(), ys.sum(), xs @ xs, xs @ ys, ys @ ys
            with np.errstate(all="ignore"):
                slope = (m * sxy - sx * sy) / (m * sxx - sx * sx)
                if what == "slope":
                    out[t, j] = slope
                elif what == "resi":
                    out[t, j] = a[t, j] - (slope * n + (sy / m - slope * sx / m))
                else:
                    r = (m * sxy - sx * sy) / np.sqrt((m * sxx - sx * sx) * (m * syy - sy * sy))
                    out[t, j] = r * r
    frame = pd.DataFrame(out, index=y.index, columns=y.columns)
    return frame.mask(_flat(y, n)) if what == "rsquare" else frame


def _idx(x: pd.DataFrame, n: int, fn: Callable[[np.ndarray], int]) -> pd.DataFrame:
    return _rolling(x, n).apply(lambda a: fn(a) + 1, raw=True)


def _gt(x: pd.DataFrame, y: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(np.greater(x, y), index=x.index, columns=x.columns).astype(float)


def _sum_ratio(up: pd.DataFrame, delta: pd.DataFrame, n: int) -> pd.DataFrame:
    return _rolling(up, n).sum() / (_rolling(delta.abs(), n).sum() + 1e-12)


REFERENCE: dict[str, Callable[..., pd.DataFrame]] = {
    "KMID2": lambda o, h, lo, c, v, vw: (c - o) / (h - lo + 1e-12),
    "KUP": lambda o, h, lo, c, v, vw: (h - np.maximum(o, c)) / o,
    "KLOW2": lambda o, h, lo, c, v, vw: (np.minimum(o, c) - lo) / (h - lo + 1e-12),
    "VWAP0": lambda o, h, lo, c, v, vw: vw / c,
    "ROC10": lambda o, h, lo, c, v, vw: c.shift(10) / c,
    "STD20": lambda o, h, lo, c, v, vw: _rolling(c, 20).std() / c,
    "BETA10": lambda o, h, lo, c, v, vw: _trend(c, 10, "slope") / c,
    "RSQR20": lambda o, h, lo, c, v, vw: _trend(c, 20, "rsquare"),
    "RESI5": lambda o, h, lo, c, v, vw: _trend(c, 5, "resi") / c,
    "QTLU10": lambda o, h, lo, c, v, vw: _rolling(c, 10).quantile(0.8) / c,
    "QTLD30": lambda o, h, lo, c, v, vw: _rolling(c, 30).quantile(0.2) / c,
    "RANK20": lambda o, h, lo, c, v, vw: _rolling(c, 20).rank(pct=True),
    "RSV60": lambda o, h, lo, c, v, vw: (c - _rolling(lo, 60).min())
    / (_rolling(h, 60).max() - _rolling(lo, 60).min() + 1e-12),
    "IMAX20": lambda o, h, lo, c, v, vw: _idx(h, 20, np.argmax) / 20,
    "IMXD10": lambda o, h, lo, c, v, vw: (_idx(h, 10, np.argmax) - _idx(lo, 10, np.argmin)) / 10,
    "CORR10": lambda o, h, lo, c, v, vw: _corr(c, np.log(v + 1), 10),
    "CORD20": lambda o, h, lo, c, v, vw: _corr(c / c.shift(1), np.log(v / v.shift(1) + 1), 20),
    "CNTD30": lambda o, h, lo, c, v, vw: _rolling(_gt(c, c.shift(1)), 30).mean()
    - _rolling(_gt(c.shift(1), c), 30).mean(),
    "SUMP5": lambda o, h, lo, c, v, vw: _sum_ratio(np.maximum(c - c.shift(1), 0), c - c.shift(1),
                                                   5),
    "VSUMN60": lambda o, h, lo, c, v, vw: _sum_ratio(np.maximum(v.shift(1) - v, 0),
                                                     v - v.shift(1), 60),
    "VSTD10": lambda o, h, lo, c, v, vw: _rolling(v, 10).std() / (v + 1e-12),
    "WVMA20": lambda o, h, lo, c, v, vw: _rolling((c / c.shift(1) - 1).abs() * v, 20).std()
    / (_rolling((c / c.shift(1) - 1).abs() * v, 20).mean() + 1e-12),
}


def _wide(panel: Panel, name: str) -> pd.DataFrame:
    return pd.DataFrame(panel.feature(name).double().numpy())


def assert_close_to_qlib(ours: torch.Tensor, qlib: pd.DataFrame, name: str) -> None:
    """Same NaN cells; each value within 1e-4 relative, or 1e-5 of the factor's typical size
    for values near 0 (a correlation of 0.0009 inherits the float32 rounding of its inputs:
    both engines read float32 data, and ours keeps float32 between operators)."""
    a = ours.double().numpy()
    b = qlib.to_numpy(np.float64)
    assert (np.isnan(a) == np.isnan(b)).all(), f"{name}: NaN cells differ"
    ok = ~np.isnan(b)
    assert ok.mean() > 0.9, f"{name}: only {ok.mean():.0%} of cells have a value"
    err = np.abs(a[ok] - b[ok])
    bound = 1e-4 * np.abs(b[ok]) + 1e-5 * np.abs(b[ok]).mean()
    worst = int(np.argmax(err - bound))
    assert (err <= bound).all(), f"{name}: ours {a[ok][worst]} vs Qlib's {b[ok][worst]}"


@pytest.mark.parametrize("name", list(REFERENCE))
def test_values_equal_qlibs_once_the_windows_are_full(clean: Panel, name: str) -> None:
    ours = Evaluator(clean, cache_bytes=0).evaluate(parse_qlib(ALPHA158[name]))
    fields = [_wide(clean, f) for f in ("open", "high", "low", "close", "volume", "vwap")]
    qlib = REFERENCE[name](*fields)
    assert_close_to_qlib(ours[WARM_UP:], qlib.iloc[WARM_UP:], name)


def test_ours_wait_for_full_windows_where_qlib_starts_at_once(clean: Panel) -> None:
    """The one systematic difference: min_periods=1 in Qlib, the whole window here."""
    ma20 = Evaluator(clean).evaluate(parse_qlib(ALPHA158["MA20"]))
    assert torch.isnan(ma20[:19]).all() and not torch.isnan(ma20[19:]).any()
    close = _wide(clean, "close")
    assert not (_rolling(close, 20).mean() / close).iloc[:19].isna().any().any()
