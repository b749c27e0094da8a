"""Mining page states: no run yet, a finished run with its zoo, a bad configuration."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from engine.data.synthetic import SyntheticConfig
from engine.mining.config import preset
from engine.mining.worker import run_mining
from engine.store.demo import ensure_demo
from tests.conftest import REPO

APP = str(REPO / "alphaforge_app" / "app.py")


@pytest.fixture(scope="module")
def mined(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small demo project with one finished mining run (built once for the module)."""
    root = tmp_path_factory.mktemp("mined") / "demo"
    project, _, _ = ensure_demo(root, SyntheticConfig(n_tickers=40, n_days=400, seed=2))
    run_mining(project, preset("laptop", max_evaluations=2300, zoo_size=3), dataset="demo")
    return root


def _page(home: Path) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page("pages/mining.py")
    at.run()
    assert not at.exception, at.exception
    return at


def test_no_run_yet(home: Path) -> None:
    ensure_demo(home / "projects" / "demo", SyntheticConfig(n_tickers=20, n_days=200, seed=1))
    at = _page(home)
    assert any("No mining run yet" in i.value for i in at.info)


def test_finished_run_shows_zoo(home: Path, mined: Path) -> None:
    shutil.copytree(mined, home / "projects" / "demo")
    at = _page(home)
    assert any(m.label == "Status" and m.value == "done" for m in at.metric)
    assert any(s.value.startswith("Zoo (") for s in at.subheader)
    assert at.dataframe
    # the demo market: each factor's planted signal, and how many of the three were found
    assert any("planted" in d.value.columns for d in at.dataframe)
    assert any(c.value.startswith("Planted signals found by this zoo:") for c in at.caption)


def test_bad_dates_are_refused(home: Path) -> None:
    ensure_demo(home / "projects" / "demo", SyntheticConfig(n_tickers=20, n_days=200, seed=1))
    at = _page(home)
    # each range is a from / to pair: training, then validation
    for i, day in enumerate(("2015-03-01", "2015-06-01", "2015-05-01", "2015-07-01")):
        at.sidebar.date_input[i].set_value(day)  # validation overlaps training
    at.button(key="FormSubmitter:mine-Start mining").click()
    at.run()
    assert not at.exception, at.exception
    assert at.error, "overlapping ranges must be refused with a message"


def test_a_reversed_range_is_refused(home: Path) -> None:
    ensure_demo(home / "projects" / "demo", SyntheticConfig(n_tickers=20, n_days=200, seed=1))
    at = _page(home)
    at.sidebar.date_input[0].set_value("2015-06-01")
    at.sidebar.date_input[1].set_value("2015-03-01")  # ends before it starts
    at.button(key="FormSubmitter:mine-Start mining").click()
    at.run()
    assert not at.exception, at.exception
    assert any("start on or before" in e.value for e in at.error)


def _fake_run(home: Path, status: str, *, error: str | None = None, alive: bool = False,
              checkpoint: bool = False) -> str:
    """A mining run record in the given state, without running anything."""
    import json
    import os

    from engine.mining import worker
    from engine.store.project import Project, append_progress

    project, _, _ = ensure_demo(home / "projects" / "demo",
                                SyntheticConfig(n_tickers=20, n_days=200, seed=1))
    record = project.new_run(worker.RUN_KIND, preset("laptop").to_dict(), seed=0,
                             dataset="demo")
    append_progress(project, record.run_id, {"event": "round", "round": 2, "evaluated": 1234,
                                             "zoo_size": 3, "best_fitness": 0.05,
                                             "median_fitness": 0.02, "share_valid": 0.9,
                                             "share_new": 0.5, "elapsed_s": 60.0,
                                             "eta_s": 120.0, "admitted": ["Abs($close)"]})
    if status != "running":
        project.save_record(record.finished(status, error=error))
    if alive:  # this test process stands in for the worker
        (project.run_dir(record.run_id) / worker.PID_FILE).write_text(
            json.dumps({"pid": os.getpid()}))
    if checkpoint:
        (project.run_dir(record.run_id) / worker.CHECKPOINT_FILE).write_bytes(b"x")
    assert Project.exists(project.root)
    return record.run_id


def test_run_in_progress_shows_progress_and_cancel(home: Path) -> None:
    _fake_run(home, "running", alive=True)
    at = _page(home)
    assert any(m.label == "Status" and m.value == "running" for m in at.metric)
    assert any(m.label == "Formulas evaluated" and m.value == "1,234" for m in at.metric)
    assert any(m.label == "Time left" and m.value == "2 min 0 s" for m in at.metric)
    assert [b for b in at.button if b.key == "cancel"], "a running run can be cancelled"
    assert not [b for b in at.button if b.key == "resume"]


def test_cancelled_run_offers_resume(home: Path) -> None:
    _fake_run(home, "cancelled", checkpoint=True)
    at = _page(home)
    assert any(m.label == "Status" and m.value == "cancelled" for m in at.metric)
    assert [b for b in at.button if b.key == "resume"]
    assert any("Resume run" in i.value for i in at.info)


def test_failed_run_shows_the_engine_message(home: Path) -> None:
    _fake_run(home, "failed", error="dataset 'demo' changed since the run started")
    at = _page(home)
    assert any(m.label == "Status" and m.value == "failed" for m in at.metric)
    assert any("dataset 'demo' changed" in e.value for e in at.error)


def test_killed_run_shows_as_stopped(home: Path) -> None:
    _fake_run(home, "running", alive=False, checkpoint=True)
    at = _page(home)
    assert any(m.label == "Status" and m.value == "stopped" for m in at.metric)
    assert at.warning and [b for b in at.button if b.key == "resume"]


def test_mining_page_in_korean(home: Path) -> None:
    _fake_run(home, "failed", error="boom")
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["af_lang"] = "ko"
    at.run()
    at.switch_page("pages/mining.py")
    at.run()
    assert not at.exception, at.exception
    assert at.title[0].value == "팩터 마이닝"
    assert any(m.label == "상태" and m.value == "실패" for m in at.metric)


def _start_from_sidebar(home: Path, monkeypatch: pytest.MonkeyPatch,
                        change: Callable[[AppTest], None]) -> list[Any]:
    """Open the page on a small demo, apply ``change`` to the form, press Start mining and
    return the configs the (stubbed) background start received."""
    from engine.mining import worker

    started: list[Any] = []

    def fake_start(project, config, *, dataset, command=None):  # type: ignore[no-untyped-def]
        started.append(config)
        return worker.create_run(project, config, dataset)

    monkeypatch.setattr(worker, "start", fake_start)
    ensure_demo(home / "projects" / "demo", SyntheticConfig(n_tickers=20, n_days=200, seed=1))
    at = _page(home)
    change(at)
    at.button(key="FormSubmitter:mine-Start mining").click()
    at.run()
    assert not at.exception, at.exception
    return started


def test_start_without_time_limit_records_no_time_budget(home: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Unticking the time limit gives a run that stops on rounds only (exactly re-runnable)."""
    started = _start_from_sidebar(home, monkeypatch, lambda at: next(
        c for c in at.sidebar.checkbox if c.label == "Stop at the time budget").uncheck())
    assert len(started) == 1
    assert started[0].time_budget_s is None and started[0].max_rounds == 5
    assert started[0].warmup_seed_set == "classic"


def test_the_warmup_seed_set_is_picked_in_the_sidebar(home: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    started = _start_from_sidebar(home, monkeypatch, lambda at: next(
        s for s in at.sidebar.selectbox if s.label == "Warm-up seeds").select("alpha158"))
    assert started[0].warmup_seed_set == "alpha158"


def test_default_dates_are_the_runs_own_split(home: Path) -> None:
    """The form opens on suggest_split's ranges (horizon + 1 trading days apart), not on
    fractions of the calendar."""
    from engine.mining.split import suggested_ranges
    from engine.store.project import Project

    ensure_demo(home / "projects" / "demo", SyntheticConfig(n_tickers=20, n_days=200, seed=1))
    at = _page(home)
    train, valid, _ = suggested_ranges(Project.open(home / "projects" / "demo"), "demo")
    shown = [d.value for d in at.sidebar.date_input]
    assert shown[:4] == [*train, *valid]
