"""Naming the demo market's planted signal a mined formula found (engine.mining.planted)."""

from __future__ import annotations

import numpy as np

from engine.data.panel import Panel
from engine.data.synthetic import PLANTED_SIGNALS
from engine.mining.planted import MATCH_THRESHOLD, planted_matches


def test_each_planted_formula_matches_itself_and_its_mirror(small_panel: Panel) -> None:
    days = np.ones(small_panel.n_days, dtype=bool)
    mirror = [f"Mul(-1, {s.formula})" for s in PLANTED_SIGNALS]
    found = planted_matches(small_panel, [s.formula for s in PLANTED_SIGNALS] + mirror, days)
    for s, m in zip(PLANTED_SIGNALS, mirror, strict=True):
        own, back = found[s.formula], found[m]
        assert own is not None and own.signal == s.name and own.corr > 0.99
        assert back is not None and back.signal == s.name and back.corr < -0.99
        assert back.text() == f"{s.name} ({back.corr:+.2f})"


def test_an_unrelated_formula_matches_nothing(small_panel: Panel) -> None:
    days = small_panel.date_mask(None, "2015-09-30")
    found = planted_matches(small_panel, ["Div($volume, ts_mean($volume, 20))", "$open"], days)
    assert found == {"Div($volume, ts_mean($volume, 20))": None, "$open": None}
    assert planted_matches(small_panel, [], days) == {}
    assert 0 < MATCH_THRESHOLD < 1
