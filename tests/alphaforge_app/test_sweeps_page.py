"""Sweeps page: an empty state with the command to start one, then a finished tiny sweep's
chart (seeds as points), table, verdicts and significance, in English and Korean."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from engine.data.synthetic import generate
from engine.mining import sweep as S
from engine.mining.sweep_store import run_sweep, sweep_ids
from tests.conftest import REPO
from tests.engine.mining.conftest import make_project
from tests.engine.mining.test_sweep import FAST, MARKET

APP = str(REPO / "alphaforge_app" / "app.py")


def _page(language: str = "en") -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    if language != "en":
        at.session_state["af_lang"] = language
    at.run()
    at.switch_page("pages/sweeps.py")
    at.run()
    assert not at.exception, at.exception
    return at


def test_empty_state_says_how_to_start(home: Path) -> None:
    make_project(home / "projects" / "demo", generate(MARKET))
    at = _page()
    assert any("No sweep in this project yet" in i.value for i in at.info)
    assert any("alphaforge sweep" in c.value for c in at.code)


@pytest.mark.parametrize("language", ["en", "ko"])
def test_finished_sweep_shows_chart_table_and_verdicts(home: Path, language: str) -> None:
    project = make_project(home / "projects" / "demo", generate(MARKET))
    spec: Any = S.SweepSpec(dataset="demo", methods=("gp", "random"), seeds=(0, 1),
                            test_years=(2017,), max_evaluations=90, overrides=FAST,
                            backtest={"top_k": 5, "drop_n": 1},
                            combine={"window": 120, "n_factors": 3})
    run_sweep(project, spec, workers=1)
    at = _page(language)
    assert at.get("plotly_chart"), "no chart"
    assert at.dataframe and at.dataframe[0].value.shape[0] >= 2
    words = ("4 of 4 cells finished", "vs") if language == "en" else ("셀 4개 중 4개 완료", "대")
    assert any(words[0] in p.proto.text for p in at.get("progress"))
    assert any(words[1] in m.value for m in at.markdown)
    # the verdict words and the test's name in the reader's language
    verdicts = ("better", "worse", "no difference") if language == "en" else (
        "우세", "열세", "차이 없음")
    test = "Wilcoxon" if language == "en" else "윌콕슨"
    assert any(any(v in m.value for v in verdicts) for m in at.markdown if words[1] in m.value)
    assert any(test in h.value for h in at.subheader)
    assert any(m.label in ("Deflated Sharpe ratio", "디플레이티드 샤프 비율") for m in at.metric)


def test_a_sweep_is_started_from_the_sidebar(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The form defines the grid; Start creates the sweep and spawns its background process
    (stubbed here); the page then shows it as stopped (no process) with a Resume button."""
    from engine.mining import worker

    project = make_project(home / "projects" / "demo", generate(MARKET))
    spawned: list[list[str]] = []
    monkeypatch.setattr(worker, "spawn", lambda p, run_id, command: spawned.append(command))
    at = _page()
    form = at.sidebar
    form.multiselect[0].set_value(["random", "classic"])
    form.slider[0].set_value(1)
    form.multiselect[1].set_value([2017])
    form.number_input[0].set_value(300)
    form.number_input[1].set_value(1)
    at.sidebar.button[0].click()
    at.run()
    assert not at.exception, at.exception
    (run_id,) = sweep_ids(project)
    assert spawned and run_id in spawned[0]
    spec = S.SweepSpec.from_dict(project.run_record(run_id).config)
    assert (spec.methods, spec.seeds, spec.test_years, spec.max_evaluations) == (
        ("random", "classic"), (0,), (2017,), 300)
    assert any("0 of 2 cells finished" in p.proto.text for p in at.get("progress"))
    assert any(b.label == "Resume" for b in at.button)
