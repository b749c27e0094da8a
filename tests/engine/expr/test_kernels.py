"""The fast kernel paths against plain float64 references, on adversarial data.

The sorting-network median, the block-anchored moments (with their exact fallbacks), the packed
ranking and the arithmetic NaN masks must give the reference's values (medians and ranks
exactly, moments to float64 rounding), keep its NaN pattern, and never look ahead across the
blocks they work in.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.expr import kernels as K
from engine.expr import ops as O
from engine.expr import xsection as X
from engine.expr.evaluate import Evaluator

from .conftest import random_panel


def _series(kind: str, t: int = 260, n: int = 30, seed: int = 0) -> torch.Tensor:
    """``[t, n]`` float32 test data with NaN holes and late starts."""
    rng = np.random.default_rng(seed)
    if kind == "price":
        a = 50 * np.exp(np.cumsum(rng.normal(0, 0.02, (t, n)), axis=0))
    elif kind == "level":  # a high level with tiny moves (cancellation-prone)
        a = 30000 + rng.normal(0, 0.01, (t, n))
    elif kind == "steps":  # piecewise constant: many flat windows at changing levels
        a = np.repeat(rng.integers(-3, 4, (t // 13 + 1, n)), 13, axis=0)[:t] * 1.5
    elif kind == "spiky":  # huge and tiny magnitudes side by side
        a = rng.normal(0, 1, (t, n)) * 10.0 ** rng.integers(-30, 30, (t, n))
    else:
        a = rng.normal(0, 1, (t, n))
    a = a.astype(np.float32)
    a[rng.random(a.shape) < 0.02] = np.nan
    a[: rng.integers(0, t // 2), : n // 3] = np.nan  # late listings
    return torch.from_numpy(a)


def _windows(x: torch.Tensor, w: int) -> np.ndarray:
    """``[T − w + 1, N, w]`` float64 windows."""
    return np.lib.stride_tricks.sliding_window_view(x.double().numpy(), w, axis=0)


def _padded(body: np.ndarray, w: int) -> np.ndarray:
    return np.concatenate([np.full((w - 1, body.shape[1]), np.nan), body])


def _f32(a: np.ndarray) -> np.ndarray:
    """As a float32 kernel output holds it (overflow -> inf)."""
    with np.errstate(over="ignore"):
        return a.astype(np.float32).astype(np.float64)


# --------------------------------------------------------------------------- median


@pytest.mark.parametrize("w", [1, 2, 3, 4, 5, 7, 8, 10, 16, 20, 31, 33, 50, 64, 70])
def test_median_network_is_the_lower_median(w: int) -> None:
    x = _series("steps" if w % 3 == 0 else "normal", t=160, n=17, seed=w)
    x[5, 3] = -0.0
    ours = K.ts_med(x, w).double().numpy()
    win = _windows(x, w)
    expected = np.sort(win, axis=-1)[..., (w - 1) // 2]  # NaN sorts last: mask below
    expected[np.isnan(win).any(axis=-1)] = np.nan
    np.testing.assert_array_equal(ours, _padded(expected, w))


def test_median_chunks_agree_with_one_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    x = _series("normal", t=300, n=9)
    whole = K.ts_med(x, 20)
    monkeypatch.setattr(K, "_MEDIAN_CHUNK", 1)  # 64-row chunks
    assert torch.equal(K.ts_med(x, 20).nan_to_num(), whole.nan_to_num())
    assert torch.equal(K.ts_med(x, 20).isnan(), whole.isnan())


# --------------------------------------------------------------------------- moments


def _two_pass(x: torch.Tensor, y: torch.Tensor, w: int) -> tuple[np.ndarray, ...]:
    wx, wy = _windows(x, w), _windows(y, w)
    dx = wx - wx.mean(axis=-1, keepdims=True)
    dy = wy - wy.mean(axis=-1, keepdims=True)
    return (dx * dy).sum(-1), (dx * dx).sum(-1), (dy * dy).sum(-1)


@pytest.mark.parametrize("kind", ["price", "level", "steps", "spiky", "normal"])
@pytest.mark.parametrize("w", [2, 5, 20, 50])
def test_moments_match_two_pass_float64(kind: str, w: int) -> None:
    x, y = _series(kind, seed=w), _series("price", seed=w + 1)
    sxy, sxx, syy = _two_pass(x, y, w)
    scale = np.sqrt(sxx * syy)
    var = K.ts_var(x, w).double().numpy()
    np.testing.assert_allclose(var, _f32(_padded(sxx / (w - 1), w)), rtol=2e-7, atol=0)
    cov = K.ts_cov(x, y, w).double().numpy()
    expected_cov = _f32(_padded(sxy / (w - 1), w))
    assert np.array_equal(np.isnan(cov), np.isnan(expected_cov))
    ok = np.isfinite(cov)
    assert np.array_equal(np.isinf(cov), np.isinf(expected_cov))
    # the cross term is exact to float64 rounding of the data's scale
    tol = 2e-7 * np.abs(expected_cov[ok]) + 1e-12 * _padded(scale / (w - 1), w)[ok]
    assert (np.abs(cov[ok] - expected_cov[ok]) <= tol).all()
    corr = K.ts_corr(x, y, w).double().numpy()
    den = np.where((sxx < K.CORR_EPS) | (syy < K.CORR_EPS), 1.0, scale)
    expected_corr = _f32(_padded(sxy / den, w))  # den = 1 leaves huge values unscaled
    assert np.array_equal(np.isnan(corr), np.isnan(expected_corr))
    ok = np.isfinite(corr)
    assert (np.abs(corr[ok] - expected_corr[ok])
            <= 1e-6 * np.maximum(np.abs(expected_corr[ok]), 1.0)).all()


def test_flat_windows_are_exactly_zero() -> None:
    """Flat windows away from their block's anchor (late listing, level steps) give exactly
    the two-pass answer: zero dispersion, zero covariance, correlation 0."""
    x = _series("steps", t=400, n=12)
    y = _series("price", t=400, n=12, seed=3)
    w = 10
    win = _windows(x, w)
    flat = _padded((win.max(-1) == win.min(-1)).astype(float), w) == 1
    assert flat.sum() > 100
    assert (K.ts_var(x, w).numpy()[flat] == 0).all()
    assert (K.ts_std(x, w).numpy()[flat] == 0).all()
    both = flat & ~np.isnan(_padded(_windows(y, w).sum(-1), w))
    assert (K.ts_cov(x, y, w).numpy()[both] == 0).all()
    assert (K.ts_corr(x, y, w).numpy()[both] == 0).all()


def test_mad_and_weighted_means_match_float64() -> None:
    x, w = _series("level"), 20
    win = _windows(x, w)
    mad = np.abs(win - win.mean(-1, keepdims=True)).mean(-1)
    np.testing.assert_allclose(K.ts_mad(x, w).double().numpy(), _padded(mad, w), rtol=1e-6)
    weights = np.arange(w, dtype=float) / np.arange(w).sum()
    np.testing.assert_allclose(K.ts_wma(x, w).double().numpy(), _padded(win @ weights, w),
                               rtol=1e-7)


# --------------------------------------------------------------------------- no look-ahead


@pytest.fixture
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """64-day blocks for 100 stocks, so that the rewritten days cross several of them."""
    monkeypatch.setattr(K, "_LOOP_CELLS", 64 * 100)
    monkeypatch.setattr(K, "_SEGMENT_WINDOWS", 64)
    monkeypatch.setattr(K, "_MEDIAN_CHUNK", 1)


@pytest.mark.usefixtures("small_blocks")
@pytest.mark.parametrize("name", ["ts_std", "ts_var", "ts_mad", "ts_med", "ts_mean"])
def test_blocked_kernels_never_look_ahead(name: str) -> None:
    """Rewriting the future (huge values, flat runs, NaN) leaves every earlier day's value
    bit-identical, whatever blocks and anchors the kernel used."""
    x = _series("price", t=700, n=100)
    assert K._chunk_rows(100) == 64
    fn = O.REGISTRY[name].apply
    before = fn(x, 20)
    for t in (150, 333, 500):
        later = x.clone()
        later[t + 1:] = _series("spiky", t=700, n=100, seed=t)[t + 1:]
        later[t + 1: t + 60, :5] = 7.0
        after = fn(later, 20)
        assert torch.equal(after[: t + 1].isnan(), before[: t + 1].isnan()), (name, t)
        assert torch.equal(after[: t + 1].nan_to_num(), before[: t + 1].nan_to_num()), (name, t)


@pytest.mark.usefixtures("small_blocks")
@pytest.mark.parametrize("name", ["ts_cov", "ts_corr"])
def test_pair_kernels_never_look_ahead(name: str) -> None:
    x, y = _series("price", t=700, n=100), _series("normal", t=700, n=100, seed=5)
    fn = O.REGISTRY[name].apply
    before = fn(x, y, 30)
    for t in (200, 480):
        later = y.clone()
        later[t + 1:] = _series("steps", t=700, n=100, seed=t)[t + 1:] * 1e20
        after = fn(x, later, 30)
        assert torch.equal(after[: t + 1].isnan(), before[: t + 1].isnan()), (name, t)
        assert torch.equal(after[: t + 1].nan_to_num(), before[: t + 1].nan_to_num()), (name, t)


# --------------------------------------------------------------------------- ranks


def _rows_with_some_ties(seed: int = 0) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1, (60, 33)).astype(np.float32)
    x[::2] = np.round(x[::2] * 2) / 2  # every other row has ties
    x[rng.random(x.shape) < 0.1] = np.nan
    x[3, :4] = [np.inf, -np.inf, -0.0, 0.0]
    x[7] = 1.0  # all tied
    x[9] = np.nan  # nothing valid
    return torch.from_numpy(x)


@pytest.mark.parametrize("tied_share", ["some", "most", "none"])
def test_packed_ranks_equal_the_sort_path(tied_share: str) -> None:
    x = _rows_with_some_ties()
    if tied_share == "most":
        x = torch.round(x)
    elif tied_share == "none":
        x = x + torch.arange(x.shape[1]) * 1e-3
    fast = X.rank_average(x)
    slow = X._rank_sorted(x)
    assert fast.dtype == torch.float32
    assert torch.equal(fast.isnan(), slow.isnan())
    assert torch.equal(fast.nan_to_num(), slow.nan_to_num())
    batched = X.rank_average(x.reshape(4, 15, 33)).reshape(x.shape)
    assert torch.equal(batched.nan_to_num(), fast.nan_to_num())


def test_rank_pct_and_zscore_match_pandas_definitions() -> None:
    import pandas as pd

    x = _rows_with_some_ties(1)
    frame = pd.DataFrame(x.double().numpy()).replace([np.inf, -np.inf], np.nan)
    np.testing.assert_allclose(X.rank_pct(x).double().numpy(),
                               frame.rank(axis=1, pct=True).to_numpy(), rtol=1e-6)
    std = frame.std(axis=1, ddof=0)
    z = frame.sub(frame.mean(axis=1), axis=0).div(std, axis=0)
    z[(frame.count(axis=1) < 2) | (std <= 1e-12)] = np.nan
    np.testing.assert_allclose(X.zscore(x).double().numpy(), z.to_numpy(), rtol=1e-5,
                               atol=1e-6)


# --------------------------------------------------------------------------- element-wise


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_division_guard_matches_a_plain_comparison(dtype: torch.dtype) -> None:
    """NaN exactly where ``|y| < DIV_EPS`` as torch compares it, around the threshold."""
    eps = torch.tensor(K.DIV_EPS, dtype=dtype)
    steps = [torch.nextafter(eps, torch.tensor(0.0, dtype=dtype)), eps,
             torch.nextafter(eps, torch.tensor(1.0, dtype=dtype))]
    y = torch.stack([*steps, *[-s for s in steps], torch.tensor(0.0, dtype=dtype),
                     torch.tensor(-0.0, dtype=dtype), torch.tensor(float("nan"), dtype=dtype),
                     torch.tensor(2.0, dtype=dtype), torch.tensor(float("inf"), dtype=dtype)])
    x = torch.full_like(y, 3.0)
    expected = torch.where(y.abs() < K.DIV_EPS, torch.full_like(y, float("nan")), x / y)
    got = K.safe_div(x, y)
    assert torch.equal(got.isnan(), expected.isnan())
    assert torch.equal(got.nan_to_num(), expected.nan_to_num())
    assert torch.equal(K.inv(y).isnan(), K.safe_div(torch.ones_like(y), y).isnan())


def test_sign_keeps_nan_and_zeros() -> None:
    x = torch.tensor([float("nan"), -2.0, -0.0, 0.0, 3.0, float("inf"), -float("inf")])
    out = K.sign(x)
    assert torch.isnan(out[0]) and out[1:].tolist() == [-1.0, 0.0, 0.0, 1.0, 1.0, -1.0]


def test_apply_never_cleans_an_input_in_place() -> None:
    """A kernel that hands back its input (or a view) must not have it modified."""
    op = O.Operator(name="Same", kind="unary", fn=lambda x: x[:], summary="x")
    x = torch.tensor([[1.0, float("inf"), float("nan")]])
    out = op.apply(x)
    assert torch.isinf(x[0, 1]) and torch.isnan(out[0, 1])


# --------------------------------------------------------------------------- evaluator


def test_evaluator_never_hands_out_its_features_or_cache() -> None:
    panel = random_panel(n_days=30, n_tickers=5)
    raw = panel.values.clone()
    for cache_bytes in (0, 1 << 20):
        ev = Evaluator(panel, cache_bytes=cache_bytes)
        a = ev.evaluate("$close")
        a.fill_(1.0)
        b = ev.evaluate("Abs($close)")
        b.fill_(2.0)
        assert not torch.equal(ev.evaluate("$close"), a)
        assert not torch.equal(ev.evaluate("Abs($close)"), b)
    assert torch.equal(panel.values.nan_to_num(), raw.nan_to_num())


def test_features_are_read_once_and_inf_cleaned() -> None:
    panel = random_panel(n_days=20, n_tickers=4)
    values = panel.values.clone()
    values[3, 1, 1] = float("inf")
    panel = type(panel)(values=values, dates=panel.dates, tickers=panel.tickers,
                        features=panel.features, universe=panel.universe)
    ev = Evaluator(panel, cache_bytes=0)
    assert torch.isnan(ev.evaluate("$close")[3, 1])
    assert ev._feature("close") is ev._feature("close")
    assert ev._feature("close").is_contiguous()


@pytest.mark.parametrize("name", ["ts_std", "ts_corr", "ts_mad", "ts_wma", "ts_mean"])
def test_results_do_not_depend_on_threads_or_batching(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Several threads batch several anchor segments per op and use larger blocks; every
    value stays bit-identical to the single-threaded one."""
    monkeypatch.setattr(K, "_LOOP_CELLS", 32 * 50)
    monkeypatch.setattr(K, "_SEGMENT_WINDOWS", 32)  # 32-day anchor segments
    x, y = _series("price", t=400, n=50), _series("steps", t=400, n=50, seed=2)
    args = (x, y, 20) if name == "ts_corr" else (x, 20)
    one = O.REGISTRY[name].apply(*args)
    monkeypatch.setattr(K, "_THREADED_CELLS", 5 * 32 * 50)  # 5 segments per op
    torch.set_num_threads(2)  # restored by the conftest fixture
    two = O.REGISTRY[name].apply(*args)
    assert torch.equal(one.isnan(), two.isnan())
    assert torch.equal(one.nan_to_num(), two.nan_to_num())


@pytest.mark.parametrize("name", ["ts_std", "ts_var", "ts_cov", "ts_corr", "ts_med", "ts_mad"])
def test_column_groups_give_the_values_of_the_whole_panel(name: str) -> None:
    """Each stock's result depends on its own series only (anchor segments do not depend on
    the number of stocks): the miner's staged scorer evaluates groups of stocks apart and
    interleaves them, and must get the whole panel's values bit for bit."""
    x, y = _series("price", t=700, n=60), _series("spiky", t=700, n=60, seed=2)
    fn = O.REGISTRY[name].apply
    pair = name in ("ts_cov", "ts_corr")
    whole = fn(x, y, 20) if pair else fn(x, 20)
    for cols in (slice(0, None, 4), slice(1, None, 2), slice(7, 9)):
        part = fn(x[:, cols], y[:, cols], 20) if pair else fn(x[:, cols], 20)
        assert torch.equal(part.isnan(), whole[:, cols].isnan()), (name, cols)
        assert torch.equal(part.nan_to_num(), whole[:, cols].nan_to_num()), (name, cols)
