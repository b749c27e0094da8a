"""Run records: what was run, on which data, with which code, and how it ended.

Every run (import, mining, combination, backtest) writes one so that any result can be traced
and re-run: config, seed, dataset name and content hash, package versions, start/end times
and status. Records are plain frozen dataclasses serialised to JSON.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import platform
import sys
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

RunStatus = Literal["running", "done", "failed", "cancelled"]
RECORD_SCHEMA = 1
_TRACKED_PACKAGES = ("alphaforge-ui", "torch", "polars", "numpy", "pandas", "pyarrow")


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def package_versions() -> dict[str, str]:
    """Versions of the interpreter and the packages that can change results."""
    versions = {"python": sys.version.split()[0], "platform": platform.platform()}
    for name in _TRACKED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class RunRecord:
    """One run's provenance (``runs/<run_id>/record.json``)."""

    run_id: str
    kind: str
    status: RunStatus
    config: Mapping[str, Any]
    seed: int | None = None
    dataset: str | None = None
    dataset_hash: str | None = None
    versions: Mapping[str, str] = field(default_factory=package_versions)
    started: str = field(default_factory=utc_now)
    ended: str | None = None
    error: str | None = None
    schema_version: int = RECORD_SCHEMA

    def finished(self, status: RunStatus, error: str | None = None) -> RunRecord:
        return replace(self, status=status, ended=utc_now(), error=error)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["config"] = dict(self.config)
        data["versions"] = dict(self.versions)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunRecord:
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})
