"""Which step of the workflow a project is at, so the home page can point a newcomer onward.

The decision lives here, not in the page, because it reads the project's folder (only the
store knows the layout) and because it is plain logic that deserves unit tests without a
browser. The app words the result: ``home.next_<key>`` and ``home.reason_<reason>``.

The order is the workflow's: data -> factor mining -> combine & backtest -> reports. A project
is at the first step whose output it lacks; once a strategy exists, reports is the next step.
:func:`done_steps` says which steps' outputs the project already holds, so the page can tick
them off; reports is never "done" (a report is read, not kept).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from engine.store.project import Project
from engine.store.strategies import strategy_names

StepKey = Literal["data", "mining", "combine", "reports"]
Reason = Literal["no_project", "no_dataset", "no_zoo", "no_strategy", "has_strategy"]

#: The app page of each step, as ``st.page_link`` takes it (relative to the app's main file).
STEP_PAGES: dict[StepKey, str] = {
    "data": "pages/data.py",
    "mining": "pages/mining.py",
    "combine": "pages/combine.py",
    "reports": "pages/reports.py",
}
#: The run kind a mining worker records (``engine.mining.worker.RUN_KIND``); repeated here so
#: the store does not import the miner (and torch) just to look at a folder.
MINING_KIND = "mine"


@dataclass(frozen=True)
class NextStep:
    """The step to take next: ``key`` names it, ``page`` opens it, ``reason`` says why."""

    key: StepKey
    page: str
    reason: Reason


def _step(key: StepKey, reason: Reason) -> NextStep:
    return NextStep(key=key, page=STEP_PAGES[key], reason=reason)


def has_zoo(project: Project) -> bool:
    """True once the project holds a factor zoo to combine: a saved factor set (a finished
    mining run saves its zoo as one) or a finished mining run whose zoo file is there.

    A run still running, failed or cancelled does not count: its zoo is a checkpoint the
    user may still resume, and pointing them at Combine would skip the end of mining.
    """
    factors = project.root / "factors"
    if factors.is_dir() and any(not p.name.startswith(".") for p in factors.glob("*.json")):
        return True
    return any(run.kind == MINING_KIND and run.status == "done"
               and (project.run_dir(run.run_id) / "zoo.json").exists()
               for run in project.runs())


def next_step(project: Project | None) -> NextStep:
    """The next step for ``project`` (None: no project open yet, so data comes first)."""
    if project is None:
        return _step("data", "no_project")
    if not project.dataset_names():
        return _step("data", "no_dataset")
    if strategy_names(project):
        return _step("reports", "has_strategy")
    if not has_zoo(project):
        return _step("mining", "no_zoo")
    return _step("combine", "no_strategy")


def done_steps(project: Project | None) -> frozenset[StepKey]:
    """The steps whose output ``project`` holds: a dataset, a factor zoo, a strategy.

    Looked up one by one rather than read off the workflow order, so a strategy built from
    the classic factor set does not tick off mining that never ran.
    """
    if project is None:
        return frozenset()
    done: set[StepKey] = set()
    if project.dataset_names():
        done.add("data")
    if has_zoo(project):
        done.add("mining")
    if strategy_names(project):
        done.add("combine")
    return frozenset(done)
