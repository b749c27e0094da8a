"""Factor metrics against independent references: scipy per day, alphalens-reloaded, numpy."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from engine.errors import ConfigError
from engine.expr.xsection import rank_average
from engine.metrics import factor as fm
from engine.metrics import fitness as ff

DATA = Path(__file__).resolve().parents[3] / "../shared/data"
US_FILE = DATA / "us_sp500_2013_2018.parquet"


def _data(
    seed: int, k: int = 3, t: int = 30, n: int = 40, ties: bool = True, nan_rate: float = 0.08
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """factors [k, t, n] correlated with target [t, n], with NaNs, infs, ties and a mask."""
    g = torch.Generator().manual_seed(seed)
    f = torch.randn(k, t, n, generator=g, dtype=torch.float64)
    y = 0.1 * f[0] + torch.randn(t, n, generator=g, dtype=torch.float64)
    f[torch.rand(k, t, n, generator=g, dtype=torch.float64) < nan_rate] = math.nan
    if nan_rate:
        f[0, 3, 5] = math.inf
        f[0, 2, 5:] = math.nan  # too few stocks that day: NaN, and the day is skipped early
        f[-1, 4] = math.nan
    y[torch.rand(t, n, generator=g, dtype=torch.float64) < 0.05] = math.nan
    if ties:
        f[1] = torch.round(f[1] * 2) / 2  # heavy ties in one factor
        y[::3] = torch.round(y[::3] * 4) / 4  # ties in the target every third day
    mask = torch.rand(t, n, generator=g) > 0.1
    return f.float(), y.float(), mask


def _reference(
    f: torch.Tensor, y: torch.Tensor, mask: torch.Tensor | None, fn, min_stocks: int = 10
) -> np.ndarray:
    out = np.full(f.shape[:-1], np.nan)
    for idx in np.ndindex(*f.shape[:-1]):
        a, b = f[idx].double().numpy(), y[idx[-1]].double().numpy()
        ok = np.isfinite(a) & np.isfinite(b)
        if mask is not None:
            ok &= mask[idx[-1]].numpy()
        if ok.sum() >= min_stocks:
            out[idx] = fn(a[ok], b[ok])
    return out


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    return stats.pearsonr(a, b)[0]


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    return stats.spearmanr(a, b)[0]


def _slope(a: np.ndarray, b: np.ndarray) -> float:
    return stats.linregress(a, b).slope


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("with_mask", [True, False])
@pytest.mark.parametrize("nan_rate", [0.08, 0.0])  # 0: most days reuse the target's ranks
def test_daily_ic_and_rank_ic_match_scipy(seed: int, with_mask: bool, nan_rate: float) -> None:
    f, y, mask = _data(seed, nan_rate=nan_rate)
    m = mask if with_mask else None
    np.testing.assert_allclose(fm.daily_ic(f, y, m).numpy(), _reference(f, y, m, _pearson),
                               atol=1e-12, rtol=0)
    np.testing.assert_allclose(fm.daily_rank_ic(f, y, m).numpy(),
                               _reference(f, y, m, _spearman), atol=1e-12, rtol=0)
    np.testing.assert_allclose(fm.daily_factor_return(f, y, m).numpy(),
                               _reference(f, y, m, _slope), atol=1e-9, rtol=1e-9)


def test_single_factor_and_extra_leading_dims() -> None:
    f, y, mask = _data(2, k=4)
    full = fm.daily_rank_ic(f, y, mask)
    np.testing.assert_array_equal(fm.daily_rank_ic(f[2], y, mask).numpy(), full[2].numpy())
    grid = fm.daily_rank_ic(f.reshape(2, 2, *f.shape[1:]), y, mask)
    assert grid.shape == (2, 2, f.shape[1])
    np.testing.assert_array_equal(grid.reshape(4, -1).numpy(), full.numpy())


def test_per_factor_target_takes_the_unshared_path() -> None:
    f, y, mask = _data(3)
    targets = torch.stack([y, y.flip(-1), y * 2 + 1])
    got = fm.daily_rank_ic(f, targets, mask)
    for k in range(3):
        np.testing.assert_allclose(got[k].numpy(), fm.daily_rank_ic(f[k], targets[k], mask).numpy(),
                                   atol=1e-12)
    np.testing.assert_allclose(got[2].numpy(), fm.daily_rank_ic(f[2], y, mask).numpy(), atol=1e-12)


def test_blocking_does_not_change_results(monkeypatch: pytest.MonkeyPatch) -> None:
    f, y, mask = _data(4, k=5, t=50, n=30)
    expected = [fn(f, y, mask) for fn in (fm.daily_ic, fm.daily_rank_ic, fm.daily_factor_return)]
    for chunk in (30 * 7, 29):  # many rows per block of 7 days; one row and one day per block
        monkeypatch.setattr(fm, "_CHUNK_ELEMENTS", chunk)
        got = [fn(f, y, mask) for fn in (fm.daily_ic, fm.daily_rank_ic, fm.daily_factor_return)]
        for a, b in zip(got, expected, strict=True):
            np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-12)


@pytest.mark.parametrize("skip_share", [0.0, 1.0])  # always / never skip thin days
@pytest.mark.parametrize("redo_all_share", [0.0, 1.1])  # redo every row / only differing rows
def test_every_kernel_path_gives_the_same_numbers(
    monkeypatch: pytest.MonkeyPatch, skip_share: float, redo_all_share: float
) -> None:
    f, y, mask = _data(16, k=4, nan_rate=0.004)  # some rows differ from the target, most not
    f[2, :5] = math.nan
    fns = (fm.daily_ic, fm.daily_rank_ic, fm.daily_factor_return)
    expected = [fn(f, y, mask) for fn in fns]
    monkeypatch.setattr(fm, "_SKIP_SHARE", skip_share)
    monkeypatch.setattr(fm, "_REDO_ALL_SHARE", redo_all_share)
    for fn, want in zip(fns, expected, strict=True):
        np.testing.assert_allclose(fn(f, y, mask).numpy(), want.numpy(), atol=1e-12)
    np.testing.assert_allclose(fm.daily_rank_ic(f, y, mask).numpy(),
                               _reference(f, y, mask, _spearman), atol=1e-12)


def test_min_stocks_and_constant_days_give_nan_not_zero() -> None:
    g = torch.Generator().manual_seed(5)
    f = torch.randn(6, 20, generator=g)
    y = torch.randn(6, 20, generator=g)
    f[1, 11:] = math.nan  # 11 valid stocks: kept at min_stocks=10, dropped at 12
    f[2] = 3.25  # constant factor
    y[3] = 0.1  # constant target
    f[4, :] = torch.arange(20.0) * 1e6 + 1e9  # large offset: still a perfect correlation
    y[4, :] = torch.arange(20.0)
    ic = fm.daily_ic(f, y)
    ric = fm.daily_rank_ic(f, y)
    assert torch.isfinite(ic[[0, 1, 5]]).all() and torch.isfinite(ric[[0, 1, 5]]).all()
    assert torch.isnan(ic[[2, 3]]).all() and torch.isnan(ric[[2, 3]]).all()
    assert ic[4].item() == pytest.approx(1.0, abs=1e-12) and ric[4].item() == 1.0
    assert torch.isnan(fm.daily_ic(f, y, min_stocks=12)[1])
    assert torch.isnan(fm.daily_factor_return(f, y)[2])


def test_ranks_helper_matches_rank_average() -> None:
    g = torch.Generator().manual_seed(6)
    x = torch.round(torch.randn(50, 37, generator=g) * 3) / 3
    valid = torch.rand(50, 37, generator=g) > 0.2
    valid[7] = False
    ranked = fm._ranks(x, valid)
    expected = rank_average(torch.where(valid, x, math.nan))
    np.testing.assert_array_equal(ranked.ranks[valid].numpy(), expected[valid].numpy())
    assert not bool(ranked.tied[7])
    # Ranks over a subset, from the known order (no new sort), tied rows included.
    subset = valid & (torch.rand(50, 37, generator=g) > 0.3)
    got = fm._subset_ranks(x, ranked.order, ranked.tied, subset)
    expected = rank_average(torch.where(subset, x, math.nan))
    np.testing.assert_array_equal(got[subset].numpy(), expected[subset].numpy())


@given(
    values=st.lists(st.integers(-3, 3), min_size=12, max_size=12),
    other=st.lists(st.floats(-1e3, 1e3, allow_nan=False, allow_subnormal=False), min_size=12,
                   max_size=12),
)
@settings(max_examples=60, deadline=None)
def test_rank_ic_matches_spearman_on_small_tied_days(values: list[int], other: list[float]) -> None:
    f = torch.tensor(values, dtype=torch.float32).reshape(1, 12)
    y = torch.tensor(other, dtype=torch.float32).reshape(1, 12)
    got = fm.daily_rank_ic(f, y).item()
    if len(set(values)) == 1 or len(set(y[0].tolist())) == 1:
        assert math.isnan(got)
    else:
        assert got == pytest.approx(stats.spearmanr(f[0].double(), y[0].double())[0], abs=1e-12)


def test_rank_ic_invariant_to_monotone_maps_and_ic_to_affine_ones() -> None:
    f, y, mask = _data(7, ties=False)
    base_r = fm.daily_rank_ic(f, y, mask)
    np.testing.assert_allclose(fm.daily_rank_ic(torch.exp(f), y, mask).numpy(), base_r.numpy(),
                               atol=1e-12)
    scale = torch.linspace(0.5, 3.0, f.shape[1]).reshape(-1, 1)
    np.testing.assert_allclose(fm.daily_ic(f * scale - 7.0, y, mask).numpy(),
                               fm.daily_ic(f, y, mask).numpy(), atol=1e-6)


def test_summarize_matches_numpy() -> None:
    g = np.random.default_rng(8)
    s = g.normal(0.02, 0.05, size=(3, 200))
    s[g.random(s.shape) < 0.1] = np.nan
    s[2, :] = np.nan
    s[2, 5] = 0.3  # a single finite day: mean and hit rate known, std undefined
    stats_ = fm.summarize(torch.from_numpy(s))
    for k in range(2):
        v = s[k][np.isfinite(s[k])]
        assert stats_.mean[k].item() == pytest.approx(v.mean(), abs=1e-15)
        assert stats_.std[k].item() == pytest.approx(v.std(ddof=1), rel=1e-12)
        assert stats_.ir[k].item() == pytest.approx(v.mean() / v.std(ddof=1), rel=1e-12)
        assert stats_.t_stat[k].item() == pytest.approx(
            v.mean() / v.std(ddof=1) * math.sqrt(v.size), rel=1e-12)
        assert stats_.hit_rate[k].item() == pytest.approx((v > 0).mean(), abs=1e-15)
        assert int(stats_.n_days[k]) == v.size
    one = stats_[2].to_dict()
    assert one["mean"] == 0.3 and one["n_days"] == 1 and one["hit_rate"] == 1.0
    assert math.isnan(one["std"]) and math.isnan(one["ir"])
    with pytest.raises(ConfigError, match="one series"):
        stats_.to_dict()


def _alphalens_factor_data(f: np.ndarray, y: np.ndarray, dates: pd.DatetimeIndex,
                           assets: list[str]) -> pd.DataFrame:
    """alphalens' canonical frame from our factor and our forward returns (identical inputs)."""
    from alphalens import utils

    index = pd.MultiIndex.from_product([dates, assets], names=["date", "asset"])
    factor = pd.Series(f.reshape(-1).astype(np.float64), index=index).dropna()
    forward = pd.DataFrame({"1D": y.reshape(-1).astype(np.float64)}, index=index)
    forward.index.levels[0].freq = None
    # One bin instead of quantiles: quantile binning would drop days with heavy ties.
    return utils.get_clean_factor(factor, forward, quantiles=None, bins=1, max_loss=1.0)


def test_rank_ic_matches_alphalens() -> None:
    from alphalens import performance

    f, y, _ = _data(9, k=2, t=25, n=60)
    dates = pd.bdate_range("2020-01-01", periods=25)
    assets = [f"S{i:02d}" for i in range(60)]
    ours = fm.daily_rank_ic(f, y, min_stocks=2)
    for k in range(2):
        data = _alphalens_factor_data(f[k].numpy(), y.numpy(), dates, assets)
        ic = performance.factor_information_coefficient(data)["1D"]
        assert len(ic) >= 24  # factor 1 has no value on day 4
        got = pd.Series(ours[k].numpy(), index=dates).loc[ic.index]
        np.testing.assert_allclose(got.to_numpy(), ic.to_numpy(), atol=1e-6, rtol=0)
        mean_ic = performance.mean_information_coefficient(data)["1D"]
        assert fm.summarize(ours[k]).mean.item() == pytest.approx(mean_ic, abs=1e-6)


def test_evaluate_factors_report_and_table() -> None:
    f, y, mask = _data(10)
    report = fm.evaluate_factors(f, y, mask)
    np.testing.assert_array_equal(report.ic_series.numpy(), fm.daily_ic(f, y, mask).numpy())
    assert report.rank_ic.mean.shape == (3,)
    expected_cov = (torch.isfinite(f) & mask).sum((1, 2)).double() / mask.sum()
    np.testing.assert_allclose(report.coverage.numpy(), expected_cov.numpy())
    table = report.table(["a", "b", "c"])
    assert table.columns[:4] == ["factor", "ic", "ic_std", "icir"]
    assert {"rank_ic", "rank_icir", "ic_t", "rank_ic_hit_rate", "coverage"} <= set(table.columns)
    assert table["icir"][1] == pytest.approx(report.ic.ir[1].item())
    with pytest.raises(ConfigError, match="2 names for 3 factors"):
        report.table(["a", "b"])


def test_forward_returns_and_ic_decay() -> None:
    g = torch.Generator().manual_seed(11)
    t, n = 60, 30
    price = torch.exp(torch.cumsum(torch.randn(t, n, generator=g) * 0.02, 0)) * 50
    fwd = fm.forward_returns(price, 5)
    assert fwd[10, 3].item() == pytest.approx((price[16, 3] / price[11, 3] - 1).item(), rel=1e-6)
    assert torch.isnan(fwd[-6:]).all() and torch.isfinite(fwd[:-6]).all()
    # A factor that is the future 3-day return: IC decays away from horizon 3.
    factor = fm.forward_returns(price, 3).float()
    decay = fm.ic_decay(factor, price, horizons=[1, 3, 10])
    assert decay.shape == (3,)
    assert decay[1].item() == pytest.approx(1.0, abs=1e-9)
    assert decay[0] < decay[1] and decay[2] < decay[1]
    assert fm.ic_decay(torch.stack([factor, -factor]), price, [3], rank=False).shape == (2, 1)
    with pytest.raises(ConfigError, match="horizon"):
        fm.forward_returns(price, 0)


def test_autocorrelation_and_turnover() -> None:
    g = torch.Generator().manual_seed(12)
    t, n = 40, 50
    steady = torch.randn(1, n, generator=g).expand(t, n)
    noise = torch.randn(t, n, generator=g)
    both = torch.stack([steady, noise])
    ac = fm.autocorrelation(both)
    assert ac[0].item() == pytest.approx(1.0)
    assert abs(ac[1].item()) < 0.1
    daily = fm.daily_autocorrelation(noise, lag=2)
    assert torch.isnan(daily[:2]).all()
    assert daily[7].item() == pytest.approx(stats.spearmanr(noise[7], noise[5])[0], abs=1e-12)
    to = fm.daily_turnover(both)
    assert torch.isnan(to[:, 0]).all()
    assert (to[0, 1:] == 0).all()
    top = lambda day: set(torch.argsort(noise[day])[-10:].tolist())  # noqa: E731
    expected = len(top(9) - top(8)) / 10
    assert to[1, 9].item() == pytest.approx(expected)
    assert 0.6 < fm.turnover(noise).item() < 0.95  # independent days: ~80% of the top is new


def test_turnover_hand_example() -> None:
    f = torch.tensor([[1.0, 2, 3, 4, 5, 6, 7, 8, 9, 10],
                      [10.0, 9, 8, 7, 6, 5, 4, 3, 2, 1],
                      [10.0, 9, 8, 7, 6, 5, 4, 3, 2, math.nan]])
    to = fm.daily_turnover(f, quantile=0.2, min_stocks=5)
    assert math.isnan(to[0].item()) and to[1].item() == 1.0
    # Day 2: 9 valid names, top 20% = percentile rank > 0.8 -> ranks 8 and 9 (values 9, 10).
    assert to[2].item() == 0.0


def test_series_correlation_pairwise_complete() -> None:
    g = np.random.default_rng(13)
    a = g.normal(size=(3, 80))
    b = np.vstack([a[0] * 2 + 1, -a[1], g.normal(size=80), np.full(80, 0.5)])
    a[0, :10] = np.nan
    b[2, 50:] = np.nan
    got = fm.series_correlation(torch.from_numpy(a), torch.from_numpy(b)).numpy()
    for i in range(3):
        for j in range(3):
            ok = np.isfinite(a[i]) & np.isfinite(b[j])
            assert got[i, j] == pytest.approx(np.corrcoef(a[i][ok], b[j][ok])[0, 1], abs=1e-10)
    assert np.isnan(got[:, 3]).all()
    assert got[0, 0] == pytest.approx(1.0) and got[1, 1] == pytest.approx(-1.0)


def test_fitness_scores_gates_and_metric_choice() -> None:
    f, y, mask = _data(14, k=2, n=250, ties=False)  # 1% of 250 names: > 2 distinct values
    f[1] = -f[0]  # the negation scores the same |IC|
    constant = torch.ones_like(f[0]).unsqueeze(0)
    sparse = f[:1].clone()
    sparse[:, :, 5:] = math.nan  # far fewer values than the target: gated
    stack = torch.cat([f, constant, sparse])
    fit = ff.fitness(stack, y, mask, metric="ic")
    assert fit.score[0].item() == pytest.approx(fit.score[1].item(), abs=1e-12)
    assert fit.score[0] > 0
    assert fit.passes_gate.tolist() == [True, True, False, False]
    assert fit.score[2].item() == 0.0 and fit.score[3].item() == 0.0
    ic = fm.summarize(fm.daily_ic(f, y, mask))
    assert fit.ic_mean[0].item() == pytest.approx(abs(ic.mean[0].item()))
    assert fit.icir[0].item() == pytest.approx(abs(ic.mean[0].item()) / ic.std[0].item())
    assert fit.rank_ic_mean is None and fit.ret_series.shape == (4, f.shape[1])
    ranked = ff.fitness(f, y, mask, metric="rank_icir")
    rank = fm.summarize(fm.daily_rank_ic(f, y, mask))
    assert ranked.score[0].item() == pytest.approx(abs(rank.mean[0].item()) / rank.std[0].item())
    assert ranked.rank_ic_mean is not None
    # The factor return of z-scored sides: close to the IC on each day.
    assert torch.corrcoef(torch.stack([fit.ret_series[0], fm.daily_ic(f[0], y, mask)]).nan_to_num()
                          )[0, 1] > 0.99
    assert ff.fitness(f, y, mask, gate_day=0).passes_gate.all()
    with pytest.raises(ConfigError, match="unknown fitness metric"):
        ff.fitness(f, y, mask, metric="sharpe")  # type: ignore[arg-type]


def test_gate_skips_the_warm_up_of_windowed_factors() -> None:
    f, y, mask = _data(15, k=1, ties=False)
    warm = f.clone()
    warm[:, :7] = math.nan  # a 7-day window warm-up
    assert ff.passes_gate(warm, y, mask).item()
    assert not ff.passes_gate(warm, y, mask, day=0).item()


def test_shape_errors_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="do not broadcast"):
        fm.daily_ic(torch.zeros(2, 5, 7), torch.zeros(5, 8))
    with pytest.raises(ConfigError, match="T days, N stocks"):
        fm.daily_ic(torch.zeros(7), torch.zeros(7))


@pytest.mark.skipif(not US_FILE.exists(), reason="shared data folder absent")
def test_us_sanity_figures_from_the_data_readme() -> None:
    """README of the shared data: RankIC vs close[t+21]/close[t+1]-1, days with >= 20 names:
    20-day low volatility -0.017 (ICIR -0.10), 5-day reversal +0.014 (ICIR +0.11)."""
    import polars as pl

    from engine.data.panel import build

    panel = build(pl.read_parquet(US_FILE))
    close = panel.feature("close")
    target = fm.forward_returns(close, 20)
    daily_ret = close / torch.roll(close, 1, 0) - 1
    daily_ret[0] = math.nan
    low_vol = -daily_ret.unfold(0, 20, 1).std(-1)
    low_vol = torch.cat([torch.full((19, close.shape[1]), math.nan), low_vol])
    reversal = -(close / torch.roll(close, 5, 0) - 1)
    reversal[:5] = math.nan
    stats_ = fm.summarize(fm.daily_rank_ic(torch.stack([low_vol, reversal]), target.float(),
                                           panel.universe, min_stocks=20))
    assert stats_.mean[0].item() == pytest.approx(-0.017, abs=0.0015)
    assert stats_.ir[0].item() == pytest.approx(-0.10, abs=0.015)
    assert stats_.mean[1].item() == pytest.approx(0.014, abs=0.0015)
    assert stats_.ir[1].item() == pytest.approx(0.11, abs=0.015)
