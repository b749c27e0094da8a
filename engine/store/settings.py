"""Application settings kept in the AlphaForge home folder (``settings.json``).

The only setting so far is the account mode, chosen once at first start: ``single`` (one
person on this laptop, no login) or ``accounts`` (local sign-up/login, one projects folder per
user). ``None`` means the first-start screen has not been answered yet.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from engine.errors import StoreError
from engine.store import atomic

Mode = Literal["single", "accounts"]
FILE = "settings.json"


@dataclass(frozen=True)
class AppSettings:
    mode: Mode | None = None
    language: str = "en"
    schema_version: int = 1


def load_settings(home: Path) -> AppSettings:
    path = home / FILE
    if not path.exists():
        return AppSettings()
    data = atomic.read_json(path)
    if not isinstance(data, dict):
        raise StoreError(f"{path}: not a settings file")
    if data.get("mode") not in (None, "single", "accounts"):
        raise StoreError(f"{path}: unknown account mode {data.get('mode')!r}")
    return AppSettings(mode=data.get("mode"), language=str(data.get("language", "en")))


def save_settings(home: Path, settings: AppSettings) -> None:
    atomic.write_json(home / FILE, asdict(settings))
