"""Strategies on disk: a combination's config, weights, scores and its backtests.

```
strategies/<name>/strategy.json      what was combined, how, on which data, and its summary
strategies/<name>/scores.parquet     date, ticker, score (the Mega-Alpha)
strategies/<name>/weights.parquet    date x factor weights with the reason for each
strategies/<name>/daily.parquet      the Mega-Alpha's daily IC / RankIC
strategies/<name>/backtest.json      backtest config + portfolio summary (latest backtest)
strategies/<name>/backtest_daily.parquet, positions.parquet, trades.parquet
```
A strategy folder is written into a temporary folder and renamed into place, like datasets.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from engine.errors import StoreError
from engine.store import atomic
from engine.store.project import Project, validate_name
from engine.store.records import utc_now

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class StrategyFiles:
    """A saved strategy: its description and tables."""

    name: str
    path: Path
    info: Mapping[str, Any]

    def table(self, stem: str) -> pl.DataFrame:
        file = self.path / f"{stem}.parquet"
        if not file.exists():
            raise StoreError(f"strategy '{self.name}' has no {stem} table yet")
        return pl.read_parquet(file)

    @property
    def backtest(self) -> Mapping[str, Any] | None:
        file = self.path / "backtest.json"
        return atomic.read_json(file) if file.exists() else None


def strategy_dir(project: Project, name: str) -> Path:
    return project.root / "strategies" / validate_name(name, "strategy name")


def strategy_names(project: Project) -> list[str]:
    folder = project.root / "strategies"
    if not folder.exists():
        return []
    return sorted(p.name for p in folder.iterdir()
                  if p.is_dir() and (p / "strategy.json").exists())


def save_strategy(project: Project, name: str, info: Mapping[str, Any],
                  tables: Mapping[str, pl.DataFrame], *, overwrite: bool = False) -> Path:
    """Write a strategy folder atomically (temp folder + rename)."""
    final = strategy_dir(project, name)
    if final.exists() and not overwrite:
        raise StoreError(f"strategy '{final.name}' already exists; choose another --name "
                         "or overwrite it")

    def write(tmp: Path) -> None:
        for stem, frame in tables.items():
            atomic.write_parquet(tmp / f"{stem}.parquet", frame)
        atomic.write_json(tmp / "strategy.json", {"name": final.name, "created": utc_now(),
                                                  "schema_version": SCHEMA_VERSION, **info})

    atomic.write_dir(final, write)
    return final


def load_strategy(project: Project, name: str) -> StrategyFiles:
    path = strategy_dir(project, name)
    if not (path / "strategy.json").exists():
        available = ", ".join(strategy_names(project)) or "(none)"
        raise StoreError(f"no strategy '{name}' in project '{project.info.name}'; "
                         f"available: {available}")
    info = atomic.read_json(path / "strategy.json")
    if not isinstance(info, dict) or int(info.get("schema_version", 0)) > SCHEMA_VERSION:
        raise StoreError(f"{path / 'strategy.json'}: not readable by this AlphaForge version")
    return StrategyFiles(name=path.name, path=path, info=info)


def save_backtest(project: Project, name: str, info: Mapping[str, Any],
                  tables: Mapping[str, pl.DataFrame]) -> Path:
    """Replace the strategy's backtest files (tables first, the JSON last: a reader that sees
    the new backtest.json sees the new tables)."""
    path = load_strategy(project, name).path
    for stem, frame in tables.items():
        atomic.write_parquet(path / f"{stem}.parquet", frame)
    atomic.write_json(path / "backtest.json", {"created": utc_now(), **info})
    return path
