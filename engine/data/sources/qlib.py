"""Qlib data folder connector: ``qlib:///path/to/qlib_dir[?universe=csi300&fields=open,close]``.

Qlib's binary layout (what ``dump_bin.py`` writes and ``qlib.data.D`` reads)::

    calendars/day.txt                     one trading date per line
    instruments/<universe>.txt            TICKER<TAB>start<TAB>end, one line per membership
                                          interval (point in time; ``all.txt`` = full spans)
    features/<ticker, lower case>/<field>.day.bin
                                          float32 little-endian: the calendar index of the
                                          first value, then one value per calendar day

With ``universe=NAME`` (or the request's ``table``) the tickers are those ever listed in
``instruments/NAME.txt`` and the ``in_universe`` column is True on the days inside one of
their intervals (Qlib's point-in-time membership); ``tickers=all`` keeps every ticker of
``all.txt`` (False outside the intervals). Without a universe, ``all.txt`` is used and no
membership column is made. Days on which every field is NaN are not rows. A folder written by
``engine.data.export.to_qlib`` also holds ``alphaforge.json`` (column order, universe name,
whether vwap was derived) so that exporting a
dataset and importing it back gives the same dataset.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from engine.data.io import RawTable
from engine.data.schema import DATE, TICKER, UNIVERSE
from engine.data.sources.base import (
    Connector,
    SourceField,
    SourceRequest,
    fail,
    local_path,
    query_options,
    with_rows,
)

FREQ = "day"
SIDECAR = "alphaforge.json"
SIDECAR_FORMAT = "alphaforge-qlib"
RESERVED_PREFIX = "_qlib_"
_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(10)),
             *(f"LPT{i}" for i in range(10))}
#: field order for folders without a sidecar: the usual file order, then the rest sorted
FIELD_ORDER = ("open", "high", "low", "close", "volume", "vwap")


def feature_dir_name(ticker: str) -> str:
    """Qlib's folder name for a ticker (``qlib.utils.code_to_fname`` then lower case)."""
    name = f"{RESERVED_PREFIX}{ticker}" if ticker.upper() in _RESERVED else ticker
    return name.lower()


def _root(request: SourceRequest) -> Path:
    root = local_path(request.url)
    if not root.is_dir():
        raise fail(request, f"no such folder: {root}")
    for part in ("calendars", "instruments", "features"):
        if not (root / part).is_dir():
            raise fail(request, f"{root} is not a Qlib data folder (no '{part}/' folder)")
    return root


def sidecar(root: Path) -> dict[str, Any]:
    """The export's notes, or {} for a folder Qlib's own tools wrote."""
    path = root / SIDECAR
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) and data.get("format") == SIDECAR_FORMAT else {}


def _parse_date(text: str, where: str, request: SourceRequest) -> dt.date:
    try:
        return dt.date.fromisoformat(text.strip()[:10])
    except ValueError:
        raise fail(request, f"{where}: '{text.strip()}' is not a date (YYYY-MM-DD)") from None


def read_calendar(root: Path, request: SourceRequest) -> list[dt.date]:
    path = root / "calendars" / f"{FREQ}.txt"
    if not path.is_file():
        raise fail(request, f"no calendar file calendars/{FREQ}.txt")
    lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    days = [_parse_date(ln, f"calendars/{FREQ}.txt line {i}", request)
            for i, ln in enumerate(lines, start=1)]
    if not days:
        raise fail(request, f"calendars/{FREQ}.txt is empty")
    if any(b <= a for a, b in zip(days, days[1:], strict=False)):
        raise fail(request, f"calendars/{FREQ}.txt is not strictly increasing")
    return days


def universes(root: Path) -> list[str]:
    return sorted(p.stem for p in (root / "instruments").glob("*.txt"))


def read_instruments(root: Path, name: str, request: SourceRequest
                     ) -> dict[str, list[tuple[dt.date, dt.date]]]:
    """ticker -> membership intervals (inclusive), in file order."""
    path = root / "instruments" / f"{name}.txt"
    if not path.is_file():
        raise fail(request, f"no universe '{name}' (instruments/{name}.txt); available: "
                            f"{', '.join(universes(root)) or '(none)'}")
    out: dict[str, list[tuple[dt.date, dt.date]]] = {}
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        cells = line.split("\t") if "\t" in line else line.split()
        if len(cells) < 3:
            raise fail(request, f"instruments/{name}.txt line {i}: expected TICKER, start and "
                                f"end date separated by tabs, got '{line.strip()}'")
        where = f"instruments/{name}.txt line {i}"
        start, end = _parse_date(cells[1], where, request), _parse_date(cells[2], where, request)
        out.setdefault(cells[0].strip(), []).append((start, end))
    if not out:
        raise fail(request, f"instruments/{name}.txt lists no tickers")
    return out


def _fields(root: Path, dirs: list[Path], wanted: list[str] | None,
            request: SourceRequest) -> list[str]:
    present = sorted({p.name[: -len(f".{FREQ}.bin")] for d in dirs
                      for p in d.glob(f"*.{FREQ}.bin")})
    if wanted:
        missing = [f for f in wanted if f not in present]
        if missing:
            raise fail(request, f"no field(s) {', '.join(missing)} in features/; available: "
                                f"{', '.join(present) or '(none)'}")
        return wanted
    if not present:
        raise fail(request, "features/ holds no *.day.bin files for these tickers")
    return present


def _order(fields: list[str], notes: dict[str, Any]) -> list[str]:
    saved = [c for c in notes.get("columns", []) if c in fields]
    if saved:
        return saved + [f for f in fields if f not in saved]
    known = [f for f in FIELD_ORDER if f in fields]
    return known + sorted(f for f in fields if f not in known)


def _read_bin(path: Path, n_days: int, request: SourceRequest) -> tuple[int, np.ndarray]:
    raw = np.fromfile(path, dtype="<f4")
    if raw.size == 0 or not np.isfinite(raw[0]) or raw[0] < 0 or raw[0] != int(raw[0]):
        raise fail(request, f"{path.parent.name}/{path.name}: not a Qlib feature file "
                            "(the first value must be a calendar index)")
    start = int(raw[0])
    values = raw[1:]
    if start + values.size > n_days:
        raise fail(request, f"{path.parent.name}/{path.name}: runs past the end of the calendar "
                            f"({start} + {values.size} values > {n_days} days)")
    return start, values


def read(request: SourceRequest, limit: int | None = None) -> RawTable:
    root = _root(request)
    options = query_options(request.url)
    notes = sidecar(root)
    universe = options.get("universe") or request.table or notes.get("universe") or None
    calendar = read_calendar(root, request)
    members = read_instruments(root, universe or "all", request)
    # Which tickers: those ever in the universe, or every ticker of all.txt (membership False
    # outside the intervals). A folder this app exported keeps every ticker by default.
    scope = options.get("tickers") or ("all" if universe and universe == notes.get("universe")
                                       else "universe")
    if scope not in ("all", "universe"):
        raise fail(request, f"tickers={scope}: use tickers=all or tickers=universe")
    tickers = sorted(members)
    if universe and scope == "all":
        tickers = sorted(set(tickers) | set(read_instruments(root, "all", request)))
    dirs = {t: root / "features" / feature_dir_name(t) for t in tickers}
    missing = [t for t, d in dirs.items() if not d.is_dir()]
    if len(missing) == len(tickers):
        raise fail(request, f"features/ has no folder for any listed ticker (e.g. "
                            f"features/{feature_dir_name(tickers[0])}/)")
    wanted = [f.strip().lower() for f in options.get("fields", "").split(",") if f.strip()]
    fields = _fields(root, [d for d in dirs.values() if d.is_dir()], wanted or None, request)
    if notes.get("vwap_derived") and "vwap" in fields and not wanted:
        fields.remove("vwap")  # it was (high + low + close) / 3; the validator derives it again
    fields = _order(fields, notes)

    n_days = len(calendar)
    cal = np.array(calendar, dtype="datetime64[D]")
    parts: list[pl.DataFrame] = []
    for ticker in tickers:
        if not dirs[ticker].is_dir():
            continue
        block = np.full((n_days, len(fields)), np.nan, dtype=np.float32)
        for k, field in enumerate(fields):
            path = dirs[ticker] / f"{field}.{FREQ}.bin"
            if path.is_file():
                start, values = _read_bin(path, n_days, request)
                block[start:start + values.size, k] = values
        keep = np.isfinite(block).any(axis=1)
        if not keep.any():
            continue
        columns: dict[str, Any] = {DATE: cal[keep], TICKER: [ticker] * int(keep.sum())}
        for k, field in enumerate(fields):
            columns[field] = block[keep, k].astype(np.float64)
        if universe:
            inside = np.zeros(n_days, dtype=bool)
            for a, b in members.get(ticker, ()):
                inside |= (cal >= np.datetime64(a)) & (cal <= np.datetime64(b))
            columns[UNIVERSE] = inside[keep]
        parts.append(pl.DataFrame(columns))
    if not parts:
        raise fail(request, "the folder holds no values for the listed tickers")
    frame = pl.concat(parts).with_columns(pl.col(DATE).cast(pl.Date), pl.col(fields).fill_nan(None))
    if limit is not None:
        frame = frame.head(limit)
    return with_rows(frame, request.label())


def tables(request: SourceRequest) -> list[str]:
    """The universes (instrument files) a user may pick."""
    return universes(_root(request))


def probe(request: SourceRequest) -> str:
    root = _root(request)
    calendar = read_calendar(root, request)
    names = universes(root)
    n = len(list((root / "features").iterdir()))
    return (f"Qlib folder {root.name}: {len(calendar)} trading days ({calendar[0]} .. "
            f"{calendar[-1]}), {n} ticker folder(s), universes: {', '.join(names) or '(none)'}")


CONNECTOR = Connector(
    name="qlib", schemes=("qlib",), title="Qlib data folder",
    example="qlib:///path/to/qlib_data/cn_data?universe=csi300", read=read,
    tables=tables, probe=probe, fields=(SourceField("table_choice", "table", "sources.universe"),),
)
