"""The one way input files are opened: regular files only, read within a size and row budget.

Why: every loader used to ``read_bytes()`` the path it was given. A ``.csv`` symlink to
``/dev/zero`` then reads until memory runs out, a named pipe blocks forever, and a 5 MB
``.csv.gz`` that expands to 1 GB of rows kills the process inside the CSV parser. Here the
file is opened without blocking, checked to be a regular file, and read in chunks while the
bytes, lines and longest line are counted against :class:`engine.limits.InputLimits`, so such
an input stops early with a message that says the limit and how to raise it.
"""

from __future__ import annotations

import gzip
import os
import stat
import zlib
from pathlib import Path
from typing import BinaryIO

import polars as pl

from engine.errors import DataError
from engine.limits import (
    ENV_INPUT_MB,
    ENV_INPUT_ROWS,
    ENV_LINE_KB,
    MB,
    InputLimits,
    megabytes,
)

CHUNK = 1 << 20


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISDIR(mode):
        return "a folder"
    return "not a regular file"


def not_regular(path: Path, mode: int) -> DataError:
    kind = _kind(mode)
    return DataError(
        f"{path.name}: is {kind}, not a regular file; AlphaForge reads regular files only "
        "(a device or pipe could hang the import or never end)",
        code="input_not_regular", params={"file": path.name, "kind": kind})


def too_large(path: Path, what: str, limit: int, suggest: int) -> DataError:
    return DataError(
        f"{path.name}: {what} more than {megabytes(limit)}, the limit for one input; split "
        f"the file, or raise the limit with the environment variable "
        f"{ENV_INPUT_MB}={-(-suggest // MB)}",
        code="input_too_large", params={"file": path.name, "limit": megabytes(limit),
                                        "env": ENV_INPUT_MB, "suggest": -(-suggest // MB)})


def too_many_rows(path: Path, limit: int) -> DataError:
    return DataError(
        f"{path.name}: more than {limit:,} rows, the limit for one input; split the file, or "
        f"raise the limit with the environment variable {ENV_INPUT_ROWS}={2 * limit}",
        code="input_too_many_rows", params={"file": path.name, "limit": limit,
                                            "env": ENV_INPUT_ROWS, "suggest": 2 * limit})


def open_regular(path: Path, limits: InputLimits) -> BinaryIO:
    """Open ``path`` for reading if it is (or links to) a regular file within the size
    budget. Opened non-blocking, so a named pipe is refused instead of waiting for a writer."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        raise DataError(f"{path}: no such file or folder", code="no_such_path",
                        params={"path": str(path)}) from None
    except OSError as exc:
        raise DataError(f"{path.name}: cannot open the file ({exc.strerror or exc})",
                        code="input_unreadable",
                        params={"file": path.name, "detail": str(exc.strerror or exc)}) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise not_regular(path, info.st_mode)
        if info.st_size > limits.max_bytes:
            raise too_large(path, f"the file is {megabytes(info.st_size)},", limits.max_bytes,
                            info.st_size)
    except BaseException:
        os.close(fd)
        raise
    return os.fdopen(fd, "rb")


def read_text(path: Path, limits: InputLimits | None = None) -> bytes:
    """The bytes of a delimited text file (gunzipped when it ends in ``.gz``), read in chunks
    and refused as soon as they pass the byte, row or line-length budget."""
    limits = limits or InputLimits.from_env()
    gz = path.name.lower().endswith(".gz")
    chunk_size = max(1, min(CHUNK, limits.max_line_bytes))
    out = bytearray()
    rows = line = 0
    number = 1  # line number of the line being read
    with open_regular(path, limits) as raw:
        source: BinaryIO = gzip.GzipFile(fileobj=raw, mode="rb") if gz else raw  # type: ignore[assignment]
        try:
            while block := source.read(chunk_size):
                out += block
                if len(out) > limits.max_bytes:
                    what = "expands to" if gz else "holds"
                    raise too_large(path, what, limits.max_bytes, 2 * limits.max_bytes)
                breaks = block.count(b"\n")
                first = block.find(b"\n")
                line_len = line + (first if first >= 0 else len(block))
                if line_len > limits.max_line_bytes:
                    raise _line_too_long(path, number, limits.max_line_bytes)
                # length of the line still open at the end of this block
                line = len(block) - block.rfind(b"\n") - 1 if first >= 0 else line_len
                rows += breaks
                number += breaks
                if rows > limits.max_rows + 1:  # + the header line
                    raise too_many_rows(path, limits.max_rows)
        except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
            raise DataError(f"{path.name}: not a valid gzip file ({exc})", code="bad_gzip",
                            params={"file": path.name, "detail": str(exc)}) from None
        finally:
            if gz:
                source.close()
    return bytes(out)


def read_utf8(path: Path, limits: InputLimits | None = None) -> str:
    """A text file a user names (a formula file): :func:`read_text`'s checks (a regular file
    within the budgets), then UTF-8 with a Windows byte-order mark dropped."""
    try:
        return read_text(path, limits).decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text (byte {exc.start})", code="not_utf8_text",
                        params={"file": str(path), "byte": exc.start}) from None


def _line_too_long(path: Path, number: int, limit: int) -> DataError:
    kb = -(-limit // 1024)
    return DataError(
        f"{path.name}: line {number} is longer than {kb:,} KB, which no price table's line is "
        "(a file without line breaks, or not a table?); if it is genuine, raise the limit with "
        f"the environment variable {ENV_LINE_KB}={2 * kb}",
        code="input_line_too_long", params={"file": path.name, "line": number, "limit": kb,
                                            "env": ENV_LINE_KB, "suggest": 2 * kb})


def check_parquet(path: Path, limits: InputLimits | None = None) -> int:
    """Check a Parquet file against the budget before it is loaded (its row count comes
    from the footer, read without decompressing anything); returns the row count."""
    limits = limits or InputLimits.from_env()
    with open_regular(path, limits):
        pass
    try:
        n_rows = int(pl.scan_parquet(path).select(pl.len()).collect().item())
    except (pl.exceptions.PolarsError, OSError, ValueError):
        return -1  # unreadable: the reader reports it with its own message
    if n_rows > limits.max_rows:
        raise too_many_rows(path, limits.max_rows)
    return n_rows
