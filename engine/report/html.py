"""A self-contained interactive HTML report: the PDF's outline with live Plotly charts.

One file, no network: plotly.js is inlined once in the head, MathJax is off, styles are
inline. The sections, numbers and words are the PDF's (both render
:func:`engine.report.content.strategy_outline` / :func:`~engine.report.content.comparison_outline`);
only the charts differ: here they are the app's interactive figures (a strategy's from the
chart list, :func:`engine.report.charts.strategy_charts`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from engine.errors import ConfigError
from engine.i18n import Translator
from engine.report.charts import strategy_charts
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
from engine.report.pdf_charts import comparison_charts
from engine.store.project import Project

_CSS = """
body { font-family: "NanumGothic", "Noto Sans KR", "Malgun Gothic", "Apple SD Gothic Neo",
       "Noto Sans", Arial, sans-serif; color: #111; max-width: 980px; margin: 2em auto;
       padding: 0 1em; line-height: 1.45; font-size: 15px; }
header { border-bottom: 2px solid #111; margin-bottom: 1.5em; padding-bottom: 1em; }
header h1 { font-size: 2.1em; margin: 0 0 .1em; }
header .subtitle { font-size: 1.3em; color: #444; font-weight: bold; margin-bottom: .8em; }
h2 { font-size: 1.45em; margin-top: 2em; border-bottom: 1px solid #bbb; }
h3 { font-size: 1.1em; margin-top: 1.4em; }
table { border-collapse: collapse; margin: .5em 0 1em; font-size: .86em; }
th, td { border-bottom: 1px solid #ccc; padding: 3px 8px; text-align: left;
         vertical-align: middle; }
th { background: #e6e6e6; border-bottom: 1.5px solid #111; }
tbody tr:nth-child(even) td { background: #f6f6f6; }
td.num, th.num { text-align: right; white-space: nowrap; }
td.mono { font-family: "NanumGothicCoding", "D2Coding", Consolas, monospace; font-size: .92em; }
td.key { font-weight: bold; width: 30%; }
.columns { display: flex; gap: 1.5em; flex-wrap: wrap; align-items: flex-start; }
.small { font-size: .85em; color: #444; }
nav ol { list-style: none; padding-left: 0; } nav ol ol { padding-left: 1.5em; }
.chart { margin: .3em 0 .2em; }
@media print { .chart { break-inside: avoid; } h2 { break-before: page; } }
"""


def _grid(grid: Grid) -> str:
    def cell(text: str, row: int, col: int) -> str:
        classes = []
        if grid.numeric_from is not None and col >= grid.numeric_from:
            classes.append("num")
        if col in grid.mono and not (grid.header and row == 0):
            classes.append("mono")
        if grid.keys and col == 0:
            classes.append("key")
        tag = "th" if grid.header and row == 0 else "td"
        attr = f' class="{" ".join(classes)}"' if classes else ""
        return f"<{tag}{attr}>{escape(text)}</{tag}>"

    rows = [["".join(cell(text, r, c) for c, text in enumerate(row))]
            for r, row in enumerate(grid.rows)]
    head = f"<thead><tr>{rows[0][0]}</tr></thead>" if grid.header and rows else ""
    body = "".join(f"<tr>{r[0]}</tr>" for r in rows[1 if grid.header else 0:])
    return f"<table>{head}<tbody>{body}</tbody></table>"


def _contents(outline: Outline, title: str) -> str:
    out, level = [f"<nav><h2>{escape(title)}</h2><ol>"], 0
    for h in outline.headings:
        if h.level > level:
            out.append("<ol>")
        elif h.level < level:
            out.append("</ol>")
        level = h.level
        out.append(f'<li><a href="#{h.anchor}">{escape(h.text)}</a></li>')
    out.append("</ol>" * (level + 1) + "</nav>")
    return "".join(out)


def _chart_html(fig: go.Figure) -> str:
    untitled = go.Figure(fig).update_layout(title_text="", margin_t=30)  # the heading titles it
    return untitled.to_html(full_html=False, include_plotlyjs=False, include_mathjax=False,
                            config={"displaylogo": False, "responsive": True})


def render_html(outline: Outline, t: Translator, figures: Mapping[str, go.Figure]) -> bytes:
    """The outline as one HTML document with ``figures`` (by chart key) embedded."""
    parts = [f'<!DOCTYPE html><html lang="{t.lang}"><head><meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>{escape(outline.title)}</title><style>{_CSS}</style>",
             f'<script type="text/javascript">{get_plotlyjs()}</script></head><body>',
             f"<header><h1>{escape(outline.cover_title)}</h1>",
             f'<div class="subtitle">{escape(outline.cover_subtitle)}</div>',
             _grid(Grid(outline.cover_items, (1, 2), header=False, keys=True)),
             f'<p class="small">{escape(t("report.cover_note"))} '
             f'{escape(t("report.html_note"))}</p></header>',
             _contents(outline, t("report.contents"))]
    for block in outline.blocks:
        if isinstance(block, Heading):
            tag = "h2" if block.level == 0 else "h3"
            parts.append(f'<{tag} id="{block.anchor}">{escape(block.text)}</{tag}>')
        elif isinstance(block, Text):
            small = ' class="small"' if block.small else ""
            parts.append(f"<p{small}>{escape(block.text)}</p>")
        elif isinstance(block, Grid):
            parts.append(_grid(block))
        elif isinstance(block, Columns):
            parts.append('<div class="columns">' + "".join(_grid(g) for g in block.grids)
                         + "</div>")
        elif isinstance(block, Chart) and block.key in figures:
            h = block.heading
            parts.append(f'<h3 id="{h.anchor}">{escape(h.text)}</h3>'
                         f'<div class="chart" data-chart="{escape(block.key)}">'
                         f"{_chart_html(figures[block.key])}</div>")
            if block.note:
                parts.append(f'<p class="small">{escape(block.note)}</p>')
    parts.append("</body></html>")
    return "\n".join(parts).encode("utf-8")


def _note(t: Translator) -> ChartsNote:
    return ChartsNote(t("report.renderer.plotly"), t("report.reason.html"))


def build_html(project: Project, strategy: str, *, compare: Sequence[str] = (),
               lang: str = "en", author: str | None = None) -> bytes:
    """HTML bytes of one strategy's report, or of a comparison of ``strategy`` with the
    strategies in ``compare``."""
    t = Translator(lang)
    if compare:
        names = list(dict.fromkeys([strategy, *compare]))
        if len(names) < 2:
            raise ConfigError("a comparison needs at least two different strategies")
        contents = gather_many(project, names)
        figs = {s.key: s.figure for s in comparison_charts(contents, t)}
        return render_html(comparison_outline(contents, t, _note(t), author), t, figs)
    content = gather(project, strategy)
    figs = strategy_charts(content, t)
    return render_html(strategy_outline(content, t, _note(t), author), t, figs)



def build_sweep_html(project: Project, run_id: str, *, lang: str = "en",
                     author: str | None = None) -> bytes:
    """HTML bytes of a sweep's report (the same outline as its PDF)."""
    from engine.report.sweep_report import gather_sweep, sweep_charts, sweep_outline

    t = Translator(lang)
    content = gather_sweep(project, run_id)
    figs = {s.key: s.figure for s in sweep_charts(content, t)}
    return render_html(sweep_outline(content, t, _note(t), author), t, figs)
