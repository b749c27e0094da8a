"""Reports: one strategy in detail, several side by side, and downloads (data, charts, PDF)."""

from __future__ import annotations

import json

import plotly.graph_objects as go
import streamlit as st

from alphaforge_app import cache, state
from alphaforge_app.components.charts import show_charts
from alphaforge_app.components.prepared import prepared_download
from alphaforge_app.components.sweep_reports import sweep_report_downloads
from alphaforge_app.i18n import language, t, translator
from engine.metrics.formulas import factor_values
from engine.mining.sweep_store import sweep_ids
from engine.report import export, figures, series
from engine.report.alphalens_export import alphalens_zip, build_frames
from engine.report.charts import strategy_charts
from engine.report.content import (
    StrategyContent,
    best_compared,
    gather,
    gather_many,
    significance_lines,
)
from engine.report.html import build_html
from engine.report.pdf import build_comparison_pdf, build_pdf
from engine.store.bundle import bundle_bytes
from engine.store.strategies import load_strategy, strategy_names

st.title(t("reports.title"))
project = state.current_project(state.is_single_user())
names = strategy_names(project) if project is not None else []
sweeps = sweep_ids(project) if project is not None else []
if project is not None and sweeps:
    with st.expander(t("reports.sweep_reports")):
        picked_sweep = st.selectbox(t("sweep.pick"), sweeps, key="report_sweep")
        sweep_report_downloads(project, picked_sweep)
if project is None or not names:
    st.info(t("reports.no_strategy"))
    st.stop()

detail, compare, downloads = st.tabs([t("reports.tab_detail"), t("reports.tab_compare"),
                                      t("reports.tab_downloads")])


_built: dict[str, dict[str, go.Figure]] = {}  # this run's charts by strategy (both tabs)
_gathered: dict[str, StrategyContent] = {}


def _content(name: str) -> StrategyContent:
    if name not in _gathered:
        _gathered[name] = gather(project, name)
    return _gathered[name]


def _figures(name: str) -> dict[str, go.Figure]:
    """The strategy's charts from the engine's chart list (the PDF's and HTML report's),
    built once per run even when the report and downloads tabs show the same strategy."""
    if name not in _built:
        _built[name] = strategy_charts(_content(name), translator())
    return _built[name]


def _significance(content: StrategyContent, intro: str | None = None) -> None:
    """The report's "Is it luck?" lines: deflated Sharpe and the best factor's haircut t."""
    if content.significance is None:
        return
    lines = significance_lines(translator(), content.significance, content.labels)
    if not lines:
        return
    st.subheader(t("report.sig.heading"))
    for line in ([intro] if intro else []) + lines:
        st.markdown(line)
    st.caption(t("report.sig.note"))


with detail:
    name = st.selectbox(t("reports.strategy"), names, key="report_strategy")
    strategy = load_strategy(project, name)
    info = strategy.info
    st.markdown(t("reports.summary_line", name=name,
                  method=t(f"combine.method_{info['config']['method']}"),
                  count=len(info["formulas"]), factor_set=info["factor_set"],
                  dataset=info["dataset"], start=translator().date(info["test"][0]),
                  end=translator().date(info["test"][1])))
    s = info["summary"]
    tr = translator()
    c1, c2, c3, c4 = st.columns(4)
    c1.metric(t("reports.mega_alpha_ic"), tr.number(s["ic"], 4), help=t("combine.ic_help"))
    c2.metric("ICIR", tr.number(s["icir"], 2), help=t("combine.icir_help"))
    c3.metric("RankIC", tr.number(s["rank_ic"], 4), help=t("combine.rank_ic_help"))
    c4.metric("RankICIR", tr.number(s["rank_icir"], 2), help=t("combine.icir_help"))
    if strategy.backtest is None:
        st.info(t("reports.no_backtest"))
    else:
        st.dataframe(series.metrics_table({name: strategy.backtest["summary"]}, tr),
                     hide_index=True, use_container_width=True)
    _significance(_content(name))
    show_charts(_figures(name))
    st.subheader(t("reports.factors"))
    labels = series.factor_labels(info["formulas"])
    st.dataframe(series.factor_table(strategy.table("weights"), labels,
                                                    translator()), hide_index=True,
                 use_container_width=True,
                 column_config={
                     "label": st.column_config.TextColumn(t("reports.col_label")),
                     "readable": st.column_config.TextColumn(
                         t("reports.col_readable"), width="large",
                         help=t("reports.col_readable_help")),
                     "meaning": st.column_config.TextColumn(t("gloss.column"), width="medium",
                                                            help=t("gloss.column_help")),
                     "formula": st.column_config.TextColumn(t("reports.col_formula"),
                                                            width="medium"),
                     "active_share": st.column_config.NumberColumn(
                         t("reports.col_active_share"), format="percent",
                         help=t("reports.col_active_share_help")),
                     "mean_abs_weight": st.column_config.NumberColumn(
                         t("reports.col_mean_abs_weight"), format="%.4f"),
                     "days_flipped": st.column_config.NumberColumn(
                         t("reports.col_days_flipped"), help=t("reports.col_days_flipped_help")),
                 })
    with st.expander(t("reports.configuration")):
        st.json({k: v for k, v in info.items() if k not in ("summary",)}, expanded=False)
        if strategy.backtest is not None:
            st.json(strategy.backtest["config"], expanded=False)

with compare:
    tested = [n for n in names if load_strategy(project, n).backtest is not None]
    if len(tested) < 2:
        st.info(t("reports.compare_need_two"))
    else:
        picked = st.multiselect(t("reports.strategies"), tested, default=tested[:3])
        if picked:
            tr = translator()
            loaded = {n: load_strategy(project, n) for n in picked}
            st.dataframe(series.metrics_table({n: s.backtest["summary"]
                                               for n, s in loaded.items()}, tr),
                         hide_index=True, use_container_width=True)
            best = best_compared(gather_many(project, picked))
            if best is not None:
                _significance(best, t("report.sig.best_compared", name=best.name))
            curves = {n: series.equity(s.table("backtest_daily")) for n, s in loaded.items()}
            st.plotly_chart(figures.equity_comparison(curves, t=tr), use_container_width=True)
            st.plotly_chart(figures.drawdown_comparison(curves, t=tr), use_container_width=True)
            prepared_download(
                st, key="cmp_pdf", subject="|".join(picked),
                make=lambda: build_comparison_pdf(project, picked, lang=language()),
                make_label=t("reports.make_comparison_pdf"),
                download_label=t("reports.download_pdf"), spinner=t("reports.making_pdf"),
                file_name="comparison.pdf", mime="application/pdf")

with downloads:
    name = st.selectbox(t("reports.strategy"), names, key="download_strategy")
    strategy = load_strategy(project, name)
    st.markdown(t("reports.report_heading"))
    c1, c2, c3 = st.columns(3)
    author = c1.text_input(t("reports.author"), key="report_author",
                           help=t("reports.author_help"))
    prepared_download(
        c2, key="pdf", subject=name, primary=True,
        make=lambda: build_pdf(project, name, lang=language(), author=author or None),
        make_label=t("reports.make_pdf"), download_label=t("reports.download_pdf"),
        spinner=t("reports.making_pdf"), file_name=f"{name}.pdf", mime="application/pdf")
    prepared_download(
        c3, key="html", subject=name,
        make=lambda: build_html(project, name, lang=language(), author=author or None),
        make_label=t("reports.make_html"), download_label=t("reports.download_html"),
        spinner=t("reports.making_html"), file_name=f"{name}.html", mime="text/html")
    with_data = st.checkbox(t("reports.bundle_with_data"), key="bundle_data",
                            help=t("reports.bundle_with_data_help"))
    prepared_download(
        st, key="bundle", subject=f"{name}|{with_data}", help=t("reports.bundle_help"),
        make=lambda: bundle_bytes(project, strategy=name, with_data=with_data),
        make_label=t("reports.bundle"), download_label=t("reports.bundle_download"),
        spinner=t("reports.bundling"), file_name=f"{name}-bundle.zip", mime="application/zip")

    st.markdown(t("reports.data_heading"))
    d1, d2, d3 = st.columns(3)
    prepared_download(
        d1, key="series", subject=name, help=t("reports.series_zip_help"),
        make=lambda: export.series_zip(gather_many(project, [name]),
                                       readme=t("report.data_readme")),
        make_label=t("reports.series_zip"), download_label=t("reports.download_zip"),
        spinner=t("reports.packing"), file_name=f"{name}-series.zip", mime="application/zip")
    prepared_download(
        d2, key="factor_values", subject=name, help=t("reports.factor_values_help"),
        make=lambda: export.frame_parquet(factor_values(
            cache.panel(project, str(strategy.info["dataset"])), strategy.info["formulas"],
            list(series.factor_labels(strategy.info["formulas"]).values()),
            start=strategy.info["test"][0], end=strategy.info["test"][1])),
        make_label=t("reports.factor_values"), download_label=t("reports.download_parquet"),
        spinner=t("reports.packing"), file_name=f"{name}-factor-values.parquet",
        mime="application/octet-stream")
    prepared_download(
        d3, key="alphalens", subject=name, help=t("reports.alphalens_help"),
        make=lambda: alphalens_zip(build_frames(project, name)),
        make_label=t("reports.alphalens"), download_label=t("reports.download_zip"),
        spinner=t("reports.packing"), file_name=f"{name}-alphalens.zip",
        mime="application/zip")
    tables = ["scores", "weights", "daily"]
    if strategy.backtest is not None:
        tables += ["backtest_daily", "positions", "trades"]
    cols = st.columns(3)
    # the files are made when a button is clicked (deferred data), not on every rerun
    for i, stem in enumerate(tables):
        with cols[i % 3]:
            st.download_button(f"{stem}.csv",
                               lambda s=strategy, stem=stem: export.frame_csv(s.table(stem)),
                               f"{name}_{stem}.csv", "text/csv", key=f"csv_{stem}")
            st.download_button(f"{stem}.parquet",
                               lambda s=strategy, stem=stem: export.frame_parquet(s.table(stem)),
                               f"{name}_{stem}.parquet", key=f"pq_{stem}")
    st.download_button("strategy.json", json.dumps(strategy.info, indent=2, default=str),
                       f"{name}_strategy.json", "application/json")
    st.markdown(t("reports.charts_heading"))
    charts = _figures(name)
    want_png = export.browser_available() and st.toggle(t("reports.render_png"))
    cols = st.columns(3)
    for i, (key, fig) in enumerate(charts.items()):
        with cols[i % 3]:
            st.download_button(f"{key}.html", lambda fig=fig: export.figure_html(fig),
                               f"{name}_{key}.html", "text/html", key=f"html_{key}")
            if want_png:
                png = export.figure_png(fig)
                if png is not None:
                    st.download_button(f"{key}.png", png, f"{name}_{key}.png", "image/png",
                                       key=f"png_{key}")
                svg = export.figure_svg(fig)
                if svg is not None:
                    st.download_button(f"{key}.svg", svg, f"{name}_{key}.svg",
                                       "image/svg+xml", key=f"svg_{key}")
