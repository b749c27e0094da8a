"""HTTP(S) endpoint connector: a URL (an intranet service) answering CSV, Parquet or JSON records.

The app is offline, so this is for services on the same machine or the local network; nothing
here assumes the public internet. Environment proxies are ignored (a loopback request must
never leave the machine through a proxy); redirects are followed only to http(s) URLs, and the
token header is not sent to a redirected request. Each attempt has a timeout; connection
errors, timeouts and 429/5xx answers are retried with a short back-off; the body is read in
chunks and abandoned as soon as it exceeds ``max_bytes``.

The body is parsed by the same loaders as an uploaded file (``engine.data.io``), so a CSV served
over HTTP gives exactly the dataset the same CSV file gives.
"""

from __future__ import annotations

import http.client
import json
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import polars as pl

from engine.data import io as file_io
from engine.data.io import RawTable
from engine.data.sources.base import (
    Connector,
    SourceField,
    SourceRequest,
    fail,
    redact_url,
    with_rows,
)
from engine.errors import DataError

CHUNK = 1 << 16
BACKOFF_S = 0.25
_RETRY_STATUS = {429, 500, 502, 503, 504}
_CSV_TYPES = ("text/csv", "application/csv", "text/plain", "text/tab-separated-values")
_PARQUET_TYPES = ("application/vnd.apache.parquet", "application/parquet",
                  "application/x-parquet")
_JSON_TYPES = ("application/json", "application/x-ndjson", "application/jsonl",
               "application/ndjson", "text/json")


class _SafeRedirect(urllib.request.HTTPRedirectHandler):
    """Follow redirects to http(s) only (never file:// or ftp://)."""

    max_redirections = 5

    def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any,
                         newurl: str) -> Any:
        if urlsplit(newurl).scheme.lower() not in ("http", "https"):
            raise urllib.error.HTTPError(newurl, code, "redirect to a non-HTTP URL refused",
                                         headers, fp)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _opener() -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(urllib.request.ProxyHandler({}), _SafeRedirect())


def _request(request: SourceRequest) -> urllib.request.Request:
    req = urllib.request.Request(request.url, method="GET", headers={
        "Accept": "text/csv, application/vnd.apache.parquet, application/json;q=0.9, */*;q=0.1",
        "User-Agent": "AlphaForge-import",
    })
    for name, value in request.headers.items():
        req.add_unredirected_header(name, value)
    if request.token:
        req.add_unredirected_header("Authorization", f"Bearer {request.token}")
    return req


def _read_body(response: Any, request: SourceRequest) -> bytes:
    length = response.headers.get("Content-Length")
    if length and length.isdigit() and int(length) > request.max_bytes:
        raise fail(request, f"the response is {int(length):,} bytes, more than the limit of "
                            f"{request.max_bytes:,} bytes")
    buffer = bytearray()
    while chunk := response.read(CHUNK):
        buffer += chunk
        if len(buffer) > request.max_bytes:
            raise fail(request, f"the response is larger than the limit of "
                                f"{request.max_bytes:,} bytes (stopped reading)")
    return bytes(buffer)


def fetch(request: SourceRequest) -> tuple[bytes, str]:
    """GET the URL with retries; returns (body, content type without parameters)."""
    if request.scheme not in ("http", "https"):
        raise fail(request, "not an http(s) URL")
    opener = _opener()
    attempts = max(1, request.retries + 1)
    last = ""
    for attempt in range(attempts):
        if attempt:
            time.sleep(BACKOFF_S * 2 ** (attempt - 1))
        try:
            with opener.open(_request(request), timeout=request.timeout) as response:
                body = _read_body(response, request)
                ctype = response.headers.get("Content-Type", "") or ""
                return body, ctype.split(";", 1)[0].strip().lower()
        except urllib.error.HTTPError as exc:
            if exc.code in _RETRY_STATUS:
                last = f"the server answered {exc.code} {exc.reason}"
                continue
            hint = " (check the token)" if exc.code in (401, 403) else ""
            raise fail(request, f"the server answered {exc.code} {exc.reason}{hint}") from None
        except TimeoutError:
            last = f"no answer within {request.timeout:g} s"
        except urllib.error.URLError as exc:
            reason = exc.reason
            if isinstance(reason, TimeoutError):
                last = f"no answer within {request.timeout:g} s"
            else:
                last = f"cannot connect ({reason})"
        except (OSError, http.client.HTTPException) as exc:
            last = f"the connection failed ({type(exc).__name__}: {exc})"
    tries = f" after {attempts} attempts" if attempts > 1 else ""
    raise fail(request, f"{last}{tries}")


def _kind(body: bytes, ctype: str, request: SourceRequest) -> str:
    """'csv', 'parquet' or 'json' from the content type (or the URL's suffix / magic bytes
    when the server only says octet-stream); anything else is refused."""
    path = urlsplit(request.url).path.lower()
    octet = ctype in ("application/octet-stream", "")
    if ctype in _PARQUET_TYPES or (octet and body[:4] == b"PAR1"):
        return "parquet"
    if ctype in _JSON_TYPES:
        return "json"
    if ctype in _CSV_TYPES:
        return "csv"
    if octet:
        for suffix, kind in ((".parquet", "parquet"), (".pq", "parquet"), (".json", "json"),
                             (".jsonl", "json"), (".csv", "csv"), (".csv.gz", "csv"),
                             (".tsv", "csv")):
            if path.endswith(suffix):
                return kind
    raise fail(request, f"the server answered with content type '{ctype or '(none)'}'; expected "
                        "CSV (text/csv), Parquet (application/vnd.apache.parquet) or JSON "
                        "records (application/json)")


def _parse_json(body: bytes, request: SourceRequest) -> pl.DataFrame:
    """A list of records, ``{"data": [...]}`` / ``{"records": [...]}``, or JSON lines."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise fail(request, "the JSON answer is not UTF-8 text") from None
    try:
        data: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        try:
            data = [json.loads(line) for line in text.splitlines() if line.strip()]
        except json.JSONDecodeError:
            raise fail(request, f"malformed JSON (line {exc.lineno}, column {exc.colno}: "
                                f"{exc.msg})") from None
    if isinstance(data, dict):
        for key in ("data", "records", "rows", "items", "result"):
            if isinstance(data.get(key), list):
                data = data[key]
                break
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise fail(request, "the JSON answer is not a list of records (objects with one key per "
                            "column)")
    if not data:
        raise fail(request, "the JSON answer holds no records")
    names = list(dict.fromkeys(k for record in data for k in record))
    columns = {}
    for name in names:
        values = [record.get(name) for record in data]
        kinds = {type(v) for v in values if v is not None}
        if kinds <= {int, float} and kinds != {int} and kinds:
            columns[name] = pl.Series(name, values, dtype=pl.Float64, strict=False)
        elif kinds <= {int} and kinds:
            columns[name] = pl.Series(name, values, dtype=pl.Int64)
        elif kinds <= {bool} and kinds:
            columns[name] = pl.Series(name, values, dtype=pl.Boolean)
        else:
            columns[name] = pl.Series(name, [None if v is None else
                                             (v if isinstance(v, str) else json.dumps(v))
                                             for v in values], dtype=pl.Utf8)
    return pl.DataFrame(list(columns.values()))


def _parse_file(body: bytes, suffix: str, request: SourceRequest) -> RawTable:
    """Parse with the file loaders (identical to importing the same bytes as a file)."""
    with tempfile.TemporaryDirectory(prefix="alphaforge-http-") as tmp:
        path = Path(tmp) / f"response{suffix}"
        path.write_bytes(body)
        try:
            table = file_io.read_file(path)
        except DataError as exc:
            message = str(exc).replace(path.name, "").lstrip(": ")
            raise fail(request, message) from None
    return RawTable(frame=table.frame, source=request.label())


def read(request: SourceRequest, limit: int | None = None) -> RawTable:
    body, ctype = fetch(request)
    if not body.strip():
        raise fail(request, "the response is empty")
    kind = _kind(body, ctype, request)
    if kind == "json":
        table = with_rows(_parse_json(body, request), request.label())
    else:
        path = urlsplit(request.url).path.lower()
        gz = path.endswith(".gz") or body[:2] == b"\x1f\x8b"
        suffix = ".parquet" if kind == "parquet" else (".csv.gz" if gz else ".csv")
        table = _parse_file(body, suffix, request)
    if limit is not None:
        table = RawTable(frame=table.frame.head(limit), source=table.source)
    return table


def tables(request: SourceRequest) -> list[str]:
    return []


def probe(request: SourceRequest) -> str:
    body, ctype = fetch(request)
    kind = _kind(body, ctype, request)
    return (f"{redact_url(request.url)} answered {len(body):,} bytes of "
            f"{kind.upper()} ({ctype or 'no content type'})")


CONNECTOR = Connector(
    name="http", schemes=("http", "https"), title="HTTP endpoint (CSV, Parquet or JSON)",
    example="http://127.0.0.1:8000/prices.csv", read=read, tables=tables, probe=probe,
    fields=(SourceField("secret", "token", "sources.token"),
            SourceField("number", "timeout", "sources.timeout", default=30, low=1, high=600),
            SourceField("number", "max_bytes", "sources.size_limit", default=1024, low=1,
                        high=65536, scale=1 << 20)),
)
