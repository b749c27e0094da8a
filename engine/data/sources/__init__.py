"""Data sources beyond files: one registry, one module per connector.

Every connector turns a URL (plus a table or a SELECT for databases) into a raw table that goes
through ``validate.check`` like an uploaded file, so the same data gives the same canonical
frame and the same dataset content hash whichever way it arrives. A new connector is one module
with a ``CONNECTOR`` record and one ``CONNECTORS.register(CONNECTOR)`` line; the record declares
the inputs its form needs (:class:`~engine.data.sources.base.SourceField`), so the app's
"Connect a source" form is drawn from it.

    sqlite:///abs/path.db           duckdb:///abs/path.duckdb
    postgresql://user@host:5432/db  http(s)://host/prices.csv|.parquet|.json
    qlib:///abs/qlib_dir?universe=csi300
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace

import polars as pl

from engine.data.io import ROW, RawTable
from engine.data.sources import credentials, duckdb, http, postgresql, qlib, sqlite
from engine.data.sources.base import (
    PREVIEW_ROWS,
    Connector,
    PasswordRequired,
    SourceRequest,
    redact_url,
    scheme_of,
)
from engine.data.validate import Dataset, check
from engine.errors import DataError
from engine.registry import Registry

CONNECTORS: Registry[Connector] = Registry("data source", "source", (
    sqlite.CONNECTOR,
    duckdb.CONNECTOR,
    postgresql.CONNECTOR,
    http.CONNECTOR,
    qlib.CONNECTOR,
))

#: asks the user for a password; gets the prompt text, returns None when the user gives up
AskPassword = Callable[[str], "str | None"]


def connector_for(url: str) -> Connector:
    """The connector whose scheme the URL uses, or a DataError listing the supported ones."""
    scheme = scheme_of(url)
    for connector in CONNECTORS.entries():
        if scheme in connector.schemes:
            return connector
    examples = ", ".join(c.example for c in CONNECTORS.entries())
    shown = redact_url(url) if scheme else url.strip()[:60]
    raise DataError(f"{shown}: unsupported source '{scheme or '(no scheme)'}'; use one of: "
                    f"{examples}")


def _with_password(request: SourceRequest, ask: AskPassword | None,
                   call: Callable[[SourceRequest], object], remember: bool) -> object:
    """Run ``call``; when the server wants a password and we may ask, ask once and retry.
    A password that worked after asking is kept in the OS keyring when there is one."""
    try:
        return call(request)
    except PasswordRequired as exc:
        if ask is None:
            raise DataError(f"{exc} — give the password (the app's password field, the CLI "
                            "prompt, PGPASSWORD or ~/.pgpass)") from None
        password = ask(f"Password for {exc.key}: ")
        if not password:
            raise DataError(f"{exc.key}: no password given") from None
        result = call(replace(request, password=password))
        if remember:
            credentials.store(exc.key, password)
        return result


def read(request: SourceRequest, *, limit: int | None = None, ask_password: AskPassword | None
         = None, remember_password: bool = True) -> RawTable:
    """Raw rows from the source (``limit``: at most that many, for previews)."""
    connector = connector_for(request.url)
    result = _with_password(request, ask_password, lambda r: connector.read(r, limit),
                            remember_password)
    assert isinstance(result, RawTable)
    return result


def preview(request: SourceRequest, *, rows: int = PREVIEW_ROWS,
            ask_password: AskPassword | None = None) -> pl.DataFrame:
    """The first rows as the source gives them (before validation), for the column mapper."""
    return read(request, limit=rows, ask_password=ask_password).frame.drop(ROW)


def tables(request: SourceRequest, *, ask_password: AskPassword | None = None) -> list[str]:
    """Tables and views (databases) or universes (Qlib folders) a user may pick."""
    connector = connector_for(request.url)
    result = _with_password(request, ask_password, connector.tables, True)
    assert isinstance(result, list)
    return result


def probe(request: SourceRequest, *, ask_password: AskPassword | None = None) -> str:
    """Connect and describe what is there (the app's test-connection button)."""
    connector = connector_for(request.url)
    result = _with_password(request, ask_password, connector.probe, True)
    return str(result)


def load(request: SourceRequest, *, horizon: int = 20,
         column_map: Mapping[str, str] | None = None, adjust: bool = True,
         ask_password: AskPassword | None = None) -> Dataset:
    """Read and validate in one call (what ``alphaforge import --from URL`` does)."""
    raw = read(request, ask_password=ask_password)
    return check(raw, horizon=horizon, column_map=column_map, adjust=adjust)


def remember_password(request: SourceRequest) -> bool:
    """Keep the request's password in the OS keyring (False where there is none, or where the
    connector does not remember passwords)."""
    keyring_key = connector_for(request.url).keyring_key
    if not request.password or keyring_key is None:
        return False
    return credentials.store(keyring_key(request), request.password)


def default_name(request: SourceRequest) -> str:
    """A dataset name suggested by the source: the table, the file or folder, or the database."""
    from engine.store.project import slugify

    if request.table:
        return slugify(request.table.split(".")[-1])
    path = request.url.split("?", 1)[0].rstrip("/")
    stem = path.rsplit("/", 1)[-1] or scheme_of(request.url)
    for suffix in (".db", ".sqlite", ".sqlite3", ".duckdb", ".json", ".jsonl"):
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
    return slugify(stem)


__all__ = [
    "CONNECTORS", "Connector", "PasswordRequired", "SourceRequest", "connector_for",
    "credentials", "default_name", "load", "preview", "probe", "read", "redact_url",
    "remember_password", "tables",
]
