"""PostgreSQL connector against a real server started by the tests (see conftest.py):
same dataset hash as the CSV import, read-only transactions, passwords never stored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.cli import main
from engine.data import sources
from engine.data.sources import SourceRequest, credentials
from engine.data.sources import postgresql as pg_source
from engine.errors import DataError
from engine.store.project import Project
from tests.conftest import tree_digest
from tests.engine.data.sources.conftest import PgServer, Reference

psycopg = pytest.importorskip("psycopg")


@pytest.fixture(autouse=True)
def _no_ambient_password(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    """No PGPASSWORD, no ~/.pgpass, and a keyring that lives in this dict."""
    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "no-pgpass"))
    ring: dict[str, str] = {}
    monkeypatch.setattr(credentials, "lookup", ring.get)
    monkeypatch.setattr(credentials, "store",
                        lambda key, pw: ring.__setitem__(key, pw) is None)
    return ring


def _count(server: PgServer, table: str = "prices") -> int:
    with server.admin() as con:
        return int(con.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def test_table_query_and_schema_give_the_csv_hash(pg_market: PgServer, reference: Reference,
                                                  tmp_path: Path) -> None:
    project = Project.create(tmp_path / "p")
    pw = pg_market.password
    for i, request in enumerate([
        SourceRequest(pg_market.url(), table="prices", password=pw),
        SourceRequest(pg_market.url(), table="research.daily", password=pw),
        SourceRequest(pg_market.url(), query="SELECT * FROM prices WHERE ticker LIKE %s "
                                             "ORDER BY close", params=("T%",), password=pw),
        SourceRequest(pg_market.url(), query="SELECT * FROM prices WHERE ticker LIKE 'T%'",
                      password=pw),
    ]):
        meta = project.save_dataset(f"d{i}", sources.load(request))
        assert meta.content_hash == reference.content_hash, request
        assert pw not in json.dumps(meta.to_dict())


def test_numeric_columns_become_the_nearest_double(pg_market: PgServer) -> None:
    dataset = sources.load(SourceRequest(pg_market.url(), table="decimals",
                                         password=pg_market.password))
    with pg_market.admin() as con:
        text = [r[0] for r in con.execute("SELECT close::text FROM decimals ORDER BY date, ticker")]
    assert dataset.frame.get_column("close").to_list() == [float(t) for t in text]


def test_tables_and_probe(pg_market: PgServer) -> None:
    request = SourceRequest(pg_market.url(), password=pg_market.password)
    assert sources.tables(request) == ["decimals", "prices", "research.daily"]
    assert sources.probe(request).startswith("connected to PostgreSQL ")


def test_password_flow_prompt_then_keyring(pg_market: PgServer,
                                           _no_ambient_password: dict[str, str]) -> None:
    request = SourceRequest(pg_market.url(), table="prices")
    with pytest.raises(DataError, match="password is required") as info:
        sources.read(request)
    assert pg_market.password not in str(info.value)
    asked: list[str] = []

    def ask(prompt: str) -> str:
        asked.append(prompt)
        return pg_market.password

    assert sources.read(request, ask_password=ask).frame.height == reference_rows(pg_market)
    assert asked == [f"Password for {pg_source.keyring_key(request)}: "]
    assert _no_ambient_password == {pg_source.keyring_key(request): pg_market.password}
    # Next time the keyring answers: no prompt.
    assert sources.read(request, ask_password=lambda _: pytest.fail("asked again")).frame.height


def reference_rows(server: PgServer) -> int:
    return _count(server)


def test_wrong_password_is_refused_without_echo(pg_market: PgServer) -> None:
    with pytest.raises(DataError, match="password was refused") as info:
        sources.read(SourceRequest(pg_market.url(), table="prices", password="wrong-guess"))
    assert "wrong-guess" not in str(info.value)


def test_password_in_the_url_is_used_but_never_shown(pg_market: PgServer, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    url = pg_market.url(with_password=True)
    code = main(["import", "--from", url, "--table", "prices", "--name", "pg",
                 "--project", str(tmp_path / "p"), "--json"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert pg_market.password not in out
    for path in (tmp_path / "p").rglob("*"):
        if path.is_file():
            assert pg_market.password.encode() not in path.read_bytes(), path
    meta = Project.open(tmp_path / "p").dataset_meta("pg")
    assert meta.source == f"{pg_market.url()} (table prices)"


@pytest.mark.parametrize("query", [
    "DROP TABLE prices",
    "SELECT 1; DROP TABLE prices",
    "DELETE FROM prices",
    "WITH x AS (DELETE FROM prices RETURNING *) SELECT * FROM x",
    "SELECT * INTO stolen FROM prices",
    "SELECT * FROM prices FOR UPDATE",
    "SELECT set_config('default_transaction_read_only', 'off', false)",
    "COPY prices TO '/tmp/alphaforge-leak.csv'",
    "SELECT * FROM prices WHERE ticker = 'x'; COMMIT; DROP TABLE prices; --",
])
def test_writes_are_refused_and_nothing_changes(pg_market: PgServer, tmp_path: Path,
                                                query: str) -> None:
    project = Project.create(tmp_path / "p")
    snapshot = tree_digest(project.root)
    rows = _count(pg_market)
    with pytest.raises(DataError):
        sources.load(SourceRequest(pg_market.url(), query=query, password=pg_market.password))
    assert _count(pg_market) == rows
    assert tree_digest(project.root) == snapshot


def test_the_connection_itself_is_read_only(pg_market: PgServer) -> None:
    """Even a statement that bypassed the SQL check runs in a read-only transaction, over the
    extended protocol (one statement)."""
    con = pg_source._connect(SourceRequest(pg_market.url(), password=pg_market.password))
    try:
        for statement in ("DROP TABLE prices", "CREATE TABLE x (a int)",
                          "DELETE FROM prices", "SELECT nextval('no_such_seq')"):
            with pytest.raises(psycopg.Error), con.cursor(binary=True) as cur:
                cur.execute(statement)
            con.rollback()
        with pytest.raises(psycopg.Error), con.cursor(binary=True) as cur:
            cur.execute("SELECT 1; DROP TABLE prices")
        con.rollback()
    finally:
        con.close()
    assert _count(pg_market) > 0


def test_unreachable_server_and_unknown_database(pg_market: PgServer) -> None:
    with pytest.raises(DataError, match="cannot connect"):
        sources.read(SourceRequest(f"postgresql://{pg_market.user}@127.0.0.1:1/x",
                                   table="prices", password="x", timeout=3))
    with pytest.raises(DataError, match="no_such_db"):
        sources.read(SourceRequest(
            f"postgresql://{pg_market.user}@127.0.0.1:{pg_market.port}/no_such_db",
            table="prices", password=pg_market.password))
