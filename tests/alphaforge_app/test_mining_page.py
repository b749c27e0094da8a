"""Mining page states: no run yet, a finished run with its zoo, a bad configuration."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from engine.data.synthetic import SyntheticConfig
from engine.mining.config import preset
from engine.mining.worker import run_mining
from engine.store.demo import ensure_demo
from engine.store.settings import AppSettings, save_settings
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


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ALPHAFORGE_HOME", str(tmp_path))
    save_settings(tmp_path, AppSettings(mode="single"))
    return tmp_path


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


def test_bad_dates_are_refused(home: Path) -> None:
    ensure_demo(home / "projects" / "demo", SyntheticConfig(n_tickers=20, n_days=200, seed=1))
    at = _page(home)
    at.sidebar.date_input[0].set_value(("2015-03-01", "2015-06-01"))
    at.sidebar.date_input[1].set_value(("2015-05-01", "2015-07-01"))  # overlaps training
    at.button(key="FormSubmitter:mine-Start mining").click()
    at.run()
    assert not at.exception, at.exception
    assert at.error, "overlapping ranges must be refused with a message"
