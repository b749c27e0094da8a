"""The whole research workflow in a real browser, on the demo market, without a terminal:
start a short mining run, watch it advance (and survive a page reload), read the zoo and one
factor's detail, build a dynamic Mega-Alpha and an equal-weight one, backtest both, compare
them on the Reports page and download a CSV."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import ARTIFACTS
from tests.e2e.test_accounts_and_import import TIMEOUT, _open_page, _shot

pytestmark = pytest.mark.e2e
SINGLE = '{"mode": "single", "language": "en", "schema_version": 1}'


def _select(page, label: str, option: str, *, sidebar: bool = False  # type: ignore[no-untyped-def]
            ) -> None:
    """Pick ``option`` in the Streamlit selectbox labelled ``label`` (the option list opens
    in a layer of its own, outside the sidebar)."""
    scope = page.get_by_test_id("stSidebar") if sidebar else page
    box = scope.get_by_test_id("stSelectbox").filter(has_text=label).first
    box.click()
    page.get_by_role("option", name=option, exact=True).first.click()


def _slider_to_min(page, label: str) -> None:  # type: ignore[no-untyped-def]
    thumb = page.get_by_test_id("stSlider").filter(has_text=label).get_by_role("slider")
    thumb.focus()
    thumb.press("Home")


def _metric(page, label: str) -> str:  # type: ignore[no-untyped-def]
    card = page.get_by_test_id("stMetric").filter(has_text=label).first
    return card.get_by_test_id("stMetricValue").inner_text()


def test_mine_combine_backtest_compare_download(server_factory, browser,  # type: ignore[no-untyped-def]
                                                tmp_path: Path) -> None:
    server = server_factory(SINGLE)
    page = browser.new_page(viewport={"width": 1500, "height": 1100}, accept_downloads=True)
    page.set_default_timeout(TIMEOUT)
    try:
        _workflow(page, server, tmp_path)
    except Exception:
        _shot(page, "failure_workflow")
        raise


def _workflow(page, server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    page.goto(server.url)
    page.get_by_role("button", name="Start with the demo market").click()
    page.get_by_text(re.compile("demo — ")).wait_for(timeout=120_000)

    # --- mining: a short run (1 round, 1 minute, zoo of 5)
    _open_page(page, "Factor mining", "No mining run yet")
    sidebar = page.get_by_test_id("stSidebar")
    _slider_to_min(sidebar, "Rounds (epochs)")
    _slider_to_min(sidebar, "Time budget (minutes)")
    sidebar.get_by_label("Zoo size", exact=True).fill("5")
    sidebar.get_by_role("button", name="Start mining").click()
    page.get_by_text("Formulas evaluated").first.wait_for(timeout=60_000)
    assert _metric(page, "Status") == "running"
    first = _metric(page, "Formulas evaluated")
    _shot(page, "mining_running_short")

    runs = Path(server.home) / "projects" / "demo" / "runs"
    (run_id,) = [p.name for p in runs.iterdir() if "-mine-" in p.name]

    # a reload mid-run shows the same run, still running
    page.reload()
    _open_page(page, "Factor mining", "Formulas evaluated")
    assert _metric(page, "Status") == "running"
    assert run_id in page.content(), "the reloaded page shows the same run"

    # progress advances and the run finishes
    deadline = time.time() + 240
    advanced = False
    while time.time() < deadline:
        if _metric(page, "Formulas evaluated") != first:
            advanced = True
        if _metric(page, "Status") == "done":
            break
        page.wait_for_timeout(2000)
    assert advanced, "the live monitor never showed progress"
    assert _metric(page, "Status") == "done"
    page.get_by_text(re.compile(r"Zoo \(\d+ factors\)")).wait_for(timeout=30_000)
    _shot(page, "11_mining_done_zoo")

    # one factor's detail: select the first zoo row (checkbox column of the data grid)
    # (the zoo's grid, not the live miner's leaderboard above it)
    grid = page.locator(".st-key-zoo_table").get_by_test_id("stDataFrame").first
    grid.scroll_into_view_if_needed()
    box = grid.bounding_box()
    page.mouse.click(box["x"] + 12, box["y"] + 35 + 17)
    page.get_by_text("IC decay").first.wait_for(timeout=90_000)
    page.get_by_text("Factor detail").first.scroll_into_view_if_needed()
    _shot(page, "12_factor_detail")

    # --- combine: the zoo → a dynamic Mega-Alpha, then an equal-weight reference
    _open_page(page, "Combine & backtest", "Build a strategy")
    _select(page, "Factors from", run_id)
    page.get_by_label("Strategy name", exact=True).fill("mega-dynamic")
    page.get_by_role("button", name="Build strategy").click()
    page.get_by_text("Strategy 'mega-dynamic' saved").wait_for(timeout=180_000)
    _shot(page, "13_strategy_built")
    _select(page, "Method", "Equal weight")
    page.get_by_label("Strategy name", exact=True).fill("mega-equal")
    page.get_by_role("button", name="Build strategy").click()
    page.get_by_text("Strategy 'mega-equal' saved").wait_for(timeout=180_000)

    # weights over time
    page.get_by_role("tab", name="Weights & IC").click()
    _select(page, "Strategy", "mega-dynamic", sidebar=True)
    page.get_by_role("tab", name="Weights & IC").click()
    page.get_by_text("Factor labels").first.wait_for()
    _shot(page, "14_weights_and_ic")

    # backtest both strategies
    for name in ("mega-dynamic", "mega-equal"):
        _select(page, "Strategy", name, sidebar=True)
        page.get_by_role("tab", name="Backtest").click()
        page.get_by_role("button", name="Run backtest").click()
        page.get_by_test_id("stMetric").filter(has_text="Sharpe").first.wait_for(
            timeout=120_000)
        if name == "mega-dynamic":
            _shot(page, "15_backtest")

    # --- reports: compare, then download a CSV
    _open_page(page, "Reports", "Strategy report")
    page.get_by_role("tab", name="Compare strategies").click()
    page.get_by_text("Strategies compared").first.wait_for(timeout=60_000)
    _shot(page, "16_compare")
    page.get_by_role("tab", name="Downloads").click()
    with page.expect_download() as info:
        page.get_by_role("button", name="backtest_daily.csv").first.click()
    target = tmp_path / "daily.csv"
    info.value.save_as(target)
    header = target.read_text().splitlines()[0]
    assert header.startswith("date,") and "net" in header
    _shot(page, "17_downloads")
    assert (ARTIFACTS / "16_compare.png").exists()
