"""Two imports of one dataset name at the same moment never both report success: the project
lock makes the second wait for the first, then refuses it."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import polars as pl
import pytest

from engine.data.io import ROW, RawTable
from engine.data.validate import Dataset, check
from engine.errors import StoreError
from engine.store import project as project_mod
from engine.store.project import Project
from tests.conftest import make_market


def _dataset() -> Dataset:
    frame = make_market(seed=0)
    return check(RawTable(frame.with_columns(
        pl.int_range(1, frame.height + 1).cast(pl.Utf8).alias(ROW)), source="mem"))


def test_concurrent_imports_of_one_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = Project.create(tmp_path / "p")
    dataset = _dataset()
    slow_hash = project_mod.file_sha256

    def slow(path: Path) -> str:  # widen the check-then-write window
        time.sleep(0.3)
        return slow_hash(path)

    monkeypatch.setattr(project_mod, "file_sha256", slow)
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def one() -> None:
        start.wait()
        try:
            Project.open(project.root).save_dataset("same", dataset)
            outcomes.append("saved")
        except StoreError as exc:
            outcomes.append(exc.code or str(exc))

    threads = [threading.Thread(target=one) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcomes) == ["dataset_exists", "saved"]
    assert project.dataset_names() == ["same"]


def test_a_held_lock_gives_a_clear_busy_error(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    project = Project.create(tmp_path / "p")
    dataset = _dataset()
    monkeypatch.setattr(project_mod, "LOCK_TIMEOUT_S", 0.2)
    other = Project.open(project.root)
    holder = threading.Thread(target=_hold, args=(project, 1.5))
    holder.start()
    time.sleep(0.3)
    with pytest.raises(StoreError, match="busy") as info:
        other.save_dataset("free", dataset)
    assert info.value.code == "project_busy"
    holder.join()
    other.save_dataset("free", dataset)  # released: writes go through again


def _hold(project: Project, seconds: float) -> None:
    with project.lock():
        time.sleep(seconds)
