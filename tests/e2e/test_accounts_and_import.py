"""A person's first session, in a real browser: sign up, keep the recovery code, log out,
reset a forgotten password with it, log in, import the shared US file and read its warnings."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from tests.conftest import REPO, SHARED_DATA, US_FILE
from tests.e2e.conftest import ARTIFACTS

pytestmark = pytest.mark.e2e
ACCOUNTS = '{"mode": "accounts", "language": "en", "schema_version": 1}'
TIMEOUT = 60_000


def _shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    """Save a screenshot as a test artifact; with ALPHAFORGE_DOC_SHOTS=1 also refresh the
    user guide's copy in docs/images/."""
    page.wait_for_timeout(800)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    if os.environ.get("ALPHAFORGE_DOC_SHOTS") == "1" and name[:2].isdigit():
        shutil.copy(ARTIFACTS / f"{name}.png", REPO / "docs" / "images" / f"{name}.png")


def test_signup_reset_login_import(server_factory, browser) -> None:  # type: ignore[no-untyped-def]
    if not SHARED_DATA.exists():
        pytest.skip("../shared/data is absent")
    server = server_factory(ACCOUNTS)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(TIMEOUT)
    try:
        _journey(page, server)
    except Exception:
        _shot(page, "failure")
        raise


def _open_page(page, link: str, marker: str) -> None:  # type: ignore[no-untyped-def]
    """Click a sidebar link until the page's marker shows (a click that lands while the
    script is still re-running can be dropped by the browser)."""
    for _ in range(3):
        page.get_by_test_id("stSidebarNav").get_by_role("link", name=link).click()
        try:
            page.get_by_text(marker).first.wait_for(timeout=15_000)
            return
        except Exception:  # noqa: BLE001 - retry the click
            continue
    page.get_by_text(marker).first.wait_for()


def _uploaded(page, name: str) -> None:  # type: ignore[no-untyped-def]
    """Wait until the uploader lists the file: pressing Import while the upload is still
    running (a busy machine) would import nothing."""
    page.get_by_text(name, exact=True).first.wait_for(timeout=120_000)
    page.wait_for_timeout(500)


def _journey(page, server) -> None:  # type: ignore[no-untyped-def]
    page.goto(server.url)
    page.get_by_role("tab", name="Sign up").click()
    page.get_by_label("User name", exact=True).nth(1).fill("jiwoo")
    page.get_by_label("Password (8+ characters)").fill("first password")
    page.get_by_role("button", name="Create account").click()
    page.get_by_text("Write down your recovery code").wait_for()
    code = page.locator("code").filter(has_text=re.compile(r"^[A-Z0-9]{4}-")).first.inner_text()
    assert re.fullmatch(r"[A-Z0-9]{4}(-[A-Z0-9]{4}){3}", code.strip())
    _shot(page, "01_signup_recovery_code")

    # log in, then log out
    page.get_by_role("tab", name="Log in").click()
    page.get_by_label("User name", exact=True).nth(0).fill("jiwoo")
    page.get_by_label("Password", exact=True).nth(0).fill("first password")
    page.get_by_role("button", name="Log in").click()
    page.get_by_text("Signed in as").wait_for()
    page.get_by_role("button", name="Log out").click()
    page.get_by_role("tab", name="Forgot password").wait_for()

    # wrong recovery code fails, the right one resets the password
    page.get_by_role("tab", name="Forgot password").click()
    page.get_by_label("User name", exact=True).nth(2).fill("jiwoo")
    page.get_by_label("Recovery code").fill("AAAA-BBBB-CCCC-DDDD")
    page.get_by_label("New password").fill("second password")
    page.get_by_role("button", name="Reset password").click()
    page.get_by_text("wrong user name or recovery code").wait_for()
    page.get_by_label("Recovery code").fill(code.strip())
    page.get_by_label("New password").fill("second password")
    page.get_by_role("button", name="Reset password").click()
    page.get_by_text("Password changed").wait_for()
    _shot(page, "02_password_reset")

    # the old password fails, the new one works
    page.get_by_role("tab", name="Log in").click()
    page.get_by_label("User name", exact=True).nth(0).fill("jiwoo")
    page.get_by_label("Password", exact=True).nth(0).fill("first password")
    page.get_by_role("button", name="Log in").click()
    page.get_by_text("wrong user name or password").first.wait_for()
    page.get_by_label("Password", exact=True).nth(0).fill("second password")
    page.get_by_role("button", name="Log in").click()
    page.get_by_text("Signed in as").wait_for()
    _shot(page, "03_home_logged_in")

    # a project, then the shared US file through the Data page
    page.get_by_text("New / rename / delete").click()
    page.get_by_label("New project name").fill("US study")
    page.get_by_role("button", name="Create").click()
    page.get_by_text(re.compile("US study — ")).wait_for()
    _open_page(page, "Data", "Import a file")
    page.locator("input[type=file]").set_input_files(str(US_FILE))
    _uploaded(page, US_FILE.name)
    page.get_by_role("button", name="Import", exact=True).click()
    page.get_by_text("Imported 'us_sp500_2013_2018'").wait_for(timeout=120_000)
    page.get_by_text(re.compile(r"LNT \+101% on 2016-05-20")).first.wait_for()
    page.get_by_text(re.compile("very short histories")).first.wait_for()
    _shot(page, "04_import_warnings")
    page.get_by_role("tab", name="Preview").click()
    page.get_by_text("Trading days").first.wait_for()
    _shot(page, "05_dataset_preview")
    project = Path(server.home) / "users" / "1" / "projects" / "US study"
    assert (project / "datasets" / "us_sp500_2013_2018" / "meta.json").exists()


def test_bad_upload_shows_error_and_saves_nothing(server_factory, browser,  # type: ignore[no-untyped-def]
                                                  tmp_path: Path) -> None:
    server = server_factory('{"mode": "single", "language": "en", "schema_version": 1}')
    bad = tmp_path / "broken prices.csv"
    bad.write_text("date,ticker,open,high,low,close,volume\n2020-01-02,AAA,1,2,0.5,abc,100\n")
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(TIMEOUT)
    try:
        _bad_upload(page, server, bad)
    except Exception:
        _shot(page, "failure_bad_upload")
        raise


def _bad_upload(page, server, bad: Path) -> None:  # type: ignore[no-untyped-def]
    page.goto(server.url)
    page.get_by_text("No project yet").wait_for()
    page.get_by_role("button", name="Start with the demo market").click()
    page.get_by_text(re.compile("demo — ")).wait_for(timeout=120_000)
    _open_page(page, "Data", "Import a file")
    page.get_by_text("Import a file").first.click()
    page.locator("input[type=file]").set_input_files(str(bad))
    _uploaded(page, bad.name)
    page.get_by_role("button", name="Import", exact=True).click()
    page.get_by_text("Import failed — nothing was saved").wait_for()
    page.get_by_text(re.compile(r"column 'close': 1 value\(s\) are not numbers \(row 1: 'abc'\)"
                                )).first.wait_for()
    _shot(page, "06_bad_upload_error")
    datasets = Path(server.home) / "projects" / "demo" / "datasets"
    assert sorted(p.name for p in datasets.iterdir()) == ["demo"]


def test_change_password_in_sidebar(server_factory, browser) -> None:  # type: ignore[no-untyped-def]
    from engine.store.accounts import AccountStore

    server = server_factory(ACCOUNTS)
    accounts = AccountStore(Path(server.home) / "accounts.db")
    accounts.sign_up("minsu", "old password")
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(TIMEOUT)
    page.goto(server.url)
    page.get_by_label("User name", exact=True).nth(0).fill("minsu")
    page.get_by_label("Password", exact=True).nth(0).fill("old password")
    page.get_by_role("button", name="Log in").click()
    page.get_by_text("Signed in as").wait_for()
    page.get_by_text("Change password").first.click()
    page.get_by_label("Current password").fill("old password")
    page.get_by_label("New password (8+ characters)").fill("new password")
    page.get_by_role("button", name="Change password").click()
    page.get_by_text("Password changed.").wait_for()
    accounts.login("minsu", "new password")
