"""Reports: one strategy in detail, several side by side, and downloads."""

from __future__ import annotations

import json

import streamlit as st

from alphaforge_app import state
from engine.report import export, figures, series
from engine.store.strategies import load_strategy, strategy_names

st.title("Reports")
project = state.current_project(state.is_single_user())
names = strategy_names(project) if project is not None else []
if project is None or not names:
    st.info("No strategy yet. Build one on the Combine & backtest page, then come back for "
            "its report.")
    st.stop()

detail, compare, downloads = st.tabs(["Strategy report", "Compare strategies", "Downloads"])


def _figures(strategy) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """Every chart of a strategy's report (backtest charts only when it has a backtest)."""
    labels = series.factor_labels(strategy.info["formulas"])
    out: dict[str, object] = {
        "weights": figures.weights_heatmap(series.weights_grid(strategy.table("weights"),
                                                               labels), labels),
        "rank_ic": figures.ic_chart(series.rolling_ic(strategy.table("daily"))),
    }
    if strategy.backtest is not None:
        daily = strategy.table("backtest_daily")
        eq = series.equity(daily)
        out.update({
            "equity": figures.equity_chart(eq),
            "drawdown": figures.drawdown_chart(eq),
            "monthly": figures.monthly_heatmap(series.monthly_grid(
                strategy.backtest["summary"]["monthly"])),
            "turnover": figures.turnover_chart(eq),
        })
    return out


with detail:
    name = st.selectbox("Strategy", names, key="report_strategy")
    strategy = load_strategy(project, name)
    info = strategy.info
    st.markdown(f"**{name}** — {info['config']['method']} combination of "
                f"{len(info['formulas'])} factors from `{info['factor_set']}` on dataset "
                f"`{info['dataset']}`, test {info['test'][0]} .. {info['test'][1]}")
    s = info["summary"]
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Mega-Alpha IC", f"{s['ic']:.4f}")
    c2.metric("ICIR", f"{s['icir']:.2f}")
    c3.metric("RankIC", f"{s['rank_ic']:.4f}")
    c4.metric("RankICIR", f"{s['rank_icir']:.2f}")
    charts = _figures(strategy)
    if strategy.backtest is None:
        st.info("This strategy has no backtest yet (Combine & backtest → Backtest).")
    else:
        st.dataframe(series.metrics_table({name: strategy.backtest["summary"]}),
                     hide_index=True, use_container_width=True)
        for key in ("equity", "drawdown", "monthly", "turnover"):
            st.plotly_chart(charts[key], use_container_width=True)
    st.plotly_chart(charts["weights"], use_container_width=True)
    st.plotly_chart(charts["rank_ic"], use_container_width=True)
    st.subheader("Factors")
    labels = series.factor_labels(info["formulas"])
    st.dataframe(series.factor_table(strategy.table("weights"), labels), hide_index=True,
                 use_container_width=True,
                 column_config={"active_share": st.column_config.NumberColumn(format="percent"),
                                "formula": st.column_config.TextColumn(width="large")})
    with st.expander("Configuration (reproducibility)"):
        st.json({k: v for k, v in info.items() if k not in ("summary",)}, expanded=False)
        if strategy.backtest is not None:
            st.json(strategy.backtest["config"], expanded=False)

with compare:
    tested = [n for n in names if load_strategy(project, n).backtest is not None]
    if len(tested) < 2:
        st.info("Backtest at least two strategies to compare them (e.g. the dynamic Mega-Alpha "
                "against an equal-weight one).")
    else:
        picked = st.multiselect("Strategies", tested, default=tested[:3])
        if picked:
            loaded = {n: load_strategy(project, n) for n in picked}
            st.dataframe(series.metrics_table({n: s.backtest["summary"]
                                               for n, s in loaded.items()}),
                         hide_index=True, use_container_width=True)
            curves = {n: series.equity(s.table("backtest_daily")) for n, s in loaded.items()}
            st.plotly_chart(figures.equity_comparison(curves), use_container_width=True)

with downloads:
    name = st.selectbox("Strategy", names, key="download_strategy")
    strategy = load_strategy(project, name)
    st.markdown("**Data**")
    tables = ["scores", "weights", "daily"]
    if strategy.backtest is not None:
        tables += ["backtest_daily", "positions", "trades"]
    cols = st.columns(3)
    for i, stem in enumerate(tables):
        frame = strategy.table(stem)
        with cols[i % 3]:
            st.download_button(f"{stem}.csv", export.frame_csv(frame), f"{name}_{stem}.csv",
                               "text/csv", key=f"csv_{stem}")
            st.download_button(f"{stem}.parquet", export.frame_parquet(frame),
                               f"{name}_{stem}.parquet", key=f"pq_{stem}")
    st.download_button("strategy.json", json.dumps(strategy.info, indent=2, default=str),
                       f"{name}_strategy.json", "application/json")
    st.markdown("**Charts** (interactive HTML works offline; PNG needs Chromium or Chrome)")
    charts = _figures(strategy)
    want_png = export.browser_available() and st.toggle("Also render PNG files (slower)")
    cols = st.columns(3)
    for i, (key, fig) in enumerate(charts.items()):
        with cols[i % 3]:
            st.download_button(f"{key}.html", export.figure_html(fig), f"{name}_{key}.html",
                               "text/html", key=f"html_{key}")
            if want_png:
                png = export.figure_png(fig)
                if png is not None:
                    st.download_button(f"{key}.png", png, f"{name}_{key}.png", "image/png",
                                       key=f"png_{key}")
    st.caption("The PDF report arrives with the report feature.")
