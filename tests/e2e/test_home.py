"""The home page guides a newcomer, in a real browser: on a project without data the "Next
step" box says Data and its link opens the Data page; on the demo project it says what
``next_step`` says; after the language switch it says so in Korean."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from engine import i18n
from engine.store.next_step import next_step
from engine.store.project import Project
from tests.e2e.test_accounts_and_import import TIMEOUT, _open_page, _shot
from tests.e2e.test_workflow import SINGLE, _select

pytestmark = pytest.mark.e2e


def _box(page):  # type: ignore[no-untyped-def]
    """The "Next step" box (its container carries the key ``next_step``)."""
    return page.locator(".st-key-next_step")


def test_next_step_guides_from_data_to_mining(server_factory, browser  # type: ignore[no-untyped-def]
                                              ) -> None:
    server = server_factory(SINGLE)
    Project.create(Path(server.home) / "projects" / "fresh", name="fresh")
    page = browser.new_page(viewport={"width": 1400, "height": 1500})
    page.set_default_timeout(TIMEOUT)
    try:
        _guide(page, server)
    except Exception:
        _shot(page, "failure_home")
        raise


def _guide(page, server) -> None:  # type: ignore[no-untyped-def]
    # a fresh project: no dataset, so Data comes first and the link opens it
    page.goto(server.url)
    box = _box(page)
    box.get_by_text("Bring in price data").wait_for()
    assert "holds no data yet" in box.inner_text()
    box.get_by_role("link", name="Open Data").click()
    page.get_by_text("Import a file").first.wait_for()
    assert page.url.rstrip("/").endswith("/data")

    # the demo project: the box says what next_step says, the data step is ticked off
    _open_page(page, "Home", "Start with the demo market")
    page.get_by_role("button", name="Start with the demo market").click()
    page.get_by_text(re.compile("demo — ")).wait_for(timeout=120_000)
    step = next_step(Project.open(Path(server.home) / "projects" / "demo"))
    box.get_by_text(i18n.translate(f"home.next_{step.key}", "en")).wait_for()
    assert i18n.translate(f"home.reason_{step.reason}", "en") in box.inner_text()
    label = i18n.translate("home.open_page", "en",
                           page=i18n.translate(f"app.page_{step.key}", "en"))
    assert box.get_by_role("link", name=label).is_visible()
    assert "✓ Done" in page.locator(".st-key-step_data").inner_text()
    page.get_by_text("Sharpe ratio").first.wait_for()  # the tour is open for a newcomer
    page.get_by_role("heading", name="AlphaForge").first.scroll_into_view_if_needed()
    _shot(page, "06_home_next_step")

    # Korean: the same step, in Korean
    _select(page, "Language", "한국어", sidebar=True)
    box.get_by_text(i18n.translate(f"home.next_{step.key}", "ko")).wait_for()
    text = box.inner_text()
    assert "다음 단계" in text and i18n.translate(f"home.reason_{step.reason}", "ko") in text
    # the step list redraws after the box (same rerun, later element): wait for it
    page.locator(".st-key-step_data").get_by_text("✓ 완료").wait_for()
