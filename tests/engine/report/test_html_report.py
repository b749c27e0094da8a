"""The HTML report: one self-contained file (no CDN, no MathJax) with the PDF's sections and
the app's interactive charts."""

from __future__ import annotations

import re

from engine.i18n import Translator
from engine.report import content, html
from engine.report.charts import strategy_charts
from engine.store.project import Project


def _headings(page: str) -> list[str]:
    return [re.sub(r"<[^>]+>", "", h) for h in re.findall(r"<h[23] id=\"[^\"]+\">(.*?)</h[23]>",
                                                           page)]


def test_self_contained_with_the_pdf_sections(report_project: Project) -> None:
    page = html.build_html(report_project, "classic-dynamic", author="A").decode("utf-8")
    assert page.startswith("<!DOCTYPE html>") and '<html lang="en">' in page
    assert "<script src" not in page and "cdn.plot.ly/plotly" not in page.split("<body>")[1]
    assert 'window.MathJax' not in page.split("</head>")[1]  # MathJax off
    assert page.count('class="plotly-graph-div"') == 7
    t = Translator("en")
    outline = content.strategy_outline(content.gather(report_project, "classic-dynamic"), t,
                                       content.ChartsNote("", ""))
    assert _headings(page) == [h.text for h in outline.headings]  # same sections as the PDF
    assert "ts_pctchange($close, 20)" in page and "interactive Plotly charts" in page
    for h in outline.headings:
        assert f'href="#{h.anchor}"' in page  # table of contents links


def test_korean_and_comparison(report_project: Project) -> None:
    page = html.build_html(report_project, "classic-dynamic", lang="ko").decode("utf-8")
    assert "전략 보고서" in page and "재현성 부록" in page and '<html lang="ko">' in page
    both = html.build_html(report_project, "classic-dynamic",
                           compare=["classic-equal", "classic-static"]).decode("utf-8")
    assert "Strategy comparison" in both and both.count('class="plotly-graph-div"') == 2
    assert "classic-static" in both


def test_charts_are_the_app_figures(report_project: Project) -> None:
    c = content.gather(report_project, "classic-dynamic")
    figs = strategy_charts(c, Translator("en"))
    assert list(figs) == ["equity", "drawdown", "turnover", "monthly", "rolling_sharpe",
                          "weights", "rank_ic"]
    equity = figs["equity"]
    assert [tr.name for tr in equity.data] == ["strategy", "benchmark (equal-weight universe)"]
    assert len(equity.data[0].x) == c.equity.height  # type: ignore[union-attr]
