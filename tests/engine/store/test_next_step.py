"""The home page's "next step": each project state points at the step that produces what the
project lacks, in workflow order."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from engine.data.io import ROW, RawTable
from engine.data.validate import check
from engine.store import atomic
from engine.store.next_step import STEP_PAGES, NextStep, done_steps, has_zoo, next_step
from engine.store.project import Project
from tests.conftest import make_market


def _project_with_data(tmp_path: Path) -> Project:
    project = Project.create(tmp_path / "p", name="p")
    frame = make_market()
    raw = RawTable(frame.with_columns(pl.int_range(1, frame.height + 1).cast(pl.Utf8).alias(ROW)),
                   source="mem")
    project.save_dataset("prices", check(raw))
    return project


def _mining_run(project: Project, status: str) -> str:
    """A mining run that ended with ``status`` and left a zoo checkpoint."""
    record = project.new_run("mine", {}, seed=0, dataset="prices")
    atomic.write_json(project.run_dir(record.run_id) / "zoo.json", {"factors": []})
    project.save_record(record if status == "running" else record.finished(status))  # type: ignore[arg-type]
    return record.run_id


def _strategy(project: Project, name: str = "s") -> None:
    folder = project.root / "strategies" / name
    folder.mkdir(parents=True)
    (folder / "strategy.json").write_text(json.dumps({"name": name}), encoding="utf-8")


def test_no_project_points_at_data() -> None:
    assert next_step(None) == NextStep("data", "pages/data.py", "no_project")


def test_empty_project_points_at_data(tmp_path: Path) -> None:
    project = Project.create(tmp_path / "p", name="p")
    assert next_step(project) == NextStep("data", STEP_PAGES["data"], "no_dataset")


def test_data_without_zoo_points_at_mining(tmp_path: Path) -> None:
    project = _project_with_data(tmp_path)
    # the demo's own run record (kind "demo") is no mining run
    project.save_record(project.new_run("demo", {}, dataset="prices").finished("done"))
    assert next_step(project) == NextStep("mining", STEP_PAGES["mining"], "no_zoo")


def test_unfinished_mining_runs_do_not_count(tmp_path: Path) -> None:
    project = _project_with_data(tmp_path)
    for status in ("running", "failed", "cancelled"):
        _mining_run(project, status)
    assert not has_zoo(project)
    assert next_step(project).key == "mining"


def test_finished_run_with_zoo_points_at_combine(tmp_path: Path) -> None:
    project = _project_with_data(tmp_path)
    _mining_run(project, "done")
    assert next_step(project) == NextStep("combine", STEP_PAGES["combine"], "no_strategy")


def test_saved_factor_set_points_at_combine(tmp_path: Path) -> None:
    project = _project_with_data(tmp_path)
    atomic.write_json(project.root / "factors" / "mine.json", {"factors": []})
    assert next_step(project).key == "combine"


def test_strategy_points_at_reports(tmp_path: Path) -> None:
    project = _project_with_data(tmp_path)
    _mining_run(project, "done")
    _strategy(project)
    assert next_step(project) == NextStep("reports", STEP_PAGES["reports"], "has_strategy")


def test_a_strategy_folder_without_its_file_is_no_strategy(tmp_path: Path) -> None:
    project = _project_with_data(tmp_path)
    _mining_run(project, "done")
    (project.root / "strategies" / "half").mkdir()
    assert next_step(project).key == "combine"


def test_pages_exist() -> None:
    app = Path(__file__).resolve().parents[3] / "alphaforge_app"
    for page in STEP_PAGES.values():
        assert (app / page).is_file(), page


def test_done_steps_follow_what_the_project_holds(tmp_path: Path) -> None:
    assert done_steps(None) == frozenset()
    project = _project_with_data(tmp_path)
    assert done_steps(project) == {"data"}
    _strategy(project)  # built from the classic set: no mining ran
    assert done_steps(project) == {"data", "combine"}
    _mining_run(project, "done")
    assert done_steps(project) == {"data", "mining", "combine"}
