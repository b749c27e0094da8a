"""DuckDB file connector: ``duckdb:///absolute/path.duckdb`` or ``duckdb:relative/path.duckdb``.

The database is opened with ``read_only=True``, external access (files, network, extensions)
disabled and the configuration locked, so a query can neither write nor reach the disk.
"""

from __future__ import annotations

from contextlib import closing
from pathlib import Path
from typing import Any

import polars as pl

from engine.data.io import RawTable
from engine.data.sources.base import (
    SQL_FIELDS,
    Connector,
    SourceRequest,
    decimals_to_float,
    fail,
    local_path,
    with_rows,
)
from engine.data.sources.sql import build_statement

DIALECT = "duckdb"


def _module(request: SourceRequest) -> Any:
    try:
        import duckdb
    except ImportError:
        raise fail(request, "the 'duckdb' package is not installed (pip install duckdb)") from None
    return duckdb


def _path(request: SourceRequest) -> Path:
    path = local_path(request.url)
    if not path.is_file():
        raise fail(request, f"no such DuckDB file: {path}")
    return path


def _connect(request: SourceRequest) -> Any:
    duckdb = _module(request)
    path = _path(request)
    try:
        return duckdb.connect(str(path), read_only=True, config={
            "enable_external_access": False, "autoload_known_extensions": False,
            "autoinstall_known_extensions": False, "lock_configuration": True})
    except duckdb.Error as exc:
        raise fail(request, f"cannot open {path.name} as a DuckDB database: "
                            f"{str(exc).splitlines()[0]}") from None


def _catalogue(con: Any) -> list[str]:
    rows = con.execute("SELECT table_schema, table_name FROM information_schema.tables "
                       "WHERE table_catalog = current_database() "
                       "ORDER BY table_schema, table_name").fetchall()
    return [name if schema == "main" else f"{schema}.{name}" for schema, name in rows]


def tables(request: SourceRequest) -> list[str]:
    duckdb = _module(request)
    with closing(_connect(request)) as con:
        try:
            return _catalogue(con)
        except duckdb.Error as exc:
            raise fail(request, f"cannot list tables: {str(exc).splitlines()[0]}") from None


def read(request: SourceRequest, limit: int | None = None) -> RawTable:
    duckdb = _module(request)
    with closing(_connect(request)) as con:
        try:
            statement = build_statement(request, DIALECT, _catalogue(con), limit)
            # One statement only: the text is a single SELECT wrapped in a subquery.
            if len(con.extract_statements(statement.text)) != 1:
                raise fail(request, "only one SELECT statement is allowed")
            arrow = con.sql(statement.text, params=list(statement.params) or None
                            ).to_arrow_table()
        except duckdb.Error as exc:
            raise fail(request, f"the query failed: {str(exc).splitlines()[0]}") from None
    frame = pl.from_arrow(arrow)
    assert isinstance(frame, pl.DataFrame)
    return with_rows(decimals_to_float(frame), request.label())


def probe(request: SourceRequest) -> str:
    found = tables(request)
    return (f"connected to {_path(request).name}: {len(found)} table(s)/view(s)"
            + (f": {', '.join(found[:10])}" if found else ""))


CONNECTOR = Connector(
    name="duckdb", schemes=("duckdb",), title="DuckDB file",
    example="duckdb:///path/to/prices.duckdb", read=read, tables=tables, probe=probe,
    fields=SQL_FIELDS,
)
