"""A project is a folder; this module is the only code that knows its layout.

```
<project>/
  project.json                       name, schema version, created
  datasets/<name>/panel.parquet      canonical long table (date, ticker, features...)
  datasets/<name>/meta.json          source, counts, content hash, validation report
  factors/  runs/<run_id>/  strategies/  reports/
```
Every write is atomic (``atomic.py``); datasets are written into a hidden temporary folder and
renamed into place, so an interrupted import leaves no half dataset. Names given by users are
checked before they touch the file system (no path traversal, no reserved device names).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import filelock
import numpy as np
import platformdirs
import polars as pl

from engine.data.panel import Panel, build
from engine.data.schema import DATE
from engine.data.validate import Dataset, ValidationReport
from engine.errors import StoreError
from engine.store import atomic
from engine.store.records import RunRecord, file_sha256, utc_now

SCHEMA_VERSION = 1
PROJECT_FILE = "project.json"
#: The project's write lock file (see :meth:`Project.lock`) and how long a writer waits.
LOCK_FILE = ".project.lock"
LOCK_TIMEOUT_S = 120.0
SUBDIRS = ("datasets", "factors", "runs", "strategies", "reports")
MAX_NAME = 64
_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)),
             *(f"lpt{i}" for i in range(1, 10))}


def default_home() -> Path:
    """Folder holding the user's projects: ``$ALPHAFORGE_HOME`` or the platform data dir."""
    env = os.environ.get("ALPHAFORGE_HOME")
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_data_dir("AlphaForge", appauthor=False))


def default_project_path() -> Path:
    """The project opened when none is named: the built-in demo project."""
    return default_home() / "projects" / "demo"


def check_folder_path(path: Path) -> None:
    """Refuse a project path that is, or lies under, something other than a folder
    (``--project notes.txt``, ``ALPHAFORGE_HOME`` set to a file), naming the culprit."""
    for part in (path, *path.parents):
        if part.exists() or part.is_symlink():
            if not part.is_dir():
                raise StoreError(f"{part} is a file, not a folder: a project needs a folder "
                                 f"(--project / ALPHAFORGE_HOME)", code="project_path_file",
                                 params={"path": str(part)})
            return


def _unreadable(path: Path, meta: DatasetMeta, exc: BaseException) -> StoreError:
    """A dataset file that exists in the project but cannot be read."""
    return StoreError(f"{path}: cannot read dataset '{meta.name}' ({exc}); re-import the "
                      "source file")


def validate_name(name: str, what: str = "name") -> str:
    """Return ``name`` stripped, or raise StoreError if it cannot be a folder name.

    Letters of any script (Korean included), digits, space, '-', '_' and '.' are allowed;
    no separators, no leading dot, no '..', no Windows device names, at most 64 characters.
    """
    clean = name.strip()
    # ``what`` is English ("dataset name"); the app words it from errors.term.<id>.
    params: dict[str, object] = {"what": {"term": what.replace(" ", "_")}, "name": clean}
    if not clean:
        raise StoreError(f"the {what} is empty", code="name_empty", params=params)
    if len(clean) > MAX_NAME:
        raise StoreError(f"the {what} '{clean[:20]}...' is longer than {MAX_NAME} characters",
                         code="name_too_long",
                         params={**params, "name": clean[:20], "max": MAX_NAME})
    if any(ch in clean for ch in '/\\:*?"<>|') or ".." in clean or clean.startswith("."):
        raise StoreError(
            f"the {what} '{clean}' may not contain / \\ : * ? \" < > |, '..' or start with '.'",
            code="name_bad_chars", params=params,
        )
    if not all(ch.isalnum() or ch in " -_." for ch in clean):
        raise StoreError(f"the {what} '{clean}' may only use letters, digits, space, - _ .",
                         code="name_bad_letters", params=params)
    if clean.split(".")[0].lower() in _RESERVED or clean.endswith((".", " ")):
        raise StoreError(f"the {what} '{clean}' is reserved by the operating system",
                         code="name_reserved", params=params)
    return clean


def slugify(text: str) -> str:
    """A valid name derived from free text (e.g. a file name): 'S&P 500.csv' -> 'S_P_500'."""
    stem = re.sub(r"\.(csv|tsv|txt|parquet|pq)(\.gz)?$", "", text.strip(), flags=re.IGNORECASE)
    slug = re.sub(r"[^\w\-]+", "_", stem, flags=re.UNICODE).strip("_.")[:MAX_NAME]
    return slug if slug and slug.lower() not in _RESERVED else "dataset"


@dataclass(frozen=True)
class ProjectInfo:
    name: str
    created: str
    schema_version: int = SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class DatasetMeta:
    """What ``datasets/<name>/meta.json`` holds."""

    name: str
    source: str
    created: str
    n_rows: int
    n_tickers: int
    n_dates: int
    start: str
    end: str
    features: tuple[str, ...]
    content_hash: str
    vwap_derived: bool
    adjusted: bool
    report: Mapping[str, Any]
    schema_version: int = SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["features"] = list(self.features)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DatasetMeta:
        known = set(cls.__dataclass_fields__)
        kw = {k: v for k, v in data.items() if k in known}
        kw["features"] = tuple(kw.get("features", ()))
        return cls(**kw)

    @property
    def validation(self) -> ValidationReport:
        return ValidationReport.from_dict(self.report)


def _check_schema(path: Path, data: Any, what: str) -> None:
    if not isinstance(data, dict) or "schema_version" not in data:
        raise StoreError(f"{path}: not a valid {what} file (no schema_version)")
    version = data["schema_version"]
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        raise StoreError(
            f"{path}: written by a newer AlphaForge (schema {version}, this version reads up "
            f"to {SCHEMA_VERSION}); update the application to open it"
        )


@dataclass(frozen=True)
class Project:
    """Handle on a project folder. Create with :meth:`create` or :meth:`open`."""

    root: Path
    info: ProjectInfo

    # ------------------------------------------------------------------ lifecycle
    @classmethod
    def create(cls, root: str | Path, name: str | None = None) -> Project:
        """Create the folder layout (or open it if it is already a project)."""
        path = Path(root).expanduser().resolve()
        check_folder_path(path)
        if (path / PROJECT_FILE).exists():
            return cls.open(path)
        if path.exists() and any(path.iterdir()):
            raise StoreError(f"{path}: the folder exists, is not empty and is not a project",
                             code="folder_not_project", params={"path": str(path)})
        info = ProjectInfo(name=validate_name(name or path.name, "project name"),
                           created=utc_now())
        for sub in SUBDIRS:
            (path / sub).mkdir(parents=True, exist_ok=True)
        atomic.write_json(path / PROJECT_FILE, info.to_dict())
        return cls(root=path, info=info)

    @classmethod
    def open(cls, root: str | Path) -> Project:
        path = Path(root).expanduser().resolve()
        check_folder_path(path)
        file = path / PROJECT_FILE
        if not file.exists():
            raise StoreError(f"{path}: not an AlphaForge project (no {PROJECT_FILE}); "
                             "create one with `alphaforge demo` or `alphaforge import`")
        data = atomic.read_json(file)
        _check_schema(file, data, "project")
        try:
            info = ProjectInfo(name=str(data["name"]), created=str(data["created"]),
                               schema_version=int(data["schema_version"]))
        except KeyError as exc:
            raise StoreError(f"{file}: missing field {exc}") from None
        project = cls(root=path, info=info)
        project.recover()
        return project

    def recover(self) -> list[str]:
        """Finish what killed writes left behind (:func:`engine.store.atomic.recover` in each
        sub-folder): a dataset hidden by an interrupted replace is listed again, stale
        ``.tmp-*`` folders are removed. Only when the project lock is free at once (a write
        in progress is never touched) and the folder is writable; returns what was done."""
        folders = [self.root / sub for sub in SUBDIRS if (self.root / sub).is_dir()]
        if not any(e.name.startswith(atomic.TMP_PREFIX) for f in folders for e in f.iterdir()):
            return []
        try:
            with self.lock(timeout=0):
                return [line for folder in folders for line in atomic.recover(folder)]
        except (filelock.Timeout, OSError):
            return []  # busy, or read-only: the next open tries again

    def rename(self, new_name: str) -> Project:
        """Rename the project: its folder (same parent) and the name in project.json."""
        name = validate_name(new_name, "project name")
        target = self.root.parent / name
        if target.exists() and target != self.root:
            raise StoreError(f"a project or folder named '{name}' already exists",
                             code="project_exists", params={"name": name})
        os.replace(self.root, target)
        info = ProjectInfo(name=name, created=self.info.created,
                           schema_version=self.info.schema_version)
        atomic.write_json(target / PROJECT_FILE, info.to_dict())
        return Project(root=target, info=info)

    @classmethod
    def exists(cls, root: str | Path) -> bool:
        return (Path(root).expanduser() / PROJECT_FILE).exists()

    def _dir(self, sub: str) -> Path:
        path = self.root / sub
        path.mkdir(parents=True, exist_ok=True)
        return path

    # ------------------------------------------------------------------ datasets
    def dataset_dir(self, name: str) -> Path:
        return self._dir("datasets") / validate_name(name, "dataset name")

    def dataset_names(self) -> list[str]:
        root = self._dir("datasets")
        return sorted(p.name for p in root.iterdir()
                      if p.is_dir() and not p.name.startswith(".") and (p / "meta.json").exists())

    def lock(self, timeout: float | None = None) -> filelock.FileLock:
        """The project's write lock (a file lock, so it holds across processes: two app
        sessions or an app and the command line). Taken around check-then-write sequences,
        so that two imports of one dataset name at the same moment never both succeed."""
        return filelock.FileLock(self.root / LOCK_FILE,
                                 timeout=LOCK_TIMEOUT_S if timeout is None else timeout)

    def save_dataset(self, name: str, dataset: Dataset, *, overwrite: bool = False) -> DatasetMeta:
        """Write a validated dataset atomically (temp folder + rename), under the project
        lock: a second import of the same name waits for the first, then is refused (or,
        with ``overwrite``, replaces it)."""
        lock = self.lock()
        try:
            lock.acquire()
        except filelock.Timeout:
            raise StoreError(f"project '{self.info.name}' is busy (another import or run is "
                             "writing to it); try again in a moment",
                             code="project_busy", params={"project": self.info.name}) from None
        except OSError as exc:  # a read-only project folder: the lock file cannot be made
            raise atomic.write_error(self.root / LOCK_FILE, exc) from None
        try:
            return self._save_dataset(name, dataset, overwrite=overwrite)
        finally:
            lock.release()

    def _save_dataset(self, name: str, dataset: Dataset, *, overwrite: bool) -> DatasetMeta:
        final = self.dataset_dir(name)
        if final.exists() and not overwrite:
            raise StoreError(f"dataset '{final.name}' already exists in project "
                             f"'{self.info.name}'; choose another name or overwrite it",
                             code="dataset_exists",
                             params={"name": final.name, "project": self.info.name})

        def write(tmp: Path) -> DatasetMeta:
            frame = dataset.frame
            atomic.write_parquet(tmp / "panel.parquet", frame)
            dates = frame.get_column("date")
            meta = DatasetMeta(
                name=final.name, source=dataset.source, created=utc_now(),
                n_rows=frame.height, n_tickers=frame.get_column("ticker").n_unique(),
                n_dates=dates.n_unique(), start=str(dates.min()), end=str(dates.max()),
                features=tuple(c for c in frame.columns if c not in ("date", "ticker")),
                content_hash=file_sha256(tmp / "panel.parquet"),
                vwap_derived=dataset.vwap_derived, adjusted=dataset.adjusted,
                report=dataset.report.to_dict(),
            )
            atomic.write_json(tmp / "meta.json", meta.to_dict())
            return meta

        meta = atomic.write_dir(final, write)
        return meta

    def dataset_meta(self, name: str) -> DatasetMeta:
        path = self.dataset_dir(name)
        if not (path / "meta.json").exists():
            available = ", ".join(self.dataset_names()) or "(none)"
            raise StoreError(f"no dataset '{name}' in project '{self.info.name}'; "
                             f"available: {available}", code="no_dataset",
                             params={"name": name, "project": self.info.name,
                                     "available": self.dataset_names() or ["–"]})
        data = atomic.read_json(path / "meta.json")
        _check_schema(path / "meta.json", data, "dataset meta")
        try:
            return DatasetMeta.from_dict(data)
        except TypeError as exc:
            raise StoreError(f"{path / 'meta.json'}: incomplete dataset metadata ({exc})") from None

    def verify_dataset(self, name: str) -> DatasetMeta:
        """The dataset's metadata, once its ``panel.parquet`` is checked against the content
        hash recorded at import: a file swapped or edited outside AlphaForge would otherwise
        be mined, evaluated or exported under the old hash (and a run's record would lie)."""
        meta = self.dataset_meta(name)
        path = self.dataset_dir(name) / "panel.parquet"
        try:
            actual = file_sha256(path)
        except OSError as exc:
            raise _unreadable(path, meta, exc) from None
        if actual != meta.content_hash:
            raise StoreError(
                f"{path} does not match the content hash recorded when dataset '{meta.name}' "
                f"was imported ({actual[:12]} instead of {meta.content_hash[:12]}): the file "
                "was changed outside AlphaForge; re-import the source file",
                code="dataset_changed",
                params={"path": str(path), "name": meta.name, "actual": actual[:12],
                        "recorded": meta.content_hash[:12]})
        return meta

    def _read_frame(self, name: str) -> tuple[DatasetMeta, pl.DataFrame]:
        """The verified dataset's metadata and long table (read once each)."""
        meta = self.verify_dataset(name)
        path = self.dataset_dir(name) / "panel.parquet"
        try:
            return meta, pl.read_parquet(path)
        except (pl.exceptions.PolarsError, OSError) as exc:
            raise _unreadable(path, meta, exc) from None

    def load_frame(self, name: str) -> pl.DataFrame:
        return self._read_frame(name)[1]

    def dataset_dates(self, name: str) -> np.ndarray:
        """The dataset's trading days (sorted, ``datetime64[D]``), read from its date column
        alone: cheaper than :meth:`load_panel` for what only needs the calendar."""
        meta = self.dataset_meta(name)
        path = self.dataset_dir(name) / "panel.parquet"
        try:
            column = pl.scan_parquet(path).select(pl.col(DATE).unique().sort()).collect()
        except (pl.exceptions.PolarsError, OSError) as exc:
            raise _unreadable(path, meta, exc) from None
        return column.get_column(DATE).to_numpy().astype("datetime64[D]")

    def load_panel(self, name: str) -> Panel:
        meta, frame = self._read_frame(name)
        return build(frame, vwap_derived=meta.vwap_derived)

    def delete_dataset(self, name: str) -> None:
        path = self.dataset_dir(name)
        self.dataset_meta(name)
        trash = path.parent / f"{atomic.TMP_PREFIX}del-{path.name}-{uuid.uuid4().hex[:8]}"
        os.replace(path, trash)
        shutil.rmtree(trash, ignore_errors=True)

    def rename_dataset(self, old: str, new: str) -> None:
        src, dst = self.dataset_dir(old), self.dataset_dir(new)
        meta = self.dataset_meta(old)
        if dst.exists():
            raise StoreError(f"dataset '{dst.name}' already exists", code="dataset_exists",
                             params={"name": dst.name, "project": self.info.name})
        os.replace(src, dst)
        updated = DatasetMeta.from_dict({**meta.to_dict(), "name": dst.name})
        atomic.write_json(dst / "meta.json", updated.to_dict())

    # ------------------------------------------------------------------ runs
    def run_dir(self, run_id: str) -> Path:
        return self._dir("runs") / validate_name(run_id, "run id")

    def new_run(self, kind: str, config: Mapping[str, Any], *, seed: int | None = None,
                dataset: str | None = None) -> RunRecord:
        """Create ``runs/<run_id>/`` with ``config.json`` and a 'running' ``record.json``."""
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
        run_id = f"{stamp}-{validate_name(kind, 'run kind')}-{uuid.uuid4().hex[:6]}"
        dataset_hash = self.dataset_meta(dataset).content_hash if dataset else None
        record = RunRecord(run_id=run_id, kind=kind, status="running", config=dict(config),
                           seed=seed, dataset=dataset, dataset_hash=dataset_hash)
        folder = self.run_dir(run_id)
        folder.mkdir(parents=True, exist_ok=False)
        atomic.write_json(folder / "config.json", dict(config))
        self.save_record(record)
        return record

    def save_record(self, record: RunRecord) -> None:
        atomic.write_json(self.run_dir(record.run_id) / "record.json", record.to_dict())

    def run_record(self, run_id: str) -> RunRecord:
        path = self.run_dir(run_id) / "record.json"
        data = atomic.read_json(path)
        if not isinstance(data, dict) or data.get("schema_version", 0) > SCHEMA_VERSION:
            raise StoreError(f"{path}: written by a newer AlphaForge; update the application")
        return RunRecord.from_dict(data)

    def runs(self) -> list[RunRecord]:
        root = self._dir("runs")
        ids = sorted(p.name for p in root.iterdir()
                     if p.is_dir() and (p / "record.json").exists())
        return [self.run_record(i) for i in ids]

    def summary(self) -> dict[str, Any]:
        """Counts shown on the home page and by the CLI."""
        return {
            "name": self.info.name,
            "path": str(self.root),
            "datasets": self.dataset_names(),
            "runs": len(self.runs()),
            "strategies": sorted(p.name for p in self._dir("strategies").iterdir() if p.is_dir()),
        }


def append_progress(project: Project, run_id: str, event: Mapping[str, Any]) -> None:
    """Append one structured event to ``runs/<run_id>/progress.jsonl``."""
    line = json.dumps({"time": utc_now(), **event}, ensure_ascii=False, default=str)
    atomic.append_line(project.run_dir(run_id) / "progress.jsonl", line)


def read_progress(project: Project, run_id: str) -> list[dict[str, Any]]:
    """All events of a run; a truncated last line (crash mid-append) is skipped."""
    path = project.run_dir(run_id) / "progress.jsonl"
    if not path.exists():
        return []
    events = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return events
