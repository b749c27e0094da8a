"""Sweeps: define a walk-forward methods x seeds x years experiment, start it in the
background, watch its cells finish, cancel and resume it, and read its results."""

from __future__ import annotations

import datetime as dt
import math
import os

import streamlit as st

from alphaforge_app import state
from alphaforge_app.components.sweep_reports import sweep_report_downloads
from alphaforge_app.i18n import error_text, t, translator
from engine.errors import AlphaForgeError
from engine.mining import sweep as S
from engine.mining import sweep_worker
from engine.mining.executors import EXECUTORS
from engine.mining.presets import PRESETS
from engine.mining.strategies import miner_labels
from engine.mining.sweep_store import done_cells, summarize_sweep, sweep_ids, sweep_progress
from engine.report import figures, series

st.title(t("sweep.title"))
project = state.current_project(state.is_single_user())
if project is None or not project.dataset_names():
    st.info(t("common.need_dataset"))
    st.stop()

# Labels fixed when drawn (a format_func must not read the session later).
METHOD_LABELS = {**miner_labels(translator()), S.CLASSIC_METHOD: t("sweep.method_classic")}
PRESET_LABELS = PRESETS.labels(translator())
EXECUTOR_LABELS = {name: t(info.label_key) for name, info in EXECUTORS.items()}
CORES = os.cpu_count() or 1
RAY_EXAMPLE = "ray://127.0.0.1:10001"  # an address, the same in every language

with st.sidebar.form("sweep"):
    st.markdown(t("sweep.new_heading"))
    dataset = st.selectbox(t("mining.dataset"), project.dataset_names())
    meta = project.dataset_meta(dataset)
    first, last = dt.date.fromisoformat(meta.start).year, dt.date.fromisoformat(meta.end).year
    years = list(range(first + 2, last + 1)) or [last]
    methods = st.multiselect(t("sweep.methods"), list(METHOD_LABELS),
                             default=[m for m in ("cnn", "gp", "random") if m in METHOD_LABELS],
                             format_func=METHOD_LABELS.__getitem__, help=t("sweep.methods_help"))
    n_seeds = st.slider(t("sweep.seeds"), 1, 10, 2, help=t("sweep.seeds_help"))
    test_years = st.multiselect(t("sweep.test_years"), years, default=years[-2:],
                                help=t("sweep.test_years_help"))
    preset_name = st.selectbox(t("mining.preset"), list(PRESET_LABELS),
                               format_func=PRESET_LABELS.__getitem__)
    budget = st.number_input(t("sweep.budget"), 200, 200_000, 2000, step=100,
                             help=t("sweep.budget_help"))
    executor = st.selectbox(t("sweep.executor"), list(EXECUTOR_LABELS),
                            format_func=EXECUTOR_LABELS.__getitem__)
    address = st.text_input(t("sweep.ray_address"), placeholder=RAY_EXAMPLE,
                            help=t("sweep.ray_address_help")) if executor == "ray" else ""
    workers = st.number_input(t("sweep.workers"), 1, 256, CORES, help=t("sweep.workers_help"))
    start = st.form_submit_button(t("sweep.start"), type="primary")

if start:
    try:
        spec = S.SweepSpec(dataset=dataset, methods=tuple(methods),
                           seeds=tuple(range(int(n_seeds))), test_years=tuple(sorted(test_years)),
                           preset=preset_name, max_evaluations=int(budget))
        st.session_state["af_sweep"] = sweep_worker.start(
            project, spec, workers=int(workers), executor=executor, address=address or None)
        st.rerun()
    except AlphaForgeError as exc:
        st.sidebar.error(error_text(exc))

ids = sweep_ids(project)
if not ids:
    st.info(t("sweep.empty"))
    st.code(t("sweep.empty_command"), language="bash")
    st.stop()

current = st.session_state.get("af_sweep")
run_id = st.selectbox(t("sweep.pick"), ids, index=ids.index(current) if current in ids else 0)
spec = S.SweepSpec.from_dict(project.run_record(run_id).config)
st.caption(t("sweep.spec", methods=", ".join(spec.methods), seeds=len(spec.seeds),
             years=", ".join(map(str, spec.test_years)), budget=spec.max_evaluations,
             dataset=spec.dataset))


# refreshed every few seconds only while the sweep runs (a finished one is drawn once)
@st.fragment(run_every=3 if sweep_progress(project, run_id).status == "running" else None)
def _progress() -> None:
    """The sweep's progress, refreshed while it runs; the page reruns when a cell lands."""
    p = sweep_progress(project, run_id)
    tr = translator()
    eta = "" if p.eta_s is None else t("sweep.eta", minutes=tr.number(p.eta_s / 60, 1))
    st.progress(p.done / p.total if p.total else 1.0,
                text=t("sweep.cells_done", done=p.done, total=p.total) + eta)
    st.caption(t(f"sweep.status_{p.status}") + (
        "" if not p.executor else " · " + EXECUTOR_LABELS.get(p.executor, p.executor)
        + ("" if not p.workers else " · " + t("sweep.n_workers", n=p.workers))))
    if p.status == "running":
        if st.button(t("sweep.cancel"), key="af_sweep_cancel", help=t("sweep.cancel_help")):
            sweep_worker.cancel(project, run_id)
            st.toast(t("sweep.cancel_asked"))
    elif p.done < p.total and st.button(t("sweep.resume"), key="af_sweep_resume",
                                        type="primary", help=t("sweep.resume_help")):
        try:
            sweep_worker.resume(project, run_id, workers=p.workers or CORES,
                                executor=p.executor or "local")
        except AlphaForgeError as exc:
            st.error(error_text(exc))
        st.rerun()
    seen_key = f"af_sweep_seen_{run_id}"
    if st.session_state.get(seen_key, p.done) != p.done:  # a cell finished: redraw results
        st.session_state[seen_key] = p.done
        st.rerun(scope="app")
    st.session_state[seen_key] = p.done


_progress()
records = list(done_cells(project, run_id).values())
if not records:
    st.info(t("sweep.no_cells"))
    st.stop()

summary = summarize_sweep(project, run_id)
sweep_report_downloads(project, run_id)
st.plotly_chart(figures.sweep_chart(S.cell_points(records), t=translator()),
                key="sweep_chart")
st.subheader(t("sweep.table"))
st.dataframe(summary["table"], hide_index=True, key="sweep_table")

if summary["verdicts"]:
    st.subheader(t("sweep.verdicts", test=series.worded(summary["verdicts"][0]["test"],
                                                      translator())))
    for v in summary["verdicts"]:
        p = v["p_value"]
        st.markdown(t("sweep.verdict_line", a=v["a"], b=v["b"],
                      verdict=series.worded(v["verdict"], translator()),
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
