"""Experiment bundles: one zip that carries a run or a strategy (optionally with its data) from
one project to another, and is checked file by file before anything is written.

```
bundle.zip
  manifest.json             format, schema, app version, what is included, sha256 of every file
  runs/<run_id>/...         config.json, record.json, progress.jsonl, zoo.json (checkpoint.pt
                            only when asked: it holds models and caches, tens of MB, and is needed
                            to resume a run, not to re-run or audit it)
  factors/<name>.json       the factor set (a mined zoo, a user's set)
  strategies/<name>/...     strategy.json and its tables
  datasets/<name>/...       panel.parquet + meta.json (only ``with_data``)
```
Paths inside the zip are the project-relative paths, so importing is copying them back.
Import never trusts the zip: every entry must be listed in the manifest with its sha256 and
size, sit under one of the folders above with valid names (no ``..``, no absolute paths), and
hash right; everything is extracted into a temporary folder first, then moved into place
folder by folder with :func:`engine.store.atomic.write_dir`. A damaged, truncated or tampered
bundle therefore leaves the project exactly as it was, with an error that names the file.

This module knows project layout and files only; re-running what a bundle holds is
``engine.reproduce``.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tempfile
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import IO, Any, Literal

from engine.errors import FormulaError, StoreError
from engine.expr.builtin_sets import BUILTIN_SETS
from engine.limits import (
    ENV_BUNDLE_MB,
    ENV_BUNDLE_RATIO,
    MB,
    RATIO_FREE_BYTES,
    BundleLimits,
    megabytes,
)
from engine.process import pid_alive
from engine.store import atomic
from engine.store.project import Project, validate_name
from engine.store.records import package_versions, utc_now
from engine.store.strategies import load_strategy

FORMAT = "alphaforge-bundle"
SCHEMA_VERSION = 1
MANIFEST = "manifest.json"
ROOTS = ("runs", "factors", "strategies", "datasets")
#: Run files that describe a live process, not a result; never bundled.
TRANSIENT = frozenset({"worker.json", "CANCEL"})
CHECKPOINT = "checkpoint.pt"
_MAX_MANIFEST = 16 << 20
_CHUNK = 1 << 20

BundleKind = Literal["run", "strategy"]
Source = str | os.PathLike[str] | bytes | IO[bytes]


# --------------------------------------------------------------------------- manifest


@dataclass(frozen=True)
class BundleFile:
    """One file of a bundle: its project-relative POSIX path, sha256 and size in bytes."""

    path: str
    sha256: str
    size: int


@dataclass(frozen=True)
class DatasetRef:
    """A dataset a bundled item was computed on (name and ``meta.json`` content hash)."""

    name: str
    content_hash: str | None


@dataclass(frozen=True)
class Manifest:
    """``manifest.json``: what the bundle holds and how to check it.

    ``kind``/``name``: the item that was exported (a run id or a strategy name); ``runs``,
    ``factor_sets``, ``strategies``, ``datasets``: every item included (the strategy's source
    run and factor set come along); ``requires``: the datasets those items read, which the
    importing project must hold (or the bundle carries).
    """

    kind: BundleKind
    name: str
    runs: tuple[str, ...]
    factor_sets: tuple[str, ...]
    strategies: tuple[str, ...]
    datasets: tuple[str, ...]
    requires: tuple[DatasetRef, ...]
    files: tuple[BundleFile, ...]
    with_checkpoint: bool = False
    app_version: str = "unknown"
    versions: Mapping[str, str] = field(default_factory=dict)
    created: str = ""
    format: str = FORMAT
    schema_version: int = SCHEMA_VERSION

    @property
    def with_data(self) -> bool:
        return bool(self.datasets)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": self.format, "schema_version": self.schema_version,
            "app_version": self.app_version, "versions": dict(self.versions),
            "created": self.created, "kind": self.kind, "name": self.name,
            "includes": {"runs": list(self.runs), "factor_sets": list(self.factor_sets),
                         "strategies": list(self.strategies), "datasets": list(self.datasets)},
            "with_data": self.with_data, "with_checkpoint": self.with_checkpoint,
            "requires_datasets": [{"name": d.name, "content_hash": d.content_hash}
                                  for d in self.requires],
            "files": {f.path: {"sha256": f.sha256, "size": f.size} for f in self.files},
        }

    @classmethod
    def from_dict(cls, data: Any, where: str) -> Manifest:
        """Parse and sanity-check a manifest; ``where`` names the bundle in messages."""
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise StoreError(f"{where}: {MANIFEST} is not an AlphaForge bundle manifest")
        version = data.get("schema_version")
        if not isinstance(version, int) or version > SCHEMA_VERSION:
            raise StoreError(f"{where}: written by a newer AlphaForge (bundle schema {version}, "
                             f"this version reads up to {SCHEMA_VERSION}); update the "
                             "application to import it")
        try:
            inc = data["includes"]
            files = tuple(BundleFile(path=str(p), sha256=str(v["sha256"]), size=int(v["size"]))
                          for p, v in dict(data["files"]).items())
            manifest = cls(
                kind=data["kind"], name=str(data["name"]),
                runs=_names(inc["runs"]), factor_sets=_names(inc["factor_sets"]),
                strategies=_names(inc["strategies"]), datasets=_names(inc["datasets"]),
                requires=tuple(DatasetRef(str(d["name"]), d.get("content_hash"))
                               for d in data["requires_datasets"]),
                files=files, with_checkpoint=bool(data.get("with_checkpoint", False)),
                app_version=str(data.get("app_version", "unknown")),
                versions=dict(data.get("versions", {})), created=str(data.get("created", "")),
                schema_version=version,
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise StoreError(f"{where}: {MANIFEST} is incomplete or damaged ({exc!r})") from None
        if manifest.kind not in ("run", "strategy"):
            raise StoreError(f"{where}: {MANIFEST} names an unknown kind '{manifest.kind}'")
        main = manifest.runs if manifest.kind == "run" else manifest.strategies
        if manifest.name not in main:
            raise StoreError(f"{where}: {MANIFEST} does not include its own {manifest.kind} "
                             f"'{manifest.name}'")
        return manifest


def _names(items: Iterable[Any]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(str(i) for i in items))


def app_version() -> str:
    try:
        return metadata.version("alphaforge-ui")
    except metadata.PackageNotFoundError:
        return "unknown"


# --------------------------------------------------------------------------- export


@dataclass
class _Plan:
    """What an export will write: zip path -> source file, and the manifest's item lists."""

    kind: BundleKind
    name: str
    files: dict[str, Path]
    runs: list[str]
    factor_sets: list[str]
    strategies: list[str]
    datasets: list[str]
    requires: list[DatasetRef]
    with_checkpoint: bool


def _files_under(project: Project, folder: Path, skip: Iterable[str] = ()) -> dict[str, Path]:
    """Project-relative POSIX path -> file, for every regular file under ``folder`` (hidden
    temporary files and the names in ``skip`` left out)."""
    skipped = set(skip)
    out: dict[str, Path] = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if not path.is_file() or path.is_symlink() or any(
                part.startswith(".") for part in rel.parts) or path.name in skipped:
            continue
        out[path.relative_to(project.root).as_posix()] = path
    return out


def _add_run(project: Project, plan: _Plan, run_id: str) -> None:
    folder = project.run_dir(run_id)
    if not (folder / "record.json").exists():
        available = ", ".join(r.run_id for r in project.runs()) or "(none)"
        raise StoreError(f"no run '{run_id}' in project '{project.info.name}'; available: "
                         f"{available}")
    record = project.run_record(run_id)
    pid_file = folder / "worker.json"
    if record.status == "running" and pid_file.exists():
        try:
            pid = int(json.loads(pid_file.read_text(encoding="utf-8"))["pid"])
        except (OSError, ValueError, KeyError, TypeError):
            pid = 0
        if pid_alive(pid):
            raise StoreError(f"run {run_id} is still running (process {pid}); wait for it to "
                             "end or cancel it before exporting it")
    skip = set(TRANSIENT) | (set() if plan.with_checkpoint else {CHECKPOINT})
    plan.files.update(_files_under(project, folder, skip))
    plan.runs.append(record.run_id)
    factor_file = project.root / "factors" / f"{record.run_id}.json"
    if factor_file.exists() and record.run_id not in plan.factor_sets:
        plan.files[f"factors/{factor_file.name}"] = factor_file
        plan.factor_sets.append(record.run_id)
    if record.dataset:
        plan.requires.append(DatasetRef(record.dataset, record.dataset_hash))


def _add_strategy(project: Project, plan: _Plan, name: str) -> None:
    strategy = load_strategy(project, name)
    plan.files.update(_files_under(project, strategy.path))
    plan.strategies.append(strategy.name)
    dataset = strategy.info.get("dataset")
    if dataset:
        plan.requires.append(DatasetRef(str(dataset), strategy.info.get("dataset_hash")))
    source = str(strategy.info.get("factor_set", ""))
    if not source:
        return
    factor_file = project.root / "factors" / f"{source}.json"
    run_record = project.run_dir(source) / "record.json"
    if factor_file.exists() and source not in plan.factor_sets:
        plan.files[f"factors/{factor_file.name}"] = factor_file
        plan.factor_sets.append(source)
    if run_record.exists() and source not in plan.runs:
        _add_run(project, plan, source)
    if (not factor_file.exists() and not run_record.exists()
            and source.lower() not in BUILTIN_SETS):
        raise StoreError(f"strategy '{name}' was built from factor set '{source}', which is no "
                         f"longer in project '{project.info.name}'; the bundle would not "
                         "reproduce it")


def _add_datasets(project: Project, plan: _Plan) -> None:
    for ref in _unique(plan.requires):
        meta = project.verify_dataset(ref.name)  # the bytes shipped are the bytes recorded
        if ref.content_hash and meta.content_hash != ref.content_hash:
            raise StoreError(
                f"dataset '{ref.name}' changed since the bundled results were computed "
                f"(content hash {meta.content_hash[:12]} instead of {ref.content_hash[:12]}); "
                "export without --with-data and import the original data separately")
        if ref.name in plan.datasets:
            continue
        folder = project.dataset_dir(ref.name)
        plan.files.update({rel: path for rel, path in _files_under(project, folder).items()
                           if path.name in ("panel.parquet", "meta.json")})
        plan.datasets.append(ref.name)


def _unique(refs: Iterable[DatasetRef]) -> list[DatasetRef]:
    seen: dict[tuple[str, str | None], DatasetRef] = {}
    for ref in refs:
        seen.setdefault((ref.name, ref.content_hash), ref)
    return list(seen.values())


def _plan(project: Project, run_id: str | None, strategy: str | None, with_data: bool,
          with_checkpoint: bool) -> _Plan:
    if (run_id is None) == (strategy is None):
        raise StoreError("name exactly one thing to export: a run id or a strategy")
    kind: BundleKind = "run" if run_id is not None else "strategy"
    name = str(run_id if run_id is not None else strategy)
    plan = _Plan(kind=kind, name=name, files={}, runs=[], factor_sets=[], strategies=[],
                 datasets=[], requires=[], with_checkpoint=with_checkpoint)
    if kind == "run":
        _add_run(project, plan, name)
    else:
        _add_strategy(project, plan, name)
        plan.name = plan.strategies[0]
    if with_data:
        _add_datasets(project, plan)
    return plan


def _sha256_size(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as fh:
        while block := fh.read(_CHUNK):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def _write_zip(target: IO[bytes] | Path, plan: _Plan) -> Manifest:
    files = []
    for rel, path in sorted(plan.files.items()):
        sha, size = _sha256_size(path)
        files.append(BundleFile(path=rel, sha256=sha, size=size))
    manifest = Manifest(
        kind=plan.kind, name=plan.name, runs=tuple(plan.runs),
        factor_sets=tuple(plan.factor_sets), strategies=tuple(plan.strategies),
        datasets=tuple(plan.datasets), requires=tuple(_unique(plan.requires)),
        files=tuple(files), with_checkpoint=plan.with_checkpoint, app_version=app_version(),
        versions=package_versions(), created=utc_now(),
    )
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(MANIFEST, json.dumps(manifest.to_dict(), indent=2, ensure_ascii=False,
                                         sort_keys=True) + "\n")
        for f in files:
            # Parquet is already compressed: storing it saves time and nothing else.
            kind = zipfile.ZIP_STORED if f.path.endswith((".parquet", ".pt")) else None
            zf.write(plan.files[f.path], arcname=f.path, compress_type=kind)
    return manifest


def export_bundle(project: Project, out: str | os.PathLike[str], *, run_id: str | None = None,
                  strategy: str | None = None, with_data: bool = False,
                  with_checkpoint: bool = False, overwrite: bool = False) -> Manifest:
    """Write a bundle of run ``run_id`` or strategy ``strategy`` to ``out`` (atomically;
    an existing ``out`` only with ``overwrite``, never a folder or a device).

    A strategy brings its source factor set and mining run along; ``with_data`` adds every
    dataset they read (after checking it is still the data they were computed on).
    """
    path = Path(out).expanduser()
    atomic.check_target(path, overwrite)
    plan = _plan(project, run_id, strategy, with_data, with_checkpoint)
    result: list[Manifest] = []
    atomic.write_with(path, lambda tmp: result.append(_write_zip(tmp, plan)),
                      overwrite=overwrite)
    return result[0]


def bundle_bytes(project: Project, *, run_id: str | None = None, strategy: str | None = None,
                 with_data: bool = False, with_checkpoint: bool = False) -> bytes:
    """The same bundle as :func:`export_bundle`, in memory (for a download button)."""
    plan = _plan(project, run_id, strategy, with_data, with_checkpoint)
    buffer = io.BytesIO()
    _write_zip(buffer, plan)
    return buffer.getvalue()


# --------------------------------------------------------------------------- reading


def _where(source: Source) -> str:
    if isinstance(source, (str, os.PathLike)):
        return str(source)
    return "the bundle"


def _open_zip(source: Source) -> zipfile.ZipFile:
    where = _where(source)
    try:
        if isinstance(source, (str, os.PathLike)):
            return zipfile.ZipFile(Path(source).expanduser())
        if isinstance(source, (bytes, bytearray)):
            return zipfile.ZipFile(io.BytesIO(source))
        return zipfile.ZipFile(source)
    except FileNotFoundError:
        raise StoreError(f"{where}: file not found") from None
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise StoreError(f"{where}: not a readable bundle; the zip is damaged or truncated "
                         f"({exc})") from None


def _read_manifest(zf: zipfile.ZipFile, where: str) -> Manifest:
    try:
        info = zf.getinfo(MANIFEST)
    except KeyError:
        raise StoreError(f"{where}: no {MANIFEST} inside; this zip is not an AlphaForge "
                         "bundle") from None
    if info.file_size > _MAX_MANIFEST:
        raise StoreError(f"{where}: {MANIFEST} is implausibly large; the bundle is refused")
    try:
        data = json.loads(zf.read(info).decode("utf-8"))
    except (zipfile.BadZipFile, OSError, EOFError, UnicodeDecodeError, ValueError,
            RuntimeError, NotImplementedError) as exc:
        raise StoreError(f"{where}: {MANIFEST} is damaged ({exc})") from None
    return Manifest.from_dict(data, where)


def read_manifest(source: Source) -> Manifest:
    """The bundle's manifest (checked for format and schema, files not verified): what a UI
    shows before importing."""
    with _open_zip(source) as zf:
        return _read_manifest(zf, _where(source))


def _safe_path(path: str, where: str) -> tuple[str, ...]:
    """The parts of a bundle path, or StoreError if it could land outside its project folder
    (absolute, '..', backslashes, drive letters, hidden or invalid names) or outside the four
    bundle folders."""
    parts = tuple(path.split("/"))
    ok = (
        bool(path) and not path.startswith("/") and "\\" not in path and ":" not in path
        and len(parts) >= 2 and parts[0] in ROOTS and all(p not in ("", ".", "..")
                                                           for p in parts)
    )
    if ok:
        try:
            for part in parts:
                validate_name(part)
        except StoreError:
            ok = False
    if not ok:
        raise StoreError(f"{where}: the entry '{path}' is not a path inside a project's "
                         f"{', '.join(ROOTS)} folders (it could be written outside the "
                         "project); the bundle is refused")
    return parts


def _item_of(parts: tuple[str, ...]) -> tuple[str, str]:
    """(root, item name) a bundle path belongs to: runs/<id>/..., factors/<name>.json..."""
    if parts[0] == "factors":
        return "factors", parts[1][:-5] if parts[1].endswith(".json") else ""
    return parts[0], parts[1]


def _check_layout(zf: zipfile.ZipFile, manifest: Manifest, where: str) -> None:
    """Every zip entry is in the manifest and the reverse; every path is safe and belongs to
    an item the manifest declares."""
    names = [i.filename for i in zf.infolist() if not i.filename.endswith("/")]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise StoreError(f"{where}: the entry '{sorted(dupes)[0]}' appears twice; the bundle "
                         "is refused")
    declared = {
        "runs": set(manifest.runs), "factors": set(manifest.factor_sets),
        "strategies": set(manifest.strategies), "datasets": set(manifest.datasets),
    }
    for items in declared.values():
        for item in items:
            try:
                validate_name(item)
            except StoreError:
                raise StoreError(f"{where}: {MANIFEST} names an item '{item}' that is not a "
                                 "valid name; the bundle is refused") from None
    listed = {f.path for f in manifest.files}
    for name in names:
        if name == MANIFEST:
            continue
        _safe_path(name, where)
        if name not in listed:
            raise StoreError(f"{where}: the entry '{name}' is not listed in {MANIFEST}; the "
                             "bundle was modified after export")
    present = set(names)
    for f in manifest.files:
        root, item = _item_of(_safe_path(f.path, where))
        if item not in declared[root]:
            raise StoreError(f"{where}: '{f.path}' belongs to no item the manifest includes")
        if f.path not in present:
            raise StoreError(f"{where}: '{f.path}' is listed in {MANIFEST} but missing from "
                             "the zip (truncated bundle?)")


def _check_sizes(zf: zipfile.ZipFile, manifest: Manifest, where: str,
                 limits: BundleLimits) -> None:
    """Refuse a bundle that unpacks to more than the budget, or holds an entry compressed
    far beyond what real results compress to (a zip bomb), before anything is unpacked."""
    # (entry, bytes it unpacks to: the larger of what the manifest and the zip claim)
    entries = [(f, zf.getinfo(f.path)) for f in manifest.files]
    sizes = [(f, info, max(f.size, info.file_size)) for f, info in entries]
    total = sum(size for _, _, size in sizes)
    if total > limits.max_bytes:
        raise StoreError(
            f"{where}: the bundle unpacks to {megabytes(total)}, more than the limit of "
            f"{megabytes(limits.max_bytes)}; raise it with the environment variable "
            f"{ENV_BUNDLE_MB}={-(-total // MB)}", code="bundle_too_large",
            params={"bundle": where, "size": megabytes(total),
                    "limit": megabytes(limits.max_bytes), "env": ENV_BUNDLE_MB,
                    "suggest": -(-total // MB)})
    for f, info, size in sizes:
        if size < RATIO_FREE_BYTES:
            continue
        ratio = size / max(info.compress_size, 1)
        if ratio > limits.max_ratio:
            raise StoreError(
                f"{where}: '{f.path}' is compressed {ratio:,.0f}:1, more than the limit of "
                f"{limits.max_ratio}:1 (a zip bomb?); if the bundle is genuine, raise it with "
                f"the environment variable {ENV_BUNDLE_RATIO}={int(ratio) + 1}",
                code="bundle_ratio", params={"bundle": where, "entry": f.path,
                                             "ratio": f"{ratio:,.0f}",
                                             "limit": limits.max_ratio,
                                             "env": ENV_BUNDLE_RATIO,
                                             "suggest": int(ratio) + 1})


def _extract(zf: zipfile.ZipFile, manifest: Manifest, staging: Path, where: str) -> None:
    """Stream every listed file into ``staging``, checking size and sha256 on the way."""
    for f in manifest.files:
        target = staging.joinpath(*f.path.split("/"))
        target.parent.mkdir(parents=True, exist_ok=True)
        digest, size = hashlib.sha256(), 0
        try:
            with zf.open(f.path) as src, open(target, "wb") as dst:
                while block := src.read(_CHUNK):
                    size += len(block)
                    if size > f.size:
                        break
                    digest.update(block)
                    dst.write(block)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, RuntimeError,
                NotImplementedError) as exc:  # damaged, encrypted, unknown compression
            raise StoreError(f"{where}: '{f.path}' cannot be read from the zip; the bundle is "
                             f"damaged or truncated ({exc})") from None
        if size != f.size or digest.hexdigest() != f.sha256:
            raise StoreError(f"{where}: '{f.path}' does not match its checksum in {MANIFEST}; "
                             "the bundle was modified or damaged and is refused")


# --------------------------------------------------------------------------- import


@dataclass(frozen=True)
class ImportResult:
    """What :func:`import_bundle` did. ``name``: the run id or strategy name as imported
    (after ``rename``); ``written``/``kept``: project-relative items written, and items the
    project already held with identical content; ``dataset_renames``: bundle dataset name ->
    the project's dataset holding the same data under another name."""

    project: Path
    kind: BundleKind
    name: str
    written: tuple[str, ...]
    kept: tuple[str, ...]
    dataset_renames: Mapping[str, str]
    manifest: Manifest

    def to_dict(self) -> dict[str, Any]:
        return {"project": str(self.project), "kind": self.kind, "name": self.name,
                "written": list(self.written), "kept": list(self.kept),
                "dataset_renames": dict(self.dataset_renames),
                "app_version": self.manifest.app_version}


def _rewrite_json(path: Path, change: Any) -> None:
    if path.exists():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError):
            raise StoreError(f"the bundle's {path.parent.name}/{path.name} is not valid "
                             "JSON") from None
        if not isinstance(data, dict):
            raise StoreError(f"the bundle's {path.parent.name}/{path.name} is not an "
                             "AlphaForge file")
        change(data)
        path.write_text(json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True) + "\n",
                        encoding="utf-8")


def _rename_run(staging: Path, old: str, new: str) -> None:
    os.replace(staging / "runs" / old, staging / "runs" / new)

    def fix_set(data: dict[str, Any]) -> None:
        if data.get("name") == old:
            data["name"] = new
        if isinstance(data.get("source"), dict) and data["source"].get("run_id") == old:
            data["source"]["run_id"] = new

    _rewrite_json(staging / "runs" / new / "record.json", lambda d: d.update(run_id=new))
    _rewrite_json(staging / "runs" / new / "zoo.json", fix_set)
    factor = staging / "factors" / f"{old}.json"
    if factor.exists():
        os.replace(factor, staging / "factors" / f"{new}.json")
        _rewrite_json(staging / "factors" / f"{new}.json", fix_set)


def _rename_dataset_refs(staging: Path, renames: Mapping[str, str]) -> None:
    """Point every bundled item at the project's name for the same data."""
    def fix_top(data: dict[str, Any]) -> None:
        if data.get("dataset") in renames:
            data["dataset"] = renames[data["dataset"]]

    def fix_source(data: dict[str, Any]) -> None:
        source = data.get("source")
        if isinstance(source, dict) and source.get("dataset") in renames:
            source["dataset"] = renames[source["dataset"]]

    for path in staging.glob("runs/*/record.json"):
        _rewrite_json(path, fix_top)
    for path in staging.glob("strategies/*/strategy.json"):
        _rewrite_json(path, fix_top)
    for path in [*staging.glob("runs/*/zoo.json"), *staging.glob("factors/*.json")]:
        _rewrite_json(path, fix_source)


def _same_files(manifest: Manifest, root: Path, prefix: str) -> bool:
    """Whether the project already holds every bundled file under ``prefix``, byte for byte."""
    for f in manifest.files:
        if f.path == prefix or f.path.startswith(prefix + "/"):
            local = root.joinpath(*f.path.split("/"))
            if not local.is_file() or _sha256_size(local) != (f.sha256, f.size):
                return False
    return True


def _local_hashes(root: Path) -> dict[str, str]:
    """Dataset name -> content hash of the datasets a (possibly absent) project holds."""
    out: dict[str, str] = {}
    folder = root / "datasets"
    if not folder.exists():
        return out
    for meta in sorted(folder.glob("*/meta.json")):
        if meta.parent.name.startswith("."):
            continue
        try:
            out[meta.parent.name] = str(atomic.read_json(meta).get("content_hash"))
        except (StoreError, AttributeError):
            continue
    return out


def _check_staged(staging: Path, manifest: Manifest, where: str) -> None:
    """The bundled items are what their folder names say (a renamed record would otherwise
    import under one id and describe another)."""
    for run_id in manifest.runs:
        record = staging / "runs" / run_id / "record.json"
        if not record.exists():
            raise StoreError(f"{where}: run '{run_id}' has no record.json")
        data = atomic.read_json(record)
        if not isinstance(data, dict) or data.get("run_id") != run_id:
            raise StoreError(f"{where}: runs/{run_id}/record.json describes another run")
    for name in manifest.strategies:
        if not (staging / "strategies" / name / "strategy.json").exists():
            raise StoreError(f"{where}: strategy '{name}' has no strategy.json")
    for path in [*staging.glob("runs/*/zoo.json"), *staging.glob("factors/*.json")]:
        _check_factor_set(path, path.relative_to(staging).as_posix(), where)
    for name in manifest.datasets:
        folder = staging / "datasets" / name
        if not (folder / "meta.json").exists() or not (folder / "panel.parquet").exists():
            raise StoreError(f"{where}: dataset '{name}' lacks meta.json or panel.parquet")
        meta = atomic.read_json(folder / "meta.json")
        content = _sha256_size(folder / "panel.parquet")[0]
        if not isinstance(meta, dict) or meta.get("content_hash") != content:
            raise StoreError(f"{where}: datasets/{name}/meta.json does not describe its "
                             "panel.parquet (content hash differs)")
        for ref in manifest.requires:
            if ref.name == name and ref.content_hash and ref.content_hash != content:
                raise StoreError(f"{where}: dataset '{name}' is not the data the bundled "
                                 "results were computed on (content hash differs)")


def _check_factor_set(path: Path, rel: str, where: str) -> None:
    """A bundled zoo or factor set is a factor set whose every formula parses: a damaged or
    hand-edited one is refused at import, not when a strategy is built from it later."""
    from engine.expr.parse import parse
    from engine.mining.zoo import FactorSet

    try:
        factor_set = FactorSet.from_dict(atomic.read_json(path))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise StoreError(f"{where}: {rel} is not a factor set ({exc})",
                         code="bundle_bad_factor_set",
                         params={"where": where, "path": rel, "error": str(exc)}) from None
    for i, formula in enumerate(factor_set.formulas, start=1):
        try:
            parse(formula)
        except FormulaError as exc:
            raise StoreError(f"{where}: {rel}: factor {i} does not parse: {exc}",
                             code="bundle_bad_formula",
                             params={"where": where, "path": rel, "index": i,
                                     "error": str(exc)}) from None


def import_bundle(source: Source, project_root: str | os.PathLike[str], *,
                  rename: str | None = None, overwrite: bool = False) -> ImportResult:
    """Verify a bundle and copy what it holds into the project at ``project_root`` (created
    when the folder does not exist yet).

    ``rename``: import the bundle's run (new run id) or strategy under another name.
    Existing runs, strategies, factor sets and datasets are never replaced unless
    ``overwrite``; items the project already holds byte for byte (a dataset: same content
    hash) are kept as they are. Datasets the bundle does not carry must already be in the
    project: same name and content hash, or the same content under another name (the bundled
    records are then pointed at that name). Nothing is written unless every check passes.
    """
    where = _where(source)
    root = Path(project_root).expanduser().resolve()
    staging = Path(tempfile.mkdtemp(prefix="alphaforge-import-"))
    try:
        with _open_zip(source) as zf:
            manifest = _read_manifest(zf, where)
            _check_layout(zf, manifest, where)
            _check_sizes(zf, manifest, where, BundleLimits.from_env())
            _extract(zf, manifest, staging, where)
        _check_staged(staging, manifest, where)
        return _install(staging, manifest, root, where, rename=rename, overwrite=overwrite)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _rename_main(staging: Path, manifest: Manifest, rename: str | None) -> str:
    """Give the exported run / strategy its new name in the staging folder; returns it."""
    if rename is None:
        return manifest.name
    new = validate_name(rename, "new name")
    if new != manifest.name and manifest.kind == "run":
        _rename_run(staging, manifest.name, new)
    elif new != manifest.name:
        os.replace(staging / "strategies" / manifest.name, staging / "strategies" / new)
        _rewrite_json(staging / "strategies" / new / "strategy.json",
                      lambda d: d.update(name=new))
    return new


@dataclass
class _Steps:
    """What an import will do, decided before anything is written."""

    datasets: list[str] = field(default_factory=list)  # bundled datasets to write
    items: list[str] = field(default_factory=list)  # runs/<id>, factors/<n>.json, strategies/<n>
    kept: list[str] = field(default_factory=list)  # already in the project, identical
    renames: dict[str, str] = field(default_factory=dict)  # dataset: bundle name -> local


def _plan_datasets(steps: _Steps, staging: Path, manifest: Manifest, root: Path,
                   project_name: str, where: str, overwrite: bool) -> None:
    """Datasets are carried, already here, here under another name, or missing (an error)."""
    local = _local_hashes(root)
    for ref in manifest.requires:
        if ref.name in manifest.datasets or (
                ref.name in local and ref.content_hash in (None, local[ref.name])):
            continue
        same = [n for n, h in local.items() if ref.content_hash and h == ref.content_hash]
        if same:
            steps.renames[ref.name] = same[0]
            continue
        held = (f"its dataset '{ref.name}' holds other data" if ref.name in local
                else f"it has no dataset '{ref.name}'")
        raise StoreError(
            f"{where}: the bundle was exported without its data and project "
            f"'{project_name}' cannot supply it ({held}; content hash "
            f"{str(ref.content_hash)[:12]} needed); import that data first or export the "
            "bundle with --with-data")
    for ds in manifest.datasets:
        bundled = str(atomic.read_json(staging / "datasets" / ds / "meta.json")["content_hash"])
        if ds in local and local[ds] == bundled:
            steps.kept.append(f"datasets/{ds}")
        elif ds in local and not overwrite:
            raise StoreError(f"dataset '{ds}' already exists in project '{project_name}' with "
                             "other data; import with --overwrite to replace it")
        else:
            steps.datasets.append(ds)


def _plan_items(steps: _Steps, manifest: Manifest, name: str, root: Path, project_name: str,
                overwrite: bool) -> None:
    """The exported run / strategy always conflicts with one of the same name; a strategy's
    source run and factor set are kept when the project holds the same files."""
    conflicts: list[tuple[bool, str]] = []
    for folder, names in (("runs", manifest.runs), ("factors", manifest.factor_sets),
                          ("strategies", manifest.strategies)):
        for item in names:
            main = (manifest.kind == "run" and folder != "strategies"
                    and item == manifest.name) or (
                manifest.kind == "strategy" and folder == "strategies")
            local_item = name if main else item
            rel = f"{folder}/{local_item}" + (".json" if folder == "factors" else "")
            if not root.joinpath(*rel.split("/")).exists():
                steps.items.append(rel)
                continue
            if not main and not steps.renames and _same_files(manifest, root, rel):
                steps.kept.append(rel)
                continue
            if not overwrite:
                what = {"runs": "run", "factors": "factor set", "strategies": "strategy"}[folder]
                hint = " or --rename NEW" if main else ""
                conflicts.append((not main, f"{what} '{local_item}' already exists in project "
                                            f"'{project_name}'; import with --overwrite{hint}"))
            steps.items.append(rel)
    if conflicts:
        raise StoreError(sorted(conflicts, key=lambda c: c[0])[0][1])  # exported item first


def _install(staging: Path, manifest: Manifest, root: Path, where: str, *,
             rename: str | None, overwrite: bool) -> ImportResult:
    is_project = Project.exists(root)
    if not is_project and root.exists() and any(root.iterdir()):
        raise StoreError(f"{root}: the folder exists, is not empty and is not a project")
    project_name = Project.open(root).info.name if is_project else root.name
    name = _rename_main(staging, manifest, rename)
    steps = _Steps()
    _plan_datasets(steps, staging, manifest, root, project_name, where, overwrite)
    if steps.renames:
        _rename_dataset_refs(staging, steps.renames)
    _plan_items(steps, manifest, name, root, project_name, overwrite)

    project = Project.open(root) if is_project else Project.create(root)
    written: list[str] = []
    for ds in steps.datasets:
        _move_dir(staging / "datasets" / ds, project.root / "datasets" / ds)
        written.append(f"datasets/{ds}")
    for rel in steps.items:
        src = staging.joinpath(*rel.split("/"))
        dst = project.root.joinpath(*rel.split("/"))
        if rel.startswith("factors/"):
            atomic.write_bytes(dst, src.read_bytes())
        else:
            _move_dir(src, dst)
        written.append(rel)
    return ImportResult(project=project.root, kind=manifest.kind, name=name,
                        written=tuple(written), kept=tuple(steps.kept),
                        dataset_renames=steps.renames, manifest=manifest)


def _move_dir(src: Path, final: Path) -> None:
    """Copy a verified staged folder into place: temp folder + rename (replaces ``final``)."""
    atomic.write_dir(final, lambda tmp: shutil.copytree(src, tmp, dirs_exist_ok=True))
