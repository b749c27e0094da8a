"""Factor mining: configure and start a background run, watch it live, read its zoo."""

from __future__ import annotations

import datetime as dt

import polars as pl
import streamlit as st

from alphaforge_app import state
from engine.errors import AlphaForgeError
from engine.mining import worker
from engine.mining.config import preset
from engine.mining.zoo import FactorSet
from engine.report import figures, series
from engine.store import atomic
from engine.store.project import read_progress

st.title("Factor mining")
project = state.current_project(state.is_single_user())
if project is None or not project.dataset_names():
    st.info("Open a project with a dataset first (Home → Start with the demo market, or the "
            "Data page).")
    st.stop()

GENERATORS = {"cnn": "CNN (paper)", "lstm": "LSTM", "gru": "GRU", "transformer": "Transformer",
              "gp": "Genetic programming (baseline)", "random": "Random search (baseline)"}
FITNESS = {"ic": "IC", "rank_ic": "RankIC", "icir": "ICIR", "rank_icir": "RankICIR"}

with st.sidebar.form("mine"):
    st.markdown("### New mining run")
    dataset = st.selectbox("Dataset", project.dataset_names())
    meta = project.dataset_meta(dataset)
    first, last = dt.date.fromisoformat(meta.start), dt.date.fromisoformat(meta.end)
    span = last - first
    generator = st.selectbox("Generator model", list(GENERATORS), format_func=GENERATORS.get,
                             help="The network that proposes formulas; GP and random search "
                                  "are baselines on the same budget and rules.")
    fitness = st.selectbox("Evaluation function", list(FITNESS), format_func=FITNESS.get,
                           help="What 'good' means for one factor on the training dates.")
    preset_name = st.selectbox("Preset", ["laptop", "paper"],
                               help="laptop: minutes on a 2-core CPU; paper: the paper's budget.")
    rounds = st.slider("Rounds (epochs)", 1, 50, 5, help="Outer-loop rounds at most.")
    minutes = st.slider("Time budget (minutes)", 1, 120, 5)
    zoo_size = st.number_input("Zoo size", 1, 200, 20, help="Factors to keep.")
    corr = st.slider("Correlation limit", 0.3, 0.95, 0.7, 0.05,
                     help="A new factor must correlate less than this with every zoo member.")
    train = st.date_input("Training dates", (first, first + span * 0.7),
                          min_value=first, max_value=last)
    valid = st.date_input("Validation dates", (first + span * 0.72, first + span * 0.85),
                          min_value=first, max_value=last)
    seed = st.number_input("Seed", 0, 2**31 - 1, 0)
    device = st.selectbox("Device", ["auto", "cpu", "cuda", "mps"])
    start = st.form_submit_button("Start mining", type="primary")

if start:
    try:
        if not (isinstance(train, tuple) and len(train) == 2 and isinstance(valid, tuple)
                and len(valid) == 2):
            raise AlphaForgeError("pick the first and last day of both date ranges")
        config = preset(preset_name, generator=generator, fitness=fitness, seed=int(seed),
                        device=device, zoo_size=int(zoo_size), corr_thresh=float(corr),
                        max_rounds=int(rounds), time_budget_s=60.0 * minutes,
                        train=(str(train[0]), str(train[1])),
                        valid=(str(valid[0]), str(valid[1])))
        st.session_state["af_run"] = worker.start(project, config, dataset=dataset)
        st.toast("Mining started in the background")
    except AlphaForgeError as exc:
        st.error(str(exc))

runs = [r for r in project.runs() if r.kind == worker.RUN_KIND][::-1]
if not runs:
    st.info("No mining run yet: set the parameters in the sidebar and press **Start mining**. "
            "Runs continue in the background if you close the page.")
    st.stop()

ids = [r.run_id for r in runs]
chosen = st.session_state.get("af_run")
run_id = st.selectbox("Run", ids, index=ids.index(chosen) if chosen in ids else 0,
                      format_func=lambda i: f"{i} ({project.run_record(i).status})")


@st.fragment(run_every=2)
def monitor() -> None:
    """Re-reads the run's progress file every 2 s; the page itself never blocks."""
    record = project.run_record(run_id)
    events = read_progress(project, run_id)
    alive = worker.worker_pid(project, run_id) is not None
    status = record.status if not (record.status == "running" and not alive) else "stopped"
    c1, c2, c3, c4 = st.columns(4)
    last = events[-1] if events else {}
    c1.metric("Status", status)
    c2.metric("Formulas evaluated", f"{last.get('evaluated', 0):,}")
    c3.metric("Zoo size", last.get("zoo_size", 0))
    eta = last.get("eta_s")
    c4.metric("ETA", "—" if eta is None or status != "running" else f"{eta:.0f} s")
    st.progress(series.run_fraction(events), text=f"{last.get('event', 'starting')} · round "
                f"{last.get('round', 0)}")
    b1, b2 = st.columns(2)
    if alive and b1.button("Cancel run", key="cancel"):
        worker.cancel(project, run_id)
        st.toast("Cancelling: the run stops after its current batch and stays resumable")
    if (not alive and record.status != "done" and worker.has_checkpoint(project, run_id)
            and b2.button("Resume run", key="resume")):
        try:
            worker.resume_in_background(project, run_id)
            st.toast("Resumed in the background")
        except AlphaForgeError as exc:
            st.error(str(exc))
    if record.error:
        st.error(record.error)
    progress = series.progress_frame(events)
    if progress.height:
        st.plotly_chart(figures.mining_progress_chart(progress), use_container_width=True)
    admitted = [f for e in events if e.get("event") == "round" for f in e.get("admitted", [])]
    if admitted:
        st.caption("Latest admitted: " + " · ".join(f"`{f}`" for f in admitted[-3:]))


monitor()

zoo_file = project.run_dir(run_id) / worker.ZOO_FILE
if zoo_file.exists():
    zoo = FactorSet.from_dict(atomic.read_json(zoo_file))
    st.subheader(f"Zoo ({len(zoo.factors)} factors)")
    rows = [{"formula": f.formula, "fitness": f.fitness,
             **{f"{seg} {k}": f.metrics.get(seg, {}).get(k) for seg in ("train", "valid", "test")
                if seg in f.metrics for k in ("ic", "rank_ic", "icir", "rank_icir")}}
            for f in zoo.factors]
    if rows:
        st.dataframe(pl.DataFrame(rows), hide_index=True, use_container_width=True,
                     column_config={"formula": st.column_config.TextColumn(width="large")})
        st.caption("Use these factors on the Combine & backtest page (Factors from → this run).")
with st.expander("Run configuration"):
    st.json(dict(project.run_record(run_id).config), expanded=False)
