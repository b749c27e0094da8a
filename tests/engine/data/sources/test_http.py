"""HTTP connector against a local ``http.server`` on 127.0.0.1 only: CSV, Parquet and JSON give
the CSV import's dataset hash; timeouts, oversized, malformed and wrong-content-type answers
fail with a clear message and leave the project unchanged."""

from __future__ import annotations

import gzip
import io
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import polars as pl
import pytest

from engine.cli import main
from engine.data import sources
from engine.data.sources import SourceRequest
from engine.errors import DataError
from engine.store.project import Project
from tests.conftest import tree_digest
from tests.engine.data.sources.conftest import Reference

TOKEN = "tok-123456"


class _Routes:
    """Response bodies by path, filled once the reference market exists."""

    bodies: dict[str, tuple[int, str, bytes]] = {}
    hits: dict[str, int] = {}


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:  # keep test output quiet
        return

    def _send(self, status: int, ctype: str, body: bytes, length: int | None = None) -> None:
        self.send_response(status)
        if ctype:
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        path = self.path.split("?", 1)[0]
        _Routes.hits[path] = _Routes.hits.get(path, 0) + 1
        if path == "/slow.csv":
            time.sleep(1.5)
            self._send(200, "text/csv", _Routes.bodies["/prices.csv"][2])
        elif path == "/stall.csv":  # headers at once, then the body never comes
            self.send_response(200)
            self.send_header("Content-Type", "text/csv")
            self.send_header("Content-Length", "100000")
            self.end_headers()
            self.wfile.write(b"date,ticker\n")
            self.wfile.flush()
            time.sleep(1.5)
        elif path == "/huge-declared.csv":
            self._send(200, "text/csv", b"date,ticker\n", length=10**12)
        elif path == "/huge-stream.csv":  # no Content-Length, more than the cap
            self.send_response(200)
            self.send_header("Content-Type", "text/csv")
            self.end_headers()
            try:
                for _ in range(64):
                    self.wfile.write(b"x" * 65536)
            except (BrokenPipeError, ConnectionResetError):
                return
        elif path == "/flaky.csv":
            if _Routes.hits[path] % 3 != 0:
                self._send(503, "text/plain", b"busy")
            else:
                self._send(200, "text/csv", _Routes.bodies["/prices.csv"][2])
        elif path == "/secure.csv":
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                self._send(401, "text/plain", b"no")
            else:
                self._send(200, "text/csv", _Routes.bodies["/prices.csv"][2])
        elif path == "/redirect-file":
            self.send_response(302)
            self.send_header("Location", "file:///etc/passwd")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif path in _Routes.bodies:
            self._send(*_Routes.bodies[path])
        else:
            self._send(404, "text/plain", b"not found")


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        return  # a client that gave up (timeout, size cap) is expected here


def _ragged(csv: bytes) -> bytes:
    lines = csv.split(b"\n")
    lines[1] += b",extra"
    return b"\n".join(lines)


@pytest.fixture(scope="module")
def server(reference: Reference) -> Iterator[str]:
    frame = reference.frame
    csv = reference.csv.read_bytes()
    buffer = io.BytesIO()
    frame.write_parquet(buffer)
    records = frame.with_columns(pl.col("date").cast(pl.Utf8)).to_dicts()
    _Routes.bodies = {
        "/prices.csv": (200, "text/csv; charset=utf-8", csv),
        "/prices.csv.gz": (200, "application/octet-stream", gzip.compress(csv)),
        "/prices.parquet": (200, "application/vnd.apache.parquet", buffer.getvalue()),
        "/download": (200, "application/octet-stream", buffer.getvalue()),
        "/prices.json": (200, "application/json", json.dumps(records).encode()),
        "/wrapped.json": (200, "application/json", json.dumps({"data": records}).encode()),
        "/prices.jsonl": (200, "application/x-ndjson",
                          "\n".join(json.dumps(r) for r in records).encode()),
        "/page.html": (200, "text/html", b"<html><body>login</body></html>"),
        "/broken.json": (200, "application/json", b'[{"date": "2020-01-01", "ticker": '),
        "/scalar.json": (200, "application/json", b'{"status": "ok"}'),
        "/broken.parquet": (200, "application/vnd.apache.parquet", b"PAR1 not really"),
        "/ragged.csv": (200, "text/csv", _ragged(csv)),
        "/empty.csv": (200, "text/csv", b""),
    }
    _Routes.hits = {}
    httpd = _QuietServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.mark.parametrize("path", ["/prices.csv", "/prices.csv.gz", "/prices.parquet",
                                  "/download", "/prices.json", "/wrapped.json", "/prices.jsonl"])
def test_formats_give_the_csv_hash(server: str, reference: Reference, tmp_path: Path,
                                   path: str) -> None:
    meta = Project.create(tmp_path / "p").save_dataset(
        "d", sources.load(SourceRequest(server + path)))
    assert meta.content_hash == reference.content_hash
    assert meta.source == server + path


def test_token_retries_and_probe(server: str) -> None:
    with pytest.raises(DataError, match="401 Unauthorized \\(check the token\\)"):
        sources.read(SourceRequest(server + "/secure.csv"))
    table = sources.read(SourceRequest(server + "/secure.csv", token=TOKEN))
    assert TOKEN not in table.source
    assert sources.read(SourceRequest(server + "/flaky.csv", retries=2)).frame.height > 0
    with pytest.raises(DataError, match="503 Service Unavailable after 2 attempts"):
        sources.read(SourceRequest(server + "/flaky.csv", retries=1))
    assert "CSV" in sources.probe(SourceRequest(server + "/prices.csv"))
    assert sources.preview(SourceRequest(server + "/prices.parquet"), rows=4).height == 4


FAILURES = [
    ("/slow.csv", {"timeout": 0.3, "retries": 1}, r"no answer within 0.3 s after 2 attempts"),
    ("/stall.csv", {"timeout": 0.3, "retries": 0}, r"no answer within 0.3 s"),
    ("/huge-declared.csv", {}, r"more than the limit of 1,000,000 bytes"),
    ("/huge-stream.csv", {}, r"larger than the limit of 1,000,000 bytes"),
    ("/page.html", {}, r"content type 'text/html'; expected CSV"),
    ("/broken.json", {}, r"malformed JSON \(line 1, column"),
    ("/scalar.json", {}, r"not a list of records"),
    ("/broken.parquet", {}, r"cannot read the file as Parquet"),
    ("/ragged.csv", {}, r"line 2 \(data row 1\) has 8 fields, the header has 7"),
    ("/empty.csv", {}, r"the response is empty"),
    ("/missing.csv", {}, r"404 Not Found"),
    ("/redirect-file", {}, r"302 .*file:///etc/passwd.* not allowed"),
]


@pytest.mark.parametrize(("path", "options", "message"), FAILURES,
                         ids=[f[0] for f in FAILURES])
def test_failures_are_clear_and_leave_the_project_unchanged(
        server: str, tmp_path: Path, path: str, options: dict[str, float], message: str) -> None:
    project = Project.create(tmp_path / "p")
    before = tree_digest(project.root)
    request = SourceRequest(server + path, max_bytes=1_000_000, **options)  # type: ignore[arg-type]
    started = time.monotonic()
    with pytest.raises(DataError, match=message) as info:
        sources.load(request)
    assert str(info.value).startswith(server + path)
    assert time.monotonic() - started < 5
    assert tree_digest(project.root) == before


def test_connection_refused(tmp_path: Path) -> None:
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(DataError, match="cannot connect"):
        sources.read(SourceRequest(f"http://127.0.0.1:{port}/x.csv", retries=0, timeout=2))


def test_cli_import_from_http_with_token_from_the_environment(
        server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], reference: Reference) -> None:
    monkeypatch.setenv("ALPHAFORGE_HTTP_TOKEN", TOKEN)
    code = main(["import", "--from", server + "/secure.csv", "--project", str(tmp_path / "p"),
                 "--json"])
    out = capsys.readouterr().out
    assert code == 0, out
    result = json.loads(out)["result"]
    assert result["dataset"]["name"] == "secure"
    assert result["dataset"]["content_hash"] == reference.content_hash
    for path in (tmp_path / "p").rglob("*"):
        if path.is_file():
            assert TOKEN.encode() not in path.read_bytes()
