"""Settings and per-person language preferences (engine/store/settings.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.errors import StoreError
from engine.store.accounts import User
from engine.store.settings import (
    AppSettings,
    load_language,
    load_settings,
    preferences_path,
    save_language,
    save_settings,
)


def test_language_is_unset_until_chosen(tmp_path: Path) -> None:
    assert load_settings(tmp_path) == AppSettings()
    assert load_language(tmp_path, None) is None
    assert load_language(tmp_path, User(1, "jiwoo")) is None


def test_single_user_language_lives_in_the_settings(tmp_path: Path) -> None:
    save_settings(tmp_path, AppSettings(mode="single"))
    save_language(tmp_path, None, "ko")
    assert load_settings(tmp_path) == AppSettings(mode="single", language="ko")
    assert load_language(tmp_path, None) == "ko"


def test_each_account_keeps_its_own_language(tmp_path: Path) -> None:
    save_settings(tmp_path, AppSettings(mode="accounts"))
    jiwoo, minsu = User(1, "jiwoo"), User(2, "minsu")
    save_language(tmp_path, jiwoo, "ko")
    save_language(tmp_path, minsu, "en")
    assert (load_language(tmp_path, jiwoo), load_language(tmp_path, minsu)) == ("ko", "en")
    assert load_language(tmp_path, None) is None  # the app-wide settings are untouched
    path = preferences_path(tmp_path, jiwoo)
    assert path == tmp_path / "users" / "1" / "preferences.json"
    assert json.loads(path.read_text())["language"] == "ko"
    assert not list(path.parent.glob(".*"))  # atomic write left no temp file


def test_unknown_languages_are_refused_or_ignored(tmp_path: Path) -> None:
    with pytest.raises(StoreError):
        save_language(tmp_path, None, "fr")
    (tmp_path / "settings.json").write_text('{"mode": "single", "language": "fr"}')
    assert load_language(tmp_path, None) is None
