"""Registries keep their promise: a generator, a combination method and a data source added
from outside the engine (one module each + one registry line, ``tests/plugins/``) are accepted
by config validation, offered by the CLI and the app, and usable end to end on a demo market.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from engine.combine.api import combine_panel
from engine.combine.base import CombineConfig
from engine.combine.methods import COMBINE_METHODS
from engine.data import sources
from engine.data.panel import build
from engine.data.sources import CONNECTORS, SourceRequest
from engine.data.synthetic import SyntheticConfig
from engine.errors import ConfigError
from engine.expr.evaluate import Evaluator
from engine.mining.config import DateRange, preset
from engine.mining.generators import GENERATORS
from engine.mining.loop import mine
from engine.plugins import ENV, load_plugins
from engine.store.demo import ensure_demo
from tests.conftest import REPO

MODULES = ("tests.plugins.toy_generator", "tests.plugins.toy_combine",
           "tests.plugins.toy_connector")
APP = str(REPO / "alphaforge_app" / "app.py")


@pytest.fixture
def plugins(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The three toy plug-ins loaded the way users load theirs (``ALPHAFORGE_PLUGINS``), and
    unloaded afterwards so the other tests see the built-in registries."""
    monkeypatch.setenv(ENV, ",".join(MODULES))
    assert load_plugins() == MODULES
    yield
    GENERATORS.unregister("toy")
    COMBINE_METHODS.unregister("best")
    CONNECTORS.unregister("toy")
    for name in MODULES:
        sys.modules.pop(name, None)


def test_unknown_until_registered() -> None:
    with pytest.raises(ConfigError, match="unknown generator 'toy'"):
        preset("laptop", generator="toy")
    with pytest.raises(ConfigError, match="unknown combination method 'best'"):
        CombineConfig(method="best")


def test_validation_accepts_the_plugins(plugins: None) -> None:
    assert preset("laptop", generator="toy").is_neural
    assert CombineConfig(method="best").method == "best"
    assert sources.connector_for("toy://demo").name == "toy"
    assert GENERATORS.label("toy") == "Toy MLP"  # no catalogue entry: the plug-in's own label


def test_a_broken_plugin_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, "tests.plugins.does_not_exist")
    with pytest.raises(ConfigError, match="plug-in 'tests.plugins.does_not_exist'"):
        load_plugins()


def test_the_cli_offers_the_plugins() -> None:
    env = {**os.environ, ENV: ",".join(MODULES), "PYTHONPATH": str(REPO)}
    for command, name in ((["mine", "--help"], "toy"), (["combine", "--help"], "best")):
        out = subprocess.run([sys.executable, "-m", "engine.cli", *command], env=env,
                             capture_output=True, text=True, cwd=REPO, timeout=120)
        assert out.returncode == 0, out.stderr
        assert name in out.stdout, out.stdout


def _page(page: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page(page)
    at.run()
    assert not at.exception, at.exception
    return at


def test_the_pages_offer_the_plugins(home: Path, plugins: None) -> None:
    ensure_demo(home / "projects" / "demo", SyntheticConfig(n_tickers=20, n_days=200, seed=1))
    mining = _page("pages/mining.py")
    # AppTest lists a select box's options as their labels
    assert any("Toy MLP" in s.options for s in mining.sidebar.selectbox)
    combine = _page("pages/combine.py")
    assert any("Best single factor" in s.options for s in combine.selectbox)
    data = _page("pages/data.py")
    data.selectbox(key="af_source_kind").select("toy").run()
    assert not data.exception, data.exception
    assert [w.label for w in data.text_input if w.key == "af_source_token_toy"] == ["API key"]


def test_end_to_end_on_a_demo_market(plugins: None) -> None:
    """Import through the toy source, mine with the toy generator, combine with 'best'."""
    dataset = sources.load(SourceRequest("toy://demo?tickers=40&days=300", token="sesame"))
    panel = build(dataset.frame)
    d = [str(x) for x in panel.dates]
    cfg = preset("laptop", generator="toy", seed=0, batch_size=32, warmup=120,
                 warmup_max_batches=8, g_steps=4, g_patience=2, p_epochs=3, p_patience=2,
                 new_per_round=60, new_max_batches=4, max_rounds=1, time_budget_s=None,
                 zoo_size=5, ic_thresh=0.0, train=DateRange(d[30], d[180]),
                 valid=DateRange(d[200], d[240]))
    events: list[dict] = []
    result = mine(panel, cfg, progress=events.append)
    assert result.zoo and any(e["event"] == "generator" for e in events)
    formulas = [m.formula for m in result.zoo]
    factors = torch.stack([Evaluator(panel).evaluate(f) for f in formulas])
    combined = combine_panel(panel, factors, formulas, score_days=241,
                             config=CombineConfig(method="best", min_lookback_days=20))
    coef = combined.weights.filter(combined.weights["date"] == combined.weights["date"].min())
    assert int((coef["coef"].to_numpy() != 0).sum()) == 1  # one factor carries the weight
    assert np.isfinite(combined.daily["ic"].to_numpy()).any()
    with pytest.raises(Exception, match="API key"):
        sources.load(SourceRequest("toy://demo", token="wrong"))


def test_plugins_module_is_importable_twice(plugins: None) -> None:
    """Loading again is free (Python imports a module once): no 'already registered'."""
    load_plugins()
    importlib.import_module(MODULES[0])
