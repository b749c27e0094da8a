"""The Data page's "Connect a source" expander: pick a connector, test it, preview, import.

A thin view over ``engine.data.sources``: every decision (which SQL may run, how secrets are
kept out of the project, validation) is the engine's. Passwords and tokens live only in the
widgets of this browser session; "remember" puts a database password in the OS keyring.
"""

from __future__ import annotations

import streamlit as st

from alphaforge_app.components.imports import column_mapping, show_report
from alphaforge_app.i18n import error_text, t
from engine.data import sources
from engine.data.sources import CONNECTORS, SourceRequest, credentials
from engine.data.validate import ValidationReport
from engine.errors import AlphaForgeError, DataError
from engine.store.project import Project

_KEY = "af_source_"
_URL = "URL"  # the same word in both languages
_NO_UNIVERSE = "(none)"
_READ_MODES = ("table", "query")
_SQL_EXAMPLE = "SELECT date, ticker, open, high, low, close, volume FROM prices"


def _request(kind: str) -> SourceRequest | None:
    """The widgets of one connector kind -> a request (None until a URL is typed)."""
    connector = next(c for c in CONNECTORS if c.name == kind)
    url = st.text_input(_URL, placeholder=connector.example, key=f"{_KEY}url_{kind}",
                        help=t("sources.url_help", example=connector.example))
    table = query = password = token = None
    timeout, max_mb = 30.0, 1024
    if connector.kind == "sql":
        if kind == "postgresql":
            password = st.text_input(t("sources.password"), type="password", key=f"{_KEY}pw",
                                     help=t("sources.password_help")) or None
        modes = {m: t(f"sources.read_{m}") for m in _READ_MODES}
        mode = st.radio(t("sources.read"), _READ_MODES, horizontal=True,
                        format_func=modes.__getitem__, key=f"{_KEY}mode_{kind}")
        if mode == "table":
            known = st.session_state.get(f"{_KEY}tables_{kind}") or []
            table = (st.selectbox(t("sources.table"), known, key=f"{_KEY}table_{kind}")
                     if known else
                     st.text_input(t("sources.table"), key=f"{_KEY}tablename_{kind}",
                                   help=t("sources.table_help"))) or None
        else:
            query = st.text_area(t("sources.query"), key=f"{_KEY}query_{kind}",
                                 placeholder=_SQL_EXAMPLE) or None
    elif connector.kind == "http":
        token = st.text_input(t("sources.token"), type="password", key=f"{_KEY}token") or None
        c1, c2 = st.columns(2)
        timeout = float(c1.number_input(t("sources.timeout"), 1, 600, 30,
                                        key=f"{_KEY}timeout"))
        max_mb = int(c2.number_input(t("sources.size_limit"), 1, 65536, 1024,
                                     key=f"{_KEY}maxmb"))
    else:
        known = st.session_state.get(f"{_KEY}tables_{kind}") or []
        shown = {_NO_UNIVERSE: t("sources.no_universe")}
        choice = st.selectbox(t("sources.universe"), [_NO_UNIVERSE, *known],
                              format_func=lambda u: shown.get(u, u),
                              key=f"{_KEY}universe") if known else _NO_UNIVERSE
        table = None if choice == _NO_UNIVERSE else choice
    if not url:
        return None
    return SourceRequest(url.strip(), table=table, query=query, password=password, token=token,
                         timeout=timeout, max_bytes=max_mb << 20)


def connect_source(project: Project) -> None:
    """Render the "Connect a source" expander for ``project``."""
    with st.expander(t("sources.expander")):
        # Labels fixed when drawn: a format_func must not read the session later.
        titles = {c.name: t(f"sources.connector_{c.name}") for c in CONNECTORS}
        kind = st.selectbox(t("sources.source"), list(titles), key=f"{_KEY}kind",
                            format_func=titles.__getitem__)
        request = _request(kind)
        remember = False
        if kind == "postgresql":
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
