"""Careless and hostile command lines (issue #21): named outputs are never silently replaced,
impossible dates and horizons are refused with the option's name, formula files from Windows
Notepad read, failed formulas give a non-zero exit, CSV cells cannot run in a spreadsheet."""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl
import pytest

from engine.cli import main
from engine.data.csv_cells import defuse, defuse_text
from engine.data.export import to_csv


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> str:
    proj = str(tmp_path_factory.mktemp("hostile") / "demo")
    assert main(["demo", "--project", proj, "--tickers", "20", "--days", "160"]) == 0
    return proj


def test_report_refuses_to_replace_a_named_file_a_folder_or_a_pipe(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    precious = tmp_path / "x.pdf"
    precious.write_text("precious")
    fifo = tmp_path / "pipe.pdf"
    os.mkfifo(fifo)
    for out, words in ((precious, "already exists"), (tmp_path, "is a folder"),
                       (fifo, "not a regular file")):
        # refused before the project is even opened: nothing is computed or written
        assert main(["report", "--project", str(tmp_path / "none"), "--strategy", "s",
                     "--out", str(out)]) == 2
        assert words in capsys.readouterr().err
    assert precious.read_text() == "precious" and fifo.exists() and not fifo.is_file()
    assert not (tmp_path / "none").exists()


def test_export_run_keeps_an_existing_file_unless_overwrite(
        demo: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    precious = tmp_path / "x.txt"
    precious.write_text("precious")
    assert main(["export-run", "some-run", "--project", demo, "--out", str(precious)]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert precious.read_text() == "precious"


def test_impossible_dates_and_horizons_are_named(
        demo: str, capsys: pytest.CaptureFixture[str]) -> None:
    for day in ("2015-13-45", "2015-02-30"):
        with pytest.raises(SystemExit) as exc:
            main(["eval", "$close", "--project", demo, "--dataset", "demo", "--start", day])
        assert exc.value.code == 2
        assert f"--start '{day}' is not a calendar date" in capsys.readouterr().err
    assert main(["eval", "$close", "--project", demo, "--dataset", "demo",
                 "--horizon", "1000000000"]) == 2
    assert "--horizon 1000000000 leaves no day" in capsys.readouterr().err


def test_eval_file_with_a_bom_and_a_bad_formula_exits_1_and_reports_the_good(
        demo: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "f.txt"
    path.write_bytes("\ufeffts_mean($close, 5)\nNoSuchOp($close)\n".encode())
    assert main(["eval", "--file", str(path), "--project", demo, "--dataset", "demo"]) == 1
    out = capsys.readouterr().out
    assert "ts_mean($close, 5)" in out and "formula 2 ('NoSuchOp($close)')" in out


def test_map_without_equals_is_named(demo: str, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    csv = tmp_path / "p.csv"
    csv.write_text("date,ticker,close\n2020-01-02,A,1\n")
    assert main(["import", str(csv), "--project", demo, "--name", "p", "--map", "close"]) == 2
    assert "--map 'close' must look like COLUMN=CANONICAL" in capsys.readouterr().err


def test_csv_cells_that_a_spreadsheet_would_run_are_inert(tmp_path: Path) -> None:
    assert defuse_text("=cmd|'/C calc'!A0") == "'=cmd|'/C calc'!A0"
    for risky in ("+A1", "-2+3+cmd|' /C calc'!A0", "@SUM(A1)", "\tx"):
        assert defuse_text(risky).startswith("'")
    for plain in ("AAPL", "-0.5", "+1e3", "600000.SH", "ts_mean($close, 5)"):
        assert defuse_text(plain) == plain
    frame = pl.DataFrame({"date": ["2020-01-02", "2020-01-02"],
                          "ticker": ["=cmd|'/C calc'!A0", "-1.5"], "close": [1.0, -2.0]})
    assert defuse(frame)["ticker"].to_list() == ["'=cmd|'/C calc'!A0", "-1.5"]
    out = to_csv(frame.with_columns(pl.col("date").str.to_date()), tmp_path / "x.csv")
    text = out.path.read_text()
    assert "'=cmd" in text and "\n=cmd" not in text and ",-2.0" in text


def test_project_path_that_is_a_file_is_named(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    afile = tmp_path / "notes.txt"
    afile.write_text("mine")
    for argv in (["demo", "--project", str(afile)], ["datasets", "--project", str(afile)],
                 ["runs", "--project", str(afile / "sub")]):
        assert main(argv) == 2
        assert f"{afile} is a file, not a folder" in capsys.readouterr().err
    monkeypatch.setenv("ALPHAFORGE_HOME", str(afile))
    assert main(["demo"]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err
    assert afile.read_text() == "mine"


def test_one_depth_limit_for_check_eval_and_both_readers(
        demo: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from engine.errors import FormulaError
    from engine.expr.parse import MAX_DEPTH, parse
    from engine.expr.qlib import read_formula

    ok = "Abs(" * (MAX_DEPTH - 1) + "$close" + ")" * (MAX_DEPTH - 1)
    deep = "Abs(" * 300 + "$close" + ")" * 300
    assert main(["check", ok]) == 0
    capsys.readouterr()
    assert main(["check", deep]) == 2
    assert "nested more than 100 levels deep" in capsys.readouterr().err
    path = tmp_path / "f.txt"
    path.write_text(f"{ok}\n{deep}\n")
    # evaluating the deepest allowed formula works; the deeper one is reported, not a crash
    assert main(["eval", "--file", str(path), "--project", demo, "--dataset", "demo"]) == 1
    assert "formula 2" in capsys.readouterr().out
    with pytest.raises(FormulaError, match="levels deep"):
        read_formula("+".join(["$close"] * 2000))  # an infix chain: deep without parentheses
    with pytest.raises(FormulaError, match="levels deep"):
        parse("(" * 200 + "$close" + ")" * 200)


def test_a_dataset_swapped_outside_alphaforge_is_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """#21 item 15: eval and export-run --with-data check the content hash first."""
    from tests.conftest import make_market

    proj = str(tmp_path / "demo")
    assert main(["demo", "--project", proj, "--tickers", "20", "--days", "160"]) == 0
    assert main(["combine", "--project", proj, "--factors", "classic", "--name", "s",
                 "--test", "2015-06-01:2015-08-13"]) == 0
    make_market(5, 160, seed=9).write_parquet(Path(proj) / "datasets" / "demo" / "panel.parquet")
    capsys.readouterr()
    assert main(["eval", "$close", "--project", proj, "--dataset", "demo"]) == 2
    assert "changed outside AlphaForge" in capsys.readouterr().err
    out = tmp_path / "s.zip"
    assert main(["export-run", "--project", proj, "--strategy", "s", "--with-data",
                 "--out", str(out)]) == 2
    assert "changed outside AlphaForge" in capsys.readouterr().err
    assert not out.exists()
