"""The Data page's "Connect a source" expander: test connection, preview and import from a
SQLite file, then a refused query that leaves the project unchanged."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from engine.store.demo import ensure_demo
from engine.store.settings import AppSettings, save_settings
from tests.conftest import REPO, make_market, tree_digest

APP = str(REPO / "alphaforge_app" / "app.py")


def _run(at: AppTest) -> AppTest:
    at.run(timeout=60)
    assert not at.exception, at.exception
    return at


def test_connect_a_sqlite_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALPHAFORGE_HOME", str(tmp_path))
    save_settings(tmp_path, AppSettings(mode="single"))
    from engine.data.synthetic import SyntheticConfig

    project, _, _ = ensure_demo(tmp_path / "projects" / "demo",
                                SyntheticConfig(n_tickers=10, n_days=80))
    db = tmp_path / "market.db"
    frame = make_market(4, 70)
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE prices (date TEXT, ticker TEXT, open REAL, high REAL, low REAL, "
                "close REAL, volume REAL)")
    con.executemany("INSERT INTO prices VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [(str(r[0]), *r[1:]) for r in frame.with_columns(
                        pl.col("date").cast(pl.Utf8)).rows()])
    con.commit()
    con.close()

    at = _run(AppTest.from_file(APP))
    at.switch_page("pages/data.py")
    _run(at)
    at.selectbox(key="af_source_kind").select("sqlite")
    _run(at)
    at.text_input(key="af_source_url_sqlite").input(f"sqlite://{db}")
    _run(at)
    at.button(key="af_source_test").click()
    _run(at)
    assert any("1 table" in s.value for s in at.success)
    assert any("1 table(s)/view(s): prices" in c.value for c in at.code)
    at.button(key="af_source_preview").click()
    _run(at)
    at.text_input(key="af_source_name_sqlite").input("from_sqlite")
    at.button(key="af_source_import").click()
    _run(at)
    assert (project.root / "datasets" / "from_sqlite" / "meta.json").exists()
    assert any("survivorship" in w.value for w in at.warning)

    before = tree_digest(project.root)
    at.radio(key="af_source_mode_sqlite").set_value("query")
    _run(at)
    at.text_area(key="af_source_query_sqlite").input("DELETE FROM prices")
    at.text_input(key="af_source_name_sqlite").input("bad")
    at.button(key="af_source_import").click()
    _run(at)
    assert any("only SELECT statements are allowed" in e.value for e in at.error)
    assert tree_digest(project.root) == before
