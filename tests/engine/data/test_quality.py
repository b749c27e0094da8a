"""Data-quality guard: survivorship, splits, dividends, calendar, missing cross-sections —
each warning names tickers or dates and carries a suggestion."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from engine.data.io import ROW, RawTable
from engine.data.quality import SUGGESTIONS, daily_missing_share, suggestion
from engine.data.validate import check, load
from tests.conftest import make_market


def _check(frame: pl.DataFrame):  # type: ignore[no-untyped-def]
    raw = RawTable(frame.with_columns(pl.int_range(1, frame.height + 1).cast(pl.Utf8)
                                      .alias(ROW)), source="q.csv")
    return {w.code: w for w in check(raw).report.warnings}


def _market(n_tickers: int = 6, n_days: int = 300, seed: int = 1) -> pl.DataFrame:
    """Weekdays from 2021-01-04 without Jan 1 / Dec 25, and a ticker delisted a month before
    the end, so that the guard stays quiet unless a test plants something."""
    frame = make_market(n_tickers, n_days, seed)
    calendar, day = [], dt.date(2021, 1, 4)
    while len(calendar) < n_days:
        if day.weekday() < 5 and (day.month, day.day) not in ((1, 1), (12, 25)):
            calendar.append(day)
        day += dt.timedelta(days=1)
    old = sorted(frame.get_column("date").unique())
    frame = frame.with_columns(pl.col("date").replace_strict(old, calendar))
    last = calendar[-1]
    return frame.filter(~((pl.col("ticker") == "T00") & (pl.col("date") > last - dt.timedelta(30))))


def test_clean_market_has_no_guard_warnings() -> None:
    warnings = _check(_market())
    assert not set(warnings) & set(SUGGESTIONS) - {"gaps", "short_history", "big_move",
                                                   "stale_prices"}


def test_survivorship_warning_names_the_last_day_and_tickers() -> None:
    frame = make_market(4, 80)
    w = _check(frame)["survivorship_bias"]
    assert "all 4 tickers (T00, T01, T02, T03)" in w.message
    assert str(frame.get_column("date").max()) in w.message
    assert "Suggestion: add an 'in_universe' column" in w.message
    with_universe = frame.with_columns(pl.lit(True).alias("in_universe"))
    assert "survivorship_bias" not in _check(with_universe)


def test_split_and_reverse_split_are_suspected() -> None:
    frame = _market()
    days = sorted(frame.get_column("date").unique())
    split_day, reverse_day = days[150], days[200]
    price = ["open", "high", "low", "close"]
    frame = frame.with_columns(
        [pl.when((pl.col("ticker") == "T02") & (pl.col("date") >= split_day))
         .then(pl.col(c) / 2).otherwise(pl.col(c)).alias(c) for c in price])
    frame = frame.with_columns(
        [pl.when((pl.col("ticker") == "T03") & (pl.col("date") >= reverse_day))
         .then(pl.col(c) * 10).otherwise(pl.col(c)).alias(c) for c in price])
    w = _check(frame)["split_suspected"]
    assert re.search(rf"T02 x0\.\d\d on {split_day} \(looks like a 2:1 split\)", w.message)
    assert re.search(rf"T03 x\d+\.\d\d on {reverse_day} \(looks like a 1:10 reverse split\)",
                     w.message)
    assert w.tickers == ("T02", "T03")


def test_quarterly_dividend_drops_are_suspected() -> None:
    frame = _market(n_days=700).sort("ticker", "date")
    rng = np.random.default_rng(0)
    out = []
    for (ticker,), sub in frame.group_by("ticker", maintain_order=True):
        n = sub.height
        close = 50 * np.exp(np.cumsum(rng.normal(0, 0.005, n)))
        if ticker == "T04":  # a 3% ex-dividend drop every 63 trading days
            drops = np.zeros(n)
            drops[np.arange(30, n, 63)] = np.log(0.97)
            close = close * np.exp(np.cumsum(drops))
        prev = np.concatenate([[close[0]], close[:-1]])
        opened = prev * np.where(np.isin(np.arange(n), np.arange(30, n, 63)) &
                                 (ticker == "T04"), 0.97, 1.0)
        out.append(sub.with_columns(pl.Series("close", close), pl.Series("open", opened),
                                    pl.Series("high", np.maximum(close, opened) * 1.01),
                                    pl.Series("low", np.minimum(close, opened) * 0.99)))
    w = _check(pl.concat(out).sort("date", "ticker"))["dividend_suspected"]
    assert w.tickers == ("T04",)
    assert "T04 (" in w.message and "drops of about 3.0%" in w.message


def test_calendar_weekend_holiday_hole_and_copied_day() -> None:
    frame = _market()
    days = sorted(frame.get_column("date").unique())
    sat = dt.date(2021, 1, 9)
    weekend = frame.filter(pl.col("date") == days[4]).with_columns(pl.lit(sat).alias("date"))
    xmas = frame.filter(pl.col("date") == days[240]).with_columns(
        pl.lit(dt.date(2021, 12, 25)).alias("date"))
    frame = pl.concat([frame, weekend, xmas]).filter(
        ~pl.col("date").is_between(days[100], days[115]))  # a 3-week hole
    copied_day = days[50]
    prev = frame.filter(pl.col("date") == days[49]).with_columns(pl.lit(copied_day).alias("date"))
    frame = pl.concat([frame.filter(pl.col("date") != copied_day), prev]).sort("date", "ticker")
    w = _check(frame)
    assert "2021-01-09 (Sat)" in w["calendar_weekend"].message
    assert "2021-12-25 (Christmas Day)" in w["calendar_holiday"].message
    assert f"{days[99]} .. {days[116]}" in w["calendar_hole"].message
    assert f"{copied_day} (100% of" in w["calendar_copied_day"].message


def test_missing_cross_section_names_the_days() -> None:
    frame = _market(n_tickers=10)
    days = sorted(frame.get_column("date").unique())
    bad = days[60]
    frame = frame.filter(~((pl.col("date") == bad) & (pl.col("ticker") < "T05")))
    w = _check(frame)["cross_section_missing"]
    assert f"worst: {bad} (50% of 10)" in w.message
    daily = daily_missing_share(frame)
    assert daily.filter(pl.col("date") == bad).get_column("missing_share").item() == 0.5
    assert daily.get_column("listed").max() == 10


def test_suggestions_exist_for_guard_codes() -> None:
    for code in ("survivorship_bias", "split_suspected", "calendar_weekend",
                 "cross_section_missing", "big_move"):
        assert suggestion(code)
    assert suggestion("no_such_code") is None


def test_real_us_file(us_file: Path) -> None:
    """The README's known quirks: survivorship bias and the LNT / DISCA share events."""
    w = {i.code: i for i in load(str(us_file)).report.warnings}
    assert "all 505 tickers" in w["survivorship_bias"].message
    assert "2018-02-07" in w["survivorship_bias"].message
    assert {"LNT", "DISCA", "DISCK"} <= set(w["split_suspected"].tickers)
    assert "LNT x2.01 on 2016-05-20" in w["split_suspected"].message
    for code in ("calendar_weekend", "calendar_holiday", "calendar_copied_day",
                 "dividend_suspected"):
        assert code not in w


@pytest.mark.parametrize("code", sorted(SUGGESTIONS))
def test_suggestion_texts_are_sentences(code: str) -> None:
    assert SUGGESTIONS[code][0].islower() and not SUGGESTIONS[code].endswith(".")
