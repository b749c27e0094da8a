"""Sweeps: the results of walk-forward methods x seeds x years experiments (read-only view;
a sweep is started from the command line, `alphaforge sweep`, and resumed the same way)."""

from __future__ import annotations

import math

import streamlit as st

from alphaforge_app import state
from alphaforge_app.i18n import t, translator
from engine.mining import sweep as S
from engine.mining.sweep_store import done_cells, summarize_sweep, sweep_ids, sweep_spec
from engine.report import figures

st.title(t("sweep.title"))
project = state.current_project(state.is_single_user())
if project is None:
    st.info(t("common.need_dataset"))
    st.stop()

ids = sweep_ids(project)
if not ids:
    st.info(t("sweep.empty"))
    st.code(t("sweep.empty_command"), language="bash")
    st.stop()

run_id = st.selectbox(t("sweep.pick"), ids)
spec = sweep_spec(project, run_id)
records = list(done_cells(project, run_id).values())
total = len(S.cells(spec))
st.progress(len(records) / total if total else 1.0,
            text=t("sweep.cells_done", done=len(records), total=total))
status = project.run_record(run_id).status
if len(records) < total:
    st.caption(t("sweep.resume_hint", run=run_id, status=status))
st.caption(t("sweep.spec", methods=", ".join(spec.methods), seeds=len(spec.seeds),
             years=", ".join(map(str, spec.test_years)), budget=spec.max_evaluations,
             dataset=spec.dataset))
if not records:
    st.info(t("sweep.no_cells"))
    st.stop()

summary = summarize_sweep(project, run_id)
st.plotly_chart(figures.sweep_chart(S.cell_points(records), t=translator()),
                key="sweep_chart")
st.subheader(t("sweep.table"))
st.dataframe(summary["table"], hide_index=True, key="sweep_table")

if summary["verdicts"]:
    st.subheader(t("sweep.verdicts", test=summary["verdicts"][0]["test"]))
    for v in summary["verdicts"]:
        p = v["p_value"]
        st.markdown(t("sweep.verdict_line", a=v["a"], b=v["b"], verdict=v["verdict"],
                      diff=f"{v['mean_diff']:+.4f}", wins=v["wins"], n=v["n"],
                      p="–" if not math.isfinite(p) else f"{p:.3f}"))

sig = summary.get("significance") or {}
if sig:
    st.subheader(t("sweep.significance"))
    d = sig["deflated_sharpe"]
    c1, c2, c3 = st.columns(3)
    c1.metric(t("sweep.best_cell"), sig["best_cell"])
    c2.metric(t("sweep.daily_sharpe"), f"{d['sharpe']:+.4f}")
    c3.metric(t("sweep.dsr"), f"{d['dsr']:.3f}", help=t("sweep.dsr_help", n=d["n_trials"]))
    if "best_factor" in sig:
        b = sig["best_factor"]
        st.markdown(t("sweep.best_factor", t=f"{b['t']:.2f}", tests=b["tests"],
                      bonf=f"{b['t_bonferroni']:.2f}", bhy=f"{b['t_bhy']:.2f}"))
