"""Export a canonical dataset: Qlib's binary layout, alphalens-style frames, Parquet, CSV.

Every export is written next to its target first and moved into place when complete, so an
interrupted export leaves nothing half-written, and an existing target is replaced only when
asked. What goes out comes back: a Parquet or CSV export re-imports to the same dataset (same
content hash); a Qlib export re-imports to the same panel (Qlib stores float32 values, so the
frame is equal wherever the values are float32 numbers, as the panel's are).
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import polars as pl

from engine.data.csv_cells import defuse
from engine.data.schema import (
    DATE,
    DEFAULT_EXPORT_UNIVERSE,
    EXPORT_FORMATS,
    TICKER,
    UNIVERSE,
)
from engine.data.sources.qlib import FREQ, SIDECAR, SIDECAR_FORMAT, feature_dir_name
from engine.errors import DataError
from engine.store import atomic

Format = Literal["qlib", "alphalens", "parquet", "csv"]
FORMATS = EXPORT_FORMATS
DEFAULT_UNIVERSE = DEFAULT_EXPORT_UNIVERSE
_BAD_NAME_CHARS = set('/\\:*?"<>|\t\n\r')


@dataclass(frozen=True)
class ExportResult:
    """What was written: the target path and the files in it (relative, sorted)."""

    format: str
    path: Path
    files: tuple[str, ...]
    n_rows: int
    n_tickers: int

    def to_dict(self) -> dict[str, object]:
        return {"format": self.format, "path": str(self.path), "files": list(self.files),
                "n_rows": self.n_rows, "n_tickers": self.n_tickers}


def _features(frame: pl.DataFrame) -> list[str]:
    return [c for c, t in frame.schema.items() if c not in (DATE, TICKER, UNIVERSE)
            and t.is_numeric()]


def _prepare_target(path: Path, overwrite: bool, folder: bool = False) -> None:
    """An export to a file goes through the store's guard (never a folder, a device or a
    pipe; an existing file only with ``overwrite``); a folder export (Qlib, alphalens) may
    replace an existing folder with ``overwrite``."""
    if not folder:
        atomic.check_target(path, overwrite)
    elif path.exists() and not overwrite:
        raise DataError(f"{path} already exists; choose another path or overwrite it")
    path.parent.mkdir(parents=True, exist_ok=True)


def _move_folder(tmp: Path, target: Path) -> None:
    """Put a finished folder in place (replacing an old one only after the new one exists)."""
    if target.exists():
        old = target.parent / f"{atomic.TMP_PREFIX}old-{target.name}-{uuid.uuid4().hex[:8]}"
        os.replace(target, old)
        os.replace(tmp, target)
        if old.is_dir():
            shutil.rmtree(old, ignore_errors=True)
        else:
            old.unlink(missing_ok=True)
    else:
        os.replace(tmp, target)


def _in_temp_folder(target: Path, write: Callable[[Path], None]) -> None:
    tmp = target.parent / f"{atomic.TMP_PREFIX}{target.name}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        write(tmp)
        _move_folder(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _listing(root: Path) -> tuple[str, ...]:
    if root.is_file():
        return (root.name,)
    return tuple(sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()))


# --------------------------------------------------------------------------- Qlib


def _intervals(days: np.ndarray, member: np.ndarray) -> list[tuple[int, int]]:
    """Runs of consecutive calendar indices where ``member`` is True -> [(first, last)]."""
    idx = days[member]
    if idx.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(idx) != 1)
    starts = np.concatenate([[idx[0]], idx[breaks + 1]])
    ends = np.concatenate([idx[breaks], [idx[-1]]])
    return [(int(a), int(b)) for a, b in zip(starts, ends, strict=True)]


def _check_tickers(tickers: list[str]) -> None:
    seen: dict[str, str] = {}
    for ticker in tickers:
        if not ticker or set(ticker) & _BAD_NAME_CHARS or ticker in (".", ".."):
            raise DataError(f"ticker '{ticker}' cannot be a Qlib folder name (it holds / \\ : * "
                            "? \" < > | or a tab); rename it before exporting to Qlib")
        name = feature_dir_name(ticker)
        if name in seen:
            raise DataError(f"tickers '{seen[name]}' and '{ticker}' differ only in case; Qlib "
                            "stores tickers in lower-case folders, so they would collide")
        seen[name] = ticker


def write_qlib(frame: pl.DataFrame, root: Path, *, universe: str = DEFAULT_UNIVERSE,
               vwap_derived: bool = False) -> None:
    """Write ``frame`` (canonical long table) in Qlib's layout under the existing folder
    ``root``: calendar, ``instruments/all.txt`` (first..last day of each ticker), the
    membership intervals in ``instruments/<universe>.txt`` when the frame has ``in_universe``,
    and one float32 ``<field>.day.bin`` per ticker and numeric feature."""
    fields = _features(frame)
    bad = [f for f in fields if f != f.lower() or set(f) & _BAD_NAME_CHARS]
    if bad:
        raise DataError(f"feature name(s) {', '.join(bad)} cannot be Qlib field file names")
    days = frame.get_column(DATE).unique().sort()
    calendar = [str(d) for d in days.to_list()]
    index = frame.select(
        (pl.col(DATE).rank("dense").cast(pl.Int64) - 1).alias("_i"),
        TICKER, *fields, *([UNIVERSE] if UNIVERSE in frame.columns else []),
    ).sort(TICKER, "_i")
    tickers = index.get_column(TICKER).unique(maintain_order=True).to_list()
    _check_tickers(tickers)

    (root / "calendars").mkdir()
    (root / "instruments").mkdir()
    (root / "features").mkdir()
    (root / "calendars" / f"{FREQ}.txt").write_text("\n".join(calendar) + "\n", encoding="utf-8")
    spans, members = [], []
    for (ticker,), sub in index.group_by(TICKER, maintain_order=True):
        days_i = sub.get_column("_i").to_numpy()
        first, last = int(days_i[0]), int(days_i[-1])
        spans.append(f"{ticker}\t{calendar[first]}\t{calendar[last]}")
        if UNIVERSE in sub.columns:
            member = sub.get_column(UNIVERSE).fill_null(False).to_numpy().astype(bool)
            members += [f"{ticker}\t{calendar[a]}\t{calendar[b]}"
                        for a, b in _intervals(days_i, member)]
        folder = root / "features" / feature_dir_name(str(ticker))
        folder.mkdir()
        for field in fields:
            values = np.full(last - first + 1, np.nan, dtype="<f4")
            column = sub.get_column(field).cast(pl.Float64).fill_null(float("nan")).to_numpy()
            values[days_i - first] = column.astype("<f4")
            np.concatenate([np.array([first], dtype="<f4"), values]).tofile(
                folder / f"{field}.{FREQ}.bin")
    (root / "instruments" / "all.txt").write_text("\n".join(spans) + "\n", encoding="utf-8")
    if UNIVERSE in frame.columns:
        (root / "instruments" / f"{universe}.txt").write_text(
            "\n".join(members) + ("\n" if members else ""), encoding="utf-8")
    notes = {"format": SIDECAR_FORMAT, "version": 1,
             "columns": [c for c in frame.columns if c not in (DATE, TICKER, UNIVERSE)],
             "universe": universe if UNIVERSE in frame.columns else None,
             "vwap_derived": bool(vwap_derived)}
    (root / SIDECAR).write_text(json.dumps(notes, indent=2) + "\n", encoding="utf-8")


def to_qlib(frame: pl.DataFrame, path: str | Path, *, universe: str = DEFAULT_UNIVERSE,
            vwap_derived: bool = False, overwrite: bool = False) -> ExportResult:
    """Export to a new Qlib data folder at ``path`` (read it back with ``qlib:///path``)."""
    if not universe or set(universe) & _BAD_NAME_CHARS or universe.lower() == "all":
        raise DataError(f"'{universe}' cannot be a universe name (instruments/<name>.txt)")
    target = Path(path).expanduser().resolve()
    _prepare_target(target, overwrite, folder=True)
    _in_temp_folder(target, lambda tmp: write_qlib(frame, tmp, universe=universe,
                                                   vwap_derived=vwap_derived))
    return ExportResult("qlib", target, _listing(target), frame.height,
                        frame.get_column(TICKER).n_unique())


# --------------------------------------------------------------------------- alphalens


def alphalens_prices(frame: pl.DataFrame, price: str = "close") -> pd.DataFrame:
    """Wide pandas prices for ``alphalens.utils.get_clean_factor_and_forward_returns``:
    index = dates (DatetimeIndex), one column per ticker, NaN where there is no price."""
    if price not in frame.columns:
        raise DataError(f"no '{price}' column to use as prices; columns: "
                        f"{', '.join(frame.columns)}")
    wide = frame.pivot(on=TICKER, index=DATE, values=price, aggregate_function=None,
                       sort_columns=True).sort(DATE)
    pdf = wide.to_pandas().set_index(DATE)
    pdf.index = pdf.index.astype("datetime64[ns]")
    pdf.index.name = "date"
    pdf.columns.name = "asset"
    return pdf


def alphalens_factors(frame: pl.DataFrame, columns: list[str] | None = None) -> pd.DataFrame:
    """Long pandas frame indexed by (date, asset) with one column per factor: select a column
    to get alphalens's ``factor`` Series. Rows outside the universe (``in_universe`` False)
    are left out, as alphalens expects only tradable assets."""
    names = columns or _features(frame)
    missing = [c for c in names if c not in frame.columns]
    if missing:
        raise DataError(f"no column(s) {', '.join(missing)}; columns: {', '.join(frame.columns)}")
    rows = frame.filter(pl.col(UNIVERSE).fill_null(False)) if UNIVERSE in frame.columns else frame
    pdf = rows.select(pl.col(DATE).alias("date"), pl.col(TICKER).alias("asset"), *names)\
        .sort("date", "asset").to_pandas()
    pdf["date"] = pdf["date"].astype("datetime64[ns]")
    return pdf.set_index(["date", "asset"])


def to_alphalens(frame: pl.DataFrame, path: str | Path, *, price: str = "close",
                 factors: list[str] | None = None, overwrite: bool = False) -> ExportResult:
    """Write ``prices.parquet`` (wide) and ``factors.parquet`` ((date, asset) index) to a new
    folder; ``pd.read_parquet`` gives back the frames alphalens takes."""
    target = Path(path).expanduser().resolve()
    _prepare_target(target, overwrite, folder=True)
    prices = alphalens_prices(frame, price)
    table = alphalens_factors(frame, factors)

    def write(tmp: Path) -> None:
        prices.to_parquet(tmp / "prices.parquet")
        table.to_parquet(tmp / "factors.parquet")

    _in_temp_folder(target, write)
    return ExportResult("alphalens", target, _listing(target), frame.height,
                        frame.get_column(TICKER).n_unique())


# --------------------------------------------------------------------------- files


def to_parquet(frame: pl.DataFrame, path: str | Path, *, overwrite: bool = False
               ) -> ExportResult:
    """The canonical table as Parquet (what the project stores, byte for byte)."""
    target = Path(path).expanduser().resolve()
    _prepare_target(target, overwrite)
    atomic.write_parquet(target, frame)
    return ExportResult("parquet", target, (target.name,), frame.height,
                        frame.get_column(TICKER).n_unique())


def to_csv(frame: pl.DataFrame, path: str | Path, *, overwrite: bool = False) -> ExportResult:
    """The canonical table as CSV (dates YYYY-MM-DD; numbers round-trip exactly)."""
    target = Path(path).expanduser().resolve()
    _prepare_target(target, overwrite)
    text = defuse(frame.with_columns(pl.col(DATE).cast(pl.Utf8))).write_csv()
    atomic.write_text(target, text)
    return ExportResult("csv", target, (target.name,), frame.height,
                        frame.get_column(TICKER).n_unique())


def export(frame: pl.DataFrame, fmt: str, path: str | Path, *, vwap_derived: bool = False,
           universe: str = DEFAULT_UNIVERSE, price: str = "close",
           factors: list[str] | None = None, overwrite: bool = False) -> ExportResult:
    """Dispatch on ``fmt`` (one of :data:`FORMATS`)."""
    if fmt == "qlib":
        return to_qlib(frame, path, universe=universe, vwap_derived=vwap_derived,
                       overwrite=overwrite)
    if fmt == "alphalens":
        return to_alphalens(frame, path, price=price, factors=factors, overwrite=overwrite)
    if fmt == "parquet":
        return to_parquet(frame, path, overwrite=overwrite)
    if fmt == "csv":
        return to_csv(frame, path, overwrite=overwrite)
    raise DataError(f"unknown export format '{fmt}'; use one of {', '.join(FORMATS)}")
