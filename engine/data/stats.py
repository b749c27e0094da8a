"""Descriptive statistics of a canonical dataset (CLI `inspect`, the Data page)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import polars as pl

from engine.data.schema import DATE, TICKER


@dataclass(frozen=True)
class ColumnStats:
    column: str
    count: int
    missing: int
    mean: float | None
    std: float | None
    min: float | None
    median: float | None
    max: float | None


@dataclass(frozen=True)
class DatasetStats:
    n_rows: int
    n_tickers: int
    n_dates: int
    start: str
    end: str
    coverage: float  # share of (date, ticker) cells that have a row
    columns: tuple[ColumnStats, ...]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def describe(frame: pl.DataFrame) -> DatasetStats:
    numeric = [c for c, t in frame.schema.items() if t.is_numeric()]
    aggs = []
    for c in numeric:
        col = pl.col(c).fill_nan(None)
        aggs += [col.count().alias(f"{c}|count"), col.null_count().alias(f"{c}|missing"),
                 col.mean().alias(f"{c}|mean"), col.std().alias(f"{c}|std"),
                 col.min().alias(f"{c}|min"), col.median().alias(f"{c}|median"),
                 col.max().alias(f"{c}|max")]
    row = frame.select(aggs).row(0, named=True) if aggs else {}

    def num(v: Any) -> float | None:
        return None if v is None else float(v)

    columns = tuple(
        ColumnStats(column=c, count=int(row[f"{c}|count"]), missing=int(row[f"{c}|missing"]),
                    mean=num(row[f"{c}|mean"]), std=num(row[f"{c}|std"]),
                    min=num(row[f"{c}|min"]), median=num(row[f"{c}|median"]),
                    max=num(row[f"{c}|max"]))
        for c in numeric
    )
    n_tickers = frame.get_column(TICKER).n_unique()
    n_dates = frame.get_column(DATE).n_unique()
    dates = frame.get_column(DATE)
    return DatasetStats(
        n_rows=frame.height, n_tickers=n_tickers, n_dates=n_dates,
        start=str(dates.min()), end=str(dates.max()),
        coverage=frame.height / max(1, n_tickers * n_dates), columns=columns,
    )
