"""The Qlib window statistics (engine/expr/window_stats.py) against pandas, on random data with
NaN holes, ties, flat runs and high levels; their blocks; their causality."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from engine.expr import ops as O
from engine.expr import window_stats as W

from . import pandas_reference as R
from .test_evaluate import assert_matches
from .test_kernels import _series

ROLLING = ["ts_rank", "ts_argmax", "ts_argmin", "ts_slope", "ts_rsquare", "ts_resi"]
KINDS = ["price", "steps", "level", "normal"]


def _frame(x: torch.Tensor) -> pd.DataFrame:
    return pd.DataFrame(x.double().numpy())


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", ROLLING)
def test_rolling_statistics_match_pandas(name: str, kind: str) -> None:
    x = _series(kind, t=120, n=12)
    for w in (1, 2, 3, 5, 20, 121):
        undefined = (w == 1 and name in ("ts_slope", "ts_rsquare", "ts_resi")) or w > 120
        assert_matches(O.REGISTRY[name].apply(x, w), R.rolling(name, _frame(x), w),
                       f"{name}({kind}, {w})", all_nan=undefined)


@pytest.mark.parametrize("kind", KINDS)
def test_quantile_matches_pandas(kind: str) -> None:
    x = _series(kind, t=120, n=12)
    for q in (0.0, 0.2, 0.5, 0.8, 1.0, 1 / 3):
        for w in (1, 2, 5, 20):
            assert_matches(O.REGISTRY["ts_quantile"].apply(x, q, w), R.quantile(_frame(x), q, w),
                           f"ts_quantile({kind}, {q}, {w})")


@pytest.mark.parametrize("kind", ["price", "steps", "normal"])
def test_qlib_correlation_matches_pandas(kind: str) -> None:
    x, y = _series("price", t=150, n=10), _series(kind, t=150, n=10, seed=3)
    for w in (1, 2, 5, 20):
        want = R.pair_rolling("ts_corr_nan", _frame(x), _frame(y), w)
        assert_matches(O.REGISTRY["ts_corr_nan"].apply(x, y, w), want,
                       f"ts_corr_nan(price, {kind}, {w})", all_nan=None)


def test_flat_windows_are_nan_for_qlib_correlation_and_rsquare() -> None:
    """Qlib's rule (std <= 2e-5): a flat run is NaN, a small but real spread is not."""
    t = torch.arange(30, dtype=torch.float32)[:, None]
    flat = torch.full((30, 1), 7.0)
    tiny = 1.0 + 1e-5 * (t % 2)  # std ~5e-6: flat by Qlib's rule
    small = 1.0 + 1e-3 * (t % 2)  # std ~5e-4: a real spread (ts_corr would divide by 1)
    for series, is_nan in ((flat, True), (tiny, True), (small, False)):
        corr = W.ts_corr_nan(series, t, 5)[4:]
        rsq = W.ts_rsquare(series, 5)[4:]
        assert bool(torch.isnan(corr).all()) == is_nan and bool(torch.isnan(rsq).all()) == is_nan
    assert torch.allclose(W.ts_corr_nan(small, small, 5)[4:], torch.ones(26, 1))


def test_hand_checked_values() -> None:
    x = torch.tensor([[3.0], [1.0], [2.0], [2.0], [5.0], [1.0]])
    assert W.ts_rank(x, 4)[3:, 0].tolist() == [0.625, 1.0, 0.25]  # ties average
    assert W.ts_argmax(x, 3)[2:, 0].tolist() == [1.0, 2.0, 3.0, 2.0]  # first max on ties
    assert W.ts_argmin(x, 3)[2:, 0].tolist() == [2.0, 1.0, 1.0, 3.0]
    assert W.ts_quantile(x, 0.5, 4)[3:, 0].tolist() == [2.0, 2.0, 2.0]
    line = torch.tensor([[1.0], [3.0], [5.0], [7.0], [20.0]])
    assert W.ts_slope(line, 3)[2:, 0].tolist() == [2.0, 2.0, 7.5]
    assert W.ts_resi(line, 3)[2:4, 0].tolist() == [0.0, 0.0]
    assert W.ts_rsquare(line, 4)[3, 0].item() == pytest.approx(1.0)
    assert torch.isnan(W.ts_rank(x, 4)[:3]).all() and torch.isnan(W.ts_slope(line, 9)).all()


def test_trend_keeps_its_digits_on_a_high_level() -> None:
    """Slope and residual are sums with centred weights, so a level of 30,000 does not cancel
    the 0.01-sized moves (a Σx·Σy formula would lose them)."""
    x = _series("level", t=200, n=8).double()
    got = W.ts_resi(x, 20)
    want = R.rolling("ts_resi", _frame(x), 20).to_numpy()
    ok = ~np.isnan(want)
    assert got.dtype == torch.float64
    np.testing.assert_allclose(got.numpy()[ok], want[ok], rtol=1e-7, atol=1e-9)


def test_quantile_blocks_give_the_values_of_one_block(monkeypatch: pytest.MonkeyPatch) -> None:
    x = _series("steps", t=300, n=20)
    whole = W.ts_quantile(x, 0.8, 30)
    monkeypatch.setattr(W, "_SORT_CELLS", 30 * 20 * 7)  # 7 windows a block
    blocked = W.ts_quantile(x, 0.8, 30)
    assert torch.equal(whole.isnan(), blocked.isnan())
    assert torch.equal(whole.nan_to_num(), blocked.nan_to_num())


@pytest.mark.parametrize("name", [*ROLLING, "ts_quantile", "ts_corr_nan"])
def test_never_look_ahead(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Rewriting every day after t leaves each earlier value bit-identical, across blocks."""
    monkeypatch.setattr(W, "_SORT_CELLS", 20 * 40 * 5)
    x, y = _series("price", t=300, n=40), _series("normal", t=300, n=40, seed=4)
    op = O.REGISTRY[name]

    def run(a: torch.Tensor) -> torch.Tensor:
        if name == "ts_quantile":
            return op.apply(a, 0.3, 20)
        return op.apply(a, y, 20) if name == "ts_corr_nan" else op.apply(a, 20)

    before = run(x)
    for t in (40, 151, 260):
        later = x.clone()
        later[t + 1:] = _series("spiky", t=300, n=40, seed=t)[t + 1:]
        after = run(later)
        assert torch.equal(after[: t + 1].isnan(), before[: t + 1].isnan()), (name, t)
        assert torch.equal(after[: t + 1].nan_to_num(), before[: t + 1].nan_to_num()), (name, t)


def test_comparisons_are_nan_where_a_side_is_missing() -> None:
    x = torch.tensor([[1.0, 2.0, float("nan"), 3.0]])
    y = torch.tensor([[2.0, 2.0, 1.0, float("nan")]])
    expect = {"Gt": [0, 0], "Ge": [0, 1], "Lt": [1, 0], "Le": [1, 1], "Eq": [0, 1], "Ne": [1, 0]}
    for name, values in expect.items():
        out = O.REGISTRY[name].apply(x, y)
        assert out.dtype == torch.float32 and out[0, :2].tolist() == values, name
        assert torch.isnan(out[0, 2:]).all(), name
    assert O.REGISTRY["Gt"].apply(x, torch.tensor(1.5))[0, :2].tolist() == [0.0, 1.0]
