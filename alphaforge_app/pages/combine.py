"""Combine & backtest: build a Mega-Alpha from factors, look at its weights, backtest it."""

from __future__ import annotations

import datetime as dt

import streamlit as st

from alphaforge_app import cache, state
from alphaforge_app.components.charts import show_charts
from alphaforge_app.i18n import error_text, t, translator
from engine.backtest.topk import TopKConfig
from engine.combine.factor_files import factor_set_text, import_factor_set
from engine.combine.methods import COMBINE_METHODS
from engine.combine.service import (
    StrategySpec,
    available_factor_sets,
    backtest_strategy,
    build_strategy,
    combine_config,
    resolve_factor_set,
    suggested_test_range,
)
from engine.errors import AlphaForgeError
from engine.expr.builtin_sets import BUILTIN_SETS
from engine.mining.zoo import FactorSet, save_factor_set
from engine.report import series
from engine.report.charts import strategy_charts
from engine.report.content import gather
from engine.store.project import slugify
from engine.store.strategies import load_strategy, strategy_names

st.title(t("combine.title"))
project = state.current_project(state.is_single_user())
if project is None or not project.dataset_names():
    st.info(t("common.need_dataset"))
    st.stop()

#: Labels are looked up in dicts built now: a format_func may be called after the run.
PRICES = {p: t(f"combine.price_{p}") for p in ("vwap", "close", "open")}

build, view, backtest = st.tabs([t("combine.tab_build"), t("combine.tab_weights"),
                                 t("combine.tab_backtest")])

with build:
    sets = available_factor_sets(project)
    source = st.selectbox(t("combine.factors_from"), sets,
                          format_func={s: t(BUILTIN_SETS[s].label) if s in BUILTIN_SETS
                                       else s for s in sets}.get,
                          help=t("combine.factors_from_help"))
    factor_set = resolve_factor_set(project, source)
    chosen = st.multiselect(t("combine.factors"), factor_set.formulas,
                            default=factor_set.formulas, help=t("combine.factors_help"))
    d1, d2 = st.columns(2)
    d1.download_button(t("combine.download_formulas"), factor_set_text(factor_set)[0],
                       file_name=f"{slugify(source)}.txt", mime="text/plain",
                       key="set_download_formula")
    d2.download_button(t("combine.download_qlib"), factor_set_text(factor_set, "qlib")[0],
                       file_name=f"{slugify(source)}.qlib.txt", mime="text/plain",
                       key="set_download_qlib", help=t("combine.download_qlib_help"))
    with st.expander(t("combine.own_title")), st.form("own_set"):
        own_text = st.text_area(t("combine.own_formulas"), height=160,
                                placeholder=t("combine.own_placeholder"),
                                help=t("combine.own_formulas_help"))
        own_file = st.file_uploader(t("combine.own_file"), type=["txt"])
        own_name = st.text_input(t("combine.own_name"), value="my-factors")
        if st.form_submit_button(t("combine.own_save")):
            text = own_file.getvalue().decode("utf-8-sig", "replace") if own_file \
                    else own_text
            try:
                saved, parsed = import_factor_set(
                    project, own_name.strip(), text,
                    source=own_file.name if own_file else "")
            except AlphaForgeError as exc:
                st.error(error_text(exc))
            else:
                st.success(t("combine.own_saved", name=saved.name,
                             n=len(saved.factors), dup=len(parsed.duplicates)))
    datasets = project.dataset_names()
    default_ds = factor_set.source.get("dataset")
    dataset = st.selectbox(t("combine.dataset"), datasets, index=datasets.index(default_ds)
                           if default_ds in datasets else 0)
    meta = project.dataset_meta(dataset)
    first, last = dt.date.fromisoformat(meta.start), dt.date.fromisoformat(meta.end)
    suggested = suggested_test_range(project, dataset, factor_set)
    with st.form("build"):
        c1, c2 = st.columns(2)
        methods = COMBINE_METHODS.labels(translator())  # the registry is the list
        method = c1.selectbox(t("combine.method"), list(methods),
                              format_func=methods.__getitem__,
                              help=t("combine.method_help"))
        # no default value: a default that follows the method would give the widget a new
        # identity (and drop the typed name) whenever the method changes
        typed = c2.text_input(t("combine.strategy_name"), key="strategy_name",
                              placeholder=t("combine.strategy_name_placeholder",
                                            source=slugify(source)),
                              help=t("combine.strategy_name_help"))
        test = st.date_input(t("combine.test_period"), suggested, min_value=first,
                             max_value=last, help=t("combine.test_period_help"))
        c3, c4, c5 = st.columns(3)
        window = c3.number_input(t("combine.window"), 20, 5000, 250,
                                 help=t("combine.window_help"))
        n_factors = c4.number_input(t("combine.n_factors"), 1, 100, 10,
                                    help=t("combine.n_factors_help"))
        price = c5.selectbox(t("combine.target_price"), ["vwap", "close"],
                             format_func=PRICES.get,
                             help=t("combine.target_price_help"))
        overwrite = st.checkbox(t("combine.overwrite"))
        submitted = st.form_submit_button(t("combine.build"), type="primary")
    if submitted:
        name = typed.strip() or f"{slugify(source)}-{method}"
        if not chosen:
            st.error(t("combine.pick_factor"))
        elif not isinstance(test, tuple) or len(test) != 2:
            st.error(t("combine.pick_both_ends"))
        else:
            try:
                with st.spinner(t("combine.building")):
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
                st.success(t("combine.saved", name=name,
                             rank_ic=translator().number(s["rank_ic"], 4),
                             rank_icir=translator().number(s["rank_icir"], 2),
                             days=s["n_days"]))
            except AlphaForgeError as exc:
                st.error(error_text(exc))

names = strategy_names(project)
if not names:
    for tab in (view, backtest):
        tab.info(t("combine.no_strategy"))
    st.stop()
current = st.session_state.get("af_strategy")
strategy_name = st.sidebar.selectbox(t("combine.strategy"), names, index=names.index(current)
                                     if current in names else 0)
strategy = load_strategy(project, strategy_name)
labels = series.factor_labels(strategy.info["formulas"])
content = gather(project, strategy_name)  # what both tabs' charts are drawn from

with view:
    s = strategy.info["summary"]
    c1, c2, c3, c4 = st.columns(4)
    tr = translator()
    c1.metric("IC", tr.number(s["ic"], 4), help=t("combine.ic_help"))
    c2.metric("ICIR", tr.number(s["icir"], 2), help=t("combine.icir_help"))
    c3.metric("RankIC", tr.number(s["rank_ic"], 4), help=t("combine.rank_ic_help"))
    c4.metric("RankICIR", tr.number(s["rank_icir"], 2), help=t("combine.icir_help"))
    show_charts(strategy_charts(content, tr, "signal"))
    with st.expander(t("combine.factor_labels")):
        for formula, label in labels.items():
            st.markdown(f"**{label}** `{formula}`")
    weights = strategy.table("weights")
    days = weights.get_column("date").unique().sort().to_list()
    if days:
        with st.expander(t("combine.why_title")):
            day = st.select_slider(t("combine.why_day"), days, value=days[-1],
                                   format_func=tr.date, key="af_why_day",
                                   help=t("combine.why_help"))
            st.dataframe(series.day_reasons(weights, labels, day, tr), hide_index=True,
                         use_container_width=True, column_config={
                             "label": st.column_config.TextColumn(t("reports.col_label")),
                             "active": st.column_config.CheckboxColumn(t("combine.why_active")),
                             "coef": st.column_config.NumberColumn(t("combine.why_weight"),
                                                                   format="%.4f"),
                             "rank": st.column_config.NumberColumn(t("combine.why_rank")),
                             "reason": st.column_config.TextColumn(t("combine.why_reason"),
                                                                   width="large"),
                         })

with backtest:
    with st.form("backtest"):
        c1, c2, c3 = st.columns(3)
        top_k = c1.number_input(t("combine.top_k"), 1, 1000, 50, help=t("combine.top_k_help"))
        drop_n = c2.number_input(t("combine.drop_n"), 0, 1000, 5, help=t("combine.drop_n_help"))
        rebalance = c3.number_input(t("combine.rebalance"), 1, 60, 1,
                                    help=t("combine.rebalance_help"))
        c4, c5, c6, c7 = st.columns(4)
        buy_bps = c4.number_input(t("combine.buy_bps"), 0.0, 500.0, 5.0,
                                  help=t("combine.costs_help"))
        sell_bps = c5.number_input(t("combine.sell_bps"), 0.0, 500.0, 15.0,
                                   help=t("combine.costs_help"))
        trade_at = c6.selectbox(t("combine.trade_at"), ["open", "close", "vwap"],
                                format_func=PRICES.get,
                                help=t("combine.trade_at_help"))
        try:
            tickers = list(cache.panel(project, str(strategy.info["dataset"])).tickers)
        except AlphaForgeError as exc:  # e.g. the dataset changed outside AlphaForge
            st.error(error_text(exc))
            tickers = []
        benchmark = c7.selectbox(t("combine.benchmark"), ["equal", *tickers],
                                 format_func={"equal": t("combine.benchmark_equal"),
                                              **{x: x for x in tickers}}.get,
                                 help=t("combine.benchmark_help"))
        run_bt = st.form_submit_button(t("combine.run_backtest"), type="primary")
    if run_bt:
        try:
            with st.spinner(t("combine.backtesting")):
                backtest_strategy(project, strategy_name, TopKConfig(
                    top_k=int(top_k), drop_n=int(drop_n), rebalance=int(rebalance),
                    trade_at=trade_at, buy_bps=buy_bps, sell_bps=sell_bps),
                    benchmark=benchmark)
            strategy = load_strategy(project, strategy_name)
            content = gather(project, strategy_name)
        except AlphaForgeError as exc:
            st.error(error_text(exc))
    result = strategy.backtest
    if result is None:
        st.info(t("combine.no_backtest"))
    else:
        m = result["summary"]

        tr = translator()
        c1, c2, c3, c4, c5 = st.columns(5)
        c1.metric(t("figures.metric_annual_return"), tr.percent(m["annual_return"], 2))
        c2.metric(t("figures.metric_sharpe"), tr.number(m["sharpe"], 2),
                  help=t("combine.sharpe_help"))
        c3.metric(t("figures.metric_max_drawdown"), tr.percent(m["max_drawdown"], 2),
                  help=t("combine.drawdown_help"))
        c4.metric(t("figures.metric_calmar"), tr.number(m["calmar"], 2),
                  help=t("combine.calmar_help"))
        c5.metric(t("figures.metric_information_ratio"), tr.number(m["information_ratio"], 2),
                  help=t("combine.ir_help"))
        show_charts(strategy_charts(content, tr, "performance"),
                    pair_narrow=True)
        st.caption(t("combine.conventions"))
