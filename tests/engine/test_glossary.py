"""The newcomer's words: every tour term has its name and text in both languages, and the full
glossary the tour opens explains each of them too."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine import glossary, i18n


@pytest.mark.parametrize("lang", i18n.LANGUAGES)
def test_every_tour_term_has_a_name_and_a_text(lang: str) -> None:
    messages = i18n.catalog(lang)
    missing = [f"home.{part}_{term}" for term in glossary.TOUR_TERMS for part in ("term", "def")
               if f"home.{part}_{term}" not in messages]
    assert missing == []


@pytest.mark.parametrize("lang", i18n.LANGUAGES)
def test_the_full_glossary_explains_every_tour_term(lang: str) -> None:
    text = glossary.glossary_markdown(lang)
    assert text is not None
    names = [i18n.translate(f"home.term_{term}", lang).split(" (")[0]
             for term in glossary.TOUR_TERMS]
    assert [name for name in names if name.lower() not in text.lower()] == []


def test_title_and_language_bar_are_left_out() -> None:
    ko = glossary.glossary_markdown("ko")
    assert ko is not None
    assert not ko.startswith("# ") and "](../glossary.md)" not in ko
    assert ko.splitlines()[0].startswith("앱과 보고서에서")


def test_a_missing_glossary_gives_none(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(glossary, "_DOCS", tmp_path)
    assert glossary.glossary_markdown("en") is None
