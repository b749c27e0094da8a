"""Write a :class:`~engine.data.panel.Panel` in Qlib's binary data layout (benchmark helper).

So that Qlib's expression engine reads exactly the numbers our evaluator reads:

    <root>/calendars/day.txt              one trading date per line (YYYY-MM-DD)
    <root>/instruments/all.txt            TICKER<TAB>first date<TAB>last date
    <root>/features/<ticker>/<field>.day.bin
                                          float32 little-endian; the first value is the
                                          index of the ticker's first day in the calendar,
                                          then one value per calendar day up to its last day
                                          (NaN for missing days in between)

Directory names are the lower-cased ticker, with Qlib's ``_qlib_`` prefix for names that are
reserved devices on Windows (CON, PRN, AUX, NUL, COM0-9, LPT0-9), as ``qlib.utils.code_to_fname``.
Only the benchmark imports this; nothing in the engine depends on Qlib.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from engine.data.panel import Panel

_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(10)),
             *(f"LPT{i}" for i in range(10))}


def qlib_dir_name(ticker: str) -> str:
    """Folder name Qlib looks up for ``ticker`` under ``features/``."""
    name = f"_qlib_{ticker}" if ticker.upper() in _RESERVED else ticker
    return name.lower()


def write(panel: Panel, root: Path, fields: Sequence[str] | None = None) -> Path:
    """Write ``fields`` (default: every panel feature) of every ticker with data; returns root.

    A ticker's span runs from its first to its last day with any finite value; days outside
    the universe keep their values (Qlib has no universe mask: the benchmark compares
    operators, not scores).
    """
    names = list(fields) if fields is not None else list(panel.features)
    root = Path(root)
    (root / "calendars").mkdir(parents=True, exist_ok=True)
    (root / "instruments").mkdir(parents=True, exist_ok=True)
    dates = [str(d) for d in panel.dates.astype("datetime64[D]")]
    (root / "calendars" / "day.txt").write_text("\n".join(dates) + "\n")

    values = panel.values.numpy()  # [T, N, F]
    index = [panel.features.index(f) for f in names]
    has_data = np.isfinite(values[:, :, index]).any(axis=2)  # [T, N]
    lines = []
    for j, ticker in enumerate(panel.tickers):
        days = np.flatnonzero(has_data[:, j])
        if days.size == 0:
            continue
        first, last = int(days[0]), int(days[-1])
        lines.append(f"{ticker}\t{dates[first]}\t{dates[last]}")
        folder = root / "features" / qlib_dir_name(ticker)
        folder.mkdir(parents=True, exist_ok=True)
        for name, f in zip(names, index, strict=True):
            body = values[first : last + 1, j, f].astype("<f4")
            np.concatenate([np.array([first], dtype="<f4"), body]).tofile(
                folder / f"{name}.day.bin"
            )
    (root / "instruments" / "all.txt").write_text("\n".join(lines) + "\n")
    return root
