"""The app's side of #21: a dataset changed outside AlphaForge is a message on the Data page,
not a traceback, and nothing is written."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from engine.data.synthetic import SyntheticConfig
from engine.store.demo import ensure_demo
from tests.conftest import REPO, make_market, tree_digest

APP = str(REPO / "alphaforge_app" / "app.py")


def test_a_swapped_dataset_is_named_on_the_data_page(home: Path) -> None:
    root = home / "projects" / "demo"
    ensure_demo(root, SyntheticConfig(n_tickers=20, n_days=200, seed=1))
    make_market(4, 120, seed=3).write_parquet(root / "datasets" / "demo" / "panel.parquet")
    before = tree_digest(root)
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page("pages/data.py")
    at.run()
    assert not at.exception, at.exception
    assert any("changed outside AlphaForge" in e.value for e in at.error)
    assert tree_digest(root) == before
