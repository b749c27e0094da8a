"""Loaders, aliases and the validator: good inputs load, bad inputs fail with a precise
message and leave the project folder byte-for-byte unchanged."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import polars as pl
import pytest

from engine.cli import main
from engine.data.validate import load
from engine.errors import DataError
from engine.store.project import Project
from tests.conftest import make_market, tree_digest


def _csv(frame: pl.DataFrame) -> str:
    return frame.with_columns(pl.col("date").cast(pl.Utf8)).write_csv()


GOOD = make_market()
GOOD_CSV = _csv(GOOD)
LINES = GOOD_CSV.splitlines()


def _edit_line(i: int, col: int, value: str) -> str:
    """GOOD_CSV with data row i (1-based) column col replaced by value."""
    lines = list(LINES)
    cells = lines[i].split(",")
    cells[col] = value
    lines[i] = ",".join(cells)
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------ good inputs


def test_csv_with_aliases_and_adjusted_close(tmp_path: Path) -> None:
    text = GOOD_CSV.replace("date,ticker", "Date,Symbol").replace("close,volume", "Close,Volume")
    frame = pl.read_csv(text.encode())
    frame = frame.with_columns((pl.col("Close") * 0.5).alias("Adj Close"))
    path = tmp_path / "prices.csv"
    frame.write_csv(path)
    ds = load(str(path))
    assert ds.adjusted and ds.vwap_derived
    assert set(ds.frame.columns) == {"date", "ticker", "open", "high", "low", "close", "volume",
                                     "vwap"}
    raw_close = frame.sort("Date", "Symbol").get_column("Close").to_numpy()
    assert ds.frame.get_column("close").to_numpy() == pytest.approx(raw_close * 0.5)
    assert ds.frame.get_column("volume").to_numpy() == pytest.approx(
        frame.sort("Date", "Symbol").get_column("Volume").to_numpy() * 2)
    codes = {n.code for n in ds.report.notes}
    assert codes == {"adjusted", "vwap_derived"}


def test_gzip_semicolon_and_extra_feature(tmp_path: Path) -> None:
    frame = GOOD.with_columns((pl.col("volume") * pl.col("close")).alias("Dollar Volume"),
                              pl.lit("Tech").alias("Sector"))
    text = _csv(frame).replace(",", ";")
    path = tmp_path / "prices.csv.gz"
    path.write_bytes(gzip.compress(text.encode()))
    ds = load(str(path))
    assert "amount" in ds.frame.columns  # 'Dollar Volume' is an alias of amount
    assert "sector" not in ds.frame.columns
    assert any(w.code == "text_column_ignored" and "Sector" in w.message
               for w in ds.report.warnings)


def test_unknown_numeric_column_becomes_feature(tmp_path: Path) -> None:
    frame = GOOD.with_columns((pl.col("close") * 2).alias("My Signal"))
    path = tmp_path / "p.parquet"
    frame.write_parquet(path)
    ds = load(str(path))
    assert "my_signal" in ds.frame.columns


def test_folder_of_per_ticker_csv(tmp_path: Path) -> None:
    folder = tmp_path / "stocks"
    folder.mkdir()
    for ticker, part in GOOD.group_by("ticker"):
        _ = ticker
        name = part.get_column("ticker")[0]
        part.drop("ticker").with_columns(pl.col("date").cast(pl.Utf8)).write_csv(
            folder / f"{name}.csv")
    ds = load(str(folder))
    assert ds.frame.get_column("ticker").n_unique() == 3
    assert ds.frame.height == GOOD.height


def test_cp949_file_loads_with_encoding(tmp_path: Path) -> None:
    text = GOOD_CSV.replace("ticker", "종목").replace("T00", "삼성전자")
    path = tmp_path / "kr.csv"
    path.write_bytes(text.encode("cp949"))
    with pytest.raises(DataError, match="not UTF-8.*cp949"):
        load(str(path))
    ds = load(str(path), encoding="cp949", column_map={"종목": "ticker"})
    assert "삼성전자" in ds.frame.get_column("ticker").to_list()


def test_warnings_name_rows_and_tickers(tmp_path: Path) -> None:
    frame = GOOD.with_columns(
        pl.when((pl.col("ticker") == "T01") & (pl.col("date") == pl.col("date").max()))
        .then(pl.col("close") * 3).otherwise(pl.col("close")).alias("close"))
    frame = frame.with_columns(
        pl.when(pl.col("ticker") == "T02").then(-1.0).otherwise(pl.col("low")).alias("low"))
    path = tmp_path / "w.parquet"
    frame.write_parquet(path)
    ds = load(str(path))
    by_code = {w.code: w for w in ds.report.warnings}
    assert re.search(r"T01 \+2\d\d% on 2020-03-24 \(row 120\)", by_code["big_move"].message)
    assert by_code["non_positive_price"].column == "low"
    assert by_code["non_positive_price"].tickers == ("T02",)
    assert "row " in by_code["non_positive_price"].message


# ------------------------------------------------------------------ malformed inputs

MALFORMED: list[tuple[str, str, bytes, str]] = [
    ("empty", "a.csv", b"", r"a\.csv: the file is empty"),
    ("header only", "a.csv", LINES[0].encode() + b"\n", "header but no data rows"),
    ("wrong encoding", "a.csv", (GOOD_CSV.replace("T00", "Müller")).encode("latin-1"),
     r"not UTF-8 text \(byte 0xfc on line 2\)"),
    ("missing column", "a.csv", "\n".join(",".join(ln.split(",")[:-1]) for ln in LINES).encode(),
     r"missing required column\(s\) 'volume'"),
    ("misspelt column", "a.csv", GOOD_CSV.replace("close", "clsoe", 1).encode(),
     r"'close' \(did you mean 'clsoe'\?\)"),
    ("bad date", "a.csv", _edit_line(3, 0, "2020-13-45").encode(),
     r"column 'date': 1 value\(s\) are not dates \(row 3: '2020-13-45'\)"),
    ("non-numeric", "a.csv", _edit_line(2, 5, '"12,5"').encode(),
     r"column 'close': 1 value\(s\) are not numbers \(row 2: '12,5'\)"),
    ("duplicate rows", "a.csv", (GOOD_CSV + LINES[5] + "\n").encode(),
     r"appear more than once: T00 on 2020-01-07 \(rows 5, 181\)"),
    ("one ticker", "a.csv", _csv(GOOD.filter(pl.col("ticker") == "T00")).encode(),
     r"only 1 ticker\(s\)"),
    ("too few dates", "a.csv", _csv(GOOD.filter(pl.col("date") < pl.date(2020, 1, 15))).encode(),
     r"only 10 trading day\(s\); with a 20-day horizon at least 42"),
    ("ambiguous columns", "a.csv",
     GOOD_CSV.replace("ticker,", "ticker,timestamp,").replace("\n", "\n", 1).encode(),
     r"columns 'date' and 'timestamp' both map to 'date'"),
    ("missing ticker", "a.csv", _edit_line(4, 1, "").encode(),
     r"column 'ticker': 1 row\(s\) have no ticker \(row 4\)"),
    ("unsupported type", "a.xlsx", b"PK\x03\x04", r"unsupported file type '\.xlsx'"),
    ("corrupt parquet", "a.parquet", b"PAR1 this is not parquet",
     r"a\.parquet: cannot read the file as Parquet"),
    ("bad gzip", "a.csv.gz", b"not gzip at all", r"a\.csv\.gz: not a valid gzip file"),
    ("bad universe flag", "a.csv",
     ("\n".join([LINES[0] + ",in_universe"] + [ln + (",maybe" if i == 7 else ",1")
                for i, ln in enumerate(LINES[1:], 1)]) + "\n").encode(),
     r"column 'in_universe': 1 value\(s\) are not true/false \(row 7: 'maybe'\)"),
    ("ragged csv", "a.csv", (GOOD_CSV + "2020-05-05,T00,1,2,3,4,5,6,7\n").encode(),
     r"a\.csv: cannot parse the file as CSV: line 182 \(data row 181\) has 9 fields, "
     r"the header has 7"),
]


@pytest.mark.parametrize("case", MALFORMED, ids=[c[0] for c in MALFORMED])
def test_malformed_input_is_rejected_and_project_unchanged(
    case: tuple[str, str, bytes, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, filename, content, pattern = case
    # The ambiguous-columns case needs a timestamp value in every row.
    if case[0] == "ambiguous columns":
        lines = content.decode().splitlines()
        content = ("\n".join([lines[0]] + [ln.replace(",", ",2020-01-01,", 1) for ln in lines[1:]])
                   + "\n").encode()
    project = Project.create(tmp_path / "proj")
    main(["import", str(_good_file(tmp_path)), "--project", str(project.root)])
    before = tree_digest(project.root)
    bad = tmp_path / filename
    bad.write_bytes(content)
    capsys.readouterr()
    code = main(["import", str(bad), "--project", str(project.root), "--json"])
    payload = json.loads(capsys.readouterr().out)
    assert code == 2 and payload["ok"] is False and re.search(pattern, payload["error"])
    assert tree_digest(project.root) == before
    with pytest.raises(DataError, match=pattern):
        load(str(bad))


def _good_file(tmp_path: Path) -> Path:
    path = tmp_path / "good.csv"
    if not path.exists():
        path.write_text(GOOD_CSV)
    return path


def test_cli_json_error_payload(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(_edit_line(2, 5, "abc"))
    code = main(["import", str(bad), "--project", str(tmp_path / "p"), "--json"])
    payload = json.loads(capsys.readouterr().out)
    assert code == 2 and payload["ok"] is False
    assert "bad.csv" in payload["error"] and "column 'close'" in payload["error"]
    assert payload["report"]["errors"][0]["rows"] == ["2"]
    assert not (tmp_path / "p").exists()  # nothing created for a failed import


def test_other_malformed_cases(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file"):
        load(str(tmp_path / "missing.csv"))
    empty = tmp_path / "empty_folder"
    empty.mkdir()
    with pytest.raises(DataError, match="holds no .csv"):
        load(str(empty))
    path = _good_file(tmp_path)
    with pytest.raises(DataError, match="column mapping names column 'Kurs'"):
        load(str(path), column_map={"Kurs": "close"})


def test_bad_dataset_name_leaves_project_unchanged(tmp_path: Path) -> None:
    project = Project.create(tmp_path / "proj")
    before = tree_digest(project.root)
    code = main(["import", str(_good_file(tmp_path)), "--project", str(project.root),
                 "--name", "../evil"])
    assert code == 2
    assert tree_digest(project.root) == before


# ------------------------------------------------------------------ real data


def test_real_us_file_imports_with_readme_warnings(us_file: Path) -> None:
    ds = load(str(us_file))
    assert ds.report.ok and ds.vwap_derived
    w = {i.code: i for i in ds.report.warnings}
    assert w["missing_values"].count in (11, 8)
    missing = {i.column: i.count for i in ds.report.warnings if i.code == "missing_values"}
    assert missing == {"open": 11, "high": 8, "low": 8}
    assert w["high_below_low"].count == 1
    short = set(w["short_history"].tickers)
    assert {"APTV", "DWDP", "BHF", "BHGE", "DXC", "FTV", "UA", "WLTW", "CSRA", "HPE"} <= short
    moves = w["big_move"].message
    for text in ("LNT +101% on 2016-05-20", "NI -63% on 2015-07-02", "EBAY -57% on 2015-07-20",
                 "VRTX +62% on 2013-04-19", "AMD +52% on 2016-04-22"):
        assert text in moves
    assert {"DISCA", "DISCK"} <= set(w["big_move"].tickers)
    assert ds.frame.height == 619_040
    assert ds.frame.get_column("ticker").n_unique() == 505
