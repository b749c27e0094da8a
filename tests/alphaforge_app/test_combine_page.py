"""Combine & backtest page: empty state, building a strategy, backtest results."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from engine.data.synthetic import SyntheticConfig
from engine.store.demo import ensure_demo
from tests.conftest import REPO

APP = str(REPO / "alphaforge_app" / "app.py")


def _page(at: AppTest) -> AppTest:
    at.run(timeout=120)
    at.switch_page("pages/combine.py")
    at.run(timeout=120)
    assert not at.exception, at.exception
    return at


def test_empty_project_shows_hint(home: Path) -> None:
    at = _page(AppTest.from_file(APP))
    assert any("Open a project with a dataset" in i.value for i in at.info)


def test_build_and_backtest(home: Path) -> None:
    ensure_demo(home / "projects" / "demo", SyntheticConfig(n_tickers=40, n_days=400, seed=1))
    at = _page(AppTest.from_file(APP, default_timeout=120))
    assert any("No strategy yet" in i.value for i in at.info)
    at.button(key="FormSubmitter:build-Build strategy").click()
    at.run(timeout=180)
    assert not at.exception, at.exception
    assert any("saved: RankIC" in s.value for s in at.success), [e.value for e in at.error]
    assert any(m.label == "RankIC" for m in at.metric)
    assert any("No backtest yet" in i.value for i in at.info)
    # why each factor is active on the chosen day (last by default), in words
    why = next(d.value for d in at.dataframe if "reason" in d.value.columns)
    assert len(why) > 0 and why["reason"].str.len().min() > 0
    assert not why["reason"].str.fullmatch(r"[a-z_]+").any()  # worded, not the bare code
    at.button(key="FormSubmitter:backtest-Run backtest").click()
    at.run(timeout=180)
    assert not at.exception, at.exception
    assert any(m.label == "Sharpe" for m in at.metric)


def test_reports_page_states(home: Path) -> None:
    from engine.backtest.topk import TopKConfig
    from engine.combine.service import (
        StrategySpec,
        backtest_strategy,
        build_strategy,
        combine_config,
    )

    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page("pages/reports.py")
    at.run()
    assert any("No strategy yet" in i.value for i in at.info)

    project, _, _ = ensure_demo(home / "projects" / "demo",
                                SyntheticConfig(n_tickers=40, n_days=400, seed=1))
    for method in ("dynamic", "equal"):
        spec = StrategySpec(name=f"s-{method}", dataset="demo", factor_set="classic",
                            test=("2016-01-01", None), train=None,
                            config=combine_config(method))
        build_strategy(project, spec)
        backtest_strategy(project, spec.name, TopKConfig(top_k=10, drop_n=2))
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page("pages/reports.py")
    at.run()
    assert not at.exception, at.exception
    assert any(m.label == "Mega-Alpha IC" for m in at.metric)
    assert len(at.dataframe) >= 3  # metrics, factors, comparison
    # the significance of the best results, in the report tab and for the best compared
    assert [h.value for h in at.subheader].count("Is it luck?") == 2
    assert any("deflated Sharpe ratio" in m.value and "2 trials" in m.value
               for m in at.markdown)
    assert any("The best of the compared strategies" in m.value for m in at.markdown)
    labels = {b.label for b in at.get("download_button")}
    assert {"scores.csv", "backtest_daily.parquet", "equity.html"} <= labels


def test_reports_page_makes_a_pdf(home: Path) -> None:
    from engine.combine.service import StrategySpec, build_strategy, combine_config

    project, _, _ = ensure_demo(home / "projects" / "demo",
                                SyntheticConfig(n_tickers=30, n_days=300, seed=1))
    build_strategy(project, StrategySpec(name="s", dataset="demo", factor_set="classic",
                                         test=("2015-06-01", None), train=None,
                                         config=combine_config("equal")))
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page("pages/reports.py")
    at.run()
    at.button(key="pdf_make").click()
    at.run(timeout=180)
    assert not at.exception, at.exception
    pdf = next(b for b in at.get("download_button") if b.label == "Download PDF")
    assert pdf is not None
    for key in ("series", "factor_values", "alphalens"):
        at.button(key=f"{key}_make").click()
        at.run(timeout=180)
        assert not at.exception, at.exception
        assert [b for b in at.get("download_button") if b.key == f"{key}_download"], key


def test_own_formulas_are_checked_then_saved(home: Path) -> None:
    """The 'Add your own formulas' form names a bad line and saves nothing, then saves a
    mixed function-form / Qlib list that the 'Factors from' box offers on the next run."""
    from engine.mining.zoo import factor_set_names
    from engine.store.project import Project

    root = home / "projects" / "demo"
    ensure_demo(root, SyntheticConfig(n_tickers=20, n_days=200, seed=1))
    at = _page(AppTest.from_file(APP, default_timeout=120))
    assert at.text_area[0].label == "Formulas, one per line"
    at.text_area[0].set_value("ts_mean($close, 5)\nSkew($close, 5)")
    at.button(key="FormSubmitter:own_set-Check and save").click()
    at.run(timeout=120)
    assert any("Skew is not supported" in e.value for e in at.error)
    assert "my-factors" not in factor_set_names(Project.open(root))
    at.text_area[0].set_value("ts_mean($close, 5)\nMean($close, 5) / Ref($close, 1)")
    at.button(key="FormSubmitter:own_set-Check and save").click()
    at.run(timeout=120)
    assert not at.exception, at.exception
    assert any("Saved factor set 'my-factors': 2 formulas" in s.value for s in at.success)
    at.run(timeout=120)
    assert "my-factors" in at.selectbox[0].options


def test_default_test_period_is_the_splits(home: Path) -> None:
    """Classic factors come from no run: the test period opens on suggest_split's."""
    from engine.mining.split import suggested_ranges

    project, _, _ = ensure_demo(home / "projects" / "demo",
                                SyntheticConfig(n_tickers=20, n_days=200, seed=1))
    at = _page(AppTest.from_file(APP, default_timeout=120))
    _, _, test = suggested_ranges(project, "demo")
    assert at.date_input[0].value == test
