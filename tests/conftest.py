"""Shared fixtures: small valid market tables and the location of the shared real data."""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads (see Makefile)

import datetime as dt
import hashlib
from pathlib import Path

import numpy as np
import polars as pl
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = (REPO / ".." / "shared" / "data").resolve()
US_FILE = SHARED_DATA / "us_sp500_2013_2018.parquet"


@pytest.fixture
def us_file() -> Path:
    """The shared real S&P 500 file; tests skip only where the folder is absent."""
    if not SHARED_DATA.exists():
        pytest.skip("../shared/data is absent")
    return US_FILE


def make_market(n_tickers: int = 3, n_days: int = 60, seed: int = 0) -> pl.DataFrame:
    """A small, valid, canonical OHLCV long table (random walk) for loader tests."""
    rng = np.random.default_rng(seed)
    start = dt.date(2020, 1, 1)
    days = [start + dt.timedelta(days=i) for i in range(n_days * 2)]
    days = [d for d in days if d.weekday() < 5][:n_days]
    rows = []
    for k in range(n_tickers):
        close = 50 * np.exp(np.cumsum(rng.normal(0, 0.01, n_days)))
        for i, d in enumerate(days):
            c = float(close[i])
            rows.append((d, f"T{k:02d}", c * 0.995, c * 1.01, c * 0.99, c, 1e5 + 1000 * i))
    return pl.DataFrame(rows, schema=["date", "ticker", "open", "high", "low", "close", "volume"],
                        orient="row")


def tree_digest(root: Path) -> dict[str, str]:
    """Path -> sha256 of every file under root (empty dict when root does not exist)."""
    if not root.exists():
        return {}
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*")) if p.is_file()
    } | {str(p.relative_to(root)) + "/": "dir" for p in root.rglob("*") if p.is_dir()}
