"""PostgreSQL connector: ``postgresql://user@host:port/database`` (psycopg 3).

Every statement runs in a read-only transaction (``default_transaction_read_only`` for the
session, ``BEGIN READ ONLY`` and ``SET TRANSACTION READ ONLY``) over the extended query
protocol, which carries exactly one statement. The password comes from, in order: the request
(a prompt or the app's field), the URL (accepted but never stored or shown), the OS keyring,
then libpq's own ``PGPASSWORD`` / ``~/.pgpass``. When the server asks for one that none of
them gave, :class:`~engine.data.sources.base.PasswordRequired` is raised so the caller can ask.
"""

from __future__ import annotations

from contextlib import closing
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from engine.data.io import RawTable
from engine.data.sources import credentials
from engine.data.sources.base import (
    SQL_FIELDS,
    Connector,
    PasswordRequired,
    SourceField,
    SourceRequest,
    fail,
    rows_to_table,
    scrub,
)
from engine.data.sources.sql import build_statement

DIALECT = "postgres"
_AUTH_HINTS = ("password authentication failed", "no password supplied",
               "password is required", "authentication failed")


def _module(request: SourceRequest) -> Any:
    try:
        import psycopg
    except ImportError:
        raise fail(request, "the 'psycopg' package is not installed "
                            "(pip install 'psycopg[binary]')") from None
    return psycopg


def _split(request: SourceRequest) -> tuple[str, str | None]:
    """(URL without the password, the URL's password if it had one)."""
    parts = urlsplit(request.url.strip())
    netloc, password = parts.netloc, None
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user, _, secret = userinfo.partition(":")
        password = unquote(secret) or None
        netloc = f"{user}@{host}" if user else host
    if parts.scheme.lower() == "postgres":
        parts = parts._replace(scheme="postgresql")
    return urlunsplit(parts._replace(netloc=netloc)), password


def keyring_key(request: SourceRequest) -> str:
    """The connection as the keyring knows it: no password, no options."""
    url, _ = _split(request)
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def _connect(request: SourceRequest) -> Any:
    psycopg = _module(request)
    url, url_password = _split(request)
    password = request.password or url_password or credentials.lookup(keyring_key(request))
    kwargs: dict[str, Any] = {
        "connect_timeout": max(1, int(request.timeout)),
        "options": "-c default_transaction_read_only=on",
        "application_name": "alphaforge-import",
    }
    if password:
        kwargs["password"] = password
    try:
        con = psycopg.connect(url, autocommit=False, **kwargs)
    except psycopg.Error as exc:
        text = " ".join(str(exc).split())
        if any(h in text.lower() for h in _AUTH_HINTS):
            what = "was refused" if password else "is required"
            raise PasswordRequired(scrub(f"{keyring_key(request)}: the password {what} "
                                         f"({text})", request), keyring_key(request)) from None
        raise fail(request, f"cannot connect: {text}") from None
    con.read_only = True
    return con


def _catalogue(con: Any) -> list[str]:
    with con.cursor() as cur:
        cur.execute("SET TRANSACTION READ ONLY")
        cur.execute("SELECT table_schema, table_name FROM information_schema.tables "
                    "WHERE table_schema NOT IN ('pg_catalog', 'information_schema') "
                    "ORDER BY table_schema, table_name")
        rows = cur.fetchall()
    return [name if schema == "public" else f"{schema}.{name}" for schema, name in rows]


def tables(request: SourceRequest) -> list[str]:
    psycopg = _module(request)
    with closing(_connect(request)) as con:
        try:
            return _catalogue(con)
        except psycopg.Error as exc:
            raise fail(request, f"cannot list tables: {' '.join(str(exc).split())}") from None
        finally:
            con.rollback()


def read(request: SourceRequest, limit: int | None = None) -> RawTable:
    psycopg = _module(request)
    with closing(_connect(request)) as con:
        try:
            statement = build_statement(request, DIALECT, _catalogue(con), limit)
            # binary=True forces the extended protocol: one statement, parameters bound.
            with con.cursor(binary=True) as cur:
                cur.execute(statement.text, statement.params or None)
                names = [d.name for d in cur.description or ()]
                rows = cur.fetchall()
        except psycopg.Error as exc:
            raise fail(request, f"the query failed: {' '.join(str(exc).split())}") from None
        finally:
            con.rollback()
    return rows_to_table(rows, names, request.label())


def probe(request: SourceRequest) -> str:
    psycopg = _module(request)
    with closing(_connect(request)) as con:
        try:
            found = _catalogue(con)
            version = con.info.server_version
        except psycopg.Error as exc:
            raise fail(request, f"connected, but cannot list tables: {exc}") from None
        finally:
            con.rollback()
    major, minor = divmod(int(version), 10000)
    return (f"connected to PostgreSQL {major}.{minor} at {keyring_key(request)}: "
            f"{len(found)} table(s)/view(s)" + (f": {', '.join(found[:10])}" if found else ""))


CONNECTOR = Connector(
    name="postgresql", schemes=("postgresql", "postgres"), title="PostgreSQL server",
    example="postgresql://user@127.0.0.1:5432/market", read=read, tables=tables, probe=probe,
    fields=(SourceField("secret", "password", "sources.password", "sources.password_help"),
            *SQL_FIELDS),
    keyring_key=keyring_key,
)
