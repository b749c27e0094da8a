"""The translation layer: both catalogues complete and consistent, formatting per locale."""

from __future__ import annotations

import pytest

from engine import i18n


def test_catalogues_have_the_same_keys() -> None:
    en, ko = i18n.catalog("en"), i18n.catalog("ko")
    assert sorted(set(en) - set(ko)) == [], "keys missing in ko.toml"
    assert sorted(set(ko) - set(en)) == [], "keys missing in en.toml"


def test_catalogues_have_the_same_parameters() -> None:
    en, ko = i18n.catalog("en"), i18n.catalog("ko")
    bad = {k: (i18n.params_of(en[k]), i18n.params_of(ko[k]))
           for k in en if i18n.params_of(en[k]) != i18n.params_of(ko.get(k, ""))}
    assert bad == {}


def test_no_empty_messages() -> None:
    for lang in i18n.LANGUAGES:
        assert [k for k, v in i18n.catalog(lang).items() if not v.strip()] == []


def test_translate_fills_parameters_and_falls_back() -> None:
    assert i18n.translate("report.page", "ko", page=2, pages=5) == "5쪽 중 2쪽"
    assert i18n.translate("report.page", "en", page=2, pages=5) == "Page 2 of 5"
    assert i18n.translate("no.such.key", "ko") == "no.such.key"


@pytest.mark.parametrize(("raw", "want"), [
    ("ko_KR.UTF-8", "ko"), ("ko", "ko"), ("en_US", "en"), ("de_DE", "en"), (None, "en"),
    ("ko-KR", "ko")])
def test_normalize(raw: str | None, want: str) -> None:
    assert i18n.normalize(raw) == want


def test_system_language_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("LC_ALL", "LC_MESSAGES", "LANGUAGE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("LANG", "ko_KR.UTF-8")
    assert i18n.system_language() == "ko"


def test_number_and_date_formats() -> None:
    assert i18n.format_number(1234.5, "en") == "1,234.50"
    assert i18n.format_percent(0.1234, "ko") == "12.3%"
    assert i18n.format_number(float("nan")) == "–"
    assert i18n.format_date("2017-03-04", "en") == "Mar 4, 2017"
    assert i18n.format_date("2017-03-04", "ko") == "2017. 3. 4."
