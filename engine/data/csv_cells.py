"""Text cells of a CSV export that a spreadsheet would run as a formula, made inert.

A ticker or formula cell such as ``=cmd|'/C calc'!A0`` opened in Excel or LibreOffice is a
formula (spreadsheet "CSV injection"). Cells starting with ``= + - @`` or a tab / carriage
return get a leading apostrophe (OWASP's advice), which spreadsheets show as plain text;
numbers written as text (``-0.5``, ``+1e3``) are left alone. Only text columns are touched:
numeric columns cannot carry a formula.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import polars as pl

if TYPE_CHECKING:
    import pandas as pd

#: a cell a spreadsheet would evaluate: a trigger first, and not a plain number
_TRIGGER = r"^[=+\-@\t\r]"
_NUMBER = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"
_TRIGGER_RE, _NUMBER_RE = re.compile(_TRIGGER), re.compile(_NUMBER)


def defuse_text(value: str) -> str:
    if _TRIGGER_RE.match(value) and not _NUMBER_RE.match(value):
        return "'" + value
    return value


def defuse(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with every risky text cell prefixed by an apostrophe."""
    exprs = []
    for name, dtype in frame.schema.items():
        if dtype in (pl.Utf8, pl.Categorical):
            col = pl.col(name).cast(pl.Utf8)
            risky = col.str.contains(_TRIGGER) & ~col.str.contains(_NUMBER)
            exprs.append(pl.when(risky).then(pl.lit("'") + col).otherwise(col).alias(name))
    return frame.with_columns(exprs) if exprs else frame


def defuse_pandas(frame: pd.DataFrame | pd.Series) -> pd.DataFrame | pd.Series:
    """The same for a pandas frame or series, its index levels included (alphalens)."""
    import pandas as pd

    def fix(values: pd.Index) -> pd.Index:
        if values.dtype == object:
            return pd.Index([defuse_text(v) if isinstance(v, str) else v for v in values],
                            name=values.name)
        return values

    out = frame.copy()
    if isinstance(out.index, pd.MultiIndex):
        out.index = out.index.set_levels([fix(level) for level in out.index.levels])
    else:
        out.index = fix(out.index)
    if isinstance(out, pd.DataFrame):
        out.columns = fix(out.columns)
        for name in out.columns:
            if out[name].dtype == object:
                out[name] = out[name].map(lambda v: defuse_text(v) if isinstance(v, str) else v)
    elif out.dtype == object:
        out = out.map(lambda v: defuse_text(v) if isinstance(v, str) else v)
    return out
