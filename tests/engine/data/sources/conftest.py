"""Fixtures for the connector tests: one market in every form, a real PostgreSQL server and a
loopback HTTP server.

The PostgreSQL server is Debian's (``initdb``/``pg_ctl``), started in a temporary folder on a
free 127.0.0.1 port and stopped at the end of the session. ``initdb`` refuses to run as root,
so under root (CI) the server runs as the ``postgres`` system user (else ``nobody``) through
``runuser``. Tests skip only where the binaries are not installed (``make test`` installs them
with apt when it runs as root).
"""

from __future__ import annotations

import glob
import hashlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest

from engine.data.validate import load
from engine.store.project import Project
from tests.conftest import make_market

PG_USER = "alphaforge"
PG_PASSWORD = "s3cret-pw-for-tests"
PG_DB = "market"
COLUMNS = ("date", "ticker", "open", "high", "low", "close", "volume")


def market() -> pl.DataFrame:
    """A small market whose prices are float32 numbers, so that even the Qlib round trip
    (float32 storage) reproduces the CSV import byte for byte."""
    frame = make_market(n_tickers=5, n_days=90, seed=3)
    return frame.with_columns(pl.col(c).cast(pl.Float32).cast(pl.Float64)
                              for c in COLUMNS[2:])


def write_csv(frame: pl.DataFrame, path: Path) -> Path:
    frame.with_columns(pl.col("date").cast(pl.Utf8)).write_csv(path)
    return path


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass(frozen=True)
class Reference:
    """The CSV import every other source must reproduce."""

    frame: pl.DataFrame
    csv: Path
    content_hash: str


@pytest.fixture(scope="session")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Reference:
    root = tmp_path_factory.mktemp("reference")
    frame = market()
    csv = write_csv(frame, root / "prices.csv")
    meta = Project.create(root / "project").save_dataset("prices", load(str(csv)))
    return Reference(frame=frame, csv=csv, content_hash=meta.content_hash)


# --------------------------------------------------------------------------- PostgreSQL


@dataclass(frozen=True)
class PgServer:
    host: str
    port: int
    user: str
    password: str
    database: str

    def url(self, with_password: bool = False) -> str:
        secret = f":{self.password}" if with_password else ""
        return f"postgresql://{self.user}{secret}@{self.host}:{self.port}/{self.database}"

    def admin(self, database: str | None = None):  # type: ignore[no-untyped-def]
        import psycopg

        return psycopg.connect(host=self.host, port=self.port, user=self.user,
                               password=self.password, dbname=database or self.database,
                               autocommit=True, connect_timeout=10)


def _pg_bindir() -> Path | None:
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).resolve().parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                        key=lambda p: int(Path(p).parts[4]) if Path(p).parts[4].isdigit() else 0)
    return Path(candidates[-1]).parent if candidates else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=120, check=False)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    bindir = _pg_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed; `make test` "
                    "installs Debian's postgresql package when it runs as root")
    prefix: list[str] = []
    owner = None
    if os.geteuid() == 0:
        runuser = shutil.which("runuser")
        if runuser is None:
            pytest.skip("running as root without runuser: cannot start PostgreSQL")
        for name in ("postgres", "nobody"):
            try:
                owner = pwd.getpwnam(name)
                break
            except KeyError:
                continue
        if owner is None:
            pytest.skip("running as root and no 'postgres' or 'nobody' user to run PostgreSQL")
        prefix = [runuser, "-u", owner.pw_name, "--"]
    base = Path(tempfile.mkdtemp(prefix="alphaforge-pg-"))
    pwfile = base / "pwfile"
    pwfile.write_text(PG_PASSWORD + "\n")
    if owner is not None:
        for path in (base, pwfile):
            os.chown(path, owner.pw_uid, owner.pw_gid)
    data = base / "data"
    started = False
    try:
        init = _run([*prefix, str(bindir / "initdb"), "-D", str(data), "-U", PG_USER,
                     f"--pwfile={pwfile}", "--auth=scram-sha-256", "-E", "UTF8", "--no-locale"],
                    base)
        if init.returncode != 0:
            pytest.fail(f"initdb failed: {init.stderr or init.stdout}")
        for _attempt in range(3):
            port = _free_port()
            options = (f"-c listen_addresses=127.0.0.1 -p {port} "
                       f"-c unix_socket_directories={base} -c fsync=off")
            start = _run([*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-l",
                          str(base / "server.log"), "-w", "-t", "60", "-o", options, "start"], base)
            if start.returncode == 0:
                started = True
                break
        if not started:
            log = (base / "server.log").read_text() if (base / "server.log").exists() else ""
            pytest.fail(f"pg_ctl start failed: {start.stderr or start.stdout}\n{log[-2000:]}")
        server = PgServer("127.0.0.1", port, PG_USER, PG_PASSWORD, PG_DB)
        with server.admin("postgres") as con:
            con.execute(f"CREATE DATABASE {PG_DB}")
        yield server
    finally:
        if started:
            _run([*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                 base)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_market(pg_server: PgServer, reference: Reference) -> PgServer:
    """The reference market in table ``prices`` (typed columns) of the test database."""
    with pg_server.admin() as con:
        con.execute("CREATE TABLE prices (date date, ticker text, open double precision, "
                    "high double precision, low double precision, close double precision, "
                    "volume double precision)")
        with con.cursor() as cur:
            cur.executemany("INSERT INTO prices VALUES (%s, %s, %s, %s, %s, %s, %s)",
                            reference.frame.rows())
        con.execute("CREATE SCHEMA research")
        con.execute("CREATE TABLE research.daily AS SELECT * FROM prices")
        con.execute("CREATE TABLE decimals AS SELECT date, ticker, open::numeric(20, 10) AS open,"
                    " high::numeric(20, 10) AS high, low::numeric(20, 10) AS low, "
                    "close::numeric(20, 10) AS close, volume::bigint AS volume FROM prices")
    return pg_server
