"""The date ranges the pages open on are the split a run would use (gaps included)."""

from __future__ import annotations

import datetime as dt

import pytest

from engine.combine.service import (
    available_factor_sets,
    resolve_factor_set,
    suggested_test_range,
)
from engine.data.synthetic import SyntheticConfig
from engine.expr.builtin_sets import builtin_set
from engine.mining import worker
from engine.mining.split import split_calendar, suggest_split, suggested_ranges
from engine.mining.zoo import Factor, FactorSet
from engine.store import atomic
from engine.store.demo import ensure_demo
from engine.store.project import Project


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    demo, _, _ = ensure_demo(tmp_path_factory.mktemp("split") / "demo",
                             SyntheticConfig(n_tickers=10, n_days=300, seed=2))
    return demo


def _day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def test_the_calendar_alone_gives_the_panels_split(project: Project) -> None:
    panel = project.load_panel("demo")
    assert (project.dataset_dates("demo") == panel.dates).all()
    assert split_calendar(project.dataset_dates("demo"), 20) == suggest_split(panel, 20)


def test_suggested_ranges_keep_horizon_gaps(project: Project) -> None:
    dates = [str(d) for d in project.dataset_dates("demo")]
    train, valid, test = suggested_ranges(project, "demo", horizon=20)
    assert train[0] == _day(dates[0]) and test[1] == _day(dates[-1])
    gap = dates.index(str(valid[0])) - dates.index(str(train[1]))
    assert gap == 22 and dates.index(str(test[0])) - dates.index(str(valid[1])) == 22
    expected = suggest_split(project.load_panel("demo"), 20)
    assert (str(valid[0]), str(valid[1])) == (expected[1].start, expected[1].end)


def test_a_calendar_too_short_to_split_opens_on_its_whole_span(project: Project) -> None:
    dates = project.dataset_dates("demo")
    whole = (_day(str(dates[0])), _day(str(dates[-1])))
    assert suggested_ranges(project, "demo", horizon=200) == (whole, whole, whole)


def test_combine_test_period_follows_a_runs_validation_else_the_split(project: Project
                                                                      ) -> None:
    _, _, test = suggested_ranges(project, "demo")
    assert suggested_test_range(project, "demo", builtin_set("classic")) == test
    mined = FactorSet("r", (Factor("ts_mean($close, 5)"),),
                      source={"split": {"valid": ["2015-06-01", "2015-08-31"]}})
    assert suggested_test_range(project, "demo", mined) == (_day("2015-09-01"), test[1])
    outside = FactorSet("r", (), source={"split": {"valid": ["2030-01-01", "2030-02-01"]}})
    assert suggested_test_range(project, "demo", outside) == test


def test_run_zoos_are_found_through_the_run_folder(project: Project) -> None:
    record = project.new_run(worker.RUN_KIND, {}, seed=0)
    zoo = FactorSet(record.run_id, (Factor("ts_mean($close, 5)"),))
    atomic.write_json(project.run_dir(record.run_id) / worker.ZOO_FILE, zoo.to_dict())
    assert record.run_id in available_factor_sets(project)
    assert resolve_factor_set(project, record.run_id).formulas == ["ts_mean($close, 5)"]
    assert resolve_factor_set(project, "classic").formulas  # not a run id: a built-in set
