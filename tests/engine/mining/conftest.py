"""Shared fixtures of the mining tests: small synthetic markets and tiny configs.

Everything here is small on purpose (a whole test file must run in well under a minute on a
busy 2-core machine): 60 stocks x 300 days for mechanics, and a 100 x 500 market whose planted
signals are four times the demo strength for the quality test (a 100-stock market at demo
strength is too noisy for any miner to tell signal from luck within a test's budget).
"""

from __future__ import annotations

from typing import Any

import polars as pl
import pytest
import torch

from engine.data.io import ROW, RawTable
from engine.data.panel import Panel, build
from engine.data.synthetic import SyntheticConfig, generate
from engine.data.validate import check
from engine.mining.config import DateRange, MiningConfig, preset
from engine.store.project import Project

SMALL = SyntheticConfig(n_tickers=60, n_days=300, seed=0)


@pytest.fixture(autouse=True)
def _one_thread() -> Any:
    """One intra-op thread: the machine is shared, and results must not depend on it."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def small_frame() -> pl.DataFrame:
    return generate(SMALL)


@pytest.fixture(scope="session")
def small_panel(small_frame: pl.DataFrame) -> Panel:
    return build(small_frame)


def tiny(**overrides: Any) -> MiningConfig:
    """A laptop-preset config shrunk to seconds on the small market."""
    base: dict[str, Any] = dict(
        seed=0, batch_size=32, warmup=120, warmup_max_batches=8, g_steps=4, g_patience=2,
        p_epochs=3, p_patience=2, new_per_round=60, new_max_batches=4, random_per_round=30,
        max_rounds=2, time_budget_s=None, zoo_size=8, gp_population=60,
        warmup_seeds=-1, warmup_admit=False,  # the spec's warm-up: mechanics tests need rounds
        stop_when_full=True,
        train=DateRange("2015-01-02", "2015-09-30"), valid=DateRange("2015-11-02", "2016-02-26"),
    )
    base.update(overrides)
    return preset("laptop", **base)


def make_project(root: Any, frame: pl.DataFrame, name: str = "demo") -> Project:
    project = Project.create(root)
    raw = RawTable(frame.with_columns(pl.int_range(1, frame.height + 1).cast(pl.Utf8).alias(ROW)),
                   source="synthetic")
    project.save_dataset(name, check(raw))
    return project
