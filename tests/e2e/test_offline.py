"""Offline by design: no page of the app makes a request to another computer.

The app is used on laptops without internet (and by people who must not leak data), so a
font from a CDN, a telemetry beacon or an update check would be a bug even where it fails
silently. Chromium loads every page of the navigation with every request intercepted; any
request to a host other than the loopback server is recorded, blocked and fails the test.
"""

from __future__ import annotations

import re
from urllib.parse import urlparse

import pytest

pytestmark = pytest.mark.e2e
SINGLE = '{"mode": "single", "language": "en", "schema_version": 1}'
TIMEOUT = 60_000
LOCAL_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1"}
LOCAL_SCHEMES = {"data", "blob", "about", "chrome", "chrome-extension", "devtools"}


def is_local(url: str) -> bool:
    parsed = urlparse(url)
    if parsed.scheme in LOCAL_SCHEMES:
        return True
    return (parsed.hostname or "") in LOCAL_HOSTS


def test_is_local() -> None:
    assert is_local("http://127.0.0.1:8501/static/js/main.js")
    assert is_local("ws://localhost:8501/_stcore/stream")
    assert is_local("data:font/woff2;base64,AAAA")
    assert not is_local("https://fonts.googleapis.com/css2?family=Source+Sans")
    assert not is_local("https://webhooks.fivetran.com/webhooks/x")


def _settle(page) -> None:  # type: ignore[no-untyped-def]
    """Wait until the script run of the page has finished and late requests (fonts, images,
    charts) had time to start."""
    page.locator("[data-testid='stMain'] h1").first.wait_for()
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=TIMEOUT)
    page.wait_for_timeout(1500)


def test_no_page_requests_another_host(server_factory, browser) -> None:  # type: ignore[no-untyped-def]
    server = server_factory(SINGLE)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    outside: list[str] = []
    local: list[str] = []

    def check(route, request) -> None:  # type: ignore[no-untyped-def]
        if is_local(request.url):
            local.append(request.url)
            route.continue_()
        else:
            outside.append(request.url)
            route.abort()

    context.route("**/*", check)
    context.on("websocket", lambda ws: (local if is_local(ws.url) else outside).append(ws.url))
    page = context.new_page()
    page.set_default_timeout(TIMEOUT)
    try:
        page.goto(server.url)
        page.get_by_text("No project yet").wait_for()
        page.get_by_role("button", name="Start with the demo market").click()
        page.get_by_text(re.compile("demo — ")).wait_for(timeout=120_000)
        _settle(page)
        nav = page.get_by_test_id("stSidebarNav").get_by_role("link")
        hrefs = [nav.nth(i).get_attribute("href") for i in range(nav.count())]
        assert len(hrefs) >= 5, hrefs
        visited = []
        for i, href in enumerate(hrefs):
            for _ in range(3):  # a click landing during a re-run can be dropped
                nav.nth(i).click()
                try:
                    page.wait_for_url(re.compile(re.escape(urlparse(href or "").path) + "$"),
                                      timeout=15_000)
                    break
                except Exception:  # noqa: BLE001 - retry the click
                    continue
            _settle(page)
            assert page.get_by_test_id("stException").count() == 0, href
            visited.append(page.url)
    finally:
        context.close()
    assert len(visited) == len(hrefs)
    assert any("/_stcore/" in u or "/static/" in u for u in local)
    assert outside == [], f"requests left the machine: {sorted(set(outside))}"
