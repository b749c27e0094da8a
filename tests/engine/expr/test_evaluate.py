"""The evaluator against a plain pandas reference, on real and random data; NaN/inf rules;
the sub-expression cache; devices."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from engine.data.panel import Panel
from engine.errors import FormulaError
from engine.expr import kernels
from engine.expr import ops as O
from engine.expr.evaluate import Evaluator, evaluate
from engine.expr.parse import parse

from . import pandas_reference as R
from .conftest import random_panel

RTOL = 1e-4
ROLLING = [op.name for op in O.REGISTRY.values() if op.kind == "rolling"]
PAIR = [op.name for op in O.REGISTRY.values() if op.kind == "pair_rolling"]
UNARY = [op.name for op in O.REGISTRY.values() if op.kind == "unary"]
BINARY = [op.name for op in O.REGISTRY.values() if op.kind == "binary"]
CS = [op.name for op in O.REGISTRY.values() if op.kind == "cs"]


def wide(panel: Panel, feature: str) -> pd.DataFrame:
    """A feature as the reference sees it: days x tickers, float64."""
    return pd.DataFrame(panel.feature(feature).double().numpy(), columns=list(panel.tickers))


def assert_matches(ours: torch.Tensor, expected: pd.DataFrame, what: str,
                   all_nan: bool | None = False) -> None:
    """Identical NaN pattern; relative error <= RTOL where defined.

    ``all_nan``: True for cases NaN by definition (ts_std of one value...), False to demand
    at least one finite value, None when either is fine (overflowing powers)."""
    a = ours.detach().cpu().double().numpy()
    b = expected.to_numpy(dtype=np.float64)
    assert a.shape == b.shape, what
    differ = np.isnan(a) != np.isnan(b)
    if differ.any():
        t, n = np.argwhere(differ)[0]
        raise AssertionError(f"{what}: NaN pattern differs at {differ.sum()} cells, first "
                             f"[{t}, {n}]: ours {a[t, n]}, reference {b[t, n]}")
    ok = ~np.isnan(a)
    if all_nan is not None:
        assert ok.any() != all_nan, f"{what}: {'a' if ok.any() else 'no'} finite value"
    err = np.abs(a[ok] - b[ok])
    bad = err > RTOL * np.abs(b[ok]) + 1e-12
    if bad.any():
        i = int(np.argmax(err / (np.abs(b[ok]) + 1e-30)))
        raise AssertionError(f"{what}: {bad.sum()} values off, worst ours {a[ok][i]} vs "
                             f"reference {b[ok][i]}")


@pytest.fixture(params=["us", "random"])
def case(request: pytest.FixtureRequest) -> tuple[Panel, Evaluator, tuple[int, ...], str, str]:
    """(panel, evaluator, windows, feature x, feature y) for each data set."""
    if request.param == "us":
        panel = request.getfixturevalue("us_panel")
        return panel, _evaluator(panel), (1, 5, 20, 50), "open", "volume"
    panel = request.getfixturevalue("small_panel")
    return panel, _evaluator(panel), (1, 2, 5, 10), "signal", "close"


_EVALUATORS: dict[int, Evaluator] = {}


def _evaluator(panel: Panel) -> Evaluator:
    """One evaluator per panel for the module (features get cached once)."""
    return _EVALUATORS.setdefault(id(panel), Evaluator(panel))


# --------------------------------------------------------------------------- vs pandas


@pytest.mark.parametrize("name", ROLLING)
def test_rolling_matches_pandas(case, name: str) -> None:
    panel, ev, windows, fx, _ = case
    x = wide(panel, fx)
    for w in windows:
        undefined = w == 1 and name in ("ts_std", "ts_var", "ts_wma", "ts_ema", "ts_slope",
                                        "ts_rsquare", "ts_resi")
        assert_matches(ev.evaluate(f"{name}(${fx}, {w})"), R.rolling(name, x, w),
                       f"{name}(${fx}, {w})", all_nan=undefined)


@pytest.mark.parametrize("name", PAIR)
def test_pair_rolling_matches_pandas(case, name: str) -> None:
    panel, ev, windows, fx, fy = case
    x, y = wide(panel, fx), wide(panel, fy)
    for w in windows:
        what = f"{name}(${fx}, ${fy}, {w})"
        assert_matches(ev.evaluate(what), R.pair_rolling(name, x, y, w), what,
                       all_nan=w == 1 and name in ("ts_cov", "ts_corr_nan"))


@pytest.mark.parametrize("name", UNARY)
def test_unary_matches_pandas(case, name: str) -> None:
    panel, ev, _, fx, fy = case
    for formula, arg in ((f"${fx}", wide(panel, fx)),
                         (f"Sub(${fy}, ${fx})", R.binary("Sub", wide(panel, fy), wide(panel, fx)))):
        assert_matches(ev.evaluate(f"{name}({formula})"), R.unary(name, arg), f"{name}({formula})")


@pytest.mark.parametrize("name", BINARY)
def test_binary_matches_pandas(case, name: str) -> None:
    panel, ev, _, fx, fy = case
    x, y = wide(panel, fx), wide(panel, fy)
    pairs = [(f"${fx}", f"${fy}", x, y), (f"${fy}", f"${fx}", y, x),
             (f"${fx}", "2", x, 2.0), ("-0.5", f"${fy}", -0.5, y), (f"${fy}", "0.5", y, 0.5)]
    pairs.append((f"${fx}", "-1", x, -1.0))
    for a, b, ra, rb in pairs:
        what = f"{name}({a}, {b})"
        # powers of prices by volumes overflow and negative bases give NaN: may be all NaN
        assert_matches(ev.evaluate(what), R.binary(name, ra, rb), what,
                       all_nan=None if name == "Pow" else False)


@pytest.mark.parametrize("name", CS)
def test_cross_section_matches_pandas(case, name: str) -> None:
    panel, ev, _, fx, fy = case
    universe = pd.DataFrame(panel.universe.numpy(), columns=list(panel.tickers))
    for f in (fx, fy):
        what = f"{name}(${f})"
        assert_matches(ev.evaluate(what), R.cross_section(name, wide(panel, f), universe), what)


def test_nested_formula_matches_pandas(us_panel: Panel) -> None:
    close = wide(us_panel, "close")
    ref = R.binary("Div", R.binary("Sub", close, R.rolling("Ref", close, 5)),
                   R.rolling("ts_std", close, 20))
    ours = _evaluator(us_panel).evaluate("Div(Sub($close, Ref($close, 5)), ts_std($close, 20))")
    assert_matches(ours, ref, "momentum over volatility")


def test_universe_masks_only_cross_sectional_ops(small_panel: Panel) -> None:
    ev = _evaluator(small_panel)
    out = ev.evaluate("cs_rank($close)")
    assert torch.isnan(out[~small_panel.universe]).all()
    ts = ev.evaluate("ts_mean($close, 1)")
    outside = ~small_panel.universe & ~torch.isnan(small_panel.feature("close"))
    assert outside.any() and not torch.isnan(ts[outside]).any()


# --------------------------------------------------------------------------- semantics


def _line(values: list[float]) -> Panel:
    """A one-stock panel whose every base feature is ``values``."""
    x = torch.tensor(values, dtype=torch.float32)[:, None, None].expand(-1, 1, 6).contiguous()
    dates = np.datetime64("2021-01-01") + np.arange(len(values)).astype("timedelta64[D]")
    return Panel(values=x, dates=dates, tickers=("A",),
                 features=("open", "close", "high", "low", "volume", "vwap"),
                 universe=torch.ones(len(values), 1, dtype=torch.bool))


def _col(panel: Panel, formula: str) -> list[float]:
    return evaluate(panel, formula)[:, 0].tolist()


def test_hand_computed_windows() -> None:
    p = _line([1.0, 2.0, 3.0, 4.0])
    assert _col(p, "ts_med($close, 4)")[3] == 2.0  # lower middle of an even window
    assert _col(p, "ts_wma($close, 3)")[2] == pytest.approx(8 / 3)
    assert _col(p, "ts_ema($close, 3)")[2] == pytest.approx(2.125 / 0.875)
    assert _col(p, "ts_mad($close, 4)")[3] == pytest.approx(1.0)
    assert _col(p, "ts_delta($close, 2)")[2:] == [2.0, 2.0]
    assert _col(p, "Ref($close, 1)")[1:] == [1.0, 2.0, 3.0]


def test_window_one_rules() -> None:
    p = _line([1.0, 2.0, 4.0])
    for f in ("ts_std", "ts_var", "ts_wma", "ts_ema"):
        assert np.isnan(_col(p, f"{f}($close, 1)")).all(), f
    assert _col(p, "ts_mean($close, 1)") == [1.0, 2.0, 4.0]
    assert _col(p, "ts_mad($close, 1)") == [0.0, 0.0, 0.0]
    assert _col(p, "ts_corr($close, $open, 1)") == [0.0, 0.0, 0.0]
    assert np.isnan(_col(p, "ts_cov($close, $open, 1)")).all()


def test_nan_anywhere_in_window_gives_nan() -> None:
    p = _line([1.0, 2.0, float("nan"), 4.0, 5.0, 6.0, 7.0])
    for name in ROLLING:
        if name in ("Ref", "ts_delta", "ts_div", "ts_pctchange"):
            continue
        out = _col(p, f"{name}($close, 3)")
        assert np.isnan(out[:5]).all(), name  # windows ending at days 0..4 touch the NaN or start
        if name not in ("ts_std", "ts_var", "ts_wma", "ts_ema"):
            assert not np.isnan(out[5:]).any(), name


def test_flat_series_correlation_is_zero() -> None:
    p = _line([3.0] * 6)
    assert _col(p, "ts_corr($close, $open, 5)")[4:] == [0.0, 0.0]


def test_infinities_become_nan() -> None:
    p = _line([0.0, 1e-20, 2.0, 1e30, -3.0])
    for formula in ("Div($close, 0)", "Inv($close)", "Log($close)", "Pow($close, -40)",
                    "Mul(Mul($close, $close), $close)", "ts_div($close, 1)"):
        out = evaluate(p, formula)
        assert not torch.isinf(out).any(), formula
    assert np.isnan(_col(p, "Div($close, 0)")).all()
    assert np.isnan(_col(p, "Inv($close)")[:2]).all()  # 0 and 1e-20 are ~0
    assert _col(p, "Inv($close)")[2] == 0.5


def test_window_longer_than_history_is_all_nan(small_panel: Panel) -> None:
    ev = _evaluator(small_panel)
    for name in (*ROLLING, "ts_corr"):
        formula = (f"{name}($close, $open, 200)" if name == "ts_corr"
                   else f"{name}($close, 200)")
        assert torch.isnan(ev.evaluate(formula)).all(), name


def test_no_catastrophic_cancellation_on_large_levels() -> None:
    """A level of 3e4 with ±0.01 moves: variance 1e-4 must survive, unlike Σx² − (Σx)²/n."""
    rng = np.random.default_rng(3)
    values = (30000 + rng.normal(0, 0.01, 1000)).astype(np.float32)
    p = _line(values.tolist())
    x = values.astype(np.float64)
    win = np.lib.stride_tricks.sliding_window_view(x, 20)
    centred = win - win.mean(axis=1, keepdims=True)
    exact_var = (centred ** 2).sum(axis=1) / 19
    ours = np.array(_col(p, "ts_var($close, 20)"))[19:]
    np.testing.assert_allclose(ours, exact_var, rtol=1e-5)
    exact_corr = np.ones_like(exact_var)  # a series with itself
    np.testing.assert_allclose(np.array(_col(p, "ts_corr($close, $open, 20)"))[19:],
                               exact_corr, rtol=1e-5)


def test_extra_feature_and_errors(small_panel: Panel) -> None:
    ev = _evaluator(small_panel)
    assert ev.evaluate("ts_mean($signal, 5)").shape == (small_panel.n_days, small_panel.n_tickers)
    with pytest.raises(FormulaError, match=r"unknown feature '\$nope'.*\$signal"):
        ev.evaluate("ts_mean($nope, 5)")
    with pytest.raises(FormulaError, match="unknown feature"):
        ev.evaluate(parse("$amount", features=None))


# --------------------------------------------------------------------------- cache


def test_cache_reuses_shared_subtrees(small_panel: Panel) -> None:
    ev = Evaluator(small_panel)
    ev.evaluate("ts_std(Sub($close, $open), 5)")
    before = ev.cache_info()
    ev.evaluate("Div(ts_std(Sub($close, $open), 5), $close)")
    after = ev.cache_info()
    assert after.hits == before.hits + 2  # the shared ts_std sub-tree and $close
    assert after.misses == before.misses + 1  # only the new Div
    assert after.entries == before.entries + 1


def test_cache_results_equal_uncached(small_panel: Panel) -> None:
    formulas = ["ts_corr(cs_rank($close), $volume, 5)", "Mul(-1, cs_rank($close))",
                "ts_mean(Mul(-1, cs_rank($close)), 3)"]
    cached = Evaluator(small_panel).evaluate_many(formulas)
    plain = torch.stack([evaluate(small_panel, f) for f in formulas])
    assert torch.equal(cached.isnan(), plain.isnan())
    assert torch.equal(cached.nan_to_num(), plain.nan_to_num())


def test_cache_is_bounded_lru(small_panel: Panel) -> None:
    one = small_panel.n_days * small_panel.n_tickers * 4
    ev = Evaluator(small_panel, cache_bytes=3 * one)
    for w in (2, 3, 4, 5):
        ev.evaluate(f"ts_mean($close, {w})")
        assert ev.cache_info().bytes <= 3 * one
    assert ev.cache_info().entries == 3
    ev.evaluate("ts_mean($close, 5)")  # most recent: still there
    assert ev.cache_info().hits >= 1
    hits = ev.cache_info().hits
    ev.evaluate("ts_mean($close, 2)")  # evicted long ago: recomputed
    assert ev.cache_info().hits == hits + 1  # only $close hit


def test_results_are_fresh_tensors(small_panel: Panel) -> None:
    ev = Evaluator(small_panel)
    first = ev.evaluate("ts_mean($close, 3)")
    first.fill_(0.0)
    again = ev.evaluate("ts_mean($close, 3)")
    assert torch.isnan(again).any() and not torch.equal(again, first)
    ev.clear_cache()
    assert ev.cache_info().entries == 0 and ev.cache_info().bytes == 0


def test_evaluate_many_stacks(small_panel: Panel) -> None:
    ev = Evaluator(small_panel, cache_bytes=0)
    out = ev.evaluate_many(["$close", parse("Abs($signal)", features=None)])
    assert out.shape == (2, small_panel.n_days, small_panel.n_tickers)
    assert out.dtype == torch.float32
    assert torch.equal(out[0].nan_to_num(), small_panel.feature("close").nan_to_num())


def test_kernels_reject_bad_windows() -> None:
    with pytest.raises(ValueError):
        kernels.ts_mean(torch.ones(5, 2), 0)
    with pytest.raises(ValueError):
        kernels.ref(torch.ones(5, 2), -1)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu() -> None:
    panel = random_panel(seed=4)
    formulas = [f"{op}($close, 5)" for op in ROLLING] + [
        "ts_corr($close, $volume, 10)", "ts_cov($close, $signal, 5)", "cs_rank($signal)",
        "cs_zscore(Div($close, $open))", "Pow($signal, 2)", "S_log1p($signal)"]
    cpu = Evaluator(panel).evaluate_many(formulas)
    gpu = Evaluator(panel, device="cuda").evaluate_many(formulas)
    assert gpu.device.type == "cuda"
    gpu = gpu.cpu()
    assert torch.equal(cpu.isnan(), gpu.isnan())
    torch.testing.assert_close(cpu.nan_to_num(), gpu.nan_to_num(), rtol=1e-5, atol=1e-6)
