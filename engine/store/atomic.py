"""Atomic file writes: a reader sees the old file or the new one, never half of either.

Every write goes to a temporary file in the same folder, is flushed to disk, then renamed over
the target (``os.replace`` is atomic on POSIX and Windows). A crash mid-write leaves the
previous file intact plus, at worst, a stray ``.tmp-*`` file that readers ignore.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import polars as pl

from engine.errors import StoreError

TMP_PREFIX = ".tmp-"
T = TypeVar("T")


def _fsync_dir(folder: Path) -> None:
    """Persist a rename (POSIX); harmless no-op where directories cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def check_target(path: Path, overwrite: bool) -> None:
    """Refuse a user-named output (``--out``) that would lose something: a folder, a device,
    pipe or socket (a rename would replace the node itself with a regular file), or an
    existing file unless ``overwrite``. One guard for every command that writes where the
    user points."""
    if path.is_dir():
        raise StoreError(f"{path} is a folder; give a file name", code="out_is_folder",
                         params={"path": str(path)})
    if path.exists() and not path.is_file():
        raise StoreError(f"{path} is not a regular file (a device, pipe or socket); it is "
                         "never replaced", code="out_not_regular", params={"path": str(path)})
    if path.exists() and not overwrite:
        raise StoreError(f"{path} already exists; choose another path or pass --overwrite",
                         code="out_exists", params={"path": str(path)})


def write_with(path: Path, writer: Callable[[Path], None], *,
               overwrite: bool | None = None) -> None:
    """Call ``writer(tmp_path)`` then atomically move the temp file to ``path``.

    ``overwrite`` None: the project's own files (replaced freely); True / False: a path the
    user named, checked by :func:`check_target` first."""
    if overwrite is not None:
        check_target(path, overwrite)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=TMP_PREFIX, suffix=path.suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        writer(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def write_bytes(path: Path, data: bytes, *, overwrite: bool | None = None) -> None:
    write_with(path, lambda tmp: tmp.write_bytes(data), overwrite=overwrite)


def write_text(path: Path, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def write_json(path: Path, data: Any) -> None:
    """Pretty, UTF-8 (Korean names stay readable), sorted keys for stable diffs."""
    write_text(path, json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True, default=str)
               + "\n")


def write_parquet(path: Path, frame: pl.DataFrame) -> None:
    write_with(path, lambda tmp: frame.write_parquet(tmp, compression="zstd"))


def write_dir(final: Path, writer: Callable[[Path], T]) -> T:
    """Fill a hidden temporary folder with ``writer(tmp)``, then move it to ``final``
    (replacing an existing folder by a rename swap). A crash leaves the old folder or none,
    never half a new one; returns what ``writer`` returned."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.parent / f"{TMP_PREFIX}{final.name}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        result = writer(tmp)
        if final.exists():
            old = final.parent / f"{TMP_PREFIX}old-{final.name}-{uuid.uuid4().hex[:8]}"
            os.replace(final, old)
            os.replace(tmp, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _fsync_dir(final.parent)
    return result


def read_json(path: Path) -> Any:
    """Read a JSON file written by :func:`write_json`; truncation gives a StoreError."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise StoreError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise StoreError(f"{path}: cannot read the file ({exc})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise StoreError(
            f"{path}: the file is damaged or truncated (invalid JSON at line {exc.lineno}, "
            f"column {exc.colno}); restore it from a backup or delete it"
        ) from None


def append_line(path: Path, line: str) -> None:
    """Append one line to a log (JSONL) and flush it to disk.

    Appends are not atomic, so readers of such logs skip a truncated last line.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(line.rstrip("\n") + "\n")
        fh.flush()
        os.fsync(fh.fileno())
