"""PDF reports: they open, hold the expected sections, embed their fonts, draw their charts
natively without a browser, read in Korean, and compare strategies."""

from __future__ import annotations

import io
import re
import shutil

import pytest
from pypdf import PdfReader

from engine.errors import ConfigError
from engine.i18n import Translator
from engine.report import export, pdf, pdf_charts
from engine.store.project import Project
from tests.engine.report.conftest import save_pages


def _text(data: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(data)).pages]


def _outline(data: bytes) -> list[tuple[str, int]]:
    reader = PdfReader(io.BytesIO(data))
    out: list[tuple[str, int]] = []

    def walk(items: list) -> None:  # type: ignore[type-arg]
        for item in items:
            if isinstance(item, list):
                walk(item)
            else:
                out.append((item.title, reader.get_destination_page_number(item) + 1))

    walk(reader.outline)
    return out


def _fonts(data: bytes) -> dict[str, bool]:
    """Font name -> embedded, over every page."""
    fonts: dict[str, bool] = {}
    for page in PdfReader(io.BytesIO(data)).pages:
        for ref in (page["/Resources"].get("/Font") or {}).values():
            font = ref.get_object()
            descriptor = font.get("/FontDescriptor")
            fonts[str(font["/BaseFont"])] = descriptor is not None and any(
                k in descriptor.get_object() for k in ("/FontFile", "/FontFile2", "/FontFile3"))
    return fonts


def _vector_ops(data: bytes, page: int) -> int:
    """Path segments drawn on a page (a native chart draws hundreds)."""
    content = PdfReader(io.BytesIO(data)).pages[page].get_contents().get_data().decode("latin1")
    return len(re.findall(r" l\b", content))


@pytest.fixture(scope="module")
def english(report_project: Project) -> pdf.PdfReport:
    report = pdf.render_pdf(report_project, "classic-dynamic", lang="en", charts="native",
                            author="A. Researcher")
    save_pages(report.data, "report_en_native")
    return report


def test_english_report_has_its_sections(english: pdf.PdfReport,
                                         report_project: Project) -> None:
    assert english.charts == pdf.ChartChoice("native", "report.reason.requested")
    pages = _text(english.data)
    assert len(pages) == english.pages and 6 <= english.pages <= 14
    cover, contents = pages[0], pages[1]
    assert "Strategy report" in cover and "classic-dynamic" in cover
    assert "A. Researcher" in cover and "demo" in cover
    assert "Contents" in contents
    for heading in ("1. Executive summary", "2. Performance", "2.1 Cumulative return",
                    "3. Mega-Alpha", "4. Factors", "5. Settings", "6. Reproducibility appendix",
                    "6.3 Software versions"):
        assert heading in contents, heading
    titles = dict(_outline(english.data))
    assert titles["1. Executive summary"] == 3
    assert titles["6. Reproducibility appendix"] == english.pages
    every = "\n".join(pages)
    assert f"Page 3 of {english.pages}" in pages[2]
    meta = report_project.dataset_meta("demo")
    assert meta.content_hash in every.replace("\n", "")  # reproducibility appendix
    assert "ts_pctchange($close, 20)" in every  # factor table
    assert "Sharpe ratio" in every and "native vector drawings" in every


def test_fonts_are_embedded_and_charts_are_vectors(english: pdf.PdfReport) -> None:
    fonts = _fonts(english.data)
    assert fonts and all(fonts.values()), fonts
    assert all("Nanum" in name for name in fonts)
    performance = dict(_outline(english.data))["2. Performance"] - 1
    assert _vector_ops(english.data, performance) > 200


def test_without_a_browser_charts_are_native(report_project: Project,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(export.shutil, "which", lambda name: None)
    report = pdf.render_pdf(report_project, "classic-dynamic", charts="auto")
    assert report.charts == pdf.ChartChoice("native", "report.reason.no_browser")
    assert "no Chromium or Chrome was found" in "\n".join(_text(report.data))
    with pytest.raises(ConfigError, match="charts must be one of"):
        pdf.render_pdf(report_project, "classic-dynamic", charts="svg")


def test_korean_report(report_project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    # a browser but no Hangul font (also on a machine without a browser)
    monkeypatch.setattr(export, "browser_available", lambda: True)
    monkeypatch.setattr(export, "hangul_font_available", lambda: False)
    report = pdf.render_pdf(report_project, "classic-dynamic", lang="ko", charts="auto")
    save_pages(report.data, "report_ko")
    assert report.charts.renderer == "native"  # no Hangul font for a browser
    pages = _text(report.data)
    assert "전략 보고서" in pages[0] and "목차" in pages[1]
    every = "\n".join(pages)
    for heading in ("1. 요약", "2. 성과", "3. 메가 알파", "4. 팩터", "6. 재현성 부록"):
        assert heading in every, heading
    assert f"{report.pages}쪽 중 3쪽" in pages[2]
    assert "한글 글꼴" in every  # the reason for native charts, in Korean


def test_untested_strategy_has_no_performance_section(report_project: Project) -> None:
    report = pdf.render_pdf(report_project, "classic-static", charts="native")
    titles = [title for title, _ in _outline(report.data)]
    assert "2. Mega-Alpha" in titles and not any("Performance" in t for t in titles)
    assert "no backtest yet" in "\n".join(_text(report.data))


def test_comparison_report(report_project: Project) -> None:
    report = pdf.render_comparison_pdf(
        report_project, ["classic-dynamic", "classic-equal", "classic-static"],
        charts="native", author="B")
    save_pages(report.data, "report_comparison")
    every = "\n".join(_text(report.data))
    for name in ("classic-dynamic", "classic-equal", "classic-static"):
        assert name in every
    titles = [title for title, _ in _outline(report.data)]
    assert "2.1 Cumulative returns compared" in titles
    assert "2.2 Drawdowns compared" in titles
    assert "Not backtested yet" in every and "SYN0001" in every  # ticker benchmark
    with pytest.raises(ConfigError, match="at least two"):
        pdf.render_comparison_pdf(report_project, ["classic-dynamic", "classic-dynamic"])


def test_choose_renderer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(export, "browser_available", lambda: True)
    monkeypatch.setattr(export, "hangul_font_available", lambda: False)
    assert pdf.choose_renderer("auto", "en").renderer == "kaleido"
    assert pdf.choose_renderer("auto", "ko").reason == "report.reason.no_hangul_font"
    assert pdf.choose_renderer("kaleido", "ko").renderer == "kaleido"  # asked for explicitly
    assert pdf.choose_renderer("native", "en").renderer == "native"
    monkeypatch.setattr(export, "browser_available", lambda: False)
    assert pdf.choose_renderer("kaleido", "en").reason == "report.reason.no_browser"


def test_kaleido_failure_falls_back_to_native(report_project: Project,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(export, "browser_available", lambda: True)
    monkeypatch.setattr(export, "figures_png", lambda figs, sizes, **kw: None)
    report = pdf.render_pdf(report_project, "classic-dynamic", charts="kaleido")
    assert report.charts == pdf.ChartChoice("native", "report.reason.kaleido_failed")


def test_native_chart_helpers() -> None:
    assert pdf_charts.nice_ticks(-0.12, 0.031) == pytest.approx([-0.1, -0.05, 0.0])
    assert pdf_charts.nice_ticks(0.0, 3.7) == pytest.approx([0.0, 1.0, 2.0, 3.0])
    assert len(pdf_charts.nice_ticks(1.0, 1.0)) >= 2  # a flat series still gets an axis
    assert pdf_charts.months(Translator("ko"))[0] == "1월"
    import datetime as dt

    ticks = pdf_charts._date_ticks(dt.date(2013, 2, 8), dt.date(2018, 2, 7))
    assert [label for _, label in ticks] == ["2014", "2015", "2016", "2017", "2018"]


@pytest.mark.skipif(not export.browser_available(), reason="no Chromium/Chrome for kaleido")
def test_kaleido_report_uses_the_app_figures(report_project: Project) -> None:
    report = pdf.render_pdf(report_project, "classic-dynamic", charts="kaleido")
    save_pages(report.data, "report_en_kaleido")
    assert report.charts.renderer == "kaleido", report.charts
    reader = PdfReader(io.BytesIO(report.data))
    images = sum(len(page.images) for page in reader.pages)
    from engine.report.charts import STRATEGY_CHARTS

    assert images == len(STRATEGY_CHARTS)  # every chart of the one list, as an image
    assert "kaleido" in "\n".join(_text(report.data))


def test_pdf_tools_agree(english: pdf.PdfReport, tmp_path) -> None:  # type: ignore[no-untyped-def]
    if not shutil.which("pdfinfo"):
        pytest.skip("poppler's pdfinfo is not installed")
    import subprocess

    path = tmp_path / "r.pdf"
    path.write_bytes(english.data)
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True)
    assert re.search(r"Pages:\s+(\d+)", info.stdout).group(1) == str(english.pages)  # type: ignore[union-attr]
    assert "A4" in info.stdout
    assert "A. Researcher" in info.stdout
