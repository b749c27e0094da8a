"""Canonical columns of a daily OHLCV panel and the aliases users' files come with.

Every loader returns a *long* table (one row per date and ticker) with these names, so the rest
of the engine never sees a vendor's spelling. Matching is case-insensitive and ignores spaces,
dashes and underscores (``Adj Close`` == ``adj_close`` == ``AdjClose``).
"""

from __future__ import annotations

import re

DATE = "date"
TICKER = "ticker"
PRICE_FIELDS: tuple[str, ...] = ("open", "high", "low", "close")
REQUIRED: tuple[str, ...] = (DATE, TICKER, *PRICE_FIELDS, "volume")
OPTIONAL_NUMERIC: tuple[str, ...] = ("vwap", "amount", "adj_close")
UNIVERSE = "in_universe"
#: The six base features of the paper, in the paper's order (ALPHAFORGE_SPEC §1).
BASE_FEATURES: tuple[str, ...] = ("open", "close", "high", "low", "volume", "vwap")

#: alias (normalised) -> canonical column name
_ALIASES: dict[str, str] = {
    **{a: DATE for a in ("date", "datetime", "timestamp", "time", "tradedate", "day", "dt")},
    **{
        a: TICKER
        for a in ("ticker", "name", "symbol", "code", "instrument", "tscode", "stock",
                  "asset", "secid", "permno", "sid")
    },
    **{a: "open" for a in ("open", "o", "openprice", "opn")},
    **{a: "high" for a in ("high", "h", "highprice", "hi")},
    **{a: "low" for a in ("low", "l", "lowprice", "lo")},
    **{a: "close" for a in ("close", "c", "closeprice", "last", "price")},
    **{a: "volume" for a in ("volume", "vol", "v", "shares", "qty")},
    **{a: "vwap" for a in ("vwap", "avgprice", "averageprice")},
    **{a: "amount" for a in ("amount", "turnover", "value", "dollarvolume", "amt")},
    **{a: "adj_close" for a in ("adjclose", "adjustedclose", "adjclosing", "closeadj")},
    **{a: UNIVERSE for a in ("inuniverse", "universe", "member", "isinindex", "inindex")},
}


def normalise_name(name: str) -> str:
    """Lower-case a column name and drop separators, for alias matching."""
    return re.sub(r"[\s_\-\.]+", "", name.strip().lower())


def canonical_name(name: str) -> str:
    """Canonical name of a column: a known alias, else a snake_case version of the name.

    Unknown numeric columns become extra feature tokens, so their names must be valid
    identifiers for the formula language (``$my_signal``).
    """
    known = _ALIASES.get(normalise_name(name))
    if known is not None:
        return known
    snake = re.sub(r"[^0-9a-zA-Z]+", "_", name.strip()).strip("_").lower()
    if not snake or snake[0].isdigit():
        snake = f"f_{snake}"
    return snake


def alias_candidates(canonical: str) -> list[str]:
    """Aliases recognised for a canonical column (used by the UI's column mapper)."""
    return sorted(a for a, c in _ALIASES.items() if c == canonical)


#: Export formats of :func:`engine.data.export.export` (here, in a module without heavy
#: imports, so that the command line lists them without loading pandas and polars).
EXPORT_FORMATS: tuple[str, ...] = ("qlib", "alphalens", "parquet", "csv")
#: Name of the Qlib instruments file an export writes the universe to by default.
DEFAULT_EXPORT_UNIVERSE = "members"
