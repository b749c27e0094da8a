"""Formulas are shown in their readable form beside the function form."""

from __future__ import annotations

import polars as pl

from engine.expr.mathtext import readable
from engine.mining.zoo import Factor, FactorSet
from engine.report import figures, series


def test_readable_simplifies_and_never_fails() -> None:
    assert readable("Mul(-1, Mul(-1, Div(Sub($high, $low), $close)))") == "(high - low) / close"
    assert readable("Mul(-1, ts_corr($close, $volume, 10))") == "-corr(close, volume, 10)"
    assert readable("not a formula (") == "not a formula ("


def test_zoo_and_factor_tables_carry_the_readable_form() -> None:
    zoo = FactorSet("z", (Factor("Sub($close, -2)", 0.05, {"train": {"ic": 0.05}}),))
    table = series.zoo_table(zoo, series.factor_labels(zoo.formulas))
    assert table.columns[:3] == ["label", "readable", "formula"]
    assert table.row(0, named=True)["readable"] == "close + 2"
    weights = pl.DataFrame({"factor": ["Sub($close, -2)"], "active": [True], "coef": [0.3],
                            "flipped": [False]})
    factors = series.factor_table(weights, {"Sub($close, -2)": "F1"})
    assert factors.row(0, named=True)["readable"] == "close + 2"


def test_weights_heatmap_hover_shows_both_forms() -> None:
    grid = pl.DataFrame({"date": [1, 2], "F1": [0.1, 0.2], "n_active": [1, 1]})
    fig = figures.weights_heatmap(grid, {"Sub($close, -2)": "F1"})
    assert fig.data[0].customdata[0][0] == "close + 2<br>Sub($close, -2)"
