"""The live miner in a real browser: while a run on the demo market is still in its warm-up,
the Factor mining page already shows the best formulas so far, the fitness histogram and a
progress chart, and the time left is a real estimate (never a frozen 0)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.e2e.test_accounts_and_import import TIMEOUT, _open_page, _shot
from tests.e2e.test_workflow import SINGLE, _metric

pytestmark = pytest.mark.e2e


def _events(progress: Path) -> list[dict]:  # type: ignore[type-arg]
    """Events of the run so far (a half-written last line is skipped)."""
    if not progress.exists():
        return []
    out = []
    for line in progress.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


def _phases(progress: Path) -> set[str]:
    return {str(e.get("event")) for e in _events(progress)}


def test_leaderboard_shows_during_the_warmup(server_factory, browser  # type: ignore[no-untyped-def]
                                             ) -> None:
    server = server_factory(SINGLE)
    page = browser.new_page(viewport={"width": 1500, "height": 1500})
    page.set_default_timeout(TIMEOUT)
    try:
        page.goto(server.url)
        page.get_by_role("button", name="Start with the demo market").click()
        page.get_by_text(re.compile("demo — ")).wait_for(timeout=120_000)
        _open_page(page, "Factor mining", "No mining run yet")
        sidebar = page.get_by_test_id("stSidebar")
        # a long time budget: the warm-up (its share of the budget, or 2,000 formulas of
        # the laptop preset) lasts long enough to be watched
        thumb = sidebar.get_by_test_id("stSlider").filter(
            has_text="Time budget (minutes)").get_by_role("slider")
        thumb.focus()
        thumb.press("End")
        sidebar.get_by_role("button", name="Start mining").click()
        page.get_by_text("Formulas evaluated").first.wait_for(timeout=60_000)
        runs = Path(server.home) / "projects" / "demo" / "runs"
        (run_id,) = [p.name for p in runs.iterdir() if "-mine-" in p.name]
        progress = runs / run_id / "progress.jsonl"

        page.get_by_text("Best formulas so far").first.wait_for(timeout=90_000)
        assert "warmup" not in _phases(progress), "the board appeared only after the warm-up"
        board = page.get_by_test_id("stDataFrame").first
        board.wait_for()  # the grid draws on a canvas: its rows are not in the DOM
        assert board.bounding_box()["height"] > 100, "the leaderboard has rows"
        leaders = [e["leaders"] for e in _events(progress) if e.get("leaders")]
        assert leaders and len(leaders[-1]) >= 2, "the board lists formulas"
        assert _metric(page, "Status") == "running"
        assert _metric(page, "Time left") not in ("0 min 0 s", "—")
        page.get_by_text("Fitness of the formulas scored").first.wait_for()
        page.get_by_text("Mining progress").first.wait_for()
        page.get_by_text("since last refresh").first.wait_for()
        _shot(page, "10_mining_running")
        assert "warmup" not in _phases(progress), "still in the warm-up when shot"
        page.get_by_role("button", name="Cancel run").click()
        page.get_by_text("This run was cancelled").wait_for(timeout=60_000)
    except Exception:
        _shot(page, "failure_live_miner")
        raise
