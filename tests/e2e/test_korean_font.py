"""Korean text renders with the Hangul font the app ships (never as boxes), even on a
computer without any Korean system font (like this Debian test machine)."""

from __future__ import annotations

import re

import pytest

from tests.e2e.conftest import ARTIFACTS
from tests.e2e.test_accounts_and_import import _open_page

pytestmark = pytest.mark.e2e
KOREAN = '{"mode": "single", "language": "ko", "schema_version": 1}'


def test_korean_page_uses_the_shipped_hangul_font(server_factory, browser) -> None:  # type: ignore[no-untyped-def]
    server = server_factory(KOREAN)
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    page.set_default_timeout(60_000)
    fonts: list[str] = []
    page.on("response", lambda r: fonts.append(r.url) if r.url.endswith(".woff") else None)
    page.goto(server.url)
    page.get_by_text("데모 시장으로 시작하기").first.wait_for()
    page.evaluate("document.fonts.ready")
    loaded = page.evaluate("""() => [...document.fonts]
        .filter(f => f.family.replace(/["']/g, '') === 'alphaforge-hangul')
        .map(f => f.status)""")
    page.screenshot(path=str(ARTIFACTS / "ko_home.png"))
    assert "loaded" in loaded, f"Hangul font faces: {loaded}"
    assert any(u.startswith(server.url) and "alphaforge-hangul" in u for u in fonts), fonts

    # chart titles and legends use it too (the figures' font stack names it)
    page.get_by_text("데모 시장으로 시작하기").first.click()
    page.get_by_text(re.compile("demo — ")).first.wait_for(timeout=120_000)
    _open_page(page, "데이터", "미리 보기")
    page.get_by_role("tab", name="커버리지").first.click()
    page.locator(".js-plotly-plot").first.wait_for()
    family = page.evaluate("""() => getComputedStyle(
        document.querySelector('.js-plotly-plot .gtitle')).fontFamily""")
    page.screenshot(path=str(ARTIFACTS / "ko_data_coverage.png"))
    assert "alphaforge-hangul" in family
