"""The Data page's "Connect a source" expander: pick a connector, test it, preview, import.

A thin view over ``engine.data.sources``: every decision (which SQL may run, how secrets are
kept out of the project, validation) is the engine's. Passwords and tokens live only in the
widgets of this browser session; "remember" puts a database password in the OS keyring.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import streamlit as st

from alphaforge_app.components.imports import column_mapping, show_report
from alphaforge_app.i18n import error_text, t, translator
from engine import i18n
from engine.data import sources
from engine.data.sources import CONNECTORS, SourceRequest, credentials
from engine.data.sources.base import SourceField
from engine.data.validate import ValidationReport
from engine.errors import AlphaForgeError, DataError
from engine.store.project import Project

_KEY = "af_source_"
_URL = "URL"  # the same word in both languages
_NO_UNIVERSE = "(none)"
_READ_MODES = ("table", "query")
_SQL_EXAMPLE = "SELECT date, ticker, open, high, low, close, volume FROM prices"
_DEFAULT_REQUEST = SourceRequest("")  # field types and defaults a form fills in


def _field_label(field: SourceField) -> str:
    return t(field.label_key) if i18n.has(field.label_key) else (field.label or field.target)


def _field_help(field: SourceField) -> str | None:
    return t(field.help_key) if field.help_key and i18n.has(field.help_key) else None


def _table_or_query(name: str, field: SourceField) -> dict[str, Any]:
    """A table (listed once "test connection" found them, else typed) or a SELECT."""
    modes = {m: t(f"sources.read_{m}") for m in _READ_MODES}
    mode = st.radio(t("sources.read"), _READ_MODES, horizontal=True,
                    format_func=modes.__getitem__, key=f"{_KEY}mode_{name}")
    if mode == "query":
        return {"query": st.text_area(t("sources.query"), key=f"{_KEY}query_{name}",
                                      placeholder=_SQL_EXAMPLE) or None}
    known = st.session_state.get(f"{_KEY}tables_{name}") or []
    label = _field_label(field)
    table = (st.selectbox(label, known, key=f"{_KEY}table_{name}") if known else
             st.text_input(label, key=f"{_KEY}tablename_{name}", help=_field_help(field)))
    return {field.target: table or None}


def _table_choice(name: str, field: SourceField) -> dict[str, Any]:
    """One of the names "test connection" found, or none (a Qlib folder's universe)."""
    known = st.session_state.get(f"{_KEY}tables_{name}") or []
    if not known:
        return {field.target: None}
    shown = {_NO_UNIVERSE: t("sources.no_universe")}
    choice = st.selectbox(_field_label(field), [_NO_UNIVERSE, *known],
                          format_func=lambda u: shown.get(u, u),
                          key=f"{_KEY}{field.target}_{name}", help=_field_help(field))
    return {field.target: None if choice == _NO_UNIVERSE else choice}


def _numbers(name: str, fields: list[SourceField]) -> dict[str, Any]:
    """Number inputs side by side, each converted to its request field's unit and type."""
    values: dict[str, Any] = {}
    for column, field in zip(st.columns(len(fields)), fields, strict=True):
        typed = column.number_input(_field_label(field), field.low, field.high, field.default,
                                    key=f"{_KEY}{field.target}_{name}",
                                    help=_field_help(field))
        kind = type(getattr(_DEFAULT_REQUEST, field.target))
        values[field.target] = kind(typed * field.scale)
    return values


def _request(name: str) -> SourceRequest | None:
    """The connector's declared inputs -> a request (None until a URL is typed)."""
    connector = CONNECTORS.get(name)
    url = st.text_input(_URL, placeholder=connector.example, key=f"{_KEY}url_{name}",
                        help=t("sources.url_help", example=connector.example))
    values: dict[str, Any] = {}
    numbers = [f for f in connector.fields if f.kind == "number"]
    for field in connector.fields:
        if field.kind == "secret":
            values[field.target] = st.text_input(
                _field_label(field), type="password", key=f"{_KEY}{field.target}_{name}",
                help=_field_help(field)) or None
        elif field.kind == "table_or_query":
            values.update(_table_or_query(name, field))
        elif field.kind == "table_choice":
            values.update(_table_choice(name, field))
        elif field is numbers[0]:
            values.update(_numbers(name, numbers))
    if not url:
        return None
    return replace(_DEFAULT_REQUEST, url=url.strip(), **values)


def connect_source(project: Project) -> None:
    """Render the "Connect a source" expander for ``project``."""
    with st.expander(t("sources.expander")):
        # Labels fixed when drawn: a format_func must not read the session later.
        titles = CONNECTORS.labels(translator())
        kind = st.selectbox(t("sources.source"), list(titles), key=f"{_KEY}kind",
                            format_func=titles.__getitem__)
        request = _request(kind)
        remember = False
        if CONNECTORS.get(kind).keyring_key is not None:
            remember = st.checkbox(t("sources.remember"),
                                   disabled=not credentials.available(), key=f"{_KEY}remember",
                                   help=None if credentials.available() else
                                   t("sources.no_keyring"))
        if request is None:
            st.caption(t("sources.enter_url"))
            return
        test, look = st.columns(2)
        if test.button(t("sources.test"), key=f"{_KEY}test"):
            try:
                detail = sources.probe(request)
                found = sources.tables(request)
                st.session_state[f"{_KEY}tables_{kind}"] = found
                st.success(t("sources.connected", count=len(found)))
                st.code(detail, language=None)  # the server's own description, as it is
            except AlphaForgeError as exc:
                st.error(error_text(exc))
        if look.button(t("sources.preview"), key=f"{_KEY}preview"):
            try:
                st.session_state[f"{_KEY}head_{kind}"] = sources.preview(request)
            except AlphaForgeError as exc:
                st.error(error_text(exc))
        head = st.session_state.get(f"{_KEY}head_{kind}")
        if head is not None:
            st.dataframe(head, use_container_width=True, hide_index=True)
        mapping = column_mapping(list(head.columns) if head is not None else [], f"{_KEY}{kind}")
        name = st.text_input(t("data.dataset_name"), sources.default_name(request),
                             key=f"{_KEY}name_{kind}")
        if st.button(t("data.import"), type="primary", key=f"{_KEY}import"):
            report = None
            with st.status(t("sources.importing"), expanded=True) as status:
                try:
                    st.write(t("data.reading"))
                    dataset = sources.load(request, column_map=mapping or None)
                    st.write(t("data.saving"))
                    project.save_dataset(name, dataset)
                    if remember:
                        sources.remember_password(request)
                    report = dataset.report
                    status.update(label=t("data.imported", name=name), state="complete")
                except DataError as exc:
                    report = exc.report if isinstance(exc.report, ValidationReport) else None
                    status.update(label=t("data.import_failed"), state="error")
                    st.error(error_text(exc))
                except AlphaForgeError as exc:
                    status.update(label=t("data.import_failed"), state="error")
                    st.error(error_text(exc))
            if report is not None:
                show_report(report)
