"""PDF reports: one strategy in detail, or several side by side (reportlab).

Layout: a cover (strategy, dataset, period, date, author), a table of contents, the sections,
and a reproducibility appendix; page numbers "Page n of N" and PDF bookmarks. Text uses the
embedded Nanum fonts in both languages, every label goes through the translator
(``engine/i18n/<lang>/report.toml``), and numbers and dates are formatted for the language.

Charts are the chart list's (:mod:`engine.report.charts`, through
:mod:`engine.report.pdf_charts`): the app's Plotly figures rendered by kaleido when a browser
can draw them, else native vector drawings (see :func:`choose_renderer`); the
choice and its reason are written in the appendix. Both forms print legibly in black and
white (dash patterns and greys, not colour alone).

Entry points for the app and the CLI: :func:`build_pdf`, :func:`build_comparison_pdf` (bytes),
and :func:`render_pdf` (bytes plus which renderer drew the charts).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

import plotly.graph_objects as go
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen import canvas as rl_canvas
from reportlab.platypus import (
    BaseDocTemplate,
    CondPageBreak,
    Flowable,
    Frame,
    Image,
    KeepTogether,
    PageBreak,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)
from reportlab.platypus.tableofcontents import TableOfContents

from engine.errors import ConfigError
from engine.i18n import Translator
from engine.report import export, figures
from engine.report.content import (
    Chart,
    ChartsNote,
    Columns,
    Grid,
    Heading,
    Outline,
    Text,
    comparison_outline,
    gather,
    gather_many,
    strategy_outline,
)
from engine.report.pdf_charts import (
    FONT,
    FONT_BOLD,
    FONT_MONO,
    PX_WIDTH,
    PdfChart,
    comparison_charts,
    register_fonts,
    strategy_charts,
)
from engine.store.project import Project

CHART_MODES: tuple[str, ...] = ("auto", "kaleido", "native")
PAGE = A4
MARGIN = 18 * mm
WIDTH = PAGE[0] - 2 * MARGIN  # frame width in points
MAX_CHART_HEIGHT = PAGE[1] - 2 * MARGIN - 60


@dataclass(frozen=True)
class ChartChoice:
    """How the charts were drawn: ``renderer`` "kaleido" or "native", and the catalogue key
    (``report.reason.*``) saying why."""

    renderer: str
    reason: str


@dataclass(frozen=True)
class PdfReport:
    """A rendered PDF and how its charts were drawn."""

    data: bytes
    charts: ChartChoice
    pages: int


def choose_renderer(mode: str, lang: str) -> ChartChoice:
    """``auto``: kaleido when a Chromium/Chrome is on PATH and, for a Korean report, the
    system has a Hangul font for it; else native. ``kaleido``: kaleido whenever a browser is
    found. ``native``: always native. (A kaleido failure later also falls back to native.)"""
    if mode not in CHART_MODES:
        raise ConfigError(f"charts must be one of {', '.join(CHART_MODES)}, got '{mode}'")
    if mode == "native":
        return ChartChoice("native", "report.reason.requested")
    if not export.browser_available():
        return ChartChoice("native", "report.reason.no_browser")
    if mode == "auto" and lang == "ko" and not export.hangul_font_available():
        return ChartChoice("native", "report.reason.no_hangul_font")
    return ChartChoice("kaleido", "report.reason.browser")


# ------------------------------------------------------------------------------ styles

@dataclass(frozen=True)
class Styles:
    title: ParagraphStyle
    subtitle: ParagraphStyle
    h1: ParagraphStyle
    h2: ParagraphStyle
    body: ParagraphStyle
    small: ParagraphStyle
    cell: ParagraphStyle
    cell_bold: ParagraphStyle
    mono: ParagraphStyle
    toc: tuple[ParagraphStyle, ...]


def _styles() -> Styles:
    base = ParagraphStyle("body", fontName=FONT, fontSize=9.5, leading=13.5,
                          textColor=colors.black, wordWrap="CJK")
    return Styles(
        title=ParagraphStyle("title", base, fontName=FONT_BOLD, fontSize=26, leading=32,
                             spaceAfter=10),
        subtitle=ParagraphStyle("subtitle", base, fontName=FONT_BOLD, fontSize=15, leading=20,
                                textColor=colors.Color(0.25, 0.25, 0.25), spaceAfter=18),
        h1=ParagraphStyle("h1", base, fontName=FONT_BOLD, fontSize=15, leading=20,
                          spaceBefore=6, spaceAfter=8),
        h2=ParagraphStyle("h2", base, fontName=FONT_BOLD, fontSize=11.5, leading=15,
                          spaceBefore=8, spaceAfter=5),
        body=ParagraphStyle("text", base, spaceAfter=6),
        small=ParagraphStyle("small", base, fontSize=8, leading=11,
                             textColor=colors.Color(0.25, 0.25, 0.25), spaceAfter=4),
        cell=ParagraphStyle("cell", base, fontSize=7.5, leading=9.5),
        cell_bold=ParagraphStyle("cellb", base, fontName=FONT_BOLD, fontSize=7.5, leading=9.5),
        mono=ParagraphStyle("mono", base, fontName=FONT_MONO, fontSize=7, leading=9,
                            wordWrap="CJK"),
        toc=(ParagraphStyle("toc0", base, fontName=FONT_BOLD, fontSize=10.5, leading=16,
                            leftIndent=0),
             ParagraphStyle("toc1", base, fontSize=9.5, leading=13, leftIndent=14)),
    )


# ------------------------------------------------------------------------------ blocks

_GRID = colors.Color(0.7, 0.7, 0.7)
_HEAD = colors.Color(0.9, 0.9, 0.9)


def _p(text: str, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape(text), style)


def _table(grid: Grid, s: Styles, width: float = WIDTH) -> Table:
    """A :class:`Grid` as a reportlab table: wrapped cells, grey header, zebra rows."""
    scale = width / sum(grid.widths)

    def cell(text: str, row: int, col: int) -> Paragraph:
        if grid.header and row == 0 or grid.keys and col == 0:
            style = s.cell_bold
        else:
            style = s.mono if col in grid.mono else s.cell
        if grid.numeric_from is not None and col >= grid.numeric_from:
            style = ParagraphStyle(f"{style.name}-r", style, alignment=2)
        return _p(text, style)

    rows = [[cell(text, r, c) for c, text in enumerate(row)] for r, row in enumerate(grid.rows)]
    table = Table(rows, colWidths=[w * scale for w in grid.widths],
                  repeatRows=1 if grid.header else 0, hAlign="LEFT")
    first = 1 if grid.header else 0
    style: list[tuple[Any, ...]] = [
        ("FONT", (0, 0), (-1, -1), FONT, 8), ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("LINEBELOW", (0, 0), (-1, -1), 0.3, _GRID),
        ("TOPPADDING", (0, 0), (-1, -1), 2.5), ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
        ("LEFTPADDING", (0, 0), (-1, -1), 3), ("RIGHTPADDING", (0, 0), (-1, -1), 3),
        *[("BACKGROUND", (0, r), (-1, r), colors.Color(0.965, 0.965, 0.965))
          for r in range(first + 1, len(rows), 2)],
    ]
    if grid.header:
        style += [("BACKGROUND", (0, 0), (-1, 0), _HEAD),
                  ("LINEBELOW", (0, 0), (-1, 0), 0.8, colors.black)]
    table.setStyle(TableStyle(style))
    return table


class _Heading(Paragraph):
    """A heading that adds itself to the table of contents and the PDF outline."""

    def __init__(self, heading: Heading, s: Styles) -> None:
        super().__init__(escape(heading.text), s.h1 if heading.level == 0 else s.h2)
        self.heading = heading


class _Doc(BaseDocTemplate):
    def __init__(self, buffer: io.BytesIO, **kwargs: Any) -> None:
        super().__init__(buffer, pagesize=PAGE, leftMargin=MARGIN, rightMargin=MARGIN,
                         topMargin=MARGIN, bottomMargin=MARGIN,
                         initialFontName=FONT, **kwargs)  # else an unembedded Helvetica
        frame = Frame(MARGIN, MARGIN, WIDTH, PAGE[1] - 2 * MARGIN, id="body",
                      leftPadding=0, rightPadding=0, topPadding=0, bottomPadding=0)
        self.addPageTemplates([PageTemplate(id="page", frames=[frame])])

    def afterFlowable(self, flowable: Flowable) -> None:  # noqa: N802 - reportlab's name
        if isinstance(flowable, _Heading):
            h = flowable.heading
            self.canv.bookmarkPage(h.anchor)
            self.canv.addOutlineEntry(h.text, h.anchor, level=h.level, closed=False)
            self.notify("TOCEntry", (h.level, h.text, self.page, h.anchor))


def _numbered_canvas(page_label: Callable[[int, int], str], left: str, right: str,
                     counted: list[int]) -> type[rl_canvas.Canvas]:
    """A canvas class that writes "Page n of N" and a running header once N is known (and
    appends N to ``counted``)."""

    class NumberedCanvas(rl_canvas.Canvas):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._pages: list[dict[str, Any]] = []
            self._marks: list[str] = []

        def bookmarkPage(self, key: str, **kwargs: Any) -> None:  # noqa: N802
            # pages are emitted in save(), so bookmarks must wait for their page too
            self._marks.append(key)

        def showPage(self) -> None:  # noqa: N802 - reportlab's name
            self._pages.append(dict(self.__dict__))
            self._marks = []
            self._startPage()

        def save(self) -> None:
            total = len(self._pages)
            counted.append(total)
            for state in self._pages:
                self.__dict__.update(state)
                for key in self._marks:
                    super().bookmarkPage(key)
                if self._pageNumber > 1:  # no furniture on the cover
                    self._furniture(total)
                super().showPage()
            super().save()

        def _furniture(self, total: int) -> None:
            self.saveState()
            self.setFillColor(colors.Color(0.35, 0.35, 0.35))
            self.setStrokeColor(colors.Color(0.75, 0.75, 0.75))
            self.setLineWidth(0.5)
            top = PAGE[1] - MARGIN + 6
            self.line(MARGIN, top - 3, PAGE[0] - MARGIN, top - 3)
            self.setFont(FONT, 7.5)
            self.drawString(MARGIN, top, left)
            self.drawRightString(PAGE[0] - MARGIN, top, right)
            self.drawCentredString(PAGE[0] / 2, MARGIN - 18, page_label(self._pageNumber, total))
            self.restoreState()

    return NumberedCanvas


def _cover(outline: Outline, t: Translator, s: Styles) -> list[Flowable]:
    items = Grid(tuple(outline.cover_items), (120, WIDTH - 120), header=False, keys=True)
    toc = TableOfContents(levelStyles=list(s.toc), dotsMinLevel=0, tableStyle=TableStyle([
        ("FONT", (0, 0), (-1, -1), FONT, 9), ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("RIGHTPADDING", (0, 0), (-1, -1), 0), ("LEFTPADDING", (0, 0), (-1, -1), 0)]))
    return [Spacer(1, 60 * mm), _p(outline.cover_title, s.title),
            _p(outline.cover_subtitle, s.subtitle), _table(items, s), Spacer(1, 30 * mm),
            _p(t("report.cover_note"), s.small), PageBreak(),
            _p(t("report.contents"), s.h1), toc, PageBreak()]


def _story(outline: Outline, t: Translator, charts: Mapping[str, Flowable]) -> list[Flowable]:
    s = _styles()
    story = _cover(outline, t, s)
    for block in outline.blocks:
        if isinstance(block, Heading):
            if block.level == 0:
                story.append(PageBreak() if block.new_page else CondPageBreak(120))
            story.append(_Heading(block, s))
        elif isinstance(block, Text):
            story.append(_p(block.text, s.small if block.small else s.body))
        elif isinstance(block, Grid):
            story += [_table(block, s), Spacer(1, 4)]
        elif isinstance(block, Columns):
            gap = 12.0
            each = (WIDTH - gap * (len(block.grids) - 1)) / len(block.grids)
            side = Table([[_table(g, s, each) for g in block.grids]],
                         colWidths=[each + gap] * (len(block.grids) - 1) + [each], hAlign="LEFT")
            side.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"),
                                      ("FONT", (0, 0), (-1, -1), FONT),
                                      ("LEFTPADDING", (0, 0), (-1, -1), 0),
                                      ("RIGHTPADDING", (0, 0), (-1, -1), 0)]))
            story += [Spacer(1, 4), side, Spacer(1, 4)]
        elif isinstance(block, Chart) and block.key in charts:
            parts: list[Flowable] = [_Heading(block.heading, s), charts[block.key], Spacer(1, 4)]
            if block.note:
                parts.append(_p(block.note, s.small))
            story += [KeepTogether(parts), Spacer(1, 6)]
    return story


# ------------------------------------------------------------------------------ charts

def render_charts(specs: Sequence[PdfChart], choice: ChartChoice
                  ) -> tuple[dict[str, Flowable], ChartChoice]:
    """Flowables by chart key, drawn as chosen; a kaleido failure falls back to native."""
    if choice.renderer == "kaleido" and specs:
        sizes = [(PX_WIDTH, spec.height_px) for spec in specs]
        untitled = [figures.for_print(go.Figure(spec.figure)).update_layout(
            title_text="", margin_t=30) for spec in specs]  # the PDF heading is the title
        pngs = export.figures_png(untitled, sizes)
        if pngs is not None:
            out: dict[str, Flowable] = {}
            for spec, png, (w, h) in zip(specs, pngs, sizes, strict=True):
                height = min(WIDTH * h / w, MAX_CHART_HEIGHT)
                out[spec.key] = Image(io.BytesIO(png), width=height * w / h, height=height)
            return out, choice
        choice = ChartChoice("native", "report.reason.kaleido_failed")
    return {spec.key: spec.draw(WIDTH) for spec in specs}, choice


# ------------------------------------------------------------------------------ builders

def _render(outline: Outline, t: Translator, charts: Mapping[str, Flowable],
            author: str | None) -> tuple[bytes, int]:
    buffer = io.BytesIO()
    doc = _Doc(buffer, title=outline.title, author=author or "", subject=outline.cover_subtitle,
               creator="AlphaForge")
    counted: list[int] = []
    maker = _numbered_canvas(lambda n, total: t("report.page", page=n, pages=total),
                             outline.title, "AlphaForge", counted)
    doc.multiBuild(_story(outline, t, charts), canvasmaker=maker)
    return buffer.getvalue(), counted[-1]


def _note(t: Translator, choice: ChartChoice) -> ChartsNote:
    return ChartsNote(t(f"report.renderer.{choice.renderer}"), t(choice.reason))


def _report(lang: str, charts: str, author: str | None,
            specs: Callable[[Translator], Sequence[PdfChart]],
            outline: Callable[[Translator, ChartsNote], Outline]) -> PdfReport:
    """Every PDF the same way: fonts, the chart renderer chosen (and its fallback), the
    charts drawn, then the outline (which names the renderer in its appendix) rendered."""
    register_fonts()
    t = Translator(lang)
    drawn, choice = render_charts(specs(t), choose_renderer(charts, t.lang))
    data, pages = _render(outline(t, _note(t, choice)), t, drawn, author)
    return PdfReport(data, choice, pages)


def render_pdf(project: Project, name: str, *, lang: str = "en", charts: str = "auto",
               author: str | None = None) -> PdfReport:
    """The PDF report of one strategy (sections: :func:`engine.report.content.strategy_outline`)."""
    content = gather(project, name)
    return _report(lang, charts, author, lambda t: strategy_charts(content, t),
                   lambda t, note: strategy_outline(content, t, note, author))


def render_comparison_pdf(project: Project, names: Sequence[str], *, lang: str = "en",
                          charts: str = "auto", author: str | None = None) -> PdfReport:
    """Several strategies side by side (:func:`engine.report.content.comparison_outline`)."""
    if len(dict.fromkeys(names)) < 2:
        raise ConfigError("a comparison needs at least two different strategies")
    contents = gather_many(project, names)
    return _report(lang, charts, author, lambda t: comparison_charts(contents, t),
                   lambda t, note: comparison_outline(contents, t, note, author))


def build_pdf(project: Project, strategy: str, *, lang: str = "en", charts: str = "auto",
              author: str | None = None) -> bytes:
    """PDF bytes of one strategy's report (for the app's download button)."""
    return render_pdf(project, strategy, lang=lang, charts=charts, author=author).data


def build_comparison_pdf(project: Project, names: Sequence[str], *, lang: str = "en",
                         charts: str = "auto", author: str | None = None) -> bytes:
    """PDF bytes of a comparison of several strategies."""
    return render_comparison_pdf(project, names, lang=lang, charts=charts, author=author).data


def render_sweep_pdf(project: Project, run_id: str, *, lang: str = "en", charts: str = "auto",
                     author: str | None = None) -> PdfReport:
    """The PDF report of a sweep (:func:`engine.report.sweep_report.sweep_outline`)."""
    from engine.report.sweep_report import gather_sweep, sweep_charts, sweep_outline

    content = gather_sweep(project, run_id)
    return _report(lang, charts, author, lambda t: sweep_charts(content, t),
                   lambda t, note: sweep_outline(content, t, note, author))
