"""Hostile and careless input files (issue #21, items 4, 6, 13, 14): bombs, devices, pipes,
nested Parquet columns, a header naming a column twice and a negative horizon get a one-line
message naming the file, and the project tree stays byte-identical.

Bombs are generated on the fly and stay small: the limits are lowered through the same
environment variables a user would raise them with."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import polars as pl
import pytest

from engine.cli import main
from engine.data.validate import load
from engine.errors import ConfigError, DataError
from engine.limits import ENV_INPUT_MB, ENV_INPUT_ROWS, ENV_LINE_KB, InputLimits
from engine.store.project import Project
from tests.conftest import make_market, tree_digest


def _csv(frame: pl.DataFrame) -> str:
    return frame.with_columns(pl.col("date").cast(pl.Utf8)).write_csv()


GOOD_CSV = _csv(make_market())


@pytest.fixture
def project(tmp_path: Path) -> Project:
    """A project holding one good dataset (so there is something to lose)."""
    good = tmp_path / "good.csv"
    good.write_text(GOOD_CSV)
    proj = Project.create(tmp_path / "proj")
    assert main(["import", str(good), "--project", str(proj.root)]) == 0
    return proj


def _refused(project: Project, path: Path, capsys: pytest.CaptureFixture[str],
             *extra: str) -> str:
    """Import ``path`` through the CLI; assert it is refused and the project unchanged."""
    before = tree_digest(project.root)
    capsys.readouterr()
    code = main(["import", str(path), "--project", str(project.root), "--name", "bad",
                 "--json", *extra])
    payload = json.loads(capsys.readouterr().out)
    assert code == 2 and payload["ok"] is False, payload
    assert tree_digest(project.root) == before
    assert "\n" not in payload["error"]
    return str(payload["error"])


def test_gzip_bomb_of_rows_stops_at_the_byte_budget(project: Project, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_INPUT_MB, "2")
    bomb = tmp_path / "bomb.csv.gz"
    header, row = GOOD_CSV.splitlines()[:2]
    with gzip.open(bomb, "wt") as out:  # ~6 MB of rows, a few KB on disk
        out.write(header + "\n")
        out.write((row + "\n") * (6_000_000 // len(row)))
    assert bomb.stat().st_size < 200_000
    error = _refused(project, bomb, capsys)
    assert "bomb.csv.gz: expands to more than 2 MB" in error and f"{ENV_INPUT_MB}=" in error


def test_row_budget(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_INPUT_ROWS, "50")
    path = tmp_path / "many.csv"
    path.write_text(GOOD_CSV)
    with pytest.raises(DataError, match=rf"many\.csv: more than 50 rows.*{ENV_INPUT_ROWS}=100"):
        load(str(path))
    parquet = tmp_path / "many.parquet"
    make_market().write_parquet(parquet)
    with pytest.raises(DataError, match=r"many\.parquet: more than 50 rows"):
        load(str(parquet))


def test_one_endless_line_is_refused_early(project: Project, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_LINE_KB, "64")
    path = tmp_path / "line.csv.gz"
    with gzip.open(path, "wb") as out:
        out.write(b"date,ticker,open,high,low,close,volume\n" + b"1" * 500_000)
    error = _refused(project, path, capsys)
    assert "line.csv.gz: line 2 is longer than 64 KB" in error


def test_device_symlink_and_named_pipe_are_not_read(project: Project, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    link = tmp_path / "zero.csv"
    link.symlink_to("/dev/zero")
    assert "zero.csv: is a character device, not a regular file" in _refused(
        project, link, capsys)
    if hasattr(os, "mkfifo"):
        pipe = tmp_path / "pipe.csv"
        os.mkfifo(pipe)
        assert "pipe.csv: is a named pipe" in _refused(project, pipe, capsys)


def test_a_bad_limit_variable_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_INPUT_MB, "lots")
    with pytest.raises(ConfigError, match=f"{ENV_INPUT_MB}='lots' is not a whole number"):
        InputLimits.from_env()


def test_nested_parquet_columns(project: Project, tmp_path: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    frame = make_market()
    tags = frame.with_columns(pl.concat_list("open", "close").alias("tags"),
                              pl.struct("open", "close").alias("pair"))
    ok = tmp_path / "tags.parquet"
    tags.write_parquet(ok)
    ds = load(str(ok))
    assert "tags" not in ds.frame.columns and "pair" not in ds.frame.columns
    warned = {w.code for w in ds.report.warnings}
    assert "nested_column_ignored" in warned
    bad = tmp_path / "nested_close.parquet"
    frame.with_columns(pl.concat_list("close", "open").alias("close")).write_parquet(bad)
    error = _refused(project, bad, capsys)
    assert "column 'close' holds nested values" in error


def test_header_naming_a_column_twice(project: Project, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    lines = GOOD_CSV.splitlines()
    path = tmp_path / "twice.csv"
    path.write_text("\n".join([lines[0] + ",close"] + [ln + ",1" for ln in lines[1:]]) + "\n")
    error = _refused(project, path, capsys)
    assert "twice.csv: the header names column 'close' twice (columns 6 and 8)" in error


def test_negative_horizon_is_refused(project: Project, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good.csv"
    assert "--horizon must be at least 1 day, got -3" in _refused(
        project, good, capsys, "--horizon", "-3")


def test_control_characters_long_values_and_a_mapping_that_moved_a_column(
        tmp_path: Path) -> None:
    """Less severe cases of #21: tickers with NUL / ANSI escapes are refused and shown escaped,
    a 5,000-character cell is cut in the message, and ``--map close=x`` says why 'close' is
    missing instead of "did you mean 'close'?"."""
    from engine import i18n
    from engine.data.quality import MAX_VALUE_CHARS
    from tests.conftest import make_market

    frame = make_market(3, 60)
    first = frame.get_column("ticker").min()
    bad = frame.with_columns(
        pl.when(pl.col("ticker") == first).then(pl.lit("A\x1b[31mRED\x00"))
        .otherwise(pl.col("ticker")).alias("ticker"),
        pl.when(pl.int_range(pl.len()) == 5).then(pl.lit("x" * 5000))
        .otherwise(pl.col("close").cast(pl.Utf8)).alias("close"))
    path = tmp_path / "bad.csv"
    bad.write_csv(path)
    with pytest.raises(DataError) as err:
        load(path)
    text = str(err.value)
    assert "\x1b" not in text and "\x00" not in text and r"'A\x1b[31mRED\x00'" in text
    assert "x" * MAX_VALUE_CHARS not in text and "xxxx…" in text
    codes = {i.code for i in err.value.report.errors}
    assert {"control_in_ticker", "not_numeric"} <= codes
    finding = next(i for i in err.value.report.errors if i.code == "control_in_ticker")
    assert "제어 문자" in i18n.render("validation", finding.code,
                                     {**finding.params, "source": "bad.csv"}, "ko")

    good = tmp_path / "good.csv"
    frame.write_csv(good)
    with pytest.raises(DataError, match="column 'close' is mapped to 'x' by the column "
                                        "mapping"):
        load(good, column_map={"close": "x"})


def test_infinite_prices_zero_volume_and_future_days(tmp_path: Path) -> None:
    """'inf' / '1e309' prices are refused (they were stored); a volume that is zero on every
    row and trading days after today are imported with a warning that says so."""
    import datetime as dt

    from engine.data.quality import _check_future
    from tests.conftest import make_market

    frame = make_market(3, 60)
    bad = frame.with_columns(pl.when(pl.int_range(pl.len()).is_in([3, 7]))
                             .then(pl.lit("1e309")).otherwise(pl.col("close").cast(pl.Utf8))
                             .alias("close"))
    path = tmp_path / "inf.csv"
    bad.write_csv(path)
    with pytest.raises(DataError, match=r"column 'close': 2 value\(s\) are infinite \(row 4, 8"):
        load(path)
    zero = tmp_path / "zero.csv"
    frame.with_columns(pl.lit(0.0).alias("volume")).write_csv(zero)
    assert "volume_all_zero" in {i.code for i in load(zero).report.warnings}

    class Sink:
        codes: list[str] = []

        def add(self, level: object, code: str, message: str, **kw: object) -> None:
            self.codes.append(code)
            assert "after today (2015-02-01)" in message

    sink = Sink()
    _check_future(frame, sink, today=dt.date(2015, 2, 1))
    assert sink.codes == ["future_dates"]
