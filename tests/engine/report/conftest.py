"""A small demo project with three strategies, built once for the report tests.

``classic-dynamic`` and ``classic-equal`` are backtested (the second against a ticker
benchmark), ``classic-static`` is not, so the reports meet every case.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest

from engine.backtest.topk import TopKConfig
from engine.combine.service import (
    StrategySpec,
    backtest_strategy,
    build_strategy,
    combine_config,
)
from engine.data.synthetic import SyntheticConfig
from engine.store.demo import ensure_demo
from engine.store.project import Project
from tests.conftest import REPO

ARTIFACTS = REPO / "tests" / "artifacts"
TEST = ("2016-01-04", None)


@pytest.fixture(scope="session")
def report_project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    root = tmp_path_factory.mktemp("report") / "p"
    project, _, _ = ensure_demo(root, SyntheticConfig(n_tickers=50, n_days=500, seed=3))
    for method in ("dynamic", "equal", "static"):
        build_strategy(project, StrategySpec(name=f"classic-{method}", dataset="demo",
                                             factor_set="classic", test=TEST, train=None,
                                             config=combine_config(method)))
    config = TopKConfig(top_k=10, drop_n=2)
    backtest_strategy(project, "classic-dynamic", config)
    backtest_strategy(project, "classic-equal", config, benchmark="SYN0001")
    return project


def save_pages(pdf: bytes, name: str) -> None:
    """Render a PDF's pages to PNG (50 dpi) in tests/artifacts/ for a person to look at."""
    if not shutil.which("pdftoppm"):
        return
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in ARTIFACTS.glob(f"{name}-*.png"):
        old.unlink()
    source = ARTIFACTS / f"{name}.pdf"
    source.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "50", "-png", str(source), str(ARTIFACTS / name)],
                   check=True, timeout=120)
