"""Static baselines: equal weight, static OLS, IC-weighted; training-day trimming."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
import torch

from engine.combine import COMBINE_METHODS, CombineConfig, combine
from engine.combine.reasons import reason_texts
from engine.errors import ConfigError
from engine.expr.xsection import zscore
from engine.i18n import Translator
from engine.metrics.factor import daily_ic
from tests.engine.combine.test_dynamic import planted

EN = Translator("en")
K, T, N = 5, 120, 50
DATES = np.arange(T).astype("datetime64[D]")
NAMES = [f"f{i}" for i in range(K)]


def fit(method: str, score_days: int = 80, train_days: np.ndarray | None = None,
        horizon: int = 3):
    f, y = planted(K, T, N, 11)
    cfg = CombineConfig(method=method, horizon=horizon)
    res = combine(f, y, names=NAMES, dates=DATES, score_days=score_days, train_days=train_days,
                  config=cfg)
    return f, y, res


def training_ic(f: torch.Tensor, y: torch.Tensor, last: int) -> np.ndarray:
    ic = daily_ic(zscore(f), y.to(torch.float64))[:, :last]
    return np.nanmean(ic.numpy(), axis=1)


def coef_of(res) -> np.ndarray:
    first = res.weights.filter(res.weights["date"] == res.weights["date"].min())
    return first["coef"].to_numpy()


def test_registry_covers_every_method() -> None:
    assert COMBINE_METHODS.names() == ("dynamic", "equal", "static", "icweighted")
    assert all(callable(m.fitter()) for m in COMBINE_METHODS.entries())


def test_equal_weight_uses_training_ic_signs() -> None:
    f, y, res = fit("equal")
    mean_ic = training_ic(f, y, 80 - 4)  # days realised before day 80 with h = 3
    expected = np.sign(mean_ic) / K
    np.testing.assert_allclose(coef_of(res), expected)
    flipped = res.weights.filter(res.weights["date"] == res.weights["date"].min())["flipped"]
    assert flipped.to_list() == (mean_ic < 0).tolist()
    z = torch.nan_to_num(zscore(f), nan=0.0).to(torch.float64)
    manual = torch.einsum("k,ktn->tn", torch.from_numpy(expected), z)
    ok = torch.isfinite(res.score[80:])
    assert ok.float().mean() > 0.9
    torch.testing.assert_close(res.score[80:][ok].to(torch.float64), manual[80:][ok],
                               rtol=1e-5, atol=1e-6)
    # the weights history repeats the fixed weights on every scored day
    assert res.weights.height == K * (T - 80)
    assert res.weights.group_by("factor").agg(pl.col("coef").n_unique())["coef"].max() == 1


def test_icweighted_is_proportional_to_training_ic() -> None:
    f, y, res = fit("icweighted")
    mean_ic = training_ic(f, y, 80 - 4)
    np.testing.assert_allclose(coef_of(res), mean_ic / np.abs(mean_ic).sum(), rtol=1e-9)


def test_static_ols_matches_pooled_lstsq_on_training_rows() -> None:
    f, y, res = fit("static")
    z = zscore(f).to(torch.float64).numpy()
    yv = y.to(torch.float64).numpy()
    xs, ys = [], []
    for d in range(80 - 4):
        ok = np.isfinite(yv[d])
        xs.append(np.nan_to_num(z[:, d, ok].T, nan=0.0))
        ys.append(yv[d, ok])
    x = np.column_stack([np.ones(sum(len(v) for v in ys)), np.concatenate(xs)])
    sol = np.linalg.lstsq(x, np.concatenate(ys), rcond=None)[0]
    np.testing.assert_allclose(coef_of(res), sol[1:], rtol=1e-7, atol=1e-10)
    first = res.weights.filter(res.weights["date"] == res.weights["date"].min())
    assert first["intercept"][0] == pytest.approx(sol[0], rel=1e-7, abs=1e-10)
    assert "static OLS on 76 training days" in reason_texts(first, EN)[0]
    assert "정적 OLS" in reason_texts(first, Translator("ko"))[0]


def test_training_days_too_close_to_the_test_are_dropped() -> None:
    train = np.zeros(T, dtype=bool)
    train[:80] = True  # up to the day before the first scored day
    _, _, res = fit("static", train_days=train)
    assert "on 76 training days" in reason_texts(res.weights.head(1), EN)[0]


def test_too_few_training_days_is_an_error_that_says_why() -> None:
    train = np.zeros(T, dtype=bool)
    train[70:80] = True
    with pytest.raises(ConfigError, match="training days .* leave 6"):
        fit("equal", train_days=train)
