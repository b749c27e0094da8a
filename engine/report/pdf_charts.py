"""The PDF's charts: each as the app's Plotly figure and as a native reportlab drawing.

A :class:`PdfChart` carries both forms of one chart. Which charts a strategy report has comes
from the chart list (:mod:`engine.report.charts`); this module adds their native forms
(:data:`NATIVE`, by chart key). The PDF renders the Plotly figures with kaleido when a browser
can (the same figures the app shows), and otherwise draws the native form: vector graphics in
greys and dash patterns, written with the embedded Nanum fonts, so a machine without a browser
(or without a Hangul system font) still gets a complete, printable report. A chart without a
native form says so in its slot. The HTML report embeds the Plotly figures as they are.

Native drawings only draw: every number comes from :mod:`engine.report.content`.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import plotly.graph_objects as go
import polars as pl
from reportlab.graphics.shapes import Drawing, Line, Polygon, PolyLine, Rect, String
from reportlab.lib.colors import Color, black, white
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

from engine.errors import ConfigError
from engine.i18n import Translator
from engine.report import charts, figures
from engine.report.content import StrategyContent

FONT_DIR = Path(__file__).resolve().parents[2] / "assets" / "fonts"
FONT, FONT_BOLD, FONT_MONO = "NanumGothic", "NanumGothicBold", "NanumGothicCoding"
_FONT_FILES = {FONT: "NanumGothic.ttf", FONT_BOLD: "NanumGothicBold.ttf",
               FONT_MONO: "NanumGothicCoding.ttf"}
PX_WIDTH = 800  # kaleido width in CSS pixels (scaled to the page: ~0.6 pt a pixel)
MAX_HEIGHT_PX = 1000  # a taller figure (a weights grid of many factors) is printed this high


def register_fonts() -> None:
    """Register the embedded Nanum fonts with reportlab (once per process; reportlab embeds
    the used glyphs of each into the PDF, so no system font or network is needed)."""
    from reportlab.lib.fonts import addMapping

    if FONT in pdfmetrics.getRegisteredFontNames():
        return
    for name, file in _FONT_FILES.items():
        path = FONT_DIR / file
        if not path.exists():
            raise ConfigError(f"report font {path} is missing; reinstall AlphaForge "
                              "(the fonts ship in assets/fonts)")
        pdfmetrics.registerFont(TTFont(name, str(path)))
    addMapping(FONT, 0, 0, FONT)
    addMapping(FONT, 1, 0, FONT_BOLD)
    addMapping(FONT, 0, 1, FONT)
    addMapping(FONT, 1, 1, FONT_BOLD)


@dataclass(frozen=True)
class PdfChart:
    """One chart in both forms. ``draw(width_pt)`` returns the native drawing;
    ``height_px`` is the kaleido height at :data:`PX_WIDTH` pixels wide."""

    key: str
    figure: go.Figure
    draw: Callable[[float], Drawing]
    height_px: int


# ------------------------------------------------------------------------------ native style

def _grey(level: float) -> Color:
    return Color(level, level, level)


#: (colour, width, dash) per series: told apart by dash and grey level, not by colour.
LINE_STYLES: tuple[tuple[Color, float, list[float] | None], ...] = (
    (black, 1.3, None), (_grey(0.45), 1.0, [4, 2]), (_grey(0.25), 1.0, [1, 1.6]),
    (_grey(0.55), 1.0, [6, 2, 1, 2]), (black, 0.7, [3, 3]), (_grey(0.4), 1.2, [8, 3]),
)
_AXIS, _GRID, _TEXT = _grey(0.35), _grey(0.88), _grey(0.15)


@dataclass(frozen=True)
class Curve:
    """One series of a native line chart; values may hold None/NaN (gaps)."""

    label: str
    dates: Sequence[dt.date]
    values: Sequence[float | None]
    style: int = 0
    fill: bool = False  # shade down to zero (drawdowns)
    bars: bool = False  # thin bars from zero (daily IC)


def _finite(values: Sequence[float | None]) -> list[float]:
    return [float(v) for v in values if v is not None and math.isfinite(v)]


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """About ``n`` round tick values covering [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        hi = lo + 1.0
    raw = (hi - lo) / max(n - 1, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    out, v = [], first
    while v <= hi + 1e-9 * step:
        out.append(0.0 if abs(v) < step * 1e-9 else v)
        v += step
    return out


def _date_ticks(start: dt.date, end: dt.date) -> list[tuple[dt.date, str]]:
    span = (end - start).days
    months = 12 if span > 3 * 365 else 3 if span > 300 else 1
    out: list[tuple[dt.date, str]] = []
    year, month = start.year, start.month
    while True:
        day = dt.date(year, month, 1)
        if day > end:
            break
        if day >= start and (month - 1) % months == 0:
            out.append((day, str(year) if months == 12 else f"{year}-{month:02d}"))
        month += 1
        if month > 12:
            year, month = year + 1, 1
    return out


def _fmt_axis(value: float, percent: bool, step: float) -> str:
    if percent:
        digits = 0 if step >= 0.01 - 1e-12 else 1
        return f"{value:.{digits}%}"
    digits = 0 if step >= 1 else 1 if step >= 0.1 else 2 if step >= 0.01 else 3
    return f"{value:.{digits}f}"


def _title(d: Drawing, title: str) -> float:
    """Draw the title at the top (if any); returns the height it takes."""
    if not title:
        return 0.0
    d.add(String(0, d.height - 11, title, fontName=FONT_BOLD, fontSize=10, fillColor=_TEXT))
    return 16.0


def _y_grid(d: Drawing, ticks: Sequence[float], x0: float, x1: float,
            py: Callable[[float], float], percent: bool, step: float) -> None:
    """Horizontal grid lines at ``ticks`` with their labels left of the axis."""
    for v in ticks:
        d.add(Line(x0, py(v), x1, py(v), strokeColor=_GRID, strokeWidth=0.5))
        d.add(String(x0 - 4, py(v) - 2.5, _fmt_axis(v, percent, step), fontName=FONT,
                     fontSize=7, fillColor=_TEXT, textAnchor="end"))


def line_chart(width: float, lines: Sequence[Curve], *, title: str = "", percent: bool = False,
               height: float | None = None) -> Drawing:
    """Dates on x, one or more series on y (greys and dashes), zero line, legend on top.
    The PDF gives charts a heading of their own, so ``title`` is optional."""
    height = height or width * 0.42
    d = Drawing(width, height, initialFontName=FONT)
    top = height - 4 - _title(d, title)
    legend = [ln for ln in lines if ln.label]
    if len(legend) > 1:
        x, y = 46.0, top - 6
        for ln in legend:
            colour, lw, dash = LINE_STYLES[ln.style % len(LINE_STYLES)]
            d.add(Line(x, y, x + 16, y, strokeColor=colour,
                       strokeWidth=lw + (2 if ln.bars else 0), strokeDashArray=dash))
            d.add(String(x + 20, y - 3, ln.label, fontName=FONT, fontSize=7.5,
                         fillColor=_TEXT))
            x += 28 + pdfmetrics.stringWidth(ln.label, FONT, 7.5)
        top -= 16
    x0, x1, y0, y1 = 46.0, width - 8.0, 16.0, top
    all_dates = [day for ln in lines for day in ln.dates]
    values = [v for ln in lines for v in _finite(ln.values)] + [0.0]
    if not all_dates or len(values) < 2:
        d.add(String(x0, (y0 + y1) / 2, "–", fontName=FONT, fontSize=9, fillColor=_TEXT))
        return d
    start, end = min(all_dates), max(all_dates)
    span = max((end - start).days, 1)
    lo, hi = min(values), max(values)
    pad = (hi - lo) * 0.05 or 0.01
    ticks = nice_ticks(lo - pad, hi + pad)
    lo, hi = min(ticks[0], lo - pad), max(ticks[-1], hi + pad)
    step = ticks[1] - ticks[0] if len(ticks) > 1 else 1.0

    def px(day: dt.date) -> float:
        return x0 + (x1 - x0) * (day - start).days / span

    def py(v: float) -> float:
        return y0 + (y1 - y0) * (v - lo) / (hi - lo)

    _y_grid(d, ticks, x0, x1, py, percent, step)
    for day, label in _date_ticks(start, end):
        d.add(Line(px(day), y0, px(day), y0 - 3, strokeColor=_AXIS, strokeWidth=0.5))
        d.add(String(px(day), y0 - 11, label, fontName=FONT, fontSize=7, fillColor=_TEXT,
                     textAnchor="middle"))
    d.add(Line(x0, y0, x1, y0, strokeColor=_AXIS, strokeWidth=0.6))
    d.add(Line(x0, y0, x0, y1, strokeColor=_AXIS, strokeWidth=0.6))
    if lo < 0 < hi:
        d.add(Line(x0, py(0), x1, py(0), strokeColor=_AXIS, strokeWidth=0.6,
                   strokeDashArray=[2, 2]))
    for ln in lines:
        colour, lw, dash = LINE_STYLES[ln.style % len(LINE_STYLES)]
        points = [(px(day), py(float(v))) if v is not None and math.isfinite(v) else None
                  for day, v in zip(ln.dates, ln.values, strict=True)]
        if ln.bars:
            bar_w = max((x1 - x0) / max(len(points), 1) * 0.8, 0.3)
            for p in points:
                if p is not None:
                    d.add(Rect(p[0] - bar_w / 2, min(p[1], py(0)), bar_w, abs(p[1] - py(0)),
                               fillColor=_grey(0.78), strokeColor=None))
            continue
        for run in _runs(points):
            if ln.fill and len(run) > 1:
                poly = [run[0][0], py(0), *[c for p in run for c in p], run[-1][0], py(0)]
                d.add(Polygon(poly, fillColor=_grey(0.85), strokeColor=None))
            if len(run) > 1:
                d.add(PolyLine([c for p in run for c in p], strokeColor=colour, strokeWidth=lw,
                               strokeDashArray=dash, strokeLineJoin=1))
    return d


def _runs(points: Sequence[tuple[float, float] | None]) -> list[list[tuple[float, float]]]:
    """Split a point list at gaps (None) into runs to draw as separate polylines."""
    out: list[list[tuple[float, float]]] = [[]]
    for p in points:
        if p is None:
            if out[-1]:
                out.append([])
        else:
            out[-1].append(p)
    return [r for r in out if r]


def heat_grid(width: float, rows: Sequence[str], cols: Sequence[str],
              values: Sequence[Sequence[float | None]], *, title: str = "",
              cell_text: Callable[[float], str] | None = None, col_every: int = 1,
              note: str = "") -> Drawing:
    """Rows x columns of cells shaded by |value| (darker = larger), negative cells marked
    with a corner triangle, so the sign survives a black-and-white print; ``cell_text``
    writes each value."""
    label_w = 40.0 if not rows else max(pdfmetrics.stringWidth(r, FONT, 7) for r in rows) + 8
    cell_h = 15.0 if cell_text else max(5.0, min(11.0, 220.0 / max(len(rows), 1)))
    top_pad, bottom_pad = (18.0 if title else 2.0), 16.0 + (12.0 if note else 0.0)
    height = top_pad + bottom_pad + cell_h * len(rows)
    d = Drawing(width, height, initialFontName=FONT)
    _title(d, title)
    finite = [abs(v) for row in values for v in _finite(row)]
    vmax = max(finite) if finite else 1.0
    vmax = vmax or 1.0
    x0 = label_w
    cell_w = (width - x0 - 4) / max(len(cols), 1)
    y_top = height - top_pad
    for i, name in enumerate(rows):
        y = y_top - (i + 1) * cell_h
        d.add(String(x0 - 4, y + cell_h / 2 - 2.5, name, fontName=FONT, fontSize=7,
                     fillColor=_TEXT, textAnchor="end"))
        for j, v in enumerate(values[i]):
            x = x0 + j * cell_w
            if v is None or not math.isfinite(v):
                d.add(Rect(x, y, cell_w, cell_h, fillColor=white, strokeColor=_GRID,
                           strokeWidth=0.3))
                continue
            level = 1.0 - 0.62 * min(abs(v) / vmax, 1.0)
            d.add(Rect(x, y, cell_w, cell_h, fillColor=_grey(level), strokeColor=white,
                       strokeWidth=0.4))
            if v < 0:
                side = min(cell_w, cell_h) * 0.45
                top_y = y + cell_h - 0.4
                d.add(Polygon([x + 0.4, top_y, x + 0.4 + side, top_y, x + 0.4, top_y - side],
                              fillColor=white if level < 0.6 else black, strokeColor=None))
            if cell_text:
                d.add(String(x + cell_w / 2, y + cell_h / 2 - 2.5, cell_text(v), fontName=FONT,
                             fontSize=6.5, fillColor=white if level < 0.55 else black,
                             textAnchor="middle"))
    y_axis = y_top - len(rows) * cell_h
    for j, name in enumerate(cols):
        if j % col_every == 0:
            d.add(String(x0 + (j + 0.5) * cell_w, y_axis - 9, name, fontName=FONT, fontSize=6.5,
                         fillColor=_TEXT, textAnchor="middle"))
    if note:
        d.add(String(x0, 2, note, fontName=FONT, fontSize=7, fillColor=_TEXT))
    return d


# ------------------------------------------------------------------------------ chart sets

def months(t: Translator) -> list[str]:
    """Twelve month labels in the report's language (the figures' own catalogue)."""
    return [t(f"figures.month_{m}") for m in range(1, 13)]


def _col(frame: pl.DataFrame, name: str) -> list[float | None]:
    return frame.get_column(name).cast(pl.Float64).fill_nan(None).to_list()


def _dates(frame: pl.DataFrame, name: str = "date") -> list[dt.date]:
    return frame.get_column(name).to_list()


def _wealth(frame: pl.DataFrame, name: str) -> list[float | None]:
    """Wealth index (from 1) as a cumulative return (from 0)."""
    return [None if v is None else v - 1 for v in _col(frame, name)]


def _equity(c: StrategyContent, t: Translator) -> Callable[[float], Drawing]:
    eq, dates = c.equity, _dates(c.equity)
    lines = [Curve(t("figures.strategy"), dates, _wealth(eq, "strategy")),
             Curve(charts.benchmark_label(c, t), dates, _wealth(eq, "benchmark"), style=1)]
    return lambda w: line_chart(w, lines, percent=True)


def _drawdown(c: StrategyContent, t: Translator) -> Callable[[float], Drawing]:
    lines = [Curve("", _dates(c.equity), _col(c.equity, "drawdown"), fill=True)]
    return lambda w: line_chart(w, lines, percent=True, height=w * 0.32)


def _turnover(c: StrategyContent, t: Translator) -> Callable[[float], Drawing]:
    lines = [Curve("", _dates(c.equity), _col(c.equity, "turnover"), bars=True)]
    return lambda w: line_chart(w, lines, percent=True, height=w * 0.32)


def _monthly(c: StrategyContent, t: Translator) -> Callable[[float], Drawing]:
    grid = c.monthly
    years = [str(y) for y in grid.get_column("year").to_list()]
    cells = [[grid.get_column(str(m))[i] for m in range(1, 13)] for i in range(grid.height)]
    return lambda w: heat_grid(w, years, months(t), cells, cell_text=lambda v: t.percent(v, 1),
                               note=t("report.chart.heat_note"))


def _rolling_sharpe(c: StrategyContent, t: Translator) -> Callable[[float], Drawing]:
    lines = [Curve("", _dates(c.rolling_sharpe), _col(c.rolling_sharpe, "sharpe"))]
    return lambda w: line_chart(w, lines, height=w * 0.32)


def _weights(c: StrategyContent, t: Translator) -> Callable[[float], Drawing]:
    mw = c.monthly_weights
    labels = [v for v in c.labels.values() if v in mw.columns]
    cols = [f"{d:%Y-%m}" for d in mw.get_column("month").to_list()]
    grid = [[mw.get_column(label)[j] for j in range(mw.height)] for label in labels]
    return lambda w: heat_grid(w, labels, cols, grid, col_every=max(1, len(cols) // 12),
                               note=t("report.chart.weights_note"))


def _rank_ic(c: StrategyContent, t: Translator) -> Callable[[float], Drawing]:
    ic = c.ic
    lines = [Curve(t("figures.daily_rank_ic"), _dates(ic), _col(ic, "rank_ic"), bars=True),
             Curve(t("figures.rolling_mean"), _dates(ic), _col(ic, "rank_ic_mean"))]
    return lambda w: line_chart(w, lines)


#: Native forms of the charts of :data:`engine.report.charts.STRATEGY_CHARTS`, by key.
NATIVE: dict[str, Callable[[StrategyContent, Translator], Callable[[float], Drawing]]] = {
    "equity": _equity, "drawdown": _drawdown, "turnover": _turnover, "monthly": _monthly,
    "rolling_sharpe": _rolling_sharpe, "weights": _weights, "rank_ic": _rank_ic,
}


def _no_native(c: StrategyContent, t: Translator) -> Callable[[float], Drawing]:
    """The slot of a chart that has no native form yet: one line saying why it is empty."""
    def draw(width: float) -> Drawing:
        d = Drawing(width, 24, initialFontName=FONT)
        d.add(String(0, 8, t("report.chart.needs_browser"), fontName=FONT, fontSize=8,
                     fillColor=_TEXT))
        return d
    return draw


def strategy_charts(c: StrategyContent, t: Translator) -> list[PdfChart]:
    """The charts of a strategy report in list order (:func:`engine.report.charts.charts_of`):
    the list's Plotly figures with their native forms."""
    figs = charts.strategy_charts(c, t)
    return [PdfChart(spec.key, figs[spec.key], NATIVE.get(spec.key, _no_native)(c, t),
                     min(int(figs[spec.key].layout.height or spec.height_px), MAX_HEIGHT_PX))
            for spec in charts.charts_of(c)]


def comparison_charts(contents: Sequence[StrategyContent], t: Translator) -> list[PdfChart]:
    """Overlaid wealth curves and drawdowns of the backtested strategies."""
    curves = {c.name: c.equity for c in contents if c.equity is not None}
    if not curves:
        return []
    title_e, title_d = t("report.chart.compare_equity"), t("report.chart.compare_drawdown")
    eq_lines = [Curve(n, _dates(e), _wealth(e, "strategy"), style=i)
                for i, (n, e) in enumerate(curves.items())]
    dd_lines = [Curve(n, _dates(e), _col(e, "drawdown"), style=i)
                for i, (n, e) in enumerate(curves.items())]
    return [
        PdfChart("compare_equity", figures.equity_comparison(curves, title=title_e, t=t),
                 lambda w: line_chart(w, eq_lines, percent=True), 450),
        PdfChart("compare_drawdown", figures.drawdown_comparison(curves, title=title_d, t=t),
                 lambda w: line_chart(w, dd_lines, percent=True), 400),
    ]


def dot_chart(width: float, groups: Sequence[str], series: Sequence[str],
              points: Callable[[str, str], Sequence[float]], *, height: float | None = None
              ) -> Drawing:
    """Categories on x (test years), one slot per series (methods) in each: a grey bar for
    the mean and a dot per value (seeds), so the spread is seen next to the gap; the series
    are told apart by grey level and named in the legend."""
    height = height or width * 0.42
    d = Drawing(width, height, initialFontName=FONT)
    top = height - 4
    x, y = 46.0, top - 6
    for i, name in enumerate(series):
        d.add(Rect(x, y - 3, 10, 7, fillColor=_grey(0.25 + 0.5 * i / max(len(series), 1)),
                   strokeColor=None))
        d.add(String(x + 14, y - 2, name, fontName=FONT, fontSize=7.5, fillColor=_TEXT))
        x += 26 + pdfmetrics.stringWidth(name, FONT, 7.5)
    top -= 18
    x0, x1, y0, y1 = 46.0, width - 8.0, 16.0, top
    values = [v for g in groups for s in series for v in _finite(points(s, g))] + [0.0]
    lo, hi = min(values), max(values)
    pad = (hi - lo) * 0.08 or 0.01
    ticks = nice_ticks(lo - pad, hi + pad)
    lo, hi = min(ticks[0], lo - pad), max(ticks[-1], hi + pad)
    step = ticks[1] - ticks[0] if len(ticks) > 1 else 1.0

    def py(v: float) -> float:
        return y0 + (y1 - y0) * (v - lo) / (hi - lo)

    _y_grid(d, ticks, x0, x1, py, False, step)
    group_w = (x1 - x0) / max(len(groups), 1)
    slot = group_w * 0.8 / max(len(series), 1)
    for gi, group in enumerate(groups):
        gx = x0 + gi * group_w + group_w * 0.1
        d.add(String(x0 + (gi + 0.5) * group_w, y0 - 11, group, fontName=FONT, fontSize=7,
                     fillColor=_TEXT, textAnchor="middle"))
        for si, name in enumerate(series):
            vals = _finite(points(name, group))
            if not vals:
                continue
            sx = gx + si * slot
            mean = sum(vals) / len(vals)
            shade = _grey(0.25 + 0.5 * si / max(len(series), 1))
            base = py(0.0) if lo < 0 < hi else y0
            d.add(Rect(sx + slot * 0.1, min(base, py(mean)), slot * 0.8, abs(py(mean) - base),
                       fillColor=shade, strokeColor=None, fillOpacity=0.45))
            for v in vals:
                d.add(Rect(sx + slot * 0.5 - 1.8, py(v) - 1.8, 3.6, 3.6, fillColor=black,
                           strokeColor=white, strokeWidth=0.3))
    d.add(Line(x0, y0, x1, y0, strokeColor=_AXIS, strokeWidth=0.6))
    d.add(Line(x0, y0, x0, y1, strokeColor=_AXIS, strokeWidth=0.6))
    if lo < 0 < hi:
        d.add(Line(x0, py(0), x1, py(0), strokeColor=_AXIS, strokeWidth=0.6,
                   strokeDashArray=[2, 2]))
    return d
