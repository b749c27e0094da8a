"""Data-quality guard: problems of a whole sample that row-by-row checks cannot see.

``validate.check`` calls :func:`check_quality` at the end of every import (files and every
connector in ``engine.data.sources``), so a database or a Qlib folder gets the same guard as a
CSV file. Each finding is a *warning*: the data can be used, but a researcher must know that

- the sample may be survivorship-biased (every ticker lives to the last day and no point-in-time
  membership column exists: delisted names are probably missing, which flatters backtests);
- prices may hold unadjusted splits (overnight jumps by a split ratio) or unadjusted dividends
  (the same overnight drop every quarter);
- the calendar looks wrong (weekend dates, days most exchanges are closed, a day copied from the
  day before, long holes);
- many tickers that are listed on a day have no data that day.

Every message names the tickers and dates at fault and ends with a suggestion (also available
per issue code in :data:`SUGGESTIONS`, which the app shows next to the warning).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Protocol

import numpy as np
import polars as pl

from engine.data.schema import DATE, TICKER, UNIVERSE

MAX_SHOWN = 5
#: price ratio after/before -> what it looks like (n:1 split, 1:n reverse split, 3:2 split)
#: the same ratios as language-neutral "n:m" labels (the app words them per language)
SPLIT_LABELS: dict[float, tuple[str, str]] = {
    1 / 2: ("split", "2:1"), 1 / 3: ("split", "3:1"), 2 / 3: ("split", "3:2"),
    1 / 4: ("split", "4:1"), 1 / 5: ("split", "5:1"), 1 / 10: ("split", "10:1"),
    2.0: ("reverse", "1:2"), 3.0: ("reverse", "1:3"), 4.0: ("reverse", "1:4"),
    5.0: ("reverse", "1:5"), 10.0: ("reverse", "1:10"),
}
SPLIT_RATIOS: dict[float, str] = {
    1 / 2: "2:1 split", 1 / 3: "3:1 split", 2 / 3: "3:2 split", 1 / 4: "4:1 split",
    1 / 5: "5:1 split", 1 / 10: "10:1 split", 2.0: "1:2 reverse split",
    3.0: "1:3 reverse split", 4.0: "1:4 reverse split", 5.0: "1:5 reverse split",
    10.0: "1:10 reverse split",
}
SPLIT_TOLERANCE = 0.03  # relative distance of close / previous close to a split ratio
SPLIT_OPEN_TOLERANCE = 0.06  # the same for open / previous close (the day's own move is in it)
DIVIDEND_MIN_GAP = 0.0025  # overnight drops smaller than this are noise
DIVIDEND_SPACING = (58, 68)  # trading days between quarterly ex-dividend dates
DIVIDEND_MIN_EVENTS = 8
DIVIDEND_SHARE = 0.6  # share of consecutive drops spaced one quarter apart
DIVIDEND_MAX_CV = 0.5  # drops of similar size (coefficient of variation)
COPIED_DAY_SHARE = 0.9
CALENDAR_HOLE_DAYS = 14
MISSING_SHARE = 0.2
FIXED_HOLIDAYS: dict[tuple[int, int], str] = {(1, 1): "New Year's Day", (12, 25): "Christmas Day"}
HOLIDAY_KINDS: dict[tuple[int, int], str] = {(1, 1): "new_year", (12, 25): "christmas"}

SUGGESTIONS: dict[str, str] = {
    "survivorship_bias": "add an 'in_universe' column with point-in-time index membership, or "
                         "include the tickers that were delisted during the sample",
    "split_suspected": "import split-adjusted prices, or add an 'adj_close' column so the "
                       "prices are back-adjusted at import",
    "dividend_suspected": "import total-return (dividend-adjusted) prices, or add an "
                          "'adj_close' column",
    "calendar_weekend": "check the date column (time zone shifts move Monday's data to "
                        "Sunday); ignore this if your market trades on weekends",
    "calendar_holiday": "check whether these days were filled in by the data vendor; drop "
                        "them if the exchange was closed",
    "calendar_copied_day": "drop the copied days (a vendor filled a holiday with the previous "
                           "day's values)",
    "calendar_hole": "re-export the missing period; factors with long windows will be NaN "
                     "after the hole",
    "cross_section_missing": "re-export the missing rows, or check the days named (a partial "
                             "load, a half-day, a data-vendor outage)",
    "big_move": "check corporate actions on these days; import adjusted prices",
    "gaps": "fill or re-export the missing days; factors are NaN across a gap",
    "stale_prices": "check whether these tickers were suspended; stale prices bias volatility "
                    "and reversal factors",
    "short_history": "short histories are normal for listings and spin-offs; drop the "
                     "tickers if they are artefacts",
    "volume_all_zero": "check the volume column (a unit or mapping mistake?); volume and "
                       "turnover factors are meaningless without it",
    "future_dates": "check the date column (a day-month swap or a wrong year?); a backtest "
                    "cannot use days that have not happened",
}


class Sink(Protocol):
    """Where findings go (``validate._Findings`` in practice)."""

    def add(self, level: Any, code: str, message: str, **kw: Any) -> None: ...


def suggestion(code: str) -> str | None:
    """The suggestion shown with an issue code, or None when there is none."""
    return SUGGESTIONS.get(code)


#: An offending value is shown with at most this many characters (a 1 MB cell is not echoed).
MAX_VALUE_CHARS = 40


def shown_value(value: Any) -> str:
    """A value as a message shows it: ``repr`` (control characters escaped, so a NUL or an
    ANSI escape never reaches the terminal raw), cut to :data:`MAX_VALUE_CHARS`."""
    text = repr(value)
    return text if len(text) <= MAX_VALUE_CHARS else text[:MAX_VALUE_CHARS - 1] + "…"


def _shown(values: list[Any], total: int | None = None) -> str:
    total = len(values) if total is None else total
    text = ", ".join(str(v) for v in values[:MAX_SHOWN])
    return text + (f" (+{total - MAX_SHOWN} more)" if total > MAX_SHOWN else "")


def _more(total: int) -> int:
    """How many entries a message leaves out after the first ``MAX_SHOWN``."""
    return max(0, total - MAX_SHOWN)


def _warn(sink: Sink, code: str, message: str, **kw: Any) -> None:
    sink.add("warning", code, f"{message}. Suggestion: {SUGGESTIONS[code]}", **kw)


# --------------------------------------------------------------------------- survivorship


def _check_survivorship(frame: pl.DataFrame, sink: Sink) -> None:
    """Every ticker has data on the last day and nothing says who was a member when."""
    if UNIVERSE in frame.columns:
        return
    last_day = frame.get_column(DATE).max()
    last = frame.group_by(TICKER).agg(pl.col(DATE).max().alias("last"))
    if last.height < 2 or last.get_column("last").min() != last_day:
        return
    tickers = sorted(last.get_column(TICKER).to_list())
    _warn(sink, "survivorship_bias",
          f"possible survivorship bias: all {len(tickers)} tickers ({_shown(tickers)}) have data "
          f"on the last day, {last_day}, and there is no membership column, so names that were "
          "delisted or left the index during the sample are probably missing and backtests "
          "look better than they were", tickers=tuple(tickers[:MAX_SHOWN]), count=len(tickers),
          params={"count": len(tickers), "tickers": tickers[:MAX_SHOWN],
                  "more": _more(len(tickers)), "last_day": str(last_day)})


# --------------------------------------------------------------------------- splits, dividends


def _previous(column: str) -> pl.Expr:
    """The value on the ticker's previous row, in a frame sorted by (ticker, date)."""
    return pl.when(pl.col(TICKER) == pl.col(TICKER).shift(1)).then(pl.col(column).shift(1))


def _by_ticker(frame: pl.DataFrame) -> pl.DataFrame:
    """Rows sorted by (ticker, date) with the trading-day number ``_day`` and the close-to-close
    (``_ratio``) and overnight (``_gap``: open / previous close) price ratios."""
    ranked = frame.with_columns(pl.col(DATE).rank("dense").alias("_day"))
    # A stable sort by ticker keeps each ticker's rows in date order (the input is date-sorted).
    return ranked.sort(TICKER, maintain_order=True).with_columns(
        (pl.col("close") / _previous("close")).alias("_ratio"),
        (pl.col("open") / _previous("close")).alias("_gap"),
    )


def _check_splits(moves: pl.DataFrame, sink: Sink) -> None:
    """Overnight price jumps by a split ratio, seen in both the open and the close."""
    hits: list[dict[str, Any]] = []
    for ratio, what in SPLIT_RATIOS.items():
        near = moves.filter(
            ((pl.col("_ratio") / ratio - 1).abs() < SPLIT_TOLERANCE)
            & ((pl.col("_gap") / ratio - 1).abs() < SPLIT_OPEN_TOLERANCE)
        )
        hits += [{**r, "what": what, "label": SPLIT_LABELS[ratio]}
                 for r in near.iter_rows(named=True)]
    if not hits:
        return
    hits.sort(key=lambda r: (r[DATE], r[TICKER]))
    shown = [f"{r[TICKER]} x{r['_ratio']:.2f} on {r[DATE]} (looks like a {r['what']})"
             for r in hits]
    tickers = list(dict.fromkeys(r[TICKER] for r in hits))
    _warn(sink, "split_suspected",
          f"{len(hits)} suspected unadjusted split(s) or share distribution(s): the price jumps "
          f"overnight by a split ratio in both 'open' and 'close': {_shown(shown)}",
          column="close", tickers=tuple(tickers), count=len(hits),
          params={"count": len(hits), "more": _more(len(hits)), "items": [
              {"kind": r["label"][0], "ratio_text": r["label"][1], "ticker": r[TICKER],
               "ratio": r["_ratio"], "date": str(r[DATE])} for r in hits[:MAX_SHOWN]]})


def _quarterly_drops(gap: np.ndarray) -> tuple[list[int], float, float]:
    """Largest overnight drops at least 40 days apart; returns (indices, share of spacings that
    are one quarter, coefficient of variation of their sizes)."""
    drop = np.where(np.isfinite(gap), -gap, 0.0)
    blocked = np.zeros(drop.size, dtype=bool)
    chosen: list[int] = []
    for i in np.argsort(-drop):
        if drop[i] < DIVIDEND_MIN_GAP:
            break
        if blocked[i]:
            continue
        chosen.append(int(i))
        blocked[max(0, i - 39): i + 40] = True
    chosen.sort()
    if len(chosen) < DIVIDEND_MIN_EVENTS:
        return chosen, 0.0, float("inf")
    spacing = np.diff(chosen)
    share = float(np.mean((spacing >= DIVIDEND_SPACING[0]) & (spacing <= DIVIDEND_SPACING[1])))
    sizes = drop[chosen]
    return chosen, share, float(np.std(sizes) / np.mean(sizes))


def _check_dividends(moves: pl.DataFrame, sink: Sink) -> None:
    """Unadjusted dividends: an overnight drop of similar size every quarter."""
    found: list[tuple[str, int, float, Any]] = []
    for ticker, sub in moves.group_by(TICKER, maintain_order=True):
        gap = (sub.get_column("_gap") - 1).to_numpy()
        chosen, share, cv = _quarterly_drops(gap)
        if share >= DIVIDEND_SHARE and cv <= DIVIDEND_MAX_CV:
            dates = sub.get_column(DATE)
            found.append((str(ticker[0]), len(chosen), float(-np.median(gap[chosen])),
                          dates[chosen[0]]))
    if not found:
        return
    shown = [f"{t} ({n} drops of about {size:.1%}, first on {first})"
             for t, n, size, first in found]
    _warn(sink, "dividend_suspected",
          f"{len(found)} ticker(s) drop overnight by a similar amount about every quarter, as "
          f"unadjusted ex-dividend days do: {_shown(shown)}",
          column="open", tickers=tuple(t for t, *_ in found), count=len(found),
          params={"count": len(found), "more": _more(len(found)), "items": [
              {"ticker": t, "drops": n, "size": size, "first": str(first)}
              for t, n, size, first in found[:MAX_SHOWN]]})


# --------------------------------------------------------------------------- calendar


def _check_calendar(frame: pl.DataFrame, sink: Sink) -> None:
    days = frame.get_column(DATE).unique().sort()
    weekend = days.filter(days.dt.weekday() >= 6).to_list()  # polars: Monday=1 .. Sunday=7
    if weekend:
        shown = [f"{d} ({d.strftime('%a')})" for d in weekend]
        _warn(sink, "calendar_weekend",
              f"{len(weekend)} trading day(s) fall on a weekend: {_shown(shown)}",
              column=DATE, count=len(weekend),
              params={"count": len(weekend), "more": _more(len(weekend)), "items": [
                  {"kind": "sat" if d.weekday() == 5 else "sun", "date": str(d)}
                  for d in weekend[:MAX_SHOWN]]})
    holidays = [(d, FIXED_HOLIDAYS[(d.month, d.day)]) for d in days.to_list()
                if (d.month, d.day) in FIXED_HOLIDAYS]
    if holidays:
        shown = [f"{d} ({name})" for d, name in holidays]
        _warn(sink, "calendar_holiday",
              f"{len(holidays)} trading day(s) on dates most exchanges are closed: "
              f"{_shown(shown)}", column=DATE, count=len(holidays),
              params={"count": len(holidays), "more": _more(len(holidays)), "items": [
                  {"kind": HOLIDAY_KINDS[(d.month, d.day)], "date": str(d)}
                  for d, _ in holidays[:MAX_SHOWN]]})
    diffs = days.diff().dt.total_days()
    holes = [(days[i - 1], days[i], int(diffs[i])) for i in range(1, days.len())
             if diffs[i] is not None and diffs[i] > CALENDAR_HOLE_DAYS]
    if holes:
        shown = [f"{a} .. {b} ({n} calendar days)" for a, b, n in holes]
        _warn(sink, "calendar_hole",
              f"{len(holes)} hole(s) of more than {CALENDAR_HOLE_DAYS} calendar days between "
              f"trading days: {_shown(shown)}", column=DATE, count=len(holes),
              params={"count": len(holes), "limit": CALENDAR_HOLE_DAYS, "more": _more(len(holes)),
                      "items": [{"start": str(a), "end": str(b), "days": n}
                                for a, b, n in holes[:MAX_SHOWN]]})


def _check_future(frame: pl.DataFrame, sink: Sink, today: dt.date | None = None) -> None:
    """Trading days after today: a swapped day and month or a wrong year."""
    today = dt.date.today() if today is None else today
    days = frame.get_column(DATE).unique().sort()
    future = days.filter(days > today).to_list()
    if future:
        _warn(sink, "future_dates",
              f"{len(future)} trading day(s) are after today ({today}): {_shown(future)}",
              column=DATE, count=len(future),
              params={"count": len(future), "today": str(today), "more": _more(len(future)),
                      "items": [str(d) for d in future[:MAX_SHOWN]]})


def _check_volume(frame: pl.DataFrame, sink: Sink) -> None:
    """A volume column that is zero (or empty) on every row."""
    if "volume" not in frame.columns:
        return
    volume = frame.get_column("volume")
    if volume.fill_null(0).fill_nan(0).abs().max() == 0:
        _warn(sink, "volume_all_zero", "column 'volume' is zero on every row", column="volume",
              params={})


def _check_copied_days(frame: pl.DataFrame, sink: Sink) -> None:
    """A day whose prices equal the previous trading day's for (nearly) every ticker
    (``frame`` from :func:`_by_ticker`)."""
    cols = [c for c in ("open", "high", "low", "close", "volume") if c in frame.columns]
    same = pl.all_horizontal(
        (pl.col("_day") - _previous("_day")) == 1,
        *[pl.col(c).eq_missing(_previous(c)) for c in cols],
    ).fill_null(False)
    marked = frame.with_columns(same.alias("_same"))
    per_day = marked.filter(pl.col("_day") > 1).group_by(DATE).agg(
        pl.col("_same").mean().alias("share"), pl.len().alias("n"))
    copied = per_day.filter((pl.col("share") >= COPIED_DAY_SHARE) & (pl.col("n") >= 2)).sort(DATE)
    if copied.height:
        shown = [f"{r[DATE]} ({r['share']:.0%} of {r['n']} tickers)"
                 for r in copied.iter_rows(named=True)]
        _warn(sink, "calendar_copied_day",
              f"{copied.height} day(s) repeat the previous trading day's prices for nearly every "
              f"ticker (a duplicated day): {_shown(shown)}", column=DATE, count=copied.height,
              params={"count": copied.height, "more": _more(copied.height), "items": [
                  {"date": str(r[DATE]), "share": r["share"], "tickers": r["n"]}
                  for r in copied.head(MAX_SHOWN).iter_rows(named=True)]})


# --------------------------------------------------------------------------- cross-section


def daily_missing_share(frame: pl.DataFrame) -> pl.DataFrame:
    """``date, listed, present, missing_share`` per trading day.

    ``listed``: tickers between their first and last day; ``present``: those with a close
    that day. Also what the Data page can chart.
    """
    days = frame.get_column(DATE).unique().sort()
    index = {d: i for i, d in enumerate(days.to_list())}
    n = days.len()
    spans = frame.group_by(TICKER).agg(pl.col(DATE).min().alias("a"), pl.col(DATE).max().alias("b"))
    listed = np.zeros(n + 1, dtype=np.int64)
    for a, b in spans.select("a", "b").iter_rows():
        listed[index[a]] += 1
        listed[index[b] + 1] -= 1
    present = (frame.filter(pl.col("close").is_not_null() & pl.col("close").is_not_nan())
               .group_by(DATE).agg(pl.len().alias("n")))
    have = np.zeros(n, dtype=np.int64)
    for d, k in present.iter_rows():
        have[index[d]] = k
    listed = np.cumsum(listed)[:n]
    return pl.DataFrame({DATE: days, "listed": listed, "present": have,
                         "missing_share": 1.0 - have / np.maximum(listed, 1)})


def _check_cross_section(frame: pl.DataFrame, sink: Sink) -> None:
    """Days on which many listed tickers have no close."""
    daily = daily_missing_share(frame)
    bad = daily.filter(pl.col("missing_share") > MISSING_SHARE).sort(
        "missing_share", DATE, descending=[True, False])
    if bad.height == 0:
        return
    shown = [f"{r[DATE]} ({r['missing_share']:.0%} of {r['listed']})"
             for r in bad.head(MAX_SHOWN).iter_rows(named=True)]
    mean = float(daily.get_column("missing_share").mean() or 0.0)
    _warn(sink, "cross_section_missing",
          f"on {bad.height} day(s) more than {MISSING_SHARE:.0%} of the listed tickers have no "
          f"close (mean over all days {mean:.1%}); worst: {_shown(shown, bad.height)}",
          column="close", count=bad.height,
          params={"count": bad.height, "threshold": MISSING_SHARE, "mean": mean,
                  "more": _more(bad.height), "items": [
                      {"date": str(r[DATE]), "share": r["missing_share"], "listed": r["listed"]}
                      for r in bad.head(MAX_SHOWN).iter_rows(named=True)]})


# --------------------------------------------------------------------------- entry point


def check_quality(frame: pl.DataFrame, sink: Sink, *, adjusted: bool = False) -> None:
    """Add the guard's warnings for a canonical, (date, ticker)-sorted frame to ``sink``.

    ``adjusted``: prices were back-adjusted from an ``adj_close`` column at import, so the
    dividend check (which looks for unadjusted ex-dividend drops) is skipped.
    """
    if frame.height == 0:
        return
    _check_survivorship(frame, sink)
    by_ticker = _by_ticker(frame)
    _check_splits(by_ticker, sink)
    if not adjusted:
        _check_dividends(by_ticker, sink)
    _check_calendar(frame, sink)
    _check_future(frame, sink)
    _check_volume(frame, sink)
    _check_copied_days(by_ticker, sink)
    _check_cross_section(frame, sink)

