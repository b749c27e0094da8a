"""Combine & backtest: build a Mega-Alpha from factors, look at its weights, backtest it."""

from __future__ import annotations

import datetime as dt

import streamlit as st

from alphaforge_app import state
from engine.backtest.topk import TopKConfig
from engine.combine.service import (
    StrategySpec,
    available_factor_sets,
    backtest_strategy,
    build_strategy,
    combine_config,
    resolve_factor_set,
)
from engine.errors import AlphaForgeError
from engine.mining.zoo import FactorSet, save_factor_set
from engine.report import figures, series
from engine.store.project import slugify
from engine.store.strategies import load_strategy, strategy_names

st.title("Combine & backtest")
project = state.current_project(state.is_single_user())
if project is None or not project.dataset_names():
    st.info("Open a project with a dataset first (Home → Start with the demo market, or the "
            "Data page).")
    st.stop()

METHODS = {"dynamic": "Dynamic Mega-Alpha (re-fitted daily)", "equal": "Equal weight",
           "static": "Static OLS (fitted once)", "icweighted": "IC-weighted"}

build, view, backtest = st.tabs(["Build a strategy", "Weights & IC", "Backtest"])

with build:
    sets = available_factor_sets(project)
    source = st.selectbox("Factors from", sets, help="A mined zoo (mining run), a saved factor "
                          "set, or the Classic set of well-known hand-made factors.")
    factor_set = resolve_factor_set(project, source)
    chosen = st.multiselect("Factors", factor_set.formulas, default=factor_set.formulas,
                            help="Formulas to combine (all by default).")
    datasets = project.dataset_names()
    default_ds = factor_set.source.get("dataset")
    dataset = st.selectbox("Dataset", datasets, index=datasets.index(default_ds)
                           if default_ds in datasets else 0)
    meta = project.dataset_meta(dataset)
    first, last = dt.date.fromisoformat(meta.start), dt.date.fromisoformat(meta.end)
    suggested = first + (last - first) * 0.7
    with st.form("build"):
        c1, c2 = st.columns(2)
        method = c1.selectbox("Method", list(METHODS), format_func=METHODS.get)
        name = c2.text_input("Strategy name", f"{slugify(source)}-{method}")
        test = st.date_input("Test period", (suggested, last), min_value=first, max_value=last,
                             help="Days the Mega-Alpha is scored on; the static methods are "
                                  "fitted on the days before.")
        c3, c4, c5 = st.columns(3)
        window = c3.number_input("Look-back window (days, dynamic)", 20, 5000, 250,
                                 help="Days of realised factor performance each day's weights "
                                      "are fitted on (after a gap of horizon + 1 days).")
        n_factors = c4.number_input("Active factors per day", 1, 100, 10)
        price = c5.selectbox("Target price", ["vwap", "close"])
        overwrite = st.checkbox("Replace a strategy of the same name")
        submitted = st.form_submit_button("Build strategy", type="primary")
    if submitted:
        if not chosen:
            st.error("Pick at least one factor.")
        elif not isinstance(test, tuple) or len(test) != 2:
            st.error("Pick the first and the last day of the test period.")
        else:
            try:
                with st.spinner("Evaluating factors and fitting the weights..."):
                    set_name = source
                    if len(chosen) != len(factor_set.formulas):
                        set_name = f"{slugify(name)}-factors"
                        picked = tuple(f for f in factor_set.factors if f.formula in chosen)
                        save_factor_set(project, FactorSet(set_name, picked,
                                                           source=dict(factor_set.source)))
                    spec = StrategySpec(name=name, dataset=dataset, factor_set=set_name,
                                        test=(str(test[0]), str(test[1])), train=None,
                                        config=combine_config(method, window=int(window),
                                                              n_factors=int(n_factors),
                                                              price=price))
                    _, info = build_strategy(project, spec, overwrite=overwrite)
                st.session_state["af_strategy"] = name
                s = info["summary"]
                st.success(f"Strategy '{name}' saved: RankIC {s['rank_ic']:.4f} "
                           f"(RankICIR {s['rank_icir']:.2f}) over {s['n_days']} test days.")
            except AlphaForgeError as exc:
                st.error(str(exc))

names = strategy_names(project)
if not names:
    for tab in (view, backtest):
        tab.info("No strategy yet: build one in the first tab.")
    st.stop()
current = st.session_state.get("af_strategy")
strategy_name = st.sidebar.selectbox("Strategy", names, index=names.index(current)
                                     if current in names else 0)
strategy = load_strategy(project, strategy_name)
labels = series.factor_labels(strategy.info["formulas"])

with view:
    s = strategy.info["summary"]
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("IC", f"{s['ic']:.4f}")
    c2.metric("ICIR", f"{s['icir']:.2f}")
    c3.metric("RankIC", f"{s['rank_ic']:.4f}")
    c4.metric("RankICIR", f"{s['rank_icir']:.2f}")
    st.plotly_chart(figures.weights_heatmap(series.weights_grid(strategy.table("weights"),
                                                                labels), labels),
                    use_container_width=True)
    st.plotly_chart(figures.ic_chart(series.rolling_ic(strategy.table("daily"))),
                    use_container_width=True)
    with st.expander("Factor labels"):
        for formula, label in labels.items():
            st.markdown(f"**{label}** `{formula}`")

with backtest:
    with st.form("backtest"):
        c1, c2, c3 = st.columns(3)
        top_k = c1.number_input("Hold top k names", 1, 1000, 50)
        drop_n = c2.number_input("Replace at most n a day", 0, 1000, 5)
        rebalance = c3.number_input("Rebalance every (days)", 1, 60, 1)
        c4, c5, c6 = st.columns(3)
        buy_bps = c4.number_input("Buy cost (bps)", 0.0, 500.0, 5.0)
        sell_bps = c5.number_input("Sell cost (bps)", 0.0, 500.0, 15.0)
        trade_at = c6.selectbox("Trade at (day t+1)", ["open", "close", "vwap"])
        run_bt = st.form_submit_button("Run backtest", type="primary")
    if run_bt:
        try:
            with st.spinner("Backtesting..."):
                backtest_strategy(project, strategy_name, TopKConfig(
                    top_k=int(top_k), drop_n=int(drop_n), rebalance=int(rebalance),
                    trade_at=trade_at, buy_bps=buy_bps, sell_bps=sell_bps))
            strategy = load_strategy(project, strategy_name)
        except AlphaForgeError as exc:
            st.error(str(exc))
    result = strategy.backtest
    if result is None:
        st.info("No backtest yet for this strategy: set the options above and run one.")
    else:
        m = result["summary"]

        def pct(x: float | None) -> str:
            return "—" if x is None else f"{x:.2%}"

        c1, c2, c3, c4, c5 = st.columns(5)
        c1.metric("Annual return", pct(m["annual_return"]))
        c2.metric("Sharpe", "—" if m["sharpe"] is None else f"{m['sharpe']:.2f}")
        c3.metric("Max drawdown", pct(m["max_drawdown"]))
        c4.metric("Calmar", "—" if m["calmar"] is None else f"{m['calmar']:.2f}")
        c5.metric("Information ratio", "—" if m["information_ratio"] is None
                  else f"{m['information_ratio']:.2f}")
        eq = series.equity(strategy.table("backtest_daily"))
        st.plotly_chart(figures.equity_chart(eq), use_container_width=True)
        c1, c2 = st.columns(2)
        c1.plotly_chart(figures.drawdown_chart(eq), use_container_width=True)
        c2.plotly_chart(figures.turnover_chart(eq), use_container_width=True)
        st.plotly_chart(figures.monthly_heatmap(series.monthly_grid(m["monthly"])),
                        use_container_width=True)
        st.caption(m.get("conventions", ""))
