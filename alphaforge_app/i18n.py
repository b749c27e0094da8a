"""The app's side of the translation layer: the session's language and ``t(key, **params)``.

Every user-visible string of a page goes through ``t`` (a static scan in the tests enforces
it); the messages themselves live in ``engine/i18n/<lang>/<area>.toml``.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from engine.i18n import Translator, normalize, system_language, translate

_LANG = "af_lang"


def language() -> str:
    """The language of this browser session: chosen in the sidebar, else the system's."""
    lang = st.session_state.get(_LANG)
    if lang is None:
        lang = system_language()
        st.session_state[_LANG] = lang
    return normalize(lang)


def set_language(lang: str) -> None:
    st.session_state[_LANG] = normalize(lang)


def t(key: str, /, **params: Any) -> str:
    """The message ``key`` in the session's language."""
    return translate(key, language(), **params)


def translator() -> Translator:
    """A translator bound to the session's language, for engine functions (figures, PDF)."""
    return Translator(language())


def error_text(exc: BaseException) -> str:
    """An engine error in the session's language: its ``errors.<code>`` message when the error
    carries a code with a catalogue entry, else its English text."""
    code = getattr(exc, "code", None)
    if code:
        key = f"errors.{code}"
        text = translate(key, language(), **dict(getattr(exc, "params", None) or {}))
        if text != key:
            return text
    return str(exc)
