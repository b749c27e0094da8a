"""SQLite connector: same dataset hash as the CSV import, read-only, injection-proof."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from engine.data import sources
from engine.data.sources import SourceRequest
from engine.data.sources import sqlite as sqlite_source
from engine.errors import DataError
from engine.store.project import Project
from tests.conftest import tree_digest
from tests.engine.data.sources.conftest import Reference, file_digest


@pytest.fixture
def db(tmp_path: Path, reference: Reference) -> Path:
    path = tmp_path / "market.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE prices (date TEXT, ticker TEXT, open REAL, high REAL, low REAL, "
                "close REAL, volume INTEGER)")
    rows = [(str(r[0]), r[1], r[2], r[3], r[4], r[5], int(r[6]))
            for r in reference.frame.rows()]
    con.executemany("INSERT INTO prices VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    con.execute("CREATE VIEW big AS SELECT * FROM prices WHERE close > 50")
    con.execute("CREATE TABLE \"odd name\" AS SELECT * FROM prices")
    con.commit()
    con.close()
    return path


def _url(path: Path) -> str:
    return f"sqlite://{path}"  # path is absolute: sqlite:///abs/path


def test_table_and_query_give_the_csv_hash(db: Path, reference: Reference, tmp_path: Path
                                           ) -> None:
    project = Project.create(tmp_path / "p")
    for i, request in enumerate([
        SourceRequest(_url(db), table="prices"),
        SourceRequest(_url(db), table="odd name"),
        SourceRequest(_url(db), query="SELECT * FROM prices ORDER BY ticker DESC, date"),
        SourceRequest(_url(db), query="SELECT * FROM prices WHERE volume >= ?", params=(0,)),
    ]):
        dataset = sources.load(request)
        meta = project.save_dataset(f"d{i}", dataset)
        assert meta.content_hash == reference.content_hash, request
        assert "sqlite:///" in meta.source


def test_tables_preview_and_probe(db: Path) -> None:
    request = SourceRequest(_url(db))
    assert sources.tables(request) == ["big", "odd name", "prices"]
    head = sources.preview(SourceRequest(_url(db), table="prices"), rows=7)
    assert head.height == 7 and head.columns[:2] == ["date", "ticker"]
    assert "3 table(s)/view(s)" in sources.probe(request)


def test_column_mapping_applies(db: Path, tmp_path: Path) -> None:
    query = "SELECT date AS d, ticker AS sym, open, high, low, close AS kurs, volume FROM prices"
    dataset = sources.load(SourceRequest(_url(db), query=query),
                           column_map={"d": "date", "sym": "ticker", "kurs": "close"})
    assert dataset.frame.columns[:7] == ["date", "ticker", "open", "high", "low", "close",
                                        "volume"]


def test_bad_values_are_reported_with_their_row(tmp_path: Path, db: Path) -> None:
    con = sqlite3.connect(db)
    con.execute("UPDATE prices SET close = 'n.a.' WHERE rowid = 3")
    con.commit()
    con.close()
    with pytest.raises(DataError, match=r"column 'close': 1 value\(s\) are not numbers \(row 3"):
        sources.load(SourceRequest(_url(db), table="prices"))


@pytest.mark.parametrize("query", [
    "DROP TABLE prices",
    "SELECT 1; DROP TABLE prices",
    "DELETE FROM prices",
    "INSERT INTO prices SELECT * FROM prices",
    "ATTACH '/tmp/evil.db' AS evil",
    "PRAGMA writable_schema = 1",
    "SELECT load_extension('/tmp/evil')",
    "WITH x AS (DELETE FROM prices RETURNING *) SELECT * FROM x",
])
def test_writes_are_refused_and_nothing_changes(db: Path, tmp_path: Path, query: str) -> None:
    before = file_digest(db)
    project = Project.create(tmp_path / "p")
    snapshot = tree_digest(project.root)
    with pytest.raises(DataError, match="SELECT|statement|not allowed"):
        sources.load(SourceRequest(_url(db), query=query))
    assert file_digest(db) == before
    assert tree_digest(project.root) == snapshot


@pytest.mark.parametrize("table", ["prices; DROP TABLE prices", "prices\" --", "sqlite_master",
                                   "nope"])
def test_table_names_must_exist(db: Path, table: str) -> None:
    before = file_digest(db)
    with pytest.raises(DataError, match="no table or view named"):
        sources.read(SourceRequest(_url(db), table=table))
    assert file_digest(db) == before


def test_the_connection_itself_is_read_only(db: Path) -> None:
    """Even a statement that bypassed the SQL check cannot write."""
    con = sqlite_source._connect(SourceRequest(_url(db)))
    try:
        for statement in ("DROP TABLE prices", "CREATE TABLE x (a)", "DELETE FROM prices",
                          "ATTACH ':memory:' AS m", "SELECT load_extension('x')"):
            with pytest.raises(sqlite3.Error):
                con.execute(statement)
    finally:
        con.close()


def test_missing_and_wrong_files(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such SQLite file"):
        sources.read(SourceRequest(f"sqlite://{tmp_path}/absent.db", table="prices"))
    fake = tmp_path / "fake.db"
    fake.write_text("date,ticker\n")
    with pytest.raises(DataError, match="not an SQLite database"):
        sources.read(SourceRequest(_url(fake), table="prices"))


def test_empty_result_is_an_error(db: Path) -> None:
    with pytest.raises(DataError, match="no rows"):
        sources.read(SourceRequest(_url(db), query="SELECT * FROM prices WHERE 1 = 0"))
