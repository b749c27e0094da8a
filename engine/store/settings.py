"""Application settings kept in the AlphaForge home folder (``settings.json``), and each
user's own preferences.

The account mode is chosen once at first start: ``single`` (one person on this laptop, no
login) or ``accounts`` (local sign-up/login, one projects folder per user). ``None`` means the
first-start screen has not been answered yet.

The interface language is remembered per person: in single-user mode in ``settings.json``;
in accounts mode in ``users/<id>/preferences.json`` beside that user's projects folder, so
two students sharing a laptop each keep their own language. ``None`` means never chosen (the
app then follows the operating system's locale).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Literal

from engine.errors import StoreError
from engine.i18n import LANGUAGES
from engine.store import atomic
from engine.store.accounts import User, user_home

Mode = Literal["single", "accounts"]
FILE = "settings.json"
PREFERENCES = "preferences.json"


@dataclass(frozen=True)
class AppSettings:
    mode: Mode | None = None
    language: str | None = None
    schema_version: int = 1


def _language(value: object) -> str | None:
    """A stored language code, or None when absent or not one the app speaks."""
    return value if isinstance(value, str) and value in LANGUAGES else None


def load_settings(home: Path) -> AppSettings:
    path = home / FILE
    if not path.exists():
        return AppSettings()
    data = atomic.read_json(path)
    if not isinstance(data, dict):
        raise StoreError(f"{path}: not a settings file")
    if data.get("mode") not in (None, "single", "accounts"):
        raise StoreError(f"{path}: unknown account mode {data.get('mode')!r}")
    return AppSettings(mode=data.get("mode"), language=_language(data.get("language")))


def save_settings(home: Path, settings: AppSettings) -> None:
    atomic.write_json(home / FILE, asdict(settings))


def preferences_path(home: Path, user: User) -> Path:
    """``home/users/<id>/preferences.json``: next to the user's projects folder."""
    return user_home(home, user).parent / PREFERENCES


def load_language(home: Path, user: User | None) -> str | None:
    """The language this person chose (``user`` None: single-user mode), or None."""
    if user is None:
        return load_settings(home).language
    path = preferences_path(home, user)
    if not path.exists():
        return None
    data = atomic.read_json(path)
    return _language(data.get("language")) if isinstance(data, dict) else None


def save_language(home: Path, user: User | None, lang: str) -> None:
    """Remember ``lang`` for this person (atomic write; other preferences are kept)."""
    if lang not in LANGUAGES:
        raise StoreError(f"unknown language {lang!r}; choose one of {', '.join(LANGUAGES)}")
    if user is None:
        save_settings(home, replace(load_settings(home), language=lang))
        return
    path = preferences_path(home, user)
    data = atomic.read_json(path) if path.exists() else {}
    data = data if isinstance(data, dict) else {}
    atomic.write_json(path, {**data, "language": lang, "schema_version": 1})
