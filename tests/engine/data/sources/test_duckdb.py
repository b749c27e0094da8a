"""DuckDB connector: same dataset hash as the CSV import; read-only without file access."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.data import sources
from engine.data.sources import SourceRequest
from engine.data.sources import duckdb as duckdb_source
from engine.errors import DataError
from engine.store.project import Project
from tests.engine.data.sources.conftest import Reference, file_digest

duckdb = pytest.importorskip("duckdb")


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory, reference: Reference) -> Path:
    path = tmp_path_factory.mktemp("duckdb") / "market.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE prices (date DATE, ticker VARCHAR, open DOUBLE, high DOUBLE, "
                "low DOUBLE, close DOUBLE, volume BIGINT)")
    con.executemany("INSERT INTO prices VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [(*r[:6], int(r[6])) for r in reference.frame.rows()])
    con.execute("CREATE SCHEMA research")
    con.execute("CREATE TABLE research.daily AS SELECT * FROM prices")
    con.execute("CREATE TABLE decimals AS SELECT date, ticker, open::DECIMAL(18, 6) AS open, "
                "high::DECIMAL(18, 6) AS high, low::DECIMAL(18, 6) AS low, "
                "close::DECIMAL(18, 6) AS close, volume FROM prices")
    con.close()
    return path


def _url(path: Path) -> str:
    return f"duckdb://{path}"


def test_tables_and_queries_give_the_csv_hash(db: Path, reference: Reference, tmp_path: Path
                                              ) -> None:
    project = Project.create(tmp_path / "p")
    for i, request in enumerate([
        SourceRequest(_url(db), table="prices"),
        SourceRequest(_url(db), table="research.daily"),
        SourceRequest(_url(db), query="SELECT * FROM prices WHERE ticker <> ? ORDER BY random()",
                      params=("nobody",)),
    ]):
        meta = project.save_dataset(f"d{i}", sources.load(request))
        assert meta.content_hash == reference.content_hash, request


def test_decimals_become_the_nearest_double(db: Path) -> None:
    dataset = sources.load(SourceRequest(_url(db), table="decimals"))
    raw = duckdb.connect(str(db), read_only=True).execute(
        "SELECT CAST(close AS VARCHAR) FROM decimals ORDER BY date, ticker").fetchall()
    assert dataset.frame.get_column("close").to_list() == [float(r[0]) for r in raw]


def test_tables_and_probe(db: Path) -> None:
    assert sources.tables(SourceRequest(_url(db))) == ["decimals", "prices", "research.daily"]
    assert "3 table(s)" in sources.probe(SourceRequest(_url(db)))
    assert sources.preview(SourceRequest(_url(db), table="prices"), rows=3).height == 3


@pytest.mark.parametrize("query", [
    "DROP TABLE prices",
    "SELECT 1; DROP TABLE prices",
    "COPY prices TO '/tmp/alphaforge-leak.csv'",
    "SELECT * FROM read_csv('/etc/passwd')",
    "ATTACH '/tmp/evil.duckdb' AS evil",
    "INSTALL httpfs",
    "CREATE TABLE x AS SELECT * FROM prices",
])
def test_writes_and_file_access_are_refused(db: Path, query: str) -> None:
    before = file_digest(db)
    with pytest.raises(DataError):
        sources.read(SourceRequest(_url(db), query=query))
    assert file_digest(db) == before
    assert not Path("/tmp/alphaforge-leak.csv").exists()


def test_the_connection_itself_is_read_only(db: Path) -> None:
    con = duckdb_source._connect(SourceRequest(_url(db)))
    try:
        for statement in ("DROP TABLE prices", "CREATE TABLE x (a INT)",
                          "COPY prices TO '/tmp/alphaforge-leak.csv'",
                          "SELECT * FROM read_csv('/etc/hostname')",
                          "SET enable_external_access = true"):
            with pytest.raises(duckdb.Error):
                con.execute(statement)
    finally:
        con.close()


def test_not_a_duckdb_file(tmp_path: Path) -> None:
    fake = tmp_path / "fake.duckdb"
    fake.write_bytes(b"not a database at all" * 100)
    with pytest.raises(DataError, match="cannot open fake.duckdb as a DuckDB database"):
        sources.read(SourceRequest(_url(fake), table="prices"))
    with pytest.raises(DataError, match="no such DuckDB file"):
        sources.read(SourceRequest(_url(tmp_path / "absent.duckdb"), table="prices"))
