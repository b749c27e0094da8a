"""Turn a raw table into the canonical long table, with a report of everything wrong with it.

Errors (the data cannot be used as it is) and warnings (it can, but a researcher should know)
are collected in one :class:`ValidationReport`, so a user fixes every problem in one go rather
than one per attempt. Every message names the file, the column and the first rows or tickers
at fault. Each check is a small function over a Polars frame that returns the rows it blames.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import polars as pl

from engine.data.io import ROW, RawTable, read_file
from engine.data.quality import MAX_SHOWN, _more, _shown, check_quality, shown_value
from engine.data.schema import (
    DATE,
    PRICE_FIELDS,
    REQUIRED,
    TICKER,
    UNIVERSE,
    canonical_name,
)
from engine.errors import ConfigError, DataError

Level = Literal["error", "warning", "note"]
MIN_SCORED_DAYS = 20
BIG_MOVE = 0.5
STALE_RUN = 10
SHORT_HISTORY_SHARE = 0.5
NULL_TOKENS = ("", "na", "n/a", "nan", "null", "none", "-", "#n/a")
DATE_FORMATS = (
    "%Y-%m-%d", "%Y/%m/%d", "%Y%m%d", "%Y.%m.%d", "%m/%d/%Y", "%d.%m.%Y",
    "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S%.f",
)


@dataclass(frozen=True)
class Issue:
    """One finding. ``rows`` are data-row references (1-based, ``file:row`` for folders).

    ``message`` is the English text (CLI, logs); ``params`` are the values it names, as plain
    JSON values, so the app can render ``validation.<code>`` in the user's language (lists of
    dicts are the shown examples, ``more`` how many were left out; see ``engine.i18n.render``).
    Reports saved before params existed have none and are shown in English.
    """

    level: Level
    code: str
    message: str
    column: str | None = None
    rows: tuple[str, ...] = ()
    tickers: tuple[str, ...] = ()
    count: int = 0
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ValidationReport:
    """All errors, warnings and notes about one input; JSON-serialisable."""

    source: str
    errors: tuple[Issue, ...] = ()
    warnings: tuple[Issue, ...] = ()
    notes: tuple[Issue, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types (lists, not tuples), so a saved report compares equal when read."""
        return json.loads(json.dumps(asdict(self)))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ValidationReport:
        def issues(key: str) -> tuple[Issue, ...]:
            return tuple(
                Issue(**{**i, "rows": tuple(i.get("rows", ())),
                         "tickers": tuple(i.get("tickers", ()))})
                for i in data.get(key, ())
            )

        return cls(source=str(data["source"]), errors=issues("errors"),
                   warnings=issues("warnings"), notes=issues("notes"))

    def summary(self) -> str:
        """Human-readable multi-line summary (what the CLI prints)."""
        lines = [f"{self.source}: {len(self.errors)} error(s), {len(self.warnings)} warning(s)"]
        lines += [f"  ERROR   {i.message}" for i in self.errors]
        lines += [f"  WARNING {i.message}" for i in self.warnings]
        lines += [f"  NOTE    {i.message}" for i in self.notes]
        return "\n".join(lines)

    def raise_if_errors(self) -> None:
        if self.errors:
            head = "; ".join(i.message for i in self.errors[:3])
            more = f" (and {len(self.errors) - 3} more)" if len(self.errors) > 3 else ""
            raise DataError(f"{head}{more}", report=self, code="validation_failed",
                            params={"source": self.source, "count": len(self.errors)})


@dataclass(frozen=True)
class Dataset:
    """A validated canonical long table: date, ticker, numeric features, optional in_universe.

    Sorted by (date, ticker); ``(date, ticker)`` unique; ``vwap`` always present.
    """

    frame: pl.DataFrame
    report: ValidationReport
    source: str
    vwap_derived: bool = False
    adjusted: bool = False


@dataclass
class _Findings:
    """Mutable accumulator used while checking one file (never leaves this module)."""

    source: str
    errors: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)
    notes: list[Issue] = field(default_factory=list)

    def add(self, level: Level, code: str, message: str, **kw: Any) -> None:
        params = {"source": self.source, **kw.pop("params", {})}
        issue = Issue(level=level, code=code, message=f"{self.source}: {message}",
                      params=params, **kw)
        {"error": self.errors, "warning": self.warnings, "note": self.notes}[level].append(issue)

    def report(self) -> ValidationReport:
        return ValidationReport(self.source, tuple(self.errors), tuple(self.warnings),
                                tuple(self.notes))


def _head(frame: pl.DataFrame) -> list[dict[str, Any]]:
    """The first rows shown in a message, as dicts."""
    return list(frame.head(MAX_SHOWN).iter_rows(named=True))


# --------------------------------------------------------------------------- columns


def _map_columns(
    frame: pl.DataFrame, f: _Findings, column_map: Mapping[str, str] | None
) -> dict[str, str] | None:
    """source column -> canonical name; None when a fatal column problem was found."""
    overrides = {k: v for k, v in (column_map or {}).items()}
    for src in overrides:
        if src not in frame.columns:
            f.add("error", "unknown_mapped_column",
                  f"column mapping names column '{src}', which the file does not have "
                  f"(columns: {', '.join(c for c in frame.columns if not c.startswith('_'))})",
                  column=src, params={"column": src, "columns": [
                      c for c in frame.columns if not c.startswith("_")]})
    mapping: dict[str, str] = {}
    claimed: dict[str, str] = {}
    for col in frame.columns:
        if col.startswith("_"):
            continue
        canon = overrides.get(col) or canonical_name(col)
        if canon in claimed:
            f.add("error", "ambiguous_column",
                  f"columns '{claimed[canon]}' and '{col}' both map to '{canon}'; "
                  "drop one or map the columns explicitly", column=col,
                  params={"first": claimed[canon], "second": col, "target": canon})
            continue
        claimed[canon] = col
        mapping[col] = canon
    if TICKER not in claimed and "_file_ticker" in frame.columns:
        mapping["_file_ticker"] = TICKER
        claimed[TICKER] = "_file_ticker"
    missing = [c for c in REQUIRED if c not in claimed]
    if missing:
        found = [c for c in frame.columns if not c.startswith("_")]
        hints, items = [], []
        for m in missing:
            away = next((c for c in overrides if c in found and canonical_name(c) == m), None)
            if away is not None:  # the user's own mapping took the column elsewhere
                hints.append(f"'{m}' (column '{away}' is mapped to '{overrides[away]}' by the "
                             "column mapping)")
                items.append({"kind": "mapped_away", "column": m, "source": away,
                              "target": overrides[away]})
                continue
            close = difflib.get_close_matches(m, [c.lower() for c in found], n=1, cutoff=0.6)
            hints.append(f"'{m}'" + (f" (did you mean '{close[0]}'?)" if close else ""))
            items.append({"kind": "hint", "column": m, "close": close[0]} if close else
                         {"kind": "plain", "column": m})
        f.add("error", "missing_column",
              f"missing required column(s) {', '.join(hints)}; found columns: "
              f"{', '.join(found) or '(none)'}. Rename them or map them explicitly.",
              column=missing[0], params={"items": items, "found": found or ["–"]})
    return None if f.errors else mapping


def _drop_nested(raw: RawTable, f: _Findings, column_map: Mapping[str, str] | None
                 ) -> RawTable:
    """Parquet list, map and struct columns cannot be features: an unknown one is dropped
    with a warning (as a text column is), a required or known one is an error."""
    overrides = dict(column_map or {})
    dropped = []
    for col, dtype in raw.frame.schema.items():
        if col.startswith("_") or not dtype.is_nested():
            continue
        canon = overrides.get(col) or canonical_name(col)
        kind = str(dtype)
        if canon in (*REQUIRED, "vwap", "amount", "adj_close", UNIVERSE):
            f.add("error", "nested_column",
                  f"column '{col}' holds nested values ({kind}), not one value per row",
                  column=col, params={"column": col, "kind": kind})
        else:
            f.add("warning", "nested_column_ignored",
                  f"column '{col}' holds nested values ({kind}), not numbers, and is ignored",
                  column=col, params={"column": col, "kind": kind})
            dropped.append(col)
    if not dropped:
        return raw
    return RawTable(frame=raw.frame.drop(dropped), source=raw.source,
                    ticker_from_filename=raw.ticker_from_filename)


# --------------------------------------------------------------------------- conversions


def _parse_dates(col: pl.Series, rows: pl.Series, f: _Findings, name: str) -> pl.Series | None:
    dtype = col.dtype
    if dtype == pl.Date:
        parsed = col
    elif isinstance(dtype, pl.Datetime):
        parsed = col.dt.date()
    elif dtype.is_integer():
        parsed = col.cast(pl.Utf8).str.to_date("%Y%m%d", strict=False)
    else:
        text = col.cast(pl.Utf8).str.strip_chars()
        best, best_count = None, -1
        for fmt in DATE_FORMATS:
            cand = text.str.to_date(fmt, strict=False) if "%H" not in fmt else (
                text.str.to_datetime(fmt, strict=False).dt.date())
            count = cand.is_not_null().sum()
            if count > best_count:
                best, best_count = cand, count
            if count == text.is_not_null().sum():
                break
        parsed = best
        col = text
    assert parsed is not None
    bad = (parsed.is_null() & col.is_not_null()) | col.is_null()
    if bad.any():
        bad_rows = rows.filter(bad).to_list()
        _bad_cells(f, "bad_date", name, f"{len(bad_rows)} value(s) are not dates", bad_rows,
                   col.cast(pl.Utf8).filter(bad).to_list(), suffix="; use YYYY-MM-DD")
        return None
    return parsed


def _to_float(col: pl.Series) -> tuple[pl.Series, pl.Series]:
    """(Float64 values, mask of non-empty values that are not numbers)."""
    if col.dtype.is_numeric():
        return col.cast(pl.Float64), pl.Series(col.name, [False] * len(col))
    if col.dtype == pl.Boolean:
        return col.cast(pl.Float64), pl.Series(col.name, [False] * len(col))
    text = col.cast(pl.Utf8).str.strip_chars()
    is_null_token = text.is_null() | text.str.to_lowercase().is_in(list(NULL_TOKENS))
    values = text.cast(pl.Float64, strict=False)
    bad = values.is_null() & ~is_null_token
    values = pl.Series(col.name, values).set(is_null_token, None) if is_null_token.any() else values
    return values, bad


def _to_bool(col: pl.Series) -> tuple[pl.Series, pl.Series]:
    if col.dtype == pl.Boolean:
        return col, pl.Series([False] * len(col))
    text = col.cast(pl.Utf8).str.strip_chars().str.to_lowercase()
    truth = {"true": True, "t": True, "yes": True, "y": True, "1": True, "1.0": True,
             "false": False, "f": False, "no": False, "n": False, "0": False, "0.0": False}
    values = text.replace_strict(truth, default=None, return_dtype=pl.Boolean)
    bad = values.is_null() & text.is_not_null()
    return values, bad


def _bad_cells(f: _Findings, code: str, column: str, problem: str, bad_rows: list[Any],
               values: list[Any], *, suffix: str = "") -> None:
    """One error for the offending cells of ``column``: ``problem`` says what is wrong with
    them ("3 value(s) are infinite"); the first rows and values are named, each value
    escaped and cut (:func:`engine.data.quality.shown_value`)."""
    shown = [shown_value(v) for v in values[:MAX_SHOWN]]
    f.add("error", code,
          f"column '{column}': {problem} (row {_shown(bad_rows)}: "
          f"{_shown(shown, len(values))}){suffix}",
          column=column, rows=tuple(bad_rows[:MAX_SHOWN]), count=len(bad_rows),
          params={"column": column, "count": len(bad_rows), "rows": bad_rows[:MAX_SHOWN],
                  "values": shown, "more": _more(len(bad_rows))})


def _convert(raw: RawTable, mapping: dict[str, str], f: _Findings) -> pl.DataFrame | None:
    frame, rows = raw.frame, raw.frame.get_column(ROW)
    out: dict[str, pl.Series] = {}
    date_src = next(src for src, c in mapping.items() if c == DATE)
    dates = _parse_dates(frame.get_column(date_src), rows, f, date_src)
    if dates is not None:
        out[DATE] = dates.alias(DATE)
    ticker_src = next(src for src, c in mapping.items() if c == TICKER)
    tickers = frame.get_column(ticker_src).cast(pl.Utf8).str.strip_chars()
    empty = tickers.is_null() | (tickers == "")
    if empty.any():
        bad_rows = rows.filter(empty).to_list()
        f.add("error", "missing_ticker",
              f"column '{ticker_src}': {len(bad_rows)} row(s) have no ticker (row "
              f"{_shown(bad_rows)})", column=ticker_src, rows=tuple(bad_rows[:MAX_SHOWN]),
              count=len(bad_rows), params={"column": ticker_src, "count": len(bad_rows),
                                           "rows": bad_rows[:MAX_SHOWN],
                                           "more": _more(len(bad_rows))})
    control = tickers.str.contains(r"[\x00-\x1f\x7f]").fill_null(False)
    if control.any():  # a NUL or an ANSI escape would garble every message and terminal
        bad_rows = rows.filter(control).to_list()
        _bad_cells(f, "control_in_ticker", ticker_src,
                   f"{len(bad_rows)} row(s) have a ticker with control characters", bad_rows,
                   tickers.filter(control).unique(maintain_order=True).to_list())
    out[TICKER] = tickers.alias(TICKER)
    for src, canon in mapping.items():
        if canon in (DATE, TICKER):
            continue
        col = frame.get_column(src)
        values, bad = (_to_bool if canon == UNIVERSE else _to_float)(col)
        if bad.any():
            bad_rows = rows.filter(bad).to_list()
            known = canon in REQUIRED or canon in ("vwap", "amount", "adj_close", UNIVERSE)
            if not known and bad.sum() == col.is_not_null().sum():
                f.add("warning", "text_column_ignored",
                      f"column '{src}' holds text, not numbers, and is ignored", column=src,
                      params={"column": src})
                continue
            kind = "true/false" if canon == UNIVERSE else "numbers"
            _bad_cells(f, "not_boolean" if canon == UNIVERSE else "not_numeric", src,
                       f"{len(bad_rows)} value(s) are not {kind}", bad_rows,
                       col.cast(pl.Utf8).filter(bad).to_list())
            continue
        infinite = values.is_infinite().fill_null(False) if canon != UNIVERSE else None
        if infinite is not None and infinite.any():  # 'inf', '1e309': stored, then poison
            bad_rows = rows.filter(infinite).to_list()
            _bad_cells(f, "not_finite", src, f"{len(bad_rows)} value(s) are infinite", bad_rows,
                       col.cast(pl.Utf8).filter(infinite).to_list())
            continue
        out[canon] = values.alias(canon)
    if f.errors:
        return None
    return pl.DataFrame(list(out.values())).with_columns(rows.alias(ROW))


# --------------------------------------------------------------------------- checks


def _check_duplicates(frame: pl.DataFrame, f: _Findings) -> None:
    dup = (
        frame.group_by(DATE, TICKER, maintain_order=True)
        .agg(pl.col(ROW), pl.len().alias("n"))
        .filter(pl.col("n") > 1)
    )
    if dup.height:
        shown = [f"{r[TICKER]} on {r[DATE]} (rows {', '.join(r[ROW][:3])})"
                 for r in _head(dup)]
        f.add("error", "duplicate_rows",
              f"{dup.height} (date, ticker) pair(s) appear more than once: "
              f"{_shown(shown, dup.height)}",
              rows=tuple(r for rs in dup.get_column(ROW).head(MAX_SHOWN).to_list() for r in rs),
              tickers=tuple(dup.get_column(TICKER).head(MAX_SHOWN).to_list()), count=dup.height,
              params={"count": dup.height, "more": _more(dup.height), "items": [
                  {"ticker": r[TICKER], "date": str(r[DATE]), "rows": ", ".join(r[ROW][:3])}
                  for r in _head(dup)]})


def _check_size(frame: pl.DataFrame, f: _Findings, horizon: int) -> None:
    n_tickers = frame.get_column(TICKER).n_unique()
    if n_tickers < 2:
        f.add("error", "too_few_tickers",
              f"only {n_tickers} ticker(s); cross-sectional factors need at least 2 "
              "(is the ticker column right?)", column=TICKER, params={"count": n_tickers})
    n_dates = frame.get_column(DATE).n_unique()
    need = horizon + 2 + MIN_SCORED_DAYS
    if n_dates < need:
        f.add("error", "too_few_dates",
              f"only {n_dates} trading day(s); with a {horizon}-day horizon at least {need} are "
              f"needed ({horizon + 1} days of forward returns + {MIN_SCORED_DAYS} scored days)",
              column=DATE, params={"count": n_dates, "horizon": horizon, "need": need,
                                   "forward": horizon + 1, "scored": MIN_SCORED_DAYS})


def _rows_where(frame: pl.DataFrame, cond: pl.Expr) -> pl.DataFrame:
    return frame.filter(cond).select(ROW, TICKER, DATE)


def _warn_rows(f: _Findings, code: str, what: str, hits: pl.DataFrame, column: str | None) -> None:
    if hits.height == 0:
        return
    shown = [f"row {r[ROW]} ({r[TICKER]} {r[DATE]})" for r in _head(hits)]
    f.add("warning", code, f"{what}: {hits.height} row(s): {_shown(shown, hits.height)}",
          column=column, rows=tuple(hits.get_column(ROW).head(MAX_SHOWN).to_list()),
          tickers=tuple(hits.get_column(TICKER).unique(maintain_order=True).head(MAX_SHOWN).to_list()),
          count=hits.height,
          params={"column": column or "", "count": hits.height, "more": _more(hits.height),
                  "items": [{"kind": "row", "row": r[ROW], "ticker": r[TICKER],
                             "date": str(r[DATE])} for r in _head(hits)]})


def _check_values(frame: pl.DataFrame, f: _Findings) -> None:
    numeric = [c for c, t in frame.schema.items() if t == pl.Float64]
    for col in numeric:
        _warn_rows(f, "missing_values", f"column '{col}' has missing values",
                   _rows_where(frame, pl.col(col).is_null() | pl.col(col).is_nan()), col)
    for col in PRICE_FIELDS:
        _warn_rows(f, "non_positive_price", f"column '{col}' has zero or negative prices",
                   _rows_where(frame, pl.col(col) <= 0), col)
    _warn_rows(f, "negative_volume", "column 'volume' has negative values",
               _rows_where(frame, pl.col("volume") < 0), "volume")
    _warn_rows(f, "high_below_low", "'high' is below 'low'",
               _rows_where(frame, pl.col("high") < pl.col("low")), "high")
    outside = (
        (pl.col("high") >= pl.col("low"))
        & (
            (pl.max_horizontal("open", "close") > pl.col("high") * (1 + 1e-9))
            | (pl.min_horizontal("open", "close") < pl.col("low") * (1 - 1e-9))
        )
    )
    _warn_rows(f, "ohlc_inconsistent", "'open' or 'close' lies outside [low, high]",
               _rows_where(frame, outside), "close")


def _check_series(frame: pl.DataFrame, f: _Findings) -> None:
    """Per-ticker time-series checks: big moves, stale prices, gaps, short histories."""
    calendar = frame.get_column(DATE).unique().sort()
    n_days = calendar.len()
    by = frame.sort(TICKER, DATE).with_columns(
        (pl.col("close") / pl.col("close").shift(1).over(TICKER) - 1).alias("_move"),
        pl.col(DATE).rank("dense").cast(pl.Int64).alias("_day"),
    )
    moves = by.filter(pl.col("_move").abs() > BIG_MOVE)
    if moves.height:
        shown = [f"{r[TICKER]} {r['_move']:+.0%} on {r[DATE]} (row {r[ROW]})"
                 for r in moves.sort(pl.col("_move").abs(), descending=True)
                 .pipe(_head)]
        f.add("warning", "big_move",
              f"column 'close': {moves.height} one-day move(s) above {BIG_MOVE:.0%}, possibly "
              f"unadjusted splits or corporate events: {_shown(shown, moves.height)}",
              column="close", rows=tuple(moves.get_column(ROW).head(MAX_SHOWN).to_list()),
              tickers=tuple(moves.get_column(TICKER).unique(maintain_order=True).to_list()),
              count=moves.height,
              params={"count": moves.height, "threshold": BIG_MOVE,
                      "more": _more(moves.height), "items": [
                          {"ticker": r[TICKER], "move": r["_move"], "date": str(r[DATE]),
                           "row": r[ROW]}
                          for r in moves.sort(pl.col("_move").abs(), descending=True)
                          .pipe(_head)]})
    per = by.group_by(TICKER).agg(
        pl.len().alias("n"),
        pl.col("_day").min().alias("first"),
        pl.col("_day").max().alias("last"),
        (pl.col("close").rle().struct.field("len").max()).alias("run"),
    ).sort(TICKER)
    gaps = per.with_columns((pl.col("last") - pl.col("first") + 1 - pl.col("n")).alias("gap"))
    gaps = gaps.filter(pl.col("gap") > 0).sort("gap", descending=True)
    if gaps.height:
        shown = [f"{r[TICKER]} ({r['gap']} day(s))" for r in _head(gaps)]
        f.add("warning", "gaps",
              f"{gaps.height} ticker(s) miss trading days inside their history: "
              f"{_shown(shown, gaps.height)}",
              tickers=tuple(gaps.get_column(TICKER).to_list()), count=gaps.height,
              params={"count": gaps.height, "more": _more(gaps.height), "items": [
                  {"ticker": r[TICKER], "days": r["gap"]} for r in _head(gaps)]})
    stale = per.filter(pl.col("run") >= STALE_RUN)
    if stale.height:
        shown = [f"{r[TICKER]} ({r['run']} days)" for r in _head(stale)]
        f.add("warning", "stale_prices",
              f"column 'close': {stale.height} ticker(s) repeat the same price for "
              f"{STALE_RUN}+ days in a row: {_shown(shown, stale.height)}", column="close",
              tickers=tuple(stale.get_column(TICKER).to_list()), count=stale.height,
              params={"count": stale.height, "run": STALE_RUN, "more": _more(stale.height),
                      "items": [{"ticker": r[TICKER], "days": r["run"]} for r in _head(stale)]})
    short = per.filter(pl.col("n") < SHORT_HISTORY_SHARE * n_days).sort("n")
    if short.height:
        shown = [f"{r[TICKER]} {r['n']} days" for r in short.iter_rows(named=True)]
        f.add("warning", "short_history",
              f"{short.height} ticker(s) have very short histories (under "
              f"{SHORT_HISTORY_SHARE:.0%} of the {n_days} trading days): "
              f"{_shown(shown, short.height)}",
              tickers=tuple(short.get_column(TICKER).to_list()), count=short.height,
              params={"count": short.height, "share": SHORT_HISTORY_SHARE, "days": n_days,
                      "more": _more(short.height), "items": [
                          {"ticker": r[TICKER], "days": r["n"]} for r in _head(short)]})


def _adjust_prices(frame: pl.DataFrame, f: _Findings) -> tuple[pl.DataFrame, bool]:
    """Back-adjust OHLC (and vwap) by adj_close/close; volume divided by the factor (spec §1)."""
    if "adj_close" not in frame.columns:
        return frame, False
    factor = pl.col("adj_close") / pl.col("close")
    price_cols = [c for c in (*PRICE_FIELDS, "vwap") if c in frame.columns]
    frame = frame.with_columns(
        *[(pl.col(c) * factor).alias(c) for c in price_cols],
        (pl.col("volume") / factor).alias("volume"),
    ).drop("adj_close")
    f.add("note", "adjusted",
          "prices were back-adjusted with 'adj_close' (open/high/low/close x adj_close/close; "
          "volume / the same factor)")
    return frame, True


def check(
    raw: RawTable,
    *,
    horizon: int = 20,
    column_map: Mapping[str, str] | None = None,
    adjust: bool = True,
) -> Dataset:
    """Validate and canonicalise a raw table. Raises :class:`DataError` (with the report)
    when anything blocks the import; warnings never block."""
    if horizon < 1:
        raise ConfigError(f"--horizon must be at least 1 day, got {horizon}",
                          code="horizon_too_small", params={"horizon": horizon})
    f = _Findings(raw.source)
    raw = _drop_nested(raw, f, column_map)
    if f.errors:
        f.report().raise_if_errors()
    mapping = _map_columns(raw.frame, f, column_map)
    frame = _convert(raw, mapping, f) if mapping is not None else None
    if frame is None:
        f.report().raise_if_errors()
        raise AssertionError("unreachable")  # pragma: no cover
    _check_duplicates(frame, f)
    _check_size(frame, f, horizon)
    f.report().raise_if_errors()

    adjusted = False
    if adjust:
        frame, adjusted = _adjust_prices(frame, f)
    frame = frame.sort(DATE, TICKER)
    _check_values(frame, f)
    _check_series(frame, f)
    check_quality(frame, f, adjusted=adjusted)
    vwap_derived = "vwap" not in frame.columns
    if vwap_derived:
        frame = frame.with_columns(
            ((pl.col("high") + pl.col("low") + pl.col("close")) / 3).alias("vwap"))
        f.add("note", "vwap_derived", "no 'vwap' column: derived as (high + low + close) / 3")
    ordered = [DATE, TICKER, *[c for c in frame.columns if c not in (DATE, TICKER, ROW)]]
    return Dataset(frame=frame.select(ordered), report=f.report(), source=raw.source,
                   vwap_derived=vwap_derived, adjusted=adjusted)


def load(
    path: str,
    *,
    horizon: int = 20,
    column_map: Mapping[str, str] | None = None,
    encoding: str = "utf-8",
    adjust: bool = True,
) -> Dataset:
    """Read and validate a file or folder in one call (what `alphaforge import` does)."""
    return check(read_file(path, encoding=encoding), horizon=horizon, column_map=column_map,
                 adjust=adjust)
