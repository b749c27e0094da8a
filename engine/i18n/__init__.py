"""One translation layer for everything a person reads: app pages, chart titles, PDF headings.

Messages live in TOML files beside this module, one folder per language and one file per
area (``en/mining.toml``, ``ko/mining.toml``); a key is ``<file stem>.<key>`` (``mining.start``),
so each area of the app owns its own file. A message is a ``str.format`` template with named parameters, e.g.
``"{count} factors in the zoo"``. Formulas, tickers and numbers are passed as parameters and
are never translated. ``tests/engine/test_i18n.py`` checks both catalogues have the same keys
and the same parameters, and that the app has no user-visible literal outside the layer.

Why TOML and not gettext: two languages, a few hundred keys, edited by researchers who are
not translators; a flat key table that Python reads with the standard library is the simplest
thing that keeps both languages complete (a missing key fails a test, not a user).
"""

from __future__ import annotations

import locale
import os
import string
import tomllib
from collections.abc import Mapping
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

LANGUAGES: tuple[str, ...] = ("en", "ko")
LANGUAGE_NAMES: dict[str, str] = {"en": "English", "ko": "한국어"}
DEFAULT = "en"
_DIR = Path(__file__).parent


def _flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(_flatten(value, name + "."))
        else:
            out[name] = str(value)
    return out


@cache
def catalog(lang: str) -> dict[str, str]:
    """All messages of one language, keyed by dotted name (read once per process)."""
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}; choose one of {', '.join(LANGUAGES)}")
    out: dict[str, str] = {}
    for file in sorted((_DIR / lang).glob("*.toml")):
        with open(file, "rb") as fh:
            out.update(_flatten(tomllib.load(fh), file.stem + "."))
    return out


def normalize(lang: str | None) -> str:
    """``'ko_KR.UTF-8'`` → ``'ko'``; anything unknown → English."""
    if not lang:
        return DEFAULT
    code = lang.replace("-", "_").split("_")[0].split(".")[0].lower()
    return code if code in LANGUAGES else DEFAULT


def system_language() -> str:
    """The language of the operating system's locale (``LANG``/``LC_ALL``...), else English."""
    for var in ("LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE"):
        value = os.environ.get(var)
        if value and value not in ("C", "POSIX") and not value.startswith("C."):
            return normalize(value)
    try:
        return normalize(locale.getlocale()[0])
    except ValueError:
        return DEFAULT


def params_of(template: str) -> set[str]:
    """The named parameters a template uses (for the catalogue consistency test)."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def translate(key: str, lang: str = DEFAULT, /, **params: Any) -> str:
    """The message ``key`` in ``lang`` with ``params`` filled in.

    A key missing from the catalogue falls back to English, then to the key itself, so a
    slip shows as a readable key rather than a crash; the catalogue test keeps that from
    happening in a release.
    """
    messages = catalog(normalize(lang))
    template = messages.get(key) or catalog(DEFAULT).get(key) or key
    if not params:
        return template
    try:
        return template.format(**params)
    except (KeyError, IndexError, ValueError):
        return template


class Translator:
    """``t = Translator("ko"); t("mining.start")`` — a language bound once, passed around."""

    def __init__(self, lang: str = DEFAULT) -> None:
        self.lang = normalize(lang)

    def __call__(self, key: str, /, **params: Any) -> str:
        return translate(key, self.lang, **params)

    def number(self, value: float | int | None, digits: int = 2) -> str:
        return format_number(value, self.lang, digits)

    def percent(self, value: float | None, digits: int = 1) -> str:
        return format_percent(value, self.lang, digits)

    def date(self, value: date | datetime | str | None) -> str:
        return format_date(value, self.lang)


def _babel_locale(lang: str) -> str:
    return {"en": "en_US", "ko": "ko_KR"}[normalize(lang)]


def format_number(value: float | int | None, lang: str = DEFAULT, digits: int = 2) -> str:
    """A number with the locale's grouping and decimal signs; NaN/None → an en dash."""
    if value is None or (isinstance(value, float) and value != value):
        return "–"
    from babel.numbers import format_decimal

    pattern = "#,##0" + ("." + "0" * digits if digits > 0 else "")
    return format_decimal(value, format=pattern, locale=_babel_locale(lang))


def format_percent(value: float | None, lang: str = DEFAULT, digits: int = 1) -> str:
    """``0.1234`` → ``12.3%`` (the sign convention of both locales is the same)."""
    if value is None or (isinstance(value, float) and value != value):
        return "–"
    from babel.numbers import format_percent as _fp

    pattern = "#,##0" + ("." + "0" * digits if digits > 0 else "") + "%"
    return _fp(value, format=pattern, locale=_babel_locale(lang))


def format_date(value: date | datetime | str | None, lang: str = DEFAULT) -> str:
    """A calendar date in the locale's medium form (``Mar 4, 2017`` / ``2017. 3. 4.``)."""
    if value is None:
        return "–"
    if isinstance(value, str):
        value = date.fromisoformat(value[:10])
    from babel.dates import format_date as _fd

    return _fd(value, format="medium", locale=_babel_locale(lang))
