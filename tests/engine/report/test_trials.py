"""Significance next to every "best" result of a strategy report (engine.report.trials):
the trials are counted from the project's records, and the figures are the engine's
deflated Sharpe and haircut t (checked against worked examples in test_significance)."""

from __future__ import annotations

import math

import numpy as np

from engine.i18n import Translator
from engine.metrics import significance as sig
from engine.report import content, trials
from engine.store.project import Project
from engine.store.strategies import load_strategy


def test_trials_are_counted_from_the_project(report_project: Project) -> None:
    counted = trials.count_trials(report_project)
    # two of the three strategies are backtested; the demo project has no mining run
    assert (counted.strategies, counted.sweep_cells, counted.formulas) == (2, 0, 0)
    assert counted.n == 2 and len(counted.sharpes) == 2 and counted.sr_variance >= 0


def test_a_strategy_gets_its_deflated_sharpe_and_best_factor(report_project: Project) -> None:
    s = trials.strategy_significance(report_project, "classic-dynamic")
    returns = trials.backtest_returns(report_project, "classic-dynamic")
    assert s.sharpe is not None and returns is not None
    expected = sig.deflated_sharpe(returns, s.trials.n, s.trials.sr_variance)
    assert s.sharpe == expected and 0 <= s.sharpe.dsr <= 1
    tests = load_strategy(report_project, "classic-dynamic").info["factor_tests"]
    assert len(tests) == 24 and all(set(r) == {"formula", "ic", "t"} for r in tests)
    assert s.best_factor is not None and s.best_formula is not None
    top = max((r for r in tests if r["t"] is not None), key=lambda r: abs(r["t"]))
    assert s.best_formula == top["formula"] and math.isclose(s.best_factor.t, top["t"])
    assert s.best_factor.tests == 24  # no mining run: the set's own formulas
    assert abs(s.best_factor.t_bonferroni) < abs(s.best_factor.t)

    untested = trials.strategy_significance(report_project, "classic-static")
    assert untested.sharpe is None and untested.best_factor is not None


def test_best_of_haircuts_grow_with_the_number_of_tests() -> None:
    one = sig.best_of([3.0, -1.0], 2)
    many = sig.best_of([3.0, -1.0], 100)
    assert one is not None and many is not None and many.tests == 100
    assert 0 < many.t_bonferroni < one.t_bonferroni < 3.0
    assert sig.best_of([float("nan")], 5) is None
    assert sig.best_of([3.0], 10_000).t_bonferroni == 0.0  # type: ignore[union-attr]
    # Bonferroni: the p-value times the number of tests, turned back into a t
    from scipy import stats
    p = min(1.0, 2 * stats.norm.sf(3.0) * 100)
    assert math.isclose(many.t_bonferroni, stats.norm.isf(p / 2), rel_tol=1e-9)


def test_the_report_and_the_comparison_say_it(report_project: Project) -> None:
    for lang, heading in (("en", "Is it luck?"), ("ko", "운일까요?")):
        t = Translator(lang)
        c = content.gather(report_project, "classic-dynamic")
        outline = content.strategy_outline(c, t, content.ChartsNote("x", "y"))
        assert heading in [h.text.split(" ", 1)[1] for h in outline.headings]
        lines = content.significance_lines(t, c.significance, c.labels)  # type: ignore[arg-type]
        assert len(lines) == 2 and all("{" not in line for line in lines)
    many = content.gather_many(report_project, ["classic-dynamic", "classic-equal"])
    best = content.best_compared(many)
    sharpes = {c.name: c.significance.sharpe.sharpe for c in many}  # type: ignore[union-attr]
    assert best is not None and best.name == max(sharpes, key=sharpes.__getitem__)
    assert np.isfinite(list(sharpes.values())).all()
