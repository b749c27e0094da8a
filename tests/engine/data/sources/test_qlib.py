"""Qlib data folders: export then import gives the same panel (and, for float32 values, the
same dataset hash as the CSV import); point-in-time membership becomes ``in_universe``;
folders written by Qlib's own tools (no sidecar) import; broken folders fail clearly."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import torch

from engine.data import sources
from engine.data.export import to_qlib
from engine.data.io import ROW, RawTable
from engine.data.panel import Panel, build
from engine.data.sources import SourceRequest
from engine.data.synthetic import SyntheticConfig, generate
from engine.data.validate import check, load
from engine.errors import DataError
from engine.store.project import Project
from tests.engine.data.sources.conftest import Reference, market


def _url(path: Path, options: str = "") -> str:
    return f"qlib://{path}{options}"


def _raw(frame: pl.DataFrame) -> RawTable:
    return RawTable(frame.with_columns(pl.int_range(1, frame.height + 1).cast(pl.Utf8)
                                       .alias(ROW)), source="test")


def test_export_import_gives_the_csv_hash(reference: Reference, tmp_path: Path) -> None:
    project = Project.create(tmp_path / "p")
    meta = project.save_dataset("csv", load(str(reference.csv)))
    assert meta.vwap_derived
    to_qlib(project.load_frame("csv"), tmp_path / "qlib", vwap_derived=meta.vwap_derived)
    back = project.save_dataset("qlib", sources.load(SourceRequest(_url(tmp_path / "qlib"))))
    assert back.content_hash == reference.content_hash
    assert back.vwap_derived


def test_round_trip_with_universe_gives_the_same_panel(tmp_path: Path) -> None:
    frame = generate(SyntheticConfig(n_tickers=30, n_days=160, seed=5))
    dataset = check(_raw(frame))
    assert "in_universe" in dataset.frame.columns
    to_qlib(dataset.frame, tmp_path / "q", universe="members",
            vwap_derived=dataset.vwap_derived)
    assert (tmp_path / "q" / "instruments" / "members.txt").is_file()
    again = sources.load(SourceRequest(_url(tmp_path / "q")))
    a = build(dataset.frame, vwap_derived=dataset.vwap_derived)
    b = build(again.frame, vwap_derived=again.vwap_derived)
    assert a.tickers == b.tickers and a.features == b.features
    assert np.array_equal(a.dates, b.dates)
    assert torch.equal(a.universe, b.universe)
    assert _equal_but_derived_vwap(a, b)


def _equal_but_derived_vwap(a: Panel, b: Panel) -> bool:
    """Every feature bit-equal; a derived vwap may differ in the last float32 bit because it
    is derived again from float32 prices."""
    for k, name in enumerate(a.features):
        x, y = a.values[..., k], b.values[..., k]
        if name == "vwap" and a.vwap_derived:
            if not torch.allclose(x, y, rtol=1e-6, atol=0, equal_nan=True):
                return False
        elif not torch.equal(torch.nan_to_num(x, nan=-1e30), torch.nan_to_num(y, nan=-1e30)):
            return False
    return True


def test_real_file_round_trip_gives_the_same_panel(us_file: Path, tmp_path: Path) -> None:
    dataset = load(str(us_file))
    to_qlib(dataset.frame, tmp_path / "q", vwap_derived=dataset.vwap_derived)
    again = sources.load(SourceRequest(_url(tmp_path / "q")))
    a = build(dataset.frame, vwap_derived=True)
    b = build(again.frame, vwap_derived=again.vwap_derived)
    assert again.frame.height == dataset.frame.height
    assert a.tickers == b.tickers and np.array_equal(a.dates, b.dates)
    assert _equal_but_derived_vwap(a, b)


def _hand_written_folder(root: Path) -> None:
    """A folder as Qlib's dump_bin writes it: upper-case tickers, lower-case folders, one
    reserved name (CON -> _qlib_con), a universe with two intervals for one stock."""
    days = [f"2021-01-{d:02d}" for d in (4, 5, 6, 7, 8, 11, 12, 13, 14, 15)]
    (root / "calendars").mkdir(parents=True)
    (root / "calendars" / "day.txt").write_text("\n".join(days) + "\n")
    (root / "instruments").mkdir()
    (root / "instruments" / "all.txt").write_text(
        "SH600000\t2021-01-04\t2021-01-15\nCON\t2021-01-06\t2021-01-15\n"
        "SZ000001\t2021-01-04\t2021-01-12\n")
    (root / "instruments" / "csi300.txt").write_text(
        "SH600000\t2021-01-04\t2021-01-06\nSH600000\t2021-01-12\t2021-01-15\n"
        "CON\t2021-01-06\t2021-01-15\n")
    for folder, start, n in (("sh600000", 0, 10), ("_qlib_con", 2, 8), ("sz000001", 0, 7)):
        (root / "features" / folder).mkdir(parents=True)
        for k, field in enumerate(("close", "open", "volume", "factor")):
            values = np.arange(n, dtype="<f4") + 10 * (k + 1)
            if folder == "sh600000" and field == "close":
                values[3] = np.nan  # one missing value
            np.concatenate([[np.float32(start)], values]).astype("<f4").tofile(
                root / "features" / folder / f"{field}.day.bin")


def test_qlib_folder_with_point_in_time_universe(tmp_path: Path) -> None:
    _hand_written_folder(tmp_path / "cn")
    table = sources.read(SourceRequest(_url(tmp_path / "cn", "?universe=csi300")))
    frame = table.frame
    assert frame.columns == ["date", "ticker", "open", "close", "volume", "factor", "in_universe",
                             "_row"]
    assert sorted(frame.get_column("ticker").unique()) == ["CON", "SH600000"]  # not SZ000001
    sh = frame.filter(pl.col("ticker") == "SH600000").sort("date")
    assert sh.get_column("in_universe").to_list() == [True] * 3 + [False] * 3 + [True] * 4
    assert sh.get_column("close").null_count() == 1
    con = frame.filter(pl.col("ticker") == "CON")
    assert con.height == 8 and str(con.get_column("date").min()) == "2021-01-06"
    everyone = sources.read(SourceRequest(_url(tmp_path / "cn", "?universe=csi300&tickers=all")))
    assert everyone.frame.get_column("ticker").n_unique() == 3
    plain = sources.read(SourceRequest(_url(tmp_path / "cn", "?fields=close,volume")))
    assert plain.frame.columns == ["date", "ticker", "close", "volume", "_row"]
    assert sources.tables(SourceRequest(_url(tmp_path / "cn"))) == ["all", "csi300"]
    assert "10 trading days" in sources.probe(SourceRequest(_url(tmp_path / "cn")))


@pytest.mark.parametrize(("damage", "message"), [
    (lambda r: (r / "calendars" / "day.txt").unlink(), "no calendar file"),
    (lambda r: (r / "calendars" / "day.txt").write_text("2021-01-04\nnot a date\n"),
     "line 2: 'not a date' is not a date"),
    (lambda r: (r / "instruments" / "all.txt").write_text("SH600000 2021-01-04\n"),
     "expected TICKER, start and end date"),
    (lambda r: (r / "features" / "sh600000" / "close.day.bin").write_bytes(
        np.array([7.0, 1, 2, 3, 4, 5], dtype="<f4").tobytes()), "runs past the end"),
    (lambda r: (r / "features" / "sh600000" / "close.day.bin").write_bytes(
        np.array([-1.5, 1], dtype="<f4").tobytes()), "not a Qlib feature file"),
    (lambda r: None, "no universe 'csi500'"),
])
def test_broken_folders_fail_clearly(tmp_path: Path, damage: Callable[[Path], object],
                                     message: str) -> None:
    _hand_written_folder(tmp_path / "cn")
    damage(tmp_path / "cn")
    options = "?universe=csi500" if "csi500" in message else ""
    with pytest.raises(DataError, match=message):
        sources.read(SourceRequest(_url(tmp_path / "cn", options)))


def test_not_a_qlib_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not a Qlib data folder"):
        sources.read(SourceRequest(_url(tmp_path)))
    with pytest.raises(DataError, match="no such folder"):
        sources.read(SourceRequest(_url(tmp_path / "absent")))
    _hand_written_folder(tmp_path / "cn")
    with pytest.raises(DataError, match="no field"):
        sources.read(SourceRequest(_url(tmp_path / "cn", "?fields=close,vwap")))


@pytest.mark.skipif(importlib.util.find_spec("qlib") is None, reason="pyqlib is not installed")
def test_qlib_itself_reads_the_export(tmp_path: Path) -> None:
    """Qlib's own reader (in a subprocess: qlib.init is process-global) sees the same values
    and the point-in-time universe."""
    frame = market().with_columns(((pl.col("date").dt.day() % 3) != 0).alias("in_universe"))
    to_qlib(frame, tmp_path / "q", universe="members")
    script = textwrap.dedent(f"""
        import json, qlib
        from qlib.data import D
        qlib.init(provider_uri={str(tmp_path / 'q')!r}, region="us", kernels=1)
        df = D.features(D.instruments("members"), ["$close"])
        print(json.dumps({{"rows": len(df), "t01": df.loc["T01"]["$close"].tolist()[:3]}}))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    members = frame.filter(pl.col("in_universe"))
    assert seen["rows"] == members.height
    expected = members.filter(pl.col("ticker") == "T01").sort("date").get_column("close")
    assert seen["t01"] == pytest.approx(expected.head(3).to_list(), rel=1e-7)
