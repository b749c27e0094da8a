"""One chart list: the Reports page, the Combine & backtest page, the PDF and the HTML report
show a strategy's charts from :data:`engine.report.charts.STRATEGY_CHARTS`, the same charts in
the same order (backtest charts only once the strategy is backtested)."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from pypdf import PdfReader
from streamlit.testing.v1 import AppTest

from alphaforge_app.components.charts import element_key
from engine.backtest.topk import TopKConfig
from engine.combine.service import StrategySpec, backtest_strategy, build_strategy, combine_config
from engine.data.synthetic import SyntheticConfig
from engine.i18n import Translator
from engine.report import charts, content, html, pdf, pdf_charts
from engine.store.demo import ensure_demo
from engine.store.project import Project
from engine.store.settings import AppSettings, save_settings
from tests.conftest import REPO

APP = str(REPO / "alphaforge_app" / "app.py")
TESTED, UNTESTED = "a-tested", "b-untested"
ALL = [spec.key for spec in charts.STRATEGY_CHARTS]
SIGNAL = [spec.key for spec in charts.STRATEGY_CHARTS if spec.section == "signal"]
PERFORMANCE = [spec.key for spec in charts.STRATEGY_CHARTS if spec.section == "performance"]


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """An app home whose demo project has a backtested and an untested strategy."""
    root = tmp_path_factory.mktemp("chart_list")
    save_settings(root, AppSettings(mode="single", language="en"))
    project, _, _ = ensure_demo(root / "projects" / "demo",
                                SyntheticConfig(n_tickers=30, n_days=300, seed=1))
    for name, method in ((TESTED, "dynamic"), (UNTESTED, "equal")):
        build_strategy(project, StrategySpec(name=name, dataset="demo", factor_set="classic",
                                             test=("2015-06-01", None), train=None,
                                             config=combine_config(method)))
    backtest_strategy(project, TESTED, TopKConfig(top_k=10, drop_n=2))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ALPHAFORGE_HOME", str(root))
        yield root


def _project(home: Path) -> Project:
    return Project.open(home / "projects" / "demo")


def _drawn(node: AppTest | object) -> list[str]:
    """Chart keys of the plotly charts under ``node``, in page order."""
    pattern = re.compile(re.escape(element_key("")) + r"(\w+)$")
    keys = [pattern.search(chart.proto.id) for chart in node.get("plotly_chart")]
    return [m.group(1) for m in keys if m]


def _page(page: str, **state: object) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    at.switch_page(f"pages/{page}.py")
    at.run()
    assert not at.exception, at.exception
    return at


def _pdf_headings(data: bytes) -> list[str]:
    """Bookmark titles of a PDF, in order (every chart drawn has its heading there)."""
    out: list[str] = []

    def walk(items: Sequence[object]) -> None:
        for item in items:
            if isinstance(item, list):
                walk(item)
            else:
                out.append(item.title)  # type: ignore[attr-defined]

    walk(PdfReader(io.BytesIO(data)).outline)
    return out


@pytest.mark.parametrize(("name", "expected"), [(TESTED, ALL), (UNTESTED, SIGNAL)])
def test_engine_surfaces_list_the_same_charts(home: Path, name: str,
                                              expected: list[str]) -> None:
    project, t = _project(home), Translator("en")
    c = content.gather(project, name)
    assert [spec.key for spec in charts.charts_of(c)] == expected
    assert list(charts.strategy_charts(c, t)) == expected
    outline = content.strategy_outline(c, t, content.ChartsNote("", ""))
    slots = [b for b in outline.blocks if isinstance(b, content.Chart)]
    assert [b.key for b in slots] == expected
    assert [s.key for s in pdf_charts.strategy_charts(c, t)] == expected
    page = html.build_html(project, name).decode("utf-8")
    assert re.findall(r'data-chart="(\w+)"', page) == expected
    report = pdf.render_pdf(project, name, charts="native")
    titles = [b.heading.text for b in slots]
    assert [h for h in _pdf_headings(report.data) if h in titles] == titles


def test_turnover_has_its_heading_and_note(home: Path) -> None:
    c = content.gather(_project(home), TESTED)
    outline = content.strategy_outline(c, Translator("ko"), content.ChartsNote("", ""))
    turnover = next(b for b in outline.blocks
                    if isinstance(b, content.Chart) and b.key == "turnover")
    assert turnover.heading.text == "2.3 일별 회전율" and "매수" in turnover.note
    sharpe = next(b for b in outline.blocks
                  if isinstance(b, content.Chart) and b.key == "rolling_sharpe")
    assert sharpe.heading.text.endswith("(63일)")


@pytest.mark.parametrize(("name", "expected"), [(TESTED, ALL), (UNTESTED, SIGNAL)])
def test_reports_page_draws_the_list(home: Path, name: str, expected: list[str]) -> None:
    at = _page("reports")
    at.selectbox(key="report_strategy").set_value(name).run()
    assert not at.exception, at.exception
    detail = next(tab for tab in at.tabs if tab.label == "Strategy report")
    assert _drawn(detail) == expected
    downloads = {b.label for b in at.get("download_button")}
    assert {f"{key}.html" for key in expected} <= downloads


@pytest.mark.parametrize(("name", "expected"), [(TESTED, ALL), (UNTESTED, SIGNAL)])
def test_combine_page_draws_the_list(home: Path, name: str, expected: list[str]) -> None:
    """The page puts the two sections in two tabs; each tab draws its section of the list,
    in the list's order."""
    at = _page("combine", af_strategy=name)
    tabs = {tab.label: tab for tab in at.tabs}
    assert _drawn(tabs["Weights & IC"]) == [k for k in expected if k in SIGNAL]
    assert _drawn(tabs["Backtest"]) == [k for k in expected if k in PERFORMANCE]
