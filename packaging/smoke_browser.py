"""Browser half of ``packaging/smoke.sh``: load the running bundle in headless Chromium.

Run with the development venv (it has Playwright; the bundle does not):
``.venv/bin/python packaging/smoke_browser.py URL --shot home.png [--start-mining]``.

Checks that the app renders (navigation in the sidebar, a page title, no exception box) and,
with ``--start-mining``, opens Factor mining and starts a run with the form's defaults: the
frozen app then spawns its worker process as ``AlphaForge-UI --worker mine ...``, which
smoke.sh checks. Every request to a host other than the loopback server fails the check.
Exit status 0 when all is well, 1 with a message otherwise.
"""

from __future__ import annotations

import argparse
import sys
from urllib.parse import urlparse

CHROMIUM = "/usr/bin/chromium"
CHROME_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update",
               "--disable-sync"]
TIMEOUT_MS = 120_000


def _local(url: str) -> bool:
    parsed = urlparse(url)
    return parsed.scheme in ("data", "blob", "about") or parsed.hostname in ("127.0.0.1",
                                                                             "localhost")


def check(url: str, shot: str, start_mining: bool, chromium: str) -> list[str]:
    """Problems found (empty when the app rendered as expected)."""
    from playwright.sync_api import sync_playwright

    problems: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROME_ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})

        def route(route, request) -> None:  # type: ignore[no-untyped-def]
            if _local(request.url):
                route.continue_()
            else:
                problems.append(f"request left the machine: {request.url}")
                route.abort()

        context.route("**/*", route)
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(url)
        page.get_by_test_id("stSidebarNav").wait_for()
        page.locator("[data-testid='stMain'] h1").first.wait_for()
        page.wait_for_timeout(1500)
        page.screenshot(path=shot, full_page=True)
        if page.get_by_test_id("stException").count():
            problems.append("the home page shows an exception")
        if start_mining:
            page.locator("[data-testid='stSidebarNav'] a[href$='/mining']").click()
            page.wait_for_url("**/mining")
            # the form's primary button ("Start mining"); the project forms' are secondary
            button = page.locator("[data-testid='stSidebar'] "
                                  "[data-testid='stBaseButton-primaryFormSubmit']")
            button.wait_for()
            button.click()
            page.wait_for_timeout(3000)
            if page.get_by_test_id("stException").count():
                problems.append("the Factor mining page shows an exception")
        context.close()
        browser.close()
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--shot", default="smoke-home.png", help="screenshot of the home page")
    parser.add_argument("--start-mining", action="store_true")
    parser.add_argument("--chromium", default=CHROMIUM)
    args = parser.parse_args(argv)
    try:
        problems = check(args.url, args.shot, args.start_mining, args.chromium)
    except Exception as exc:  # noqa: BLE001 - report any browser failure as a failed check
        problems = [f"{type(exc).__name__}: {exc}"]
    for problem in problems:
        print(f"browser check: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
