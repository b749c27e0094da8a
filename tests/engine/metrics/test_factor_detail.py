"""factor_detail: a zoo's daily IC series, IC decay and mutual correlation."""

from __future__ import annotations

import numpy as np
import pytest

from engine.data.panel import build
from engine.data.synthetic import SyntheticConfig, generate
from engine.errors import ConfigError
from engine.metrics.formulas import factor_detail, factor_values, score_formulas

FORMULAS = ["ts_pctchange($close, 20)", "Mul(-1, ts_pctchange($close, 5))", "Abs($volume)"]


@pytest.fixture(scope="module")
def panel():  # type: ignore[no-untyped-def]
    return build(generate(SyntheticConfig(n_tickers=30, n_days=300, seed=4)))


def test_shapes_and_correlation(panel) -> None:  # type: ignore[no-untyped-def]
    detail = factor_detail(panel, FORMULAS, start="2015-06-01", decay_horizons=(1, 5, 20))
    n_days = int(panel.date_mask("2015-06-01", None).sum())
    assert detail.ic.height == n_days * len(FORMULAS)
    assert detail.decay.height == 3 * len(FORMULAS)
    corr = detail.correlation.select(FORMULAS).to_numpy()
    assert np.allclose(np.diag(corr), 1.0)
    assert np.allclose(corr, corr.T, atol=1e-9)


def test_mean_rank_ic_matches_score_formulas(panel) -> None:  # type: ignore[no-untyped-def]
    detail = factor_detail(panel, FORMULAS, start="2015-06-01")
    scores = score_formulas(panel, FORMULAS, start="2015-06-01")
    for row in scores.table.iter_rows(named=True):
        series = detail.ic.filter(detail.ic["formula"] == row["formula"])["rank_ic"].to_numpy()
        assert np.nanmean(series) == pytest.approx(row["rank_ic"], abs=1e-9)


def test_empty_range_is_refused(panel) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError, match="no trading days"):
        factor_detail(panel, FORMULAS, start="2030-01-01")


def test_factor_values_long_table(panel) -> None:  # type: ignore[no-untyped-def]
    frame = factor_values(panel, FORMULAS, ["F1", "F2", "F3"], start="2015-06-01")
    assert frame.columns == ["date", "ticker", "F1", "F2", "F3"]
    days = panel.date_mask("2015-06-01", None)
    assert frame.height == int(panel.universe[days].sum())
    row = frame.row(0, named=True)
    t = int(np.searchsorted(panel.dates, np.datetime64(row["date"])))
    n = list(panel.tickers).index(row["ticker"])
    from engine.expr.evaluate import Evaluator
    want = Evaluator(panel).evaluate(FORMULAS[0])[t, n].item()
    assert row["F1"] == pytest.approx(want, nan_ok=True)
