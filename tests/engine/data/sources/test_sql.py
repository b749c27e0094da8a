"""The SQL gate: one read-only SELECT passes; every other statement, a second statement,
write clauses and side-effect functions are refused with a message that says why."""

from __future__ import annotations

import pytest

from engine.data.sources.base import SourceRequest
from engine.data.sources.sql import build_statement, check_select, quote_identifier
from engine.errors import DataError

ALLOWED = [
    "SELECT * FROM prices",
    "select date, ticker, close from prices where close > 10 order by date;",
    "WITH x AS (SELECT * FROM prices) SELECT * FROM x",
    "SELECT * FROM prices UNION ALL SELECT * FROM prices",
    "SELECT * FROM prices WHERE ticker = 'x''; DROP TABLE prices; --'",  # a string literal
    "SELECT * FROM prices -- ; DROP TABLE prices",
    "SELECT 1 /* ; DROP TABLE prices */",
]

REFUSED = [
    ("SELECT 1; DROP TABLE prices", "2 statements"),
    ("SELECT * FROM prices; SELECT 1", "2 statements"),
    ("DROP TABLE prices", "only SELECT"),
    ("DELETE FROM prices", "only SELECT"),
    ("INSERT INTO prices VALUES (1)", "only SELECT"),
    ("UPDATE prices SET close = 0", "only SELECT"),
    ("CREATE TABLE x AS SELECT * FROM prices", "only SELECT"),
    ("ALTER TABLE prices ADD COLUMN x int", "only SELECT"),
    ("PRAGMA writable_schema = 1", "only SELECT"),
    ("VACUUM", "only SELECT"),
    ("SET search_path = evil", "only SELECT"),
    ("COPY prices TO '/tmp/x.csv'", "only SELECT"),
    ("EXPLAIN ANALYZE DELETE FROM prices", "only SELECT"),
    ("WITH x AS (DELETE FROM prices RETURNING *) SELECT * FROM x", "DELETE"),
    ("SELECT * INTO copy_of_prices FROM prices", "INTO"),
    ("SELECT * FROM prices FOR UPDATE", "FOR UPDATE"),
    ("SELECT load_extension('/tmp/evil.so')", "load_extension"),
    ("SELECT pg_read_file('/etc/passwd')", "pg_read_file"),
    ("SELECT * FROM read_csv('/etc/passwd')", "read_csv"),
    ("SELECT set_config('default_transaction_read_only', 'off', false)", "set_config"),
    ("", "empty"),
    ("SELEC * FROM prices", "cannot parse"),
]


@pytest.mark.parametrize("query", ALLOWED)
@pytest.mark.parametrize("dialect", ["sqlite", "duckdb", "postgres"])
def test_single_selects_pass(query: str, dialect: str) -> None:
    assert check_select(query, dialect) == query.strip().rstrip(";")


@pytest.mark.parametrize(("query", "why"), REFUSED)
@pytest.mark.parametrize("dialect", ["sqlite", "duckdb", "postgres"])
def test_everything_else_is_refused(query: str, why: str, dialect: str) -> None:
    with pytest.raises(DataError, match=why):
        check_select(query, dialect)


def test_attach_is_refused() -> None:
    for dialect in ("sqlite", "duckdb"):
        with pytest.raises(DataError, match="only SELECT"):
            check_select("ATTACH '/tmp/other.db' AS other", dialect)


def test_identifiers_are_quoted_and_tables_come_from_the_catalogue() -> None:
    assert quote_identifier('pri"ces') == '"pri""ces"'
    request = SourceRequest("sqlite:///x.db", table="PRICES")
    statement = build_statement(request, "sqlite", ["prices", "other"], limit=5)
    assert statement.text == 'SELECT * FROM (SELECT * FROM "prices"\n) AS alphaforge_query LIMIT 5'
    for evil in ("prices; DROP TABLE prices", 'prices" ; DROP TABLE "prices', "prices --"):
        with pytest.raises(DataError, match="no table or view named"):
            build_statement(SourceRequest("sqlite:///x.db", table=evil), "sqlite", ["prices"],
                            None)


def test_parameters_are_bound_not_formatted() -> None:
    request = SourceRequest("sqlite:///x.db", query="SELECT * FROM prices WHERE ticker = ?",
                            params=("T01' OR '1'='1",))
    statement = build_statement(request, "sqlite", ["prices"], None)
    assert "T01" not in statement.text
    assert statement.params == ("T01' OR '1'='1",)


def test_table_or_query_exactly_one() -> None:
    both = SourceRequest("sqlite:///x.db", table="prices", query="SELECT 1")
    with pytest.raises(DataError, match="either a table or a SELECT query, not both"):
        build_statement(both, "sqlite", ["prices"], None)
    with pytest.raises(DataError, match=r"name a table \(available: a, b\)"):
        build_statement(SourceRequest("sqlite:///x.db"), "sqlite", ["a", "b"], None)
    only = build_statement(SourceRequest("sqlite:///x.db"), "sqlite", ["prices"], None)
    assert '"prices"' in only.text
