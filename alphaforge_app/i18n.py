"""The app's side of the translation layer: the session's language, ``t(key, **params)``,
the language switch, and engine errors and validation issues in the user's language.

Every user-visible string of a page goes through ``t`` (``tests/alphaforge_app/
test_i18n_scan.py`` enforces it); the messages themselves live in
``engine/i18n/<lang>/<area>.toml``. The language is remembered per person (see
``engine.store.settings``): read once per session as soon as the person is known (single-user
mode, or after login), written whenever the switch changes.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from alphaforge_app import state
from engine.data.validate import Issue
from engine.i18n import LANGUAGE_NAMES, LANGUAGES, Translator, normalize, render, system_language
from engine.i18n import translate as _translate
from engine.store.settings import load_language, load_settings, save_language

_LANG = "af_lang"
_LOADED = "af_lang_loaded_for"  # whose stored preference this session has read
_SWITCH = "af_lang_switch"


def _person() -> tuple[str, Any] | None:
    """(a key naming the person, the ``User`` or None) once the app knows who this is:
    single-user mode, or a logged-in account; None before that (first start, login page)."""
    mode = load_settings(state.home()).mode
    if mode == "single":
        return "single", None
    user = state.current_user()
    if mode == "accounts" and user is not None:
        return f"user:{user.id}", user
    return None


def language() -> str:
    """The language of this browser session: the person's stored choice (read once per
    session), else the choice made in this session, else the operating system's."""
    # Once the preference is read, the person cannot change without a new session (logout
    # clears it), so settings.json is not read again on every message.
    person = None if st.session_state.get(_LOADED) else _person()
    if person is not None:
        st.session_state[_LOADED] = person[0]
        stored = load_language(state.home(), person[1])
        if stored is not None:
            st.session_state[_LANG] = stored
        elif st.session_state.get(_LANG):  # chosen on the login page: keep it
            save_language(state.home(), person[1], normalize(st.session_state[_LANG]))
    return normalize(st.session_state.get(_LANG) or system_language())


def set_language(lang: str) -> None:
    """Switch this session to ``lang`` and remember it for the person, when known."""
    lang = normalize(lang)
    st.session_state[_LANG] = lang
    person = _person()
    if person is not None:
        st.session_state[_LOADED] = person[0]
        save_language(state.home(), person[1], lang)


def t(key: str, /, **params: Any) -> str:
    """The message ``key`` in the session's language."""
    return _translate(key, language(), **params)


def translator() -> Translator:
    """A translator bound to the session's language, for engine functions (figures, PDF)."""
    return Translator(language())


def language_switch(container: Any = None) -> None:
    """The English/한국어 select box (sidebar, or ``container`` such as the gate page)."""
    box = container if container is not None else st.sidebar
    current = language()
    st.session_state[_SWITCH] = current  # follow a language read from the stored preference
    box.selectbox(t("common.language"), LANGUAGES, key=_SWITCH,
                  format_func=LANGUAGE_NAMES.__getitem__,
                  on_change=lambda: set_language(st.session_state[_SWITCH]))


def error_text(exc: BaseException) -> str:
    """An engine error in the session's language: ``errors.<code>`` filled with the error's
    params, or the English message when the error has no code or the code no message."""
    code = getattr(exc, "code", None)
    if code:
        text = render("errors", code, getattr(exc, "params", {}) or {}, language())
        if text is not None:
            return text
    return str(exc)


def issue_text(issue: Issue) -> str:
    """A validation issue in the session's language (``validation.<code>``); reports saved
    before issues carried params are shown in English."""
    if issue.params:
        text = render("validation", issue.code, issue.params, language())
        if text is not None:
            return text
    return issue.message


def suggestion_text(code: str) -> str | None:
    """The suggestion shown under a warning of this code, if the catalogue has one."""
    text = render("validation", f"suggestion.{code}", {}, language())
    return text
