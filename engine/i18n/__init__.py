"""One translation layer for everything a person reads: app pages, chart titles, PDF headings.

Messages live in TOML files beside this module, one folder per language and one file per
area (``en/mining.toml``, ``ko/mining.toml``); a key is ``<file stem>.<key>``
(``mining.start``), so each area of the app owns its own file. A message is a ``str.format``
template with named parameters, e.g. ``"{count} factors in the zoo"``. Formulas, tickers
and numbers are passed as parameters and are never translated. ``tests/engine/test_i18n.py``
checks both catalogues have the same keys and the same parameters;
``tests/alphaforge_app/test_i18n_scan.py`` that the app has no user-visible literal outside
the layer.

Why TOML and not gettext: two languages, a few hundred keys, edited by researchers who are
not translators; a flat key table that Python reads with the standard library is the simplest
thing that keeps both languages complete (a missing key fails a test, not a user).
"""

from __future__ import annotations

import locale
import os
import string
import tomllib
from collections.abc import Mapping, Sequence
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


def has(key: str) -> bool:
    """True when ``key`` is in the (English) catalogue."""
    return key in catalog(DEFAULT)


def _listed(area: str, code: str, values: Sequence[Any], more: int, lang: str) -> str:
    """A list parameter as text: dicts through an item template, other values as they are;
    ``more`` hidden entries add ``common.more``.

    The item template of a dict is ``<area>.item.<code>``; a dict with a ``kind`` uses
    ``<area>.item.<code>.<kind>``, else the shared ``<area>.item.<kind>``.
    """
    parts = []
    for value in values:
        if isinstance(value, Mapping):
            key = f"{area}.item.{code}"
            if "kind" in value:
                own = f"{key}.{value['kind']}"
                key = own if has(own) else f"{area}.item.{value['kind']}"
            fields = {k: v for k, v in value.items() if k != "kind"}
            parts.append(translate(key, lang, **fields))
        else:
            parts.append(str(value))
    text = ", ".join(parts)
    if more > 0:
        text += " " + translate("common.more", lang, count=more)
    return text


def render(area: str, code: str, params: Mapping[str, Any], lang: str = DEFAULT) -> str | None:
    """The message ``<area>.<code>`` filled with structured ``params``; None when the
    catalogue has no such message (the caller then shows its English text).

    ``params`` are plain JSON values as stored with an error or a validation issue: scalars
    fill ``{name}`` directly; ``{"term": "dataset_name"}`` is a word the catalogue translates
    (``<area>.term.<id>``); a list is joined with ", " (a list of dicts goes through the
    item template, see :func:`_listed`); an integer ``more`` is the number of entries the
    lists leave out ("+3 more").
    """
    key = f"{area}.{code}"
    if not has(key):
        return None
    more = int(params.get("more", 0) or 0)
    values: dict[str, Any] = {}
    for name, value in params.items():
        if name == "more":
            continue
        if isinstance(value, list | tuple):
            value = _listed(area, code, value, more, lang)
        elif isinstance(value, Mapping) and "term" in value:
            term = f"{area}.term.{value['term']}"
            value = translate(term, lang) if has(term) else str(value["term"])
        values[name] = value
    return translate(key, lang, **values)


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
