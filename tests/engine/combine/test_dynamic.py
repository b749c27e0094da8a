"""Dynamic Mega-Alpha: equals a naive re-fit-every-day reference, selection rules, reasons."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import rankdata

from engine.combine import CombineConfig, combine
from engine.combine.dynamic import lookback_bounds, window_stats
from engine.combine.reasons import reason_texts
from engine.errors import ConfigError
from engine.i18n import Translator

# ---------------------------------------------------------------------------------------------
# Naive reference: everything recomputed from the look-back rows for every scored day.


def _zscore_day(x: np.ndarray) -> np.ndarray:
    ok = np.isfinite(x)
    out = np.full_like(x, np.nan)
    if ok.sum() >= 2 and np.std(x[ok]) > 1e-12:
        out[ok] = (x[ok] - x[ok].mean()) / x[ok].std()
    return out


def _corr(a: np.ndarray, b: np.ndarray, min_stocks: int) -> float:
    if len(a) < min_stocks or np.ptp(a) == 0 or np.ptp(b) == 0:
        return np.nan
    return float(np.corrcoef(a, b)[0, 1])


def naive_dynamic(f: np.ndarray, y: np.ndarray, uni: np.ndarray, days: np.ndarray,
                  cfg: CombineConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Score [T, N], coefficients [T, K] and intercepts [T] by re-fitting every day."""
    k, t, n = f.shape
    z = np.stack([[_zscore_day(np.where(uni[d], f[j, d], np.nan)) for d in range(t)]
                  for j in range(k)])
    yv = np.where(uni & np.isfinite(y), y, np.nan)
    score = np.full((t, n), np.nan)
    coefs = np.zeros((t, k))
    inters = np.zeros(t)
    for day in np.flatnonzero(days):
        hi = max(day - cfg.gap, 0)
        lo = 0 if cfg.window is None else max(hi - cfg.window, 0)
        look = range(lo, hi)
        realised = sum(np.isfinite(yv[d]).sum() >= cfg.min_stocks for d in look)
        if realised < cfg.min_lookback_days:
            continue
        ric = np.full((k, max(hi - lo, 0)), np.nan)
        for j in range(k):
            for i, d in enumerate(look):
                ok = np.isfinite(z[j, d]) & np.isfinite(yv[d])
                ric[j, i] = _corr(rankdata(z[j, d][ok]), rankdata(yv[d][ok]), cfg.min_stocks)
        stats = []
        for j in range(k):
            v = ric[j][np.isfinite(ric[j])]
            m = v.mean() if len(v) else np.nan
            sd = v.std(ddof=1) if len(v) > 1 else np.nan
            stats.append((m, m / sd if sd > 0 else np.nan))
        qual = [j for j, (m, ir) in enumerate(stats)
                if np.isfinite(ir) and abs(m) > cfg.rank_ic_threshold
                and abs(ir) > cfg.rank_icir_threshold]
        qual.sort(key=lambda j: -abs(stats[j][1]))
        chosen = qual[: cfg.n_factors]
        if not chosen:
            finite = [j for j in range(k) if np.isfinite(stats[j][1])]
            chosen = [max(finite, key=lambda j: abs(stats[j][1]))] if finite else []
        if not chosen:
            continue
        rows_x, rows_y = [], []
        for d in look:
            ok = np.isfinite(yv[d])
            rows_x.append(np.nan_to_num(z[chosen][:, d][:, ok].T, nan=0.0))
            rows_y.append(yv[d][ok])
        x = np.concatenate(rows_x)
        x = np.column_stack([np.ones(len(x)), x])
        sol = np.linalg.lstsq(x, np.concatenate(rows_y), rcond=None)[0]
        inters[day] = sol[0]
        coefs[day, chosen] = sol[1:]
        zd = np.nan_to_num(z[chosen][:, day], nan=0.0)
        s = sol[0] + sol[1:] @ zd
        informed = np.isfinite(z[chosen][:, day]).any(0) & uni[day]
        score[day] = np.where(informed, s, np.nan)
    return score, coefs, inters


def planted(k: int, t: int, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Factors where two carry signal (one negative), with missing values; target [T, N]."""
    g = torch.Generator().manual_seed(seed)
    f = torch.randn(k, t, n, generator=g, dtype=torch.float64)
    y = 0.02 * f[0] - 0.015 * f[1] + 0.01 * f[2] + 0.08 * torch.randn(t, n, generator=g,
                                                                     dtype=torch.float64)
    f[:, torch.rand(t, n, generator=g) < 0.05] = float("nan")
    f[k - 1][torch.rand(t, n, generator=g) < 0.3] = float("nan")
    y[torch.rand(t, n, generator=g) < 0.03] = float("nan")
    return f.to(torch.float32), y.to(torch.float32)


@pytest.mark.parametrize(("window", "n_factors", "seed"), [(30, 10, 0), (None, 2, 1), (12, 1, 2)])
def test_incremental_equals_naive_refit(window: int | None, n_factors: int, seed: int) -> None:
    k, t, n = 6, 90, 40
    f, y = planted(k, t, n, seed)
    uni = torch.rand(t, n, generator=torch.Generator().manual_seed(seed)) > 0.1
    cfg = CombineConfig(window=window, n_factors=n_factors, horizon=3, min_lookback_days=5)
    days = np.zeros(t, dtype=bool)
    days[20:] = True
    res = combine(f, y, names=[f"f{i}" for i in range(k)], dates=np.arange(t).astype(
        "datetime64[D]"), score_days=days, universe=uni, config=cfg)
    score, coefs, inters = naive_dynamic(f.numpy().astype(np.float64), y.numpy().astype(
        np.float64), uni.numpy(), days, cfg)
    np.testing.assert_allclose(res.score.numpy(), score, rtol=1e-5, atol=1e-6)
    w = res.weights
    got = w["coef"].to_numpy().reshape(-1, k)
    np.testing.assert_allclose(got, coefs[days], rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(w["intercept"].to_numpy().reshape(-1, k)[:, 0], inters[days],
                               rtol=1e-6, atol=1e-9)
    assert np.isfinite(score[days]).any()  # the comparison is not vacuous


def test_window_stats_match_direct_computation() -> None:
    g = torch.Generator().manual_seed(3)
    s = torch.randn(3, 50, generator=g, dtype=torch.float64)
    s[0, 5:9] = float("nan")
    lo, hi = np.array([0, 3, 10]), np.array([20, 40, 11])
    mean, std, n = window_stats(s, lo, hi)
    for d in range(3):
        for j in range(3):
            v = s[j, lo[d]:hi[d]].numpy()
            v = v[np.isfinite(v)]
            assert n[d, j] == len(v)
            assert mean[d, j] == pytest.approx(v.mean())
            if len(v) > 1:
                assert std[d, j] == pytest.approx(v.std(ddof=1))
            else:
                assert torch.isnan(std[d, j])


def test_lookback_leaves_the_gap() -> None:
    days = np.zeros(100, dtype=bool)
    days[[30, 99]] = True
    lo, hi = lookback_bounds(days, CombineConfig(window=10, horizon=20))
    assert hi.tolist() == [30 - 21, 99 - 21]
    assert lo.tolist() == [0, 99 - 21 - 10]


def test_selection_flips_negative_factors_and_explains_itself() -> None:
    k, t, n = 6, 160, 80
    f, y = planted(k, t, n, 5)
    cfg = CombineConfig(window=60, n_factors=2, horizon=2)
    res = combine(f, y, names=[f"f{i}" for i in range(k)], dates=np.arange(t).astype(
        "datetime64[D]"), score_days=100, config=cfg)
    last = res.weights.filter(res.weights["date"] == res.weights["date"].max())
    by = {r["factor"]: r for r in last.iter_rows(named=True)}
    assert by["f0"]["active"] and by["f1"]["active"]
    assert by["f1"]["flipped"] and by["f1"]["rank_ic"] < 0 and by["f1"]["coef"] < 0
    why = dict(zip(last["factor"], reason_texts(last, Translator("en")), strict=True))
    assert by["f1"]["reason"] == "selected"
    assert "sign flipped" in why["f1"] and "of 2" in why["f1"]
    assert not by["f2"]["active"] and by["f2"]["reason"] == "beyond_top"
    assert "only the top 2" in why["f2"]  # qualifies but beyond n_factors
    assert why["f4"].startswith("not selected: |RankIC|")
    assert {by["f0"]["rank"], by["f1"]["rank"]} == {1, 2} and by["f4"]["rank"] is None
    assert res.daily.height == 60 and res.summary()["rank_ic"] > 0.1


def test_fallback_keeps_the_single_best() -> None:
    k, t, n = 4, 120, 60
    g = torch.Generator().manual_seed(0)
    f = torch.randn(k, t, n, generator=g)
    y = 0.002 * f[2] + torch.randn(t, n, generator=g)  # nothing passes the thresholds
    cfg = CombineConfig(window=50, horizon=1, rank_ic_threshold=0.5)
    res = combine(f, y, names=list("abcd"), dates=np.arange(t).astype("datetime64[D]"),
                  score_days=80, config=cfg)
    active = res.weights.filter("active")
    assert active.group_by("date").len()["len"].max() == 1
    assert (active["reason"] == "fallback").all()
    assert all(r.startswith("fallback") for r in reason_texts(active, Translator("en")))
    assert res.daily["n_active"].to_list() == [1] * 40


def test_early_days_without_history_are_not_scored() -> None:
    k, t, n = 3, 60, 30
    f, y = planted(k, t, n, 1)
    cfg = CombineConfig(window=None, horizon=5, min_lookback_days=10)
    res = combine(f, y, names=list("abc"), dates=np.arange(t).astype("datetime64[D]"),
                  score_days=0, config=cfg)
    # day d has d - 6 look-back days
    assert torch.isnan(res.score[:16]).all() and torch.isfinite(res.score[16]).any()
    first = res.weights.filter(res.weights["date"] == res.weights["date"].min())
    assert first["reason"][0] == "not_scored"
    assert reason_texts(first, Translator("en"))[0].startswith(
        "not scored: the look-back has 0 days")
    assert not first["active"].any()


def test_score_is_nan_where_no_active_factor_has_a_value() -> None:
    k, t, n = 3, 80, 30
    f, y = planted(k, t, n, 2)
    f = torch.nan_to_num(f)
    f[:, 70:, 0] = float("nan")
    uni = torch.ones(t, n, dtype=torch.bool)
    uni[75:, 1] = False
    res = combine(f, y, names=list("abc"), dates=np.arange(t).astype("datetime64[D]"),
                  score_days=60, universe=uni, config=CombineConfig(horizon=2, window=30))
    assert torch.isnan(res.score[70:, 0]).all()
    assert torch.isnan(res.score[75:, 1]).all()
    assert torch.isfinite(res.score[60:, 2:]).all()
    assert torch.isnan(res.score[:60]).all()


def test_config_round_trip_and_errors() -> None:
    cfg = CombineConfig(method="static", window=None, n_factors=5)
    assert CombineConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ConfigError, match="unknown combination method 'magic'"):
        CombineConfig(method="magic")
    with pytest.raises(ConfigError, match="unknown field"):
        CombineConfig.from_dict({"windw": 3})
    with pytest.raises(ConfigError, match="window must be an integer"):
        CombineConfig.from_dict({"window": 2.5})
    with pytest.raises(ConfigError, match="rank_ic_threshold must be a number"):
        CombineConfig.from_dict({"rank_ic_threshold": "0.02"})
    with pytest.raises(ConfigError, match="schema_version 9"):
        CombineConfig.from_dict({"schema_version": 9})
    assert CombineConfig.from_dict({"window": None}).window is None
    f = torch.zeros(2, 10, 5)
    with pytest.raises(ConfigError, match="target shape"):
        combine(f, torch.zeros(10, 4), names=["a", "b"], dates=np.arange(10).astype(
            "datetime64[D]"), score_days=5)
    with pytest.raises(ConfigError, match="distinct factor names"):
        combine(f, torch.zeros(10, 5), names=["a", "a"], dates=np.arange(10).astype(
            "datetime64[D]"), score_days=5)
    with pytest.raises(ConfigError, match="start index 10"):
        combine(f, torch.zeros(10, 5), names=["a", "b"], dates=np.arange(10).astype(
            "datetime64[D]"), score_days=10)


def test_scores_long_round_trip() -> None:
    f, y = planted(3, 60, 20, 4)
    res = combine(f, y, names=list("abc"), dates=np.arange(60).astype("datetime64[D]"),
                  score_days=40, config=CombineConfig(horizon=2, window=20))
    long = res.scores_long([f"T{i}" for i in range(20)])
    assert long.height == int(torch.isfinite(res.score).sum())
    assert long.columns == ["date", "ticker", "score"]
