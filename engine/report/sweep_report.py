"""A sweep as a report section: its design, the method x year chart, the results table, the
paired verdicts and the significance of its best result, in the reader's language.

The content is an :class:`engine.report.content.Outline` like a strategy's, so the PDF
(:func:`engine.report.pdf.render_sweep_pdf`) and the HTML report
(:func:`engine.report.html.build_sweep_html`) show the same words and numbers; the chart is
:func:`engine.report.figures.sweep_chart` (with a native drawing for a PDF without a browser).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.i18n import Translator
from engine.mining import sweep as S
from engine.mining import sweep_store
from engine.report import figures
from engine.report.content import ChartsNote, Grid, Outline, Text, _cover_items, _kv, _Numbered
from engine.report.pdf_charts import PdfChart, dot_chart
from engine.report.series import worded
from engine.store.project import Project
from engine.store.records import package_versions, utc_now

CHART_KEY = "sweep"
#: (metric of a cell record, catalogue key of its column, kind for formatting)
TABLE_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("test_ic", "report.metric.ic", "ic"), ("test_rank_ic", "report.metric.rank_ic", "ic"),
    ("test_icir", "report.metric.icir", "num"),
    ("excess_return", "report.metric.excess_return", "pct"),
    ("sharpe", "report.metric.sharpe", "num"),
)


@dataclass(frozen=True)
class SweepContent:
    """What a sweep report is made of, gathered once from the sweep's run folder."""

    run_id: str
    spec: S.SweepSpec
    records: tuple[Mapping[str, Any], ...]
    summary: Mapping[str, Any]
    status: str
    total: int
    versions: Mapping[str, str] = field(default_factory=package_versions)
    generated: str = field(default_factory=utc_now)


def gather_sweep(project: Project, run_id: str) -> SweepContent:
    spec = sweep_store.sweep_spec(project, run_id)
    progress = sweep_store.sweep_progress(project, run_id)
    return SweepContent(run_id=run_id, spec=spec,
                        records=tuple(sweep_store.done_cells(project, run_id).values()),
                        summary=sweep_store.summarize_sweep(project, run_id),
                        status=progress.status, total=progress.total)


def _mean_std(t: Translator, mean: Any, std: Any, kind: str) -> str:
    def one(x: Any) -> str:
        if not isinstance(x, int | float) or not math.isfinite(x):
            return "–"
        return t.percent(float(x), 1) if kind == "pct" else t.number(float(x),
                                                                     4 if kind == "ic" else 2)
    return one(mean) if not isinstance(std, int | float) or not math.isfinite(std) or std == 0 \
        else f"{one(mean)} ± {one(std)}"


def _design(o: _Numbered, t: Translator, c: SweepContent) -> None:
    s = c.spec
    o.h1(t("report.sweep.section_design"))
    o.add(_kv([
        (t("report.setting.dataset"), s.dataset),
        (t("report.sweep.methods"), ", ".join(s.methods)),
        (t("report.sweep.seeds"), ", ".join(map(str, s.seeds))),
        (t("report.sweep.test_years"), ", ".join(map(str, s.test_years))),
        (t("report.sweep.budget"), t.number(s.max_evaluations, 0)),
        (t("report.sweep.preset"), s.preset),
        (t("report.sweep.cells"), t("report.sweep.cells_value", done=len(c.records),
                                    total=c.total,
                                    status=t(f"report.sweep.state_{c.status}"))),
    ]), Text(t("report.sweep.design_note")))


def _results(o: _Numbered, t: Translator, c: SweepContent) -> None:
    o.h1(t("report.sweep.section_results"), new_page=True)
    o.chart(CHART_KEY, t("report.sweep.chart"), t("report.sweep.chart_note"))
    o.h2(t("report.sweep.table"))
    head = (t("report.sweep.col_method"), t("report.sweep.col_year"),
            t("report.sweep.col_cells"), t("report.sweep.col_zoo"),
            *(t(key) for _, key, _ in TABLE_COLUMNS))
    rows = [head]
    for r in c.summary.get("table", []):
        year = t("report.sweep.all_years") if r["year"] == "all" else str(r["year"])
        rows.append((str(r["method"]), year, str(r["cells"]), t.number(r["zoo_size"], 1),
                     *(_mean_std(t, r.get(f"{m}_mean"), r.get(f"{m}_std"), kind)
                       for m, _, kind in TABLE_COLUMNS)))
    o.add(Grid(tuple(rows), (52, 34, 30, 30, 76, 76, 56, 70, 66), numeric_from=2),
          Text(t("report.sweep.table_note"), small=True))


def _verdicts(o: _Numbered, t: Translator, c: SweepContent) -> None:
    verdicts = c.summary.get("verdicts") or []
    if not verdicts:
        return
    o.h2(t("report.sweep.verdicts", test=worded(verdicts[0]["test"], t)))
    for v in verdicts:
        p = v["p_value"]
        o.add(Text(t("report.sweep.verdict_line", a=v["a"], b=v["b"],
                     verdict=worded(v["verdict"], t),
                     diff=f"{v['mean_diff']:+.4f}", wins=v["wins"], n=v["n"],
                     p="–" if not math.isfinite(p) else f"{p:.3f}")))


def _significance(o: _Numbered, t: Translator, c: SweepContent) -> None:
    sig = c.summary.get("significance") or {}
    if not sig:
        return
    d = sig["deflated_sharpe"]
    o.h2(t("report.sweep.significance"))
    o.add(Text(t("report.sweep.best_cell", cell=sig["best_cell"], sharpe=f"{d['sharpe']:+.4f}",
                 dsr=f"{d['dsr']:.3f}", n=d["n_trials"])))
    if "best_factor" in sig:
        b = sig["best_factor"]
        o.add(Text(t("report.sweep.best_factor", t=f"{b['t']:.2f}", tests=b["tests"],
                     bonf=f"{b['t_bonferroni']:.2f}", bhy=f"{b['t_bhy']:.2f}")))
    o.add(Text(t("report.sweep.significance_note"), small=True))


def _appendix(o: _Numbered, t: Translator, c: SweepContent, charts: ChartsNote) -> None:
    o.h1(t("report.section.appendix"), new_page=True)
    o.add(Text(t("report.sweep.appendix_text", run=c.run_id)))
    o.add(_kv([(t("report.setting.charts"), charts.renderer),
               (t("report.setting.reason"), charts.reason),
               (t("report.setting.generated"), c.generated)]))
    o.add(Grid(((t("report.col.package"), t("report.col.version_now")),
                *c.versions.items()), (120, 370)))


def sweep_outline(c: SweepContent, t: Translator, charts: ChartsNote,
                  author: str | None = None) -> Outline:
    """The sweep's report: design, results (chart, table, verdicts, significance), appendix."""
    o = _Numbered()
    _design(o, t, c)
    if c.records:
        _results(o, t, c)
        _verdicts(o, t, c)
        _significance(o, t, c)
    else:
        o.add(Text(t("sweep.no_cells")))
    _appendix(o, t, c, charts)
    title = t("report.sweep.title")
    cover = [(t("report.setting.dataset"), c.spec.dataset),
             (t("report.sweep.methods"), ", ".join(c.spec.methods)),
             (t("report.sweep.test_years"), ", ".join(map(str, c.spec.test_years))),
             *_cover_items(t, author)]
    return Outline(f"{title}: {c.run_id}", title, c.run_id, tuple(cover), tuple(o.blocks))


def sweep_charts(c: SweepContent, t: Translator) -> list[PdfChart]:
    """The method x year chart in both forms (Plotly for HTML and kaleido, native for a PDF
    without a browser)."""
    if not c.records:
        return []
    points = S.cell_points(list(c.records))
    methods = list(dict.fromkeys(points["method"].to_list()))
    years = [str(y) for y in sorted(set(points["year"].to_list()))]

    def values(method: str, year: str) -> Sequence[float]:
        part = points.filter((points["method"] == method) & (points["year"] == int(year)))
        return part["value"].to_list()

    return [PdfChart(CHART_KEY, figures.sweep_chart(points, t=t),
                     lambda w: dot_chart(w, years, methods, values), 420)]
