"""`alphaforge import --from URL` and `alphaforge export`: the same hash from every source,
clear errors that leave the project unchanged, `datasets --json` shows content hashes."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from engine.cli import main
from tests.conftest import make_market, tree_digest


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    code = main([*argv, "--json"])
    return code, json.loads(capsys.readouterr().out)


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    frame = make_market(4, 70)
    csv = tmp_path / "prices.csv"
    frame.with_columns(pl.col("date").cast(pl.Utf8)).write_csv(csv)
    db = tmp_path / "market.db"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE prices (date TEXT, ticker TEXT, open REAL, high REAL, low REAL, "
                "close REAL, volume REAL)")
    con.executemany("INSERT INTO prices VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [(str(r[0]), *r[1:]) for r in frame.rows()])
    con.commit()
    con.close()
    return {"csv": csv, "db": db, "project": tmp_path / "project"}


def test_import_from_sqlite_table_and_query(files: dict[str, Path],
                                            capsys: pytest.CaptureFixture[str]) -> None:
    project = str(files["project"])
    assert _run(capsys, "import", str(files["csv"]), "--project", project)[0] == 0
    code, out = _run(capsys, "import", "--from", f"sqlite://{files['db']}", "--table", "prices",
                     "--project", project)
    assert code == 2 and "dataset 'prices' already exists" in out["error"]  # default name
    code, out = _run(capsys, "import", "--from", f"sqlite://{files['db']}", "--table", "prices",
                     "--name", "from_table", "--project", project)
    assert code == 0, out
    code, out = _run(capsys, "import", "--from", f"sqlite://{files['db']}", "--query",
                     "SELECT * FROM prices", "--name", "from_query", "--project", project)
    assert code == 0, out
    code, listing = _run(capsys, "datasets", "--project", project)
    hashes = {d["name"]: d["content_hash"] for d in listing["result"]}
    assert len(set(hashes.values())) == 1 and len(hashes) == 3
    records = [json.loads((p / "record.json").read_text())
               for p in (files["project"] / "runs").iterdir()]
    sources = [r["config"].get("source") for r in records if r["config"].get("source")]
    assert f"sqlite://{files['db']} (query SELECT * FROM prices)" in sources


def test_import_errors_leave_the_project_unchanged(files: dict[str, Path],
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    project = str(files["project"])
    assert _run(capsys, "import", str(files["csv"]), "--project", project)[0] == 0
    before = tree_digest(files["project"])
    db_before = files["db"].read_bytes()
    cases = [
        (["--from", f"sqlite://{files['db']}", "--query", "DELETE FROM prices"], "only SELECT"),
        (["--from", f"sqlite://{files['db']}", "--query", "SELECT 1; DROP TABLE prices"],
         "2 statements"),
        (["--from", f"sqlite://{files['db']}", "--table", "prices; DROP TABLE prices"],
         "no table or view named"),
        (["--from", "mysql://root@localhost/db"], "unsupported source 'mysql'"),
        (["--from", f"sqlite://{files['db']}", str(files["csv"])], "one of them"),
        (["--table", "prices"], "one of them"),
        (["--from", f"qlib://{files['db'].parent}/none"], "no such folder"),
    ]
    for args, message in cases:
        code, out = _run(capsys, "import", *args, "--project", project)
        assert code == 2 and message in out["error"], (args, out)
    assert tree_digest(files["project"]) == before
    assert files["db"].read_bytes() == db_before


def test_export_round_trips(files: dict[str, Path], tmp_path: Path,
                            capsys: pytest.CaptureFixture[str]) -> None:
    project = str(files["project"])
    code, out = _run(capsys, "import", str(files["csv"]), "--name", "px", "--project", project)
    original = out["result"]["dataset"]["content_hash"]
    for fmt, target in (("parquet", tmp_path / "x.parquet"), ("csv", tmp_path / "x.csv"),
                        ("qlib", tmp_path / "qlib_dir")):
        code, out = _run(capsys, "export", "px", "--format", fmt, "--out", str(target),
                         "--project", project)
        assert code == 0, out
        assert out["result"]["content_hash"] == original
        source = str(target) if fmt != "qlib" else f"qlib://{target}"
        args = [source] if fmt != "qlib" else ["--from", source]
        code, back = _run(capsys, "import", *args, "--name", f"back_{fmt}", "--project", project)
        assert code == 0, back
        if fmt != "qlib":  # Qlib stores float32: equal panels, not equal float64 bytes
            assert back["result"]["dataset"]["content_hash"] == original, fmt
    code, out = _run(capsys, "export", "px", "--format", "alphalens", "--out",
                     str(tmp_path / "al"), "--project", project)
    assert code == 0 and sorted(out["result"]["files"]) == ["factors.parquet", "prices.parquet"]
    code, out = _run(capsys, "export", "px", "--format", "csv", "--out", str(tmp_path / "x.csv"),
                     "--project", project)
    assert code == 2 and "already exists" in out["error"]
    code, out = _run(capsys, "export", "nope", "--format", "csv", "--out",
                     str(tmp_path / "y.csv"), "--project", project)
    assert code == 2 and "no dataset 'nope'" in out["error"]
