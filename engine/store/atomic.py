"""Atomic file writes: a reader sees the old file or the new one, never half of either.

Every write goes to a temporary file in the same folder, is flushed to disk, then renamed over
the target (``os.replace`` is atomic on POSIX and Windows). A crash mid-write leaves the
previous file intact plus, at worst, a stray ``.tmp-*`` file that readers ignore and
:func:`recover` removes. A folder is replaced by a swap of two renames; a kill between them
leaves the old folder as ``.tmp-old-<name>-*``, which :func:`recover` puts back. A write that
the disk refuses (full, read-only, no permission) is a :class:`StoreError` naming the path,
with nothing changed.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import polars as pl

from engine.errors import StoreError

TMP_PREFIX = ".tmp-"
OLD_PREFIX = f"{TMP_PREFIX}old-"
#: A temporary entry younger than this may belong to a write in progress (not every write
#: holds the project lock), so :func:`recover` leaves it alone.
TMP_GRACE_S = 3600.0
#: A swap's two renames take microseconds: an old folder hidden for longer was left by a kill.
SWAP_GRACE_S = 5.0
T = TypeVar("T")

#: errno -> (error code, English reason) of a write the operating system refused
_REFUSED = {
    errno.ENOSPC: ("write_disk_full", "the disk is full"),
    errno.EDQUOT: ("write_disk_full", "the disk quota is used up"),
    errno.EROFS: ("write_read_only", "the file system is read-only"),
    errno.EACCES: ("write_denied", "permission denied"),
    errno.EPERM: ("write_denied", "permission denied"),
}


def write_error(path: Path, exc: OSError) -> StoreError:
    """The one-line error of a refused write: which path, and why in words (full disk,
    read-only, permission), saying that nothing was changed."""
    code, reason = _REFUSED.get(exc.errno or 0, ("write_failed", exc.strerror or str(exc)))
    return StoreError(f"cannot write {path}: {reason}; nothing was changed", code=code,
                      params={"path": str(path), "reason": reason})


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
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = create_tmp(path.parent, path.suffix)
    except OSError as exc:
        raise write_error(path, exc) from None
    try:
        writer(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise write_error(path, exc) from None
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        refused = _os_error_in(exc)
        if refused is not None:  # polars reports a full disk as its own error type
            raise write_error(path, refused) from None
        raise
    _fsync_dir(path.parent)


def create_tmp(folder: Path, suffix: str = "") -> Path:
    """A new empty temporary file in ``folder`` with the user's usual permissions (mode 0666
    less the umask, as any file they save): ``tempfile.mkstemp`` makes 0600 files, which turned
    a project shared with colleagues unreadable for them once renamed into place."""
    for _ in range(100):
        tmp = folder / f"{TMP_PREFIX}{uuid.uuid4().hex[:12]}{suffix}"
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        return tmp
    raise FileExistsError(errno.EEXIST, "no free temporary name", str(folder))


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
    tmp = final.parent / f"{TMP_PREFIX}{final.name}-{uuid.uuid4().hex[:8]}"
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp.mkdir()
    except OSError as exc:
        raise write_error(final, exc) from None
    try:
        result = writer(tmp)
        if final.exists():
            old = final.parent / f"{OLD_PREFIX}{final.name}-{uuid.uuid4().hex[:8]}"
            os.replace(final, old)
            try:
                os.replace(tmp, final)
            except BaseException:
                os.replace(old, final)  # the second rename failed: put the old folder back
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, final)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise write_error(final, exc) from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _fsync_dir(final.parent)
    return result


def _os_error_in(exc: BaseException) -> OSError | None:
    """The refused write inside a library's error (polars: "... (os error 28)")."""
    text = str(exc)
    for number in _REFUSED:
        if f"(os error {number})" in text:
            return OSError(number, os.strerror(number))
    return None


def recover(folder: Path, *, now: float | None = None) -> list[str]:
    """Finish what a killed write left in ``folder`` (one level): an old folder hidden by an
    interrupted swap goes back under its name (or is removed when the new one is in place),
    and temporary entries older than :data:`TMP_GRACE_S` are removed. Returns what was done,
    one line each. Callers hold the project lock, so no write of theirs is in progress."""
    done: list[str] = []
    if not folder.is_dir():
        return done
    clock = time.time() if now is None else now
    for entry in sorted(folder.iterdir()):
        name = entry.name
        if not name.startswith(TMP_PREFIX):
            continue
        try:
            info = entry.lstat()
        except OSError:
            continue
        old = name.startswith(OLD_PREFIX) and entry.is_dir()
        # a folder being written changes its mtime; a swap's rename changes the ctime
        age = clock - (max(info.st_mtime, info.st_ctime) if old else info.st_mtime)
        if age < (SWAP_GRACE_S if old else TMP_GRACE_S):
            continue
        if old:
            original = folder / name[len(OLD_PREFIX):].rsplit("-", 1)[0]
            if not original.exists():
                os.replace(entry, original)
                done.append(f"restored {original.name} (an interrupted replace)")
                continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        done.append(f"removed {name}")
    return done


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
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(line.rstrip("\n") + "\n")
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:
        raise write_error(path, exc) from None
