"""Fast page tests with Streamlit's AppTest: first start, login gate, home, data page."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from engine.store.accounts import AccountStore
from engine.store.demo import ensure_demo
from engine.store.settings import AppSettings, save_settings
from tests.conftest import REPO

APP = str(REPO / "alphaforge_app" / "app.py")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ALPHAFORGE_HOME", str(tmp_path))
    return tmp_path


def _run(at: AppTest) -> AppTest:
    at.run(timeout=60)
    assert not at.exception, at.exception
    return at


def test_first_start_asks_for_mode(home: Path) -> None:
    at = _run(AppTest.from_file(APP))
    assert "Welcome to AlphaForge" in at.title[0].value
    at.button[0].click()
    _run(at)
    assert (home / "settings.json").exists()
    assert any("AlphaForge" in t.value for t in at.title)


def test_single_user_home_empty_then_demo(home: Path) -> None:
    save_settings(home, AppSettings(mode="single"))
    at = _run(AppTest.from_file(APP))
    assert any("No project yet" in i.value for i in at.info)
    demo_button = next(b for b in at.button if "demo market" in b.label)
    demo_button.click()
    _run(at)
    assert (home / "projects" / "demo" / "datasets" / "demo" / "meta.json").exists()
    assert any(m.label == "Datasets" and m.value == "1" for m in at.metric)


def test_login_failures_and_success(home: Path) -> None:
    save_settings(home, AppSettings(mode="accounts"))
    AccountStore(home / "accounts.db").sign_up("jiwoo", "right password")
    at = _run(AppTest.from_file(APP))
    at.text_input(key="login_name").input("jiwoo")
    at.text_input(key="login_password").input("wrong password")
    at.button[0].click()
    _run(at)
    assert any("wrong user name or password" in e.value for e in at.error)
    at.text_input(key="login_password").input("right password")
    at.button[0].click()
    _run(at)
    assert any("Signed in as" in m.value for m in at.sidebar.markdown)


def test_data_page_with_demo_project(home: Path) -> None:
    save_settings(home, AppSettings(mode="single"))
    from engine.data.synthetic import SyntheticConfig

    ensure_demo(home / "projects" / "demo", SyntheticConfig(n_tickers=20, n_days=120))
    at = AppTest.from_file(APP)
    _run(at)
    at.switch_page("pages/data.py")
    _run(at)
    assert at.title[0].value == "Data"
    assert any(m.label == "Tickers" and m.value == "20" for m in at.metric)
    assert at.dataframe, "preview table shown"

