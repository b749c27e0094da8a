"""What every connector shares: the request, the connector record, URL helpers, redaction.

A connector reads *raw* rows (a :class:`~engine.data.io.RawTable` with a ``_row`` column and a
source label) and nothing else: turning them into the canonical table is ``validate.check``'s
job, exactly as for files, so a database or a service yields the same dataset (and the same
content hash) as the CSV export of the same data.

Secrets (database passwords, HTTP tokens) travel in :class:`SourceRequest` fields that are
excluded from ``repr`` and never part of :meth:`SourceRequest.label`, which is what ends up in
``meta.json``, run records and messages.
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

import polars as pl

from engine.data.io import ROW, RawTable
from engine.errors import DataError

#: query-string keys whose values are masked in labels and messages
SECRET_KEYS = ("password", "passwd", "pwd", "token", "access_token", "api_key", "apikey", "key",
               "secret", "auth", "signature", "sig")
PREVIEW_ROWS = 50


@dataclass(frozen=True)
class SourceRequest:
    """What to read, from where, and how.

    url:    ``sqlite:///path.db``, ``duckdb:///path.duckdb``, ``postgresql://user@host:port/db``,
            ``http(s)://...`` or ``qlib:///path/to/dir?universe=csi300``.
    table / query: for SQL sources, exactly one of them (``query`` must be a single SELECT).
    params: values bound to the query's placeholders (``?`` for SQLite/DuckDB, ``%s`` for
            PostgreSQL); never formatted into the text.
    password / token: secrets; never in ``repr`` (which also redacts the URL) or :meth:`label`.
    headers: extra HTTP headers (their values are never shown either).
    timeout: seconds per HTTP attempt / database connect; max_bytes: HTTP response cap;
    retries: extra HTTP attempts after a connection error, a timeout or a 429/5xx answer.
    """

    url: str
    table: str | None = None
    query: str | None = None
    params: tuple[Any, ...] = ()
    password: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    timeout: float = 30.0
    max_bytes: int = 1 << 30
    retries: int = 2

    def __repr__(self) -> str:  # the URL may carry a password: show it redacted
        return (f"SourceRequest(url={redact_url(self.url)!r}, table={self.table!r}, "
                f"query={self.query!r}, params={self.params!r}, timeout={self.timeout!r}, "
                f"max_bytes={self.max_bytes!r}, retries={self.retries!r})")

    @property
    def scheme(self) -> str:
        return scheme_of(self.url)

    def label(self) -> str:
        """The source as stored and shown: the URL without credentials, plus the table or a
        shortened query."""
        text = redact_url(self.url)
        if self.table:
            text += f" (table {self.table})"
        elif self.query:
            q = " ".join(self.query.split())
            text += f" (query {q[:80]}{'...' if len(q) > 80 else ''})"
        return text

    def secrets(self) -> tuple[str, ...]:
        """Every secret value this request carries (to scrub them from error messages)."""
        parts = urlsplit(self.url)
        found = [self.password, self.token, unquote(parts.password or ""),
                 *self.headers.values()]
        found += [v for k, v in parse_qsl(parts.query) if k.lower() in SECRET_KEYS]
        return tuple(s for s in found if s and len(s) >= 3)


#: What a form input asks for: a secret (password field), a number, a table or a SELECT (SQL
#: sources: a table from the list found by "test connection", or a typed query), or one of the
#: names "test connection" found (a Qlib universe; may stay empty).
FieldKind = Literal["secret", "number", "table_or_query", "table_choice"]


@dataclass(frozen=True)
class SourceField:
    """One input a connector's form needs, declared by the connector; the app draws the form
    from these declarations (so a connector that needs a new input edits no UI code).

    ``target``: the :class:`SourceRequest` field it fills (``table_or_query`` fills ``table``
    or ``query``). ``label_key`` / ``help_key``: catalogue keys (a plug-in without catalogue
    entries may give ``label`` instead). Numbers: ``default`` within ``low``..``high``,
    shown in units of ``scale`` (the size limit in MiB fills ``max_bytes``).
    """

    kind: FieldKind
    target: str
    label_key: str = ""
    help_key: str = ""
    label: str = ""
    default: float = 0
    low: float = 0
    high: float = 0
    scale: int = 1


@dataclass(frozen=True)
class Connector:
    """One registry entry (see ``engine.data.sources.CONNECTORS``).

    read(request, limit):  rows as a RawTable; ``limit`` = at most that many rows (preview).
    tables(request):       tables/views a user may pick (empty for non-SQL sources).
    probe(request):        connect and describe what is there, for the test-connection button.
    fields:                the form's inputs beyond the URL, in order.
    keyring_key(request):  the name a password is kept under in the OS keyring, for a
                           connector that may remember one (None: never offered).
    """

    name: str
    schemes: tuple[str, ...]
    title: str
    example: str
    read: Callable[[SourceRequest, int | None], RawTable]
    tables: Callable[[SourceRequest], list[str]]
    probe: Callable[[SourceRequest], str]
    fields: tuple[SourceField, ...] = ()
    keyring_key: Callable[[SourceRequest], str] | None = None

    @property
    def label_key(self) -> str:
        return f"sources.connector_{self.name}"

    @property
    def label(self) -> str:
        return self.title


#: The inputs every SQL connector shares: a table (listed once connected) or a SELECT.
SQL_FIELDS: tuple[SourceField, ...] = (
    SourceField("table_or_query", "table", "sources.table", "sources.table_help"),
)


def scheme_of(url: str) -> str:
    match = re.match(r"^([A-Za-z][A-Za-z0-9+.\-]*):", url.strip())
    return match.group(1).lower() if match else ""


def redact_url(url: str) -> str:
    """The URL with any password removed and secret-looking query values masked; a URL without
    secrets comes back as it was (``sqlite:///abs/path.db`` keeps its three slashes)."""
    text = url.strip()
    try:
        parts = urlsplit(text)
    except ValueError:
        return "(unparseable URL)"
    head, sep, tail = text.partition("?")
    if "@" in parts.netloc:
        userinfo, host = parts.netloc.rsplit("@", 1)
        user = userinfo.split(":", 1)[0]
        head = head.replace(parts.netloc, f"{user}@{host}" if user else host, 1)
    if sep:
        query, hash_, fragment = tail.partition("#")
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(k.lower() in SECRET_KEYS for k, _ in pairs):
            query = urlencode([(k, "***" if k.lower() in SECRET_KEYS else v) for k, v in pairs],
                              safe="*,/:")
        tail = query + hash_ + fragment
    return head + sep + tail


def scrub(message: str, request: SourceRequest) -> str:
    """``message`` with every secret of ``request`` (and the raw URL) replaced."""
    text = message.replace(request.url, redact_url(request.url)) if request.url else message
    for secret in request.secrets():
        text = text.replace(secret, "***")
    return text


def fail(request: SourceRequest, message: str) -> DataError:
    """A DataError that names the source (credentials removed)."""
    return DataError(scrub(f"{redact_url(request.url)}: {message}", request))


def local_path(url: str) -> Path:
    """The file path of ``scheme:///abs/path`` (or ``scheme:relative/path``), percent-decoded.

    ``sqlite:///C:/data/x.db`` gives ``C:/data/x.db`` on Windows-style paths.
    """
    rest = url.strip().split(":", 1)[1]
    rest = rest.split("?", 1)[0].split("#", 1)[0]
    if rest.startswith("//"):
        rest = rest[2:]
        if rest.startswith("localhost/"):
            rest = rest[len("localhost"):]
    path = unquote(rest)
    if re.match(r"^/[A-Za-z]:[/\\]", path):
        path = path[1:]
    if not path:
        raise DataError(f"{url}: no file path in the URL (use e.g. sqlite:///path/to/file.db)")
    return Path(path).expanduser()


def query_options(url: str) -> dict[str, str]:
    """The ``?key=value`` options of a URL (last value wins)."""
    return dict(parse_qsl(urlsplit(url.strip()).query, keep_blank_values=True))


def _column(values: list[Any], name: str) -> pl.Series:
    """One result column as a Series; mixed or odd value types become text so that the
    validator reports bad values with their row instead of the driver failing."""
    kinds = {type(v) for v in values if v is not None}
    if kinds and kinds <= {int}:
        return pl.Series(name, values, dtype=pl.Int64, strict=False)
    if kinds and kinds <= {int, float, decimal.Decimal} and not kinds <= {int}:
        return pl.Series(name, [None if v is None else float(v) for v in values],
                         dtype=pl.Float64)
    if kinds and kinds <= {bool}:
        return pl.Series(name, values, dtype=pl.Boolean)
    if kinds and kinds <= {dt.date}:
        return pl.Series(name, values, dtype=pl.Date)
    if kinds and kinds <= {dt.datetime}:
        return pl.Series(name, values)
    if not kinds:
        return pl.Series(name, values, dtype=pl.Utf8)
    return pl.Series(name, [None if v is None else _text(v) for v in values], dtype=pl.Utf8)


def _text(value: Any) -> str:
    if isinstance(value, float):
        return repr(value)  # shortest text that reads back as the same double
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", errors="replace")
    return str(value)


def rows_to_table(rows: Sequence[Sequence[Any]], names: Sequence[str], source: str) -> RawTable:
    """Driver rows (tuples) -> RawTable with ``_row`` = 1-based result row."""
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
    frame = pl.DataFrame([_column(list(col), str(n)) for col, n in zip(columns, names,
                                                                        strict=True)])
    return with_rows(frame, source)


def with_rows(frame: pl.DataFrame, source: str) -> RawTable:
    """Add the ``_row`` column (1-based) every message points at; refuse empty results."""
    if ROW in frame.columns:
        raise DataError(f"{source}: the column name '{ROW}' is reserved; rename the column")
    if frame.height == 0:
        raise DataError(f"{source}: the result has no rows")
    frame = frame.with_columns(pl.int_range(1, frame.height + 1).cast(pl.Utf8).alias(ROW))
    return RawTable(frame=frame, source=source)


def decimals_to_float(frame: pl.DataFrame) -> pl.DataFrame:
    """Exact-decimal columns become Float64 through their text, which rounds correctly (the
    same double a CSV export of the value parses to)."""
    exprs = [pl.col(c).cast(pl.Utf8).cast(pl.Float64) for c, t in frame.schema.items()
             if isinstance(t, pl.Decimal)]
    return frame.with_columns(exprs) if exprs else frame


class PasswordRequired(DataError):
    """The server wants a password that was not given (or was wrong).

    ``key`` is the connection without its password, under which a password is looked up in
    and stored to the OS keyring; callers that can ask the user (CLI prompt, app field) catch
    this, ask, and retry with ``SourceRequest.password`` set.
    """

    def __init__(self, message: str, key: str) -> None:
        super().__init__(message)
        self.key = key
