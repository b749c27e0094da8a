"""Portfolio statistics: parity with empyrical-reloaded to 1e-8, drawdown dates, edge cases."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest

from engine.errors import ConfigError
from engine.metrics import portfolio as pf

empyrical = pytest.importorskip("empyrical")

TOL = 1e-8


def series(seed: int, n: int = 600, mean: float = 3e-4, vol: float = 0.012) -> pd.Series:
    rng = np.random.default_rng(seed)
    index = pd.bdate_range("2016-01-04", periods=n)
    return pd.Series(rng.normal(mean, vol, n), index=index)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("rf", [0.0, 0.03])
def test_parity_with_empyrical(seed: int, rf: float) -> None:
    r = series(seed)
    b = series(seed + 100, mean=2e-4, vol=0.009)
    s = pf.summary(r, b, rf=rf)
    rf_d = rf / 252
    assert s.cumulative_return == pytest.approx(empyrical.cum_returns_final(r), abs=TOL)
    assert s.annual_return == pytest.approx(empyrical.annual_return(r), abs=TOL)
    assert s.annual_volatility == pytest.approx(empyrical.annual_volatility(r), abs=TOL)
    assert s.sharpe == pytest.approx(empyrical.sharpe_ratio(r, risk_free=rf_d), abs=TOL)
    assert s.sortino == pytest.approx(empyrical.sortino_ratio(r, required_return=rf_d), abs=TOL)
    assert s.max_drawdown == pytest.approx(empyrical.max_drawdown(r), abs=TOL)
    assert s.calmar == pytest.approx(empyrical.calmar_ratio(r), abs=TOL)
    assert s.information_ratio == pytest.approx(
        empyrical.excess_sharpe(r, b) * math.sqrt(252), abs=TOL)
    assert s.excess_return == pytest.approx(
        empyrical.annual_return(r) - empyrical.annual_return(b), abs=TOL)
    assert s.tracking_error == pytest.approx(empyrical.annual_volatility(r - b), abs=TOL)
    monthly = empyrical.aggregate_returns(r, "monthly")
    assert len(monthly) == s.monthly.height
    np.testing.assert_allclose(s.monthly["return"].to_numpy(), monthly.to_numpy(), atol=TOL)
    assert s.hit_rate == pytest.approx(float((r > 0).mean()), abs=TOL)


def test_parity_on_a_losing_series_and_drawdown_series() -> None:
    r = series(7, mean=-8e-4, vol=0.02)
    s = pf.summary(r)
    assert s.annual_return < 0
    assert s.calmar == pytest.approx(empyrical.calmar_ratio(r), abs=TOL)
    assert s.sortino == pytest.approx(empyrical.sortino_ratio(r), abs=TOL)
    np.testing.assert_allclose(pf.drawdown_series(r.to_numpy()),
                               empyrical.stats.drawdown_series(r).to_numpy(), atol=TOL)


def test_drawdown_dates_and_duration() -> None:
    idx = pd.bdate_range("2020-01-01", periods=8)
    # wealth: 1.1, 1.21, 0.968, 0.8712, 1.0454, 1.2545 (recovered above 1.21), 1.2545, 1.2545
    r = pd.Series([0.1, 0.1, -0.2, -0.1, 0.2, 0.2, 0.0, 0.0], index=idx)
    dd = pf.summary(r).drawdown
    assert dd.depth == pytest.approx(0.8712 / 1.21 - 1)
    assert dd.peak_date == idx[1].date()
    assert dd.trough_date == idx[3].date()
    assert dd.recovery_date == idx[5].date()
    assert dd.peak_to_trough_days == 2
    assert dd.duration_days == 4
    assert dd.recovered


def test_drawdown_from_the_start_not_recovered() -> None:
    idx = pd.bdate_range("2020-01-01", periods=4)
    dd = pf.max_drawdown(np.array([-0.1, 0.05, -0.2, 0.01]), idx.to_numpy())
    assert dd.peak_date is None  # the starting capital
    assert dd.trough_date == idx[2].date()
    assert dd.recovery_date is None and not dd.recovered
    assert dd.duration_days == 4


def test_never_falls() -> None:
    r = pd.Series([0.01, 0.02, 0.0], index=pd.bdate_range("2020-01-01", periods=3))
    s = pf.summary(r)
    assert s.max_drawdown == 0.0 and math.isnan(s.calmar)
    assert math.isnan(s.sortino) or s.sortino == math.inf or s.sortino > 0


def test_to_dict_states_conventions_and_is_json_ready() -> None:
    import json

    r = series(1, n=300)
    d = pf.summary(r, series(2, n=300), rf=0.02, turnover=r.abs()).to_dict()
    assert "conventions" in d and "252" in d["conventions"]["annual_return"]
    assert "geometric" in d["conventions"]["annual_return"]
    json.dumps(d)  # no NaN objects, dates as strings
    assert d["rf"] == 0.02 and d["turnover"] == pytest.approx(float(r.abs().mean()))
    assert d["monthly"][0]["year"] == 2016


def test_monthly_table_is_wide() -> None:
    s = pf.summary(series(3, n=300))
    table = s.monthly_table()
    assert table.columns == ["year"] + [str(m) for m in range(1, 13)]
    jan = s.monthly.filter(year=2016, month=1)["return"][0]
    assert table.filter(year=2016)["1"][0] == pytest.approx(jan)


def test_benchmark_gaps_only_shrink_the_relative_statistics() -> None:
    r = series(4, n=100)
    b = series(5, n=100)
    b.iloc[10:20] = np.nan
    s = pf.summary(r, b)
    assert s.benchmark_days == 90
    keep = b.notna()
    assert s.information_ratio == pytest.approx(
        empyrical.excess_sharpe(r[keep], b[keep]) * math.sqrt(252), abs=TOL)


def test_errors_name_the_problem() -> None:
    r = series(0, n=10)
    r.iloc[3] = np.nan
    with pytest.raises(ConfigError, match=str(r.index[3].date())):
        pf.summary(r)
    with pytest.raises(ConfigError, match="at least 2"):
        pf.summary(series(0, n=1))
    with pytest.raises(ConfigError, match="pandas Series"):
        pf.summary(np.zeros(5))  # type: ignore[arg-type]


def test_start_end_dates() -> None:
    s = pf.summary(series(0, n=20))
    assert s.start == dt.date(2016, 1, 4) and s.n_days == 20
