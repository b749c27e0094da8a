"""SQLite file connector: ``sqlite:///absolute/path.db`` or ``sqlite:relative/path.db``.

The file is opened read-only (``mode=ro`` URI) with ``query_only`` on and an authorizer that
lets a statement read and call functions, nothing else: even a query that got past the SQL
check cannot write, attach another file or load an extension.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any
from urllib.parse import quote

from engine.data.io import RawTable
from engine.data.sources.base import (
    SQL_FIELDS,
    Connector,
    SourceRequest,
    fail,
    local_path,
    rows_to_table,
)
from engine.data.sources.sql import FORBIDDEN_FUNCTIONS, build_statement

DIALECT = "sqlite"
_ALLOWED = {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION,
            getattr(sqlite3, "SQLITE_RECURSIVE", 33)}


def _authorize(action: int, arg1: Any, arg2: Any, _db: Any, _trigger: Any) -> int:
    if action not in _ALLOWED:
        return sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_FUNCTION and str(arg2 or arg1 or "").lower() in \
            FORBIDDEN_FUNCTIONS:
        return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK


def _path(request: SourceRequest) -> Path:
    path = local_path(request.url)
    if not path.is_file():
        raise fail(request, f"no such SQLite file: {path}")
    with open(path, "rb") as fh:
        if fh.read(16) != b"SQLite format 3\x00":
            raise fail(request, f"{path.name} is not an SQLite database file")
    return path


def _connect(request: SourceRequest) -> sqlite3.Connection:
    path = _path(request)
    uri = f"file:{quote(str(path.resolve()))}?mode=ro"
    try:
        con = sqlite3.connect(uri, uri=True, timeout=request.timeout)
        con.execute("PRAGMA query_only = ON")
    except sqlite3.Error as exc:
        raise fail(request, f"cannot open the database: {exc}") from None
    con.set_authorizer(_authorize)
    return con


def _catalogue(con: sqlite3.Connection) -> list[str]:
    rows = con.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view') "
                       "AND name NOT LIKE 'sqlite_%' ORDER BY name").fetchall()
    return [str(r[0]) for r in rows]


def tables(request: SourceRequest) -> list[str]:
    with closing(_connect(request)) as con:
        try:
            return _catalogue(con)
        except sqlite3.Error as exc:
            raise fail(request, f"cannot list tables: {exc}") from None


def read(request: SourceRequest, limit: int | None = None) -> RawTable:
    with closing(_connect(request)) as con:
        try:
            statement = build_statement(request, DIALECT, _catalogue(con), limit)
            cursor = con.execute(statement.text, statement.params)
            names = [d[0] for d in cursor.description]
            rows = cursor.fetchall()
        except sqlite3.Error as exc:
            raise fail(request, f"the query failed: {exc}") from None
    return rows_to_table(rows, names, request.label())


def probe(request: SourceRequest) -> str:
    found = tables(request)
    return (f"connected to {_path(request).name}: {len(found)} table(s)/view(s)"
            + (f": {', '.join(found[:10])}" if found else ""))


CONNECTOR = Connector(
    name="sqlite", schemes=("sqlite",), title="SQLite file", example="sqlite:///path/to/prices.db",
    read=read, tables=tables, probe=probe, fields=SQL_FIELDS,
)
