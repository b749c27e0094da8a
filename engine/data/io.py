"""Read user files (CSV, gzipped CSV, Parquet, a folder of per-ticker CSVs) into raw frames.

The loaders only *read*: they return the file's columns as they are, plus a ``_row`` column
(1-based data row, or ``file:row`` for folders) so that every later error message can point
at the row at fault. Turning raw columns into the canonical schema is ``validate.py``'s job.
CSV files are read as text on purpose: a value like ``1,234`` or ``n/a`` must be reported with
its row, not silently turned into null by type inference. Files are opened through
``safe_open`` only (regular files, within the size and row budget of ``engine.limits``).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from engine.data.safe_open import check_parquet, read_text, too_large, too_many_rows
from engine.errors import DataError
from engine.limits import InputLimits

ROW = "_row"
CSV_SUFFIXES = (".csv", ".txt", ".tsv", ".csv.gz", ".txt.gz", ".tsv.gz")
PARQUET_SUFFIXES = (".parquet", ".pq")


@dataclass(frozen=True)
class RawTable:
    """A file's content before validation.

    frame:  the columns as read (text for CSV, typed for Parquet) plus ``_row`` (Utf8).
    source: the path shown in messages.
    ticker_from_filename: True when the ticker column was made from file names.
    """

    frame: pl.DataFrame
    source: str
    ticker_from_filename: bool = False


def _suffix(path: Path) -> str:
    name = path.name.lower()
    for suffix in (*CSV_SUFFIXES, *PARQUET_SUFFIXES):
        if name.endswith(suffix):
            return suffix
    return path.suffix.lower()


def _decode_check(data: bytes, path: Path, encoding: str) -> bytes:
    """Return UTF-8 bytes of the file, or raise a DataError that points at the first bad byte."""
    if encoding.lower().replace("-", "") in ("utf8", "utf8sig"):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = data.count(b"\n", 0, exc.start) + 1
            raise DataError(
                f"{path.name}: the file is not UTF-8 text (byte 0x{data[exc.start]:02x} on line "
                f"{line}). Re-save it as UTF-8, or name its encoding (e.g. --encoding cp949 for "
                "Korean Excel exports, latin-1 for Western European ones).",
                code="not_utf8",
                params={"file": path.name, "byte": f"0x{data[exc.start]:02x}", "line": line},
            ) from None
    else:
        try:
            text = data.decode(encoding)
        except (UnicodeDecodeError, LookupError) as exc:
            raise DataError(f"{path.name}: cannot decode the file as {encoding}: {exc}",
                            code="decode_failed", params={"file": path.name, "encoding": encoding,
                                                          "detail": str(exc)}) from None
    return text.encode("utf-8")


def read_csv(path: Path, encoding: str = "utf-8", limits: InputLimits | None = None
             ) -> RawTable:
    """Read a (possibly gzipped) delimited text file with every column as text."""
    data = read_text(path, limits)
    if not data.strip():
        raise DataError(f"{path.name}: the file is empty", code="file_empty",
                        params={"file": path.name})
    data = _decode_check(data, path, encoding)
    separator = "\t" if ".tsv" in path.name.lower() else _sniff_separator(data)
    _check_header(data, separator, path)
    try:
        frame = pl.read_csv(io.BytesIO(data), infer_schema=False, separator=separator)
    except (pl.exceptions.PolarsError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        ragged = _ragged_line(data, separator)
        if ragged is not None:
            line, fields, header = ragged
            raise DataError(
                f"{path.name}: cannot parse the file as CSV: line {line} (data row {line - 1}) "
                f"has {fields} fields, the header has {header}", code="csv_ragged",
                params={"file": path.name, "line": line, "row": line - 1, "fields": fields,
                        "header": header}) from None
        raise DataError(f"{path.name}: cannot parse the file as CSV: {first}", code="csv_parse",
                        params={"file": path.name, "detail": first}) from None
    if frame.height == 0:
        raise DataError(f"{path.name}: the file has a header but no data rows",
                        code="no_data_rows", params={"file": path.name})
    frame = frame.with_columns(pl.int_range(1, frame.height + 1).cast(pl.Utf8).alias(ROW))
    return RawTable(frame=frame, source=path.name)


def _check_header(data: bytes, separator: str, path: Path) -> None:
    """A column named twice is an error: the CSV reader would rename the second one
    (``close_duplicated_0``) and the import would silently use only the first."""
    end = data.find(b"\n")
    first = (data if end < 0 else data[:end]).decode("utf-8-sig")
    header = next(csv.reader(io.StringIO(first), delimiter=separator), [])
    seen: dict[str, int] = {}
    for number, name in enumerate(header, start=1):
        if name in seen:
            raise DataError(
                f"{path.name}: the header names column '{name}' twice (columns {seen[name]} "
                f"and {number}); rename or drop one of them", code="csv_duplicate_column",
                params={"file": path.name, "column": name, "first": seen[name],
                        "second": number})
        seen[name] = number


def _ragged_line(data: bytes, separator: str) -> tuple[int, int, int] | None:
    """(line, its field count, the header's) of the first line whose field count differs
    from the header's (error path only)."""
    reader = csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=separator)
    header = next(reader, [])
    for number, fields in enumerate(reader, start=2):
        if fields and len(fields) != len(header):
            return number, len(fields), len(header)
    return None


def _sniff_separator(data: bytes) -> str:
    """Pick ',', ';', '\\t' or '|' from the header line (European exports often use ';')."""
    header = data.split(b"\n", 1)[0].decode("utf-8", errors="replace")
    counts = {sep: header.count(sep) for sep in (",", ";", "\t", "|")}
    best = max(counts, key=lambda s: counts[s])
    return best if counts[best] > 0 else ","


def read_parquet(path: Path, limits: InputLimits | None = None) -> RawTable:
    """Read a Parquet file (typed columns are kept; validation converts them)."""
    check_parquet(path, limits)
    if path.stat().st_size == 0:
        raise DataError(f"{path.name}: the file is empty", code="file_empty",
                        params={"file": path.name})
    try:
        frame = pl.read_parquet(path)
    except (pl.exceptions.PolarsError, OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"{path.name}: cannot read the file as Parquet: {first}",
                        code="parquet_unreadable",
                        params={"file": path.name, "detail": first}) from None
    if frame.height == 0:
        raise DataError(f"{path.name}: the file has no rows", code="no_rows",
                        params={"file": path.name})
    frame = frame.with_columns(pl.int_range(1, frame.height + 1).cast(pl.Utf8).alias(ROW))
    return RawTable(frame=frame, source=path.name)


def read_folder(path: Path, encoding: str = "utf-8", limits: InputLimits | None = None
                ) -> RawTable:
    """Read a folder of per-ticker files; the ticker is the file name without its suffix.

    A file that already has a ticker-like column keeps it. Rows are numbered ``file:row``.
    The input budget holds for all files together (each file also on its own).
    """
    limits = limits or InputLimits.from_env()
    files = sorted(
        p for p in path.iterdir()
        if p.is_file() and _suffix(p) in (*CSV_SUFFIXES, *PARQUET_SUFFIXES)
    )
    if not files:
        raise DataError(f"{path.name}/: the folder holds no .csv or .parquet files",
                        code="folder_empty", params={"folder": path.name})
    frames: list[pl.DataFrame] = []
    n_rows = n_bytes = 0
    for file in files:
        table = read_file(file, encoding=encoding, limits=limits)
        n_rows += table.frame.height
        n_bytes += table.frame.estimated_size()
        if n_rows > limits.max_rows:
            raise too_many_rows(Path(f"{path.name}/"), limits.max_rows)
        if n_bytes > limits.max_bytes:
            raise too_large(Path(f"{path.name}/"), "the files hold", limits.max_bytes,
                            2 * limits.max_bytes)
        ticker = file.name[: len(file.name) - len(_suffix(file))]
        frame = table.frame.with_columns(
            (pl.lit(f"{file.name}:") + pl.col(ROW)).alias(ROW),
            pl.lit(ticker).alias("_file_ticker"),
        )
        frames.append(frame.cast({c: pl.Utf8 for c in frame.columns}))
    try:
        merged = pl.concat(frames, how="diagonal")
    except pl.exceptions.PolarsError as exc:
        raise DataError(f"{path.name}/: the files do not share compatible columns: {exc}",
                        code="folder_incompatible",
                        params={"folder": path.name, "detail": str(exc)}) from None
    return RawTable(frame=merged, source=f"{path.name}/", ticker_from_filename=True)


def read_file(path: str | Path, encoding: str = "utf-8", limits: InputLimits | None = None
              ) -> RawTable:
    """Dispatch on the path: folder, Parquet or delimited text (``limits``: the input
    budget, by default :meth:`InputLimits.from_env`)."""
    p = Path(path)
    if not p.exists():
        raise DataError(f"{p}: no such file or folder", code="no_such_path",
                        params={"path": str(p)})
    if p.is_dir():
        return read_folder(p, encoding=encoding, limits=limits)
    suffix = _suffix(p)
    if suffix in PARQUET_SUFFIXES:
        return read_parquet(p, limits)
    if suffix in CSV_SUFFIXES:
        return read_csv(p, encoding=encoding, limits=limits)
    raise DataError(
        f"{p.name}: unsupported file type '{suffix or '(none)'}'; use .csv, .csv.gz, .tsv, "
        ".parquet or a folder of per-ticker .csv files",
        code="unsupported_type", params={"file": p.name, "suffix": suffix or "–"},
    )
