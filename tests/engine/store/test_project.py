"""Project store: layout, atomic writes, damaged and newer files, name rules, run records."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from engine.data.io import ROW, RawTable
from engine.data.validate import check
from engine.errors import StoreError
from engine.store import atomic
from engine.store.project import (
    Project,
    append_progress,
    read_progress,
    slugify,
    validate_name,
)
from tests.conftest import make_market


def _dataset():  # type: ignore[no-untyped-def]
    frame = make_market()
    raw = RawTable(frame.with_columns(pl.int_range(1, frame.height + 1).cast(pl.Utf8).alias(ROW)),
                   source="mem")
    return check(raw)


def test_layout_and_dataset_round_trip(tmp_path: Path) -> None:
    project = Project.create(tmp_path / "p", name="연구 프로젝트")
    assert project.info.name == "연구 프로젝트"
    for sub in ("datasets", "factors", "runs", "strategies", "reports"):
        assert (project.root / sub).is_dir()
    meta = project.save_dataset("prices", _dataset())
    assert project.dataset_names() == ["prices"]
    assert meta.n_tickers == 3 and meta.n_dates == 60 and len(meta.content_hash) == 64
    reopened = Project.open(project.root)
    assert reopened.dataset_meta("prices") == meta
    panel = reopened.load_panel("prices")
    assert panel.values.shape == (60, 3, 6) and panel.vwap_derived
    with pytest.raises(StoreError, match="already exists"):
        project.save_dataset("prices", _dataset())
    project.rename_dataset("prices", "prices2")
    assert project.dataset_names() == ["prices2"]
    project.delete_dataset("prices2")
    assert project.dataset_names() == []
    assert not [p for p in (project.root / "datasets").iterdir()]


def test_crash_mid_write_keeps_previous_file(tmp_path: Path) -> None:
    target = tmp_path / "a.json"
    atomic.write_json(target, {"v": 1})

    def broken_writer(tmp: Path) -> None:
        tmp.write_text('{"v": 2, "trunc')
        raise KeyboardInterrupt("power cut")

    with pytest.raises(KeyboardInterrupt):
        atomic.write_with(target, broken_writer)
    assert json.loads(target.read_text()) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]  # temp file cleaned up


def test_crash_mid_dataset_save_leaves_no_dataset(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    project = Project.create(tmp_path / "p")
    project.save_dataset("prices", _dataset())
    before = (project.dataset_dir("prices") / "panel.parquet").read_bytes()

    def boom(path: Path, data: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(atomic, "write_json", boom)
    with pytest.raises(StoreError, match="nothing was changed"):
        project.save_dataset("prices", _dataset(), overwrite=True)
    with pytest.raises(StoreError, match="nothing was changed"):
        project.save_dataset("other", _dataset())
    monkeypatch.undo()
    assert project.dataset_names() == ["prices"]
    assert (project.dataset_dir("prices") / "panel.parquet").read_bytes() == before
    assert [p.name for p in (project.root / "datasets").iterdir()] == ["prices"]


def test_truncated_and_newer_files_give_clear_errors(tmp_path: Path) -> None:
    project = Project.create(tmp_path / "p")
    project.save_dataset("prices", _dataset())
    meta_file = project.dataset_dir("prices") / "meta.json"
    meta_file.write_text(meta_file.read_text()[:50])
    with pytest.raises(StoreError, match="damaged or truncated"):
        project.dataset_meta("prices")
    (project.root / "project.json").write_text(json.dumps(
        {"name": "p", "created": "x", "schema_version": 99}))
    with pytest.raises(StoreError, match="newer AlphaForge.*schema 99"):
        Project.open(project.root)
    with pytest.raises(StoreError, match="not an AlphaForge project"):
        Project.open(tmp_path / "nothing")


def test_missing_dataset_lists_available(tmp_path: Path) -> None:
    project = Project.create(tmp_path / "p")
    project.save_dataset("prices", _dataset())
    with pytest.raises(StoreError, match="no dataset 'nope'.*available: prices"):
        project.dataset_meta("nope")


@pytest.mark.parametrize("bad", ["", "../x", "a/b", "a\\b", ".hidden", "CON", "lpt1.txt",
                                 "x" * 65, "a:b", "trailing.", "a\x00b"])
def test_bad_names_are_refused(bad: str) -> None:
    with pytest.raises(StoreError):
        validate_name(bad)


def test_good_names_and_slugify() -> None:
    assert validate_name(" 삼성 전자_2024-v1.0 ") == "삼성 전자_2024-v1.0"
    assert slugify("S&P 500 prices.csv.gz") == "S_P_500_prices"
    assert slugify("../../etc/passwd") == "etc_passwd"
    assert slugify("CON.csv") == "dataset"


def test_run_records_and_progress(tmp_path: Path) -> None:
    project = Project.create(tmp_path / "p")
    project.save_dataset("prices", _dataset())
    record = project.new_run("mine", {"zoo_size": 5}, seed=7, dataset="prices")
    assert record.status == "running" and record.dataset_hash
    assert record.versions["torch"] != "not installed"
    append_progress(project, record.run_id, {"step": 1})
    append_progress(project, record.run_id, {"step": 2})
    with open(project.run_dir(record.run_id) / "progress.jsonl", "a") as fh:
        fh.write('{"step": 3, "trunc')  # a crash mid-append
    assert [e["step"] for e in read_progress(project, record.run_id)] == [1, 2]
    project.save_record(record.finished("done"))
    [loaded] = project.runs()
    assert loaded.status == "done" and loaded.ended and loaded.seed == 7
    assert json.loads((project.run_dir(record.run_id) / "config.json").read_text()) == {
        "zoo_size": 5}


def test_create_refuses_non_empty_foreign_folder(tmp_path: Path) -> None:
    (tmp_path / "f").mkdir()
    (tmp_path / "f" / "x.txt").write_text("mine")
    with pytest.raises(StoreError, match="not empty and is not a project"):
        Project.create(tmp_path / "f")


def test_rename_project(tmp_path: Path) -> None:
    project = Project.create(tmp_path / "old")
    project.save_dataset("prices", _dataset())
    renamed = project.rename("새 이름")
    assert renamed.root == (tmp_path / "새 이름").resolve() and renamed.info.name == "새 이름"
    assert Project.open(renamed.root).dataset_names() == ["prices"]
    Project.create(tmp_path / "other")
    with pytest.raises(StoreError, match="already exists"):
        renamed.rename("other")
    with pytest.raises(StoreError):
        renamed.rename("../escape")
