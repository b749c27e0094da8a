"""Read-only SQL: the one place that decides which statement text reaches a database.

A user names a table (checked against the database's own catalogue and quoted as an
identifier) or writes one ``SELECT`` (parsed with sqlglot; anything else is refused: a second
statement, INSERT/UPDATE/DELETE/MERGE, DDL, COPY, ATTACH, PRAGMA, SET, ``SELECT ... INTO``,
``FOR UPDATE``, and functions with side effects). Values are never formatted into the text:
they are bound as parameters. This is the first of several locks; each connector also opens
its database read-only (SQLite ``mode=ro`` + an authorizer, DuckDB ``read_only`` without file
access, PostgreSQL read-only transactions), so a query that slipped past the parser still
cannot change anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel, ParseError

from engine.data.sources.base import SourceRequest, fail
from engine.errors import DataError

#: node types that write, change the schema, the session or the file system
_FORBIDDEN = tuple(getattr(exp, name) for name in (
    "Insert", "Update", "Delete", "Merge", "Create", "Drop", "Alter", "AlterTable", "Command",
    "Copy", "Pragma", "Set", "Transaction", "Commit", "Rollback", "Attach", "Detach",
    "TruncateTable", "LoadData", "Use", "Grant", "Revoke", "Into", "Lock", "Refresh", "Cache",
    "Uncache", "Analyze", "Describe", "Install",
) if hasattr(exp, name))

#: functions that act on the server or the file system even inside a SELECT
FORBIDDEN_FUNCTIONS = frozenset({
    "load_extension", "readfile", "writefile", "edit", "fts3_tokenizer",  # sqlite
    "pg_read_file", "pg_read_binary_file", "pg_ls_dir", "pg_stat_file", "lo_import",
    "lo_export", "lo_unlink", "lo_create", "lo_put", "lo_from_bytea", "pg_terminate_backend",
    "pg_cancel_backend", "pg_reload_conf", "pg_rotate_logfile", "set_config", "nextval",
    "setval", "pg_advisory_lock", "pg_advisory_xact_lock", "pg_sleep", "pg_sleep_for",
    "pg_sleep_until", "dblink", "dblink_exec", "pg_switch_wal", "pg_create_restore_point",
    "query_to_xml", "copy",
    "read_csv", "read_csv_auto", "read_parquet", "read_json", "read_json_auto", "read_text",
    "read_blob", "glob", "parquet_scan", "install", "load", "http_get",  # duckdb
})


@dataclass(frozen=True)
class Statement:
    """SQL text to run and the values bound to it."""

    text: str
    params: tuple[object, ...] = ()


def _function_name(node: exp.Expression) -> str:
    if isinstance(node, exp.Anonymous):
        return str(node.name).lower()
    if isinstance(node, exp.Func):
        return node.sql_name().lower()
    return ""


def check_select(query: str, dialect: str) -> str:
    """Return the query (without a trailing ';') if it is a single read-only SELECT, else raise
    DataError saying what was refused."""
    text = query.strip()
    while text.endswith(";"):
        text = text[:-1].rstrip()
    if not text:
        raise DataError("the query is empty; write one SELECT statement")
    try:
        trees = [t for t in sqlglot.parse(text, read=dialect, error_level=ErrorLevel.RAISE)
                 if t is not None]
    except (ParseError, sqlglot.errors.TokenError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(f"cannot parse the query as {dialect} SQL: {first}") from None
    if len(trees) != 1:
        raise DataError(f"the query holds {len(trees)} statements; only one SELECT is allowed")
    tree = trees[0]
    if not isinstance(tree, exp.Query) or isinstance(tree, _FORBIDDEN):
        kind = tree.key.upper() if hasattr(tree, "key") else type(tree).__name__
        raise DataError(f"only SELECT statements are allowed (the query is a {kind} "
                        "statement); the source is opened read-only")
    for node in tree.walk():
        if isinstance(node, _FORBIDDEN):
            raise DataError(f"the query contains a {node.key.upper()} clause; only plain "
                            "SELECT statements are allowed")
        if isinstance(node, exp.Select) and (node.args.get("into") or node.args.get("locks")):
            what = "SELECT ... INTO" if node.args.get("into") else "FOR UPDATE/SHARE"
            raise DataError(f"the query uses {what}; only plain SELECT statements are allowed")
        name = _function_name(node)
        if name in FORBIDDEN_FUNCTIONS:
            raise DataError(f"the query calls {name}(), which is not allowed in an import "
                            "query")
    return text


def quote_identifier(name: str) -> str:
    """Standard SQL identifier quoting ("a""b"), valid in SQLite, DuckDB and PostgreSQL."""
    return '"' + name.replace('"', '""') + '"'


def resolve_table(request: SourceRequest, available: Sequence[str]) -> str:
    """The catalogue name the user meant (exact, else a unique case-insensitive match)."""
    wanted = (request.table or "").strip()
    if wanted in available:
        return wanted
    folded = [t for t in available if t.lower() == wanted.lower()]
    if len(folded) == 1:
        return folded[0]
    shown = ", ".join(available[:20]) or "(none)"
    raise fail(request, f"no table or view named '{wanted}'; available: {shown}")


def table_reference(name: str) -> str:
    """``schema.table`` or ``table`` as a quoted reference (names come from the catalogue)."""
    if "." in name:
        schema, table = name.split(".", 1)
        return f"{quote_identifier(schema)}.{quote_identifier(table)}"
    return quote_identifier(name)


def build_statement(request: SourceRequest, dialect: str, available: Sequence[str],
                    limit: int | None) -> Statement:
    """The statement for a table or a checked query, wrapped to cap rows for a preview.

    The limit is an int we produce (never user text), so it is written as a literal; the
    user's own parameters are bound.
    """
    if request.table and request.query:
        raise fail(request, "give either a table or a SELECT query, not both")
    if not request.table and not request.query:
        if len(available) != 1:
            shown = ", ".join(available[:20]) or "(none)"
            raise fail(request, f"name a table (available: {shown}) or give a SELECT query")
        request = replace(request, table=available[0])  # the only table there is
    if request.table:
        body = f"SELECT * FROM {table_reference(resolve_table(request, available))}"
        params: tuple[object, ...] = ()
    else:
        try:
            body = check_select(request.query or "", dialect)
        except DataError as exc:
            raise fail(request, str(exc)) from None
        params = tuple(request.params)
    text = f"SELECT * FROM ({body}\n) AS alphaforge_query"
    if limit is not None:
        text += f" LIMIT {int(limit)}"
    return Statement(text=text, params=params)
