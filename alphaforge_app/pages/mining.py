"""Factor mining: configure and start a background run, watch it live, read its zoo."""

from __future__ import annotations

import datetime as dt

import polars as pl
import streamlit as st

from alphaforge_app import state
from alphaforge_app.cache import factor_detail, planted_matches
from alphaforge_app.components.dates import date_range
from alphaforge_app.components.prepared import prepared_download
from alphaforge_app.i18n import error_text, t, translator
from engine.data.synthetic import PLANTED_SIGNALS
from engine.device import DEVICES
from engine.errors import AlphaForgeError
from engine.expr.builtin_sets import BUILTIN_SETS
from engine.expr.mathtext import readable
from engine.mining import worker
from engine.mining.config import MiningConfig, preset
from engine.mining.presets import PRESETS
from engine.mining.split import suggested_ranges
from engine.mining.strategies import miner_labels
from engine.report import figures, series
from engine.store.bundle import bundle_bytes
from engine.store.project import read_progress

st.title(t("mining.title"))
project = state.current_project(state.is_single_user())
if project is None or not project.dataset_names():
    st.info(t("common.need_dataset"))
    st.stop()

FITNESS = {"ic": "IC", "rank_ic": "RankIC", "icir": "ICIR", "rank_icir": "RankICIR"}
# Labels fixed when drawn (a format_func must not read the session later); the registries
# are the lists, so a plug-in's generator, preset or device shows up here by itself.
GENERATOR_LABELS = miner_labels(translator())
PRESET_LABELS = PRESETS.labels(translator())
DEVICE_LABELS = DEVICES.labels(translator())
SEED_SET_LABELS = {name: t(spec.label) for name, spec in BUILTIN_SETS.items()}

with st.sidebar.form("mine"):
    st.markdown(t("mining.new_run_heading"))
    dataset = st.selectbox(t("mining.dataset"), project.dataset_names())
    meta = project.dataset_meta(dataset)
    first, last = dt.date.fromisoformat(meta.start), dt.date.fromisoformat(meta.end)
    suggested_train, suggested_valid, _ = suggested_ranges(project, dataset)
    generator = st.selectbox(t("mining.generator"), list(GENERATOR_LABELS),
                             format_func=GENERATOR_LABELS.__getitem__,
                             help=t("mining.generator_help"))
    fitness = st.selectbox(t("mining.fitness"), list(FITNESS), format_func=FITNESS.get,
                           help=t("mining.fitness_help"))
    preset_name = st.selectbox(t("mining.preset"), list(PRESET_LABELS),
                               format_func=PRESET_LABELS.__getitem__,
                               help=t("mining.preset_help"))
    rounds = st.slider(t("mining.rounds"), 1, 50, 5, help=t("mining.rounds_help"))
    minutes = st.slider(t("mining.minutes"), 1, 120, 5, help=t("mining.minutes_help"))
    timed = st.checkbox(t("mining.use_time_limit"), value=True,
                        help=t("mining.use_time_limit_help"))
    zoo_size = st.number_input(t("mining.zoo_size"), 1, 200, 20, help=t("mining.zoo_size_help"))
    corr = st.slider(t("mining.corr"), 0.3, 0.95, 0.7, 0.05, help=t("mining.corr_help"))
    train = date_range(t("mining.train_dates"), suggested_train,
                       min_value=first, max_value=last, help=t("mining.train_help"))
    valid = date_range(t("mining.valid_dates"), suggested_valid,
                       min_value=first, max_value=last, help=t("mining.valid_help"))
    seed = st.number_input(t("mining.seed"), 0, 2**31 - 1, 0, help=t("mining.seed_help"))
    seed_set = st.selectbox(t("mining.seed_set"), list(SEED_SET_LABELS),
                            format_func=SEED_SET_LABELS.__getitem__,
                            help=t("mining.seed_set_help"))
    device = st.selectbox(t("mining.device"), list(DEVICE_LABELS),
                          format_func=DEVICE_LABELS.__getitem__,
                          help=t("mining.device_help"))
    start = st.form_submit_button(t("mining.start"), type="primary")

if start:
    try:
        if not (train[0] <= train[1] and valid[0] <= valid[1]):
            raise AlphaForgeError(t("mining.pick_both_ends"))
        config = preset(preset_name, generator=generator, fitness=fitness, seed=int(seed),
                        device=device, zoo_size=int(zoo_size), corr_thresh=float(corr),
                        max_rounds=int(rounds),
                        time_budget_s=60.0 * minutes if timed else None,
                        warmup_seed_set=seed_set, train=(str(train[0]), str(train[1])),
                        valid=(str(valid[0]), str(valid[1])))
        st.session_state["af_run"] = worker.start(project, config, dataset=dataset)
        st.toast(t("mining.started"))
    except AlphaForgeError as exc:
        st.error(error_text(exc))

runs = [r for r in project.runs() if r.kind == worker.RUN_KIND][::-1]
if not runs:
    st.info(t("mining.no_run"))
    st.stop()


statuses = {r.run_id: worker.run_status(project, r) for r in runs}
ids = list(statuses)
chosen = st.session_state.get("af_run")
run_id = st.selectbox(t("mining.run"), ids, index=ids.index(chosen) if chosen in ids else 0,
                      format_func={i: f"{i} ({t('mining.status_' + s)})"
                                   for i, s in statuses.items()}.get)
st.session_state["af_run"] = run_id
record = next(r for r in runs if r.run_id == run_id)
page_status = statuses[run_id]


def _eta_text(eta: object, status: str) -> str:
    """Time left; "finishing…" once a running run is past its estimate (the last round or
    the warm-up always completes), never a frozen 0:00."""
    if status != "running" or not isinstance(eta, int | float):
        return "—"
    if eta < 1:
        return t("mining.eta_finishing")
    return t("mining.eta_value", minutes=int(eta) // 60, seconds=int(eta) % 60)


def _live_board(board: series.LiveBoard) -> None:
    """The live miner: the best formulas so far next to the fitness distribution."""
    left, right = st.columns([3, 2])
    left.markdown(f"**{t('mining.leaders_heading')}**")
    left.dataframe(
        board.leaders, hide_index=True, use_container_width=True,
        column_order=("rank", "readable", "fitness", "ic", "formula"),
        column_config={
            "rank": st.column_config.NumberColumn(t("mining.col_rank"), width="small"),
            "readable": st.column_config.TextColumn(t("mining.col_readable"), width="medium",
                                                    help=t("mining.col_readable_help")),
            "formula": st.column_config.TextColumn(t("mining.col_formula"), width="medium"),
            "fitness": st.column_config.NumberColumn(t("mining.col_train_fitness"),
                                                     format="%.4f",
                                                     help=t("mining.fitness_help")),
            "ic": st.column_config.NumberColumn(t("mining.col_train_ic"), format="%.4f")})
    left.caption(t("mining.leaders_caption", count=translator().number(board.evaluated, 0)))
    if board.histogram.height:
        right.plotly_chart(figures.fitness_histogram_chart(board.histogram, t=translator()),
                           use_container_width=True)
    if board.excluded:
        right.caption(t("mining.histogram_excluded",
                        count=translator().number(board.excluded, 0)))


@st.fragment(run_every=2)
def monitor() -> None:
    """Re-reads the run's progress file every 2 s; the page itself never blocks."""
    record = project.run_record(run_id)
    events = read_progress(project, run_id)
    alive = worker.worker_pid(project, run_id) is not None
    status = worker.run_status(project, record, alive=alive)
    if status != page_status:  # finished, failed or stopped: redraw the zoo and the buttons
        st.rerun()
    c1, c2, c3, c4 = st.columns(4)
    last = events[-1] if events else {}
    evaluated = int(last.get("evaluated", 0) or 0)
    seen_key = f"af_seen_{run_id}"  # the count at the previous refresh of this fragment
    fresh = evaluated - st.session_state.get(seen_key, evaluated)
    st.session_state[seen_key] = evaluated
    c1.metric(t("mining.status"), t(f"mining.status_{status}"))
    c2.metric(t("mining.evaluated"), translator().number(evaluated, 0),
              delta=t("mining.since_refresh", count=translator().number(fresh, 0))
              if status == "running" else None)
    c3.metric(t("mining.zoo_size"), last.get("zoo_size", 0))
    c4.metric(t("mining.eta"), _eta_text(last.get("eta_s"), status))
    st.progress(series.run_fraction(events),
                text=t("mining.progress_text", round=last.get("round", 0),
                       share=translator().percent(series.run_fraction(events), 0)))
    if last.get("share_valid") is not None:
        st.caption(t("mining.valid_share", valid=translator().percent(last["share_valid"]),
                     new=translator().percent(last.get("share_new"))))
    b1, b2 = st.columns(2)
    if alive and b1.button(t("mining.cancel"), key="cancel"):
        worker.cancel(project, run_id)
        st.toast(t("mining.cancelling"))
    if (not alive and record.status != "done" and worker.has_checkpoint(project, run_id)
            and b2.button(t("mining.resume"), key="resume")):
        try:
            worker.resume_in_background(project, run_id)
            st.toast(t("mining.resumed"))
        except AlphaForgeError as exc:
            st.error(error_text(exc))
    if record.error:
        st.error(t("mining.failed", error=record.error))
    elif status == "cancelled":
        st.info(t("mining.cancelled_note"))
    elif status == "stopped":
        st.warning(t("mining.stopped_note"))
    board = series.live_board(events)
    if board is not None and board.leaders.height:
        _live_board(board)
    elif status == "running":
        st.info(t("mining.leaders_waiting"))
    progress = series.progress_frame(events)
    if progress.height:
        st.plotly_chart(figures.mining_progress_chart(progress, t=translator()),
                        use_container_width=True)
    admitted = [f for e in events if e.get("event") == "round" for f in e.get("admitted", [])]
    if admitted:
        st.caption(t("mining.latest_admitted") + " " + " · ".join(f"`{f}`"
                                                                   for f in admitted[-3:]))


monitor()

zoo = worker.read_zoo(project, run_id)
if zoo is not None and zoo.factors:
    st.subheader(t("mining.zoo_heading", count=len(zoo.factors)))
    labels = series.factor_labels(zoo.formulas)
    train = (zoo.source.get("split") or {}).get("train")
    planted = planted_matches(project, zoo.source.get("dataset") or dataset,
                              tuple(zoo.formulas), tuple(train) if train else None)
    table = series.zoo_table(zoo, labels, translator(), planted)
    picked = st.dataframe(
        table, hide_index=True, use_container_width=True, on_select="rerun",
        selection_mode="single-row", key="zoo_table",
        column_config={
            "readable": st.column_config.TextColumn(t("mining.col_readable"), width="large",
                                                    help=t("mining.col_readable_help")),
            "meaning": st.column_config.TextColumn(t("gloss.column"), width="medium",
                                                   help=t("gloss.column_help")),
            "planted": st.column_config.TextColumn(t("mining.col_planted"),
                                                   help=t("mining.col_planted_help")),
            "formula": st.column_config.TextColumn(t("mining.col_formula"), width="medium"),
            "label": st.column_config.TextColumn(t("mining.col_label")),
            "fitness": st.column_config.NumberColumn(t("mining.col_fitness"), format="%.4f",
                                                     help=t("mining.fitness_help")),
            **{f"{seg}_{key}": st.column_config.NumberColumn(
                t("mining.col_metric", segment=t(f"mining.segment_{seg}"), metric=name),
                format="%.4f" if key in ("ic", "rank_ic") else "%.2f")
               for seg in ("train", "valid", "test")
               for key, name in (("ic", "IC"), ("rank_ic", "RankIC"), ("icir", "ICIR"),
                                 ("rank_icir", "RankICIR"))}})
    st.caption(t("mining.zoo_caption"))
    if planted is not None:
        found = sorted({m.signal for m in planted.values() if m is not None})
        st.caption(t("mining.planted_found", found=", ".join(found) or "—",
                     count=len(found), total=len(PLANTED_SIGNALS)))
    rows = picked.selection.rows if picked is not None else []
    formula = table["formula"][rows[0]] if rows else None
    with st.expander(t("mining.detail_heading"), expanded=formula is not None):
        if formula is None:
            st.info(t("mining.detail_pick"))
        else:
            st.code(formula, language=None)
            st.markdown(f"`{readable(formula)}` — {series.meaning(formula, translator())}")
            split = zoo.source.get("split") or {}
            try:
                with st.spinner(t("mining.detail_computing")):
                    detail = factor_detail(project, zoo.source.get("dataset") or dataset,
                                           tuple(zoo.formulas))
                one = detail.ic.filter(pl.col("formula") == formula)
                st.plotly_chart(figures.ic_chart(series.rolling_ic(one),
                                                 title=t("mining.detail_ic_title",
                                                         label=labels[formula]),
                                                 t=translator()),
                                use_container_width=True)
                if split.get("train"):
                    st.caption(t("mining.detail_train_note", end=split["train"][1]))
                c1, c2 = st.columns(2)
                c1.plotly_chart(figures.decay_chart(
                    detail.decay.filter(pl.col("formula") == formula), t=translator()),
                    use_container_width=True)
                c2.plotly_chart(figures.correlation_heatmap(detail.correlation, labels,
                                                            highlight=formula, t=translator()),
                                use_container_width=True)
            except AlphaForgeError as exc:
                st.error(error_text(exc))
elif zoo is not None:
    st.info(t("mining.zoo_empty"))

with st.expander(t("mining.past_runs")):
    st.dataframe(series.runs_table(runs, statuses, translator()),
                 hide_index=True, use_container_width=True)
    if st.button(t("mining.rerun"), help=t("mining.rerun_help"), key="rerun",
                 disabled=record.dataset not in project.dataset_names()):
        try:
            config = MiningConfig.from_dict(record.config)
            st.session_state["af_run"] = worker.start(project, config,
                                                      dataset=str(record.dataset))
            st.toast(t("mining.started"))
            st.rerun()
        except AlphaForgeError as exc:
            st.error(error_text(exc))
    if record.status == "done":
        prepared_download(
            st, key="run_bundle", subject=run_id, help=t("mining.bundle_help"),
            make=lambda: bundle_bytes(project, run_id=run_id), make_label=t("mining.bundle"),
            download_label=t("mining.bundle_download"), spinner=t("mining.bundling"),
            file_name=f"{run_id}.zip", mime="application/zip")
    st.json(dict(record.config), expanded=False)
