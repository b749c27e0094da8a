"""The Data page's "Connect a source" expander: pick a connector, test it, preview, import.

A thin view over ``engine.data.sources``: every decision (which SQL may run, how secrets are
kept out of the project, validation) is the engine's. Passwords and tokens live only in the
widgets of this browser session; "remember" puts a database password in the OS keyring.
"""

from __future__ import annotations

import streamlit as st

from alphaforge_app.components.imports import column_mapping, show_report
from engine.data import sources
from engine.data.sources import CONNECTORS, SourceRequest, credentials
from engine.data.validate import ValidationReport
from engine.errors import AlphaForgeError, DataError
from engine.store.project import Project

_KEY = "af_source_"


def _request(kind: str) -> SourceRequest | None:
    """The widgets of one connector kind -> a request (None until a URL is typed)."""
    connector = next(c for c in CONNECTORS if c.name == kind)
    url = st.text_input("URL", placeholder=connector.example, key=f"{_KEY}url_{kind}",
                        help=f"e.g. {connector.example}")
    table = query = password = token = None
    timeout, max_mb = 30.0, 1024
    if connector.kind == "sql":
        if kind == "postgresql":
            password = st.text_input("Password", type="password", key=f"{_KEY}pw",
                                     help="never written to the project; leave empty to use "
                                          "the OS keyring, PGPASSWORD or ~/.pgpass") or None
        mode = st.radio("Read", ["A table", "A SELECT query"], horizontal=True,
                        key=f"{_KEY}mode_{kind}")
        if mode == "A table":
            known = st.session_state.get(f"{_KEY}tables_{kind}") or []
            table = (st.selectbox("Table", known, key=f"{_KEY}table_{kind}") if known else
                     st.text_input("Table", key=f"{_KEY}tablename_{kind}",
                                   help="test the connection to pick from a list")) or None
        else:
            query = st.text_area("SELECT query (read-only; one statement)",
                                 key=f"{_KEY}query_{kind}",
                                 placeholder="SELECT date, ticker, open, high, low, close, "
                                             "volume FROM prices") or None
    elif connector.kind == "http":
        token = st.text_input("Bearer token (optional)", type="password",
                              key=f"{_KEY}token") or None
        c1, c2 = st.columns(2)
        timeout = float(c1.number_input("Timeout (s)", 1, 600, 30, key=f"{_KEY}timeout"))
        max_mb = int(c2.number_input("Size limit (MB)", 1, 65536, 1024, key=f"{_KEY}maxmb"))
    else:
        known = st.session_state.get(f"{_KEY}tables_{kind}") or []
        choice = st.selectbox("Universe (membership becomes in_universe)", ["(none)", *known],
                              key=f"{_KEY}universe") if known else "(none)"
        table = None if choice == "(none)" else choice
    if not url:
        return None
    return SourceRequest(url.strip(), table=table, query=query, password=password, token=token,
                         timeout=timeout, max_bytes=max_mb << 20)


def connect_source(project: Project) -> None:
    """Render the "Connect a source" expander for ``project``."""
    with st.expander("Connect a source (database, HTTP endpoint, Qlib folder)"):
        titles = {c.title: c.name for c in CONNECTORS}
        kind = titles[st.selectbox("Source", list(titles), key=f"{_KEY}kind")]
        request = _request(kind)
        remember = False
        if kind == "postgresql":
            remember = st.checkbox("Remember the password in the OS keyring",
                                   disabled=not credentials.available(), key=f"{_KEY}remember",
                                   help=None if credentials.available() else
                                   "no OS keyring on this machine: the password is asked "
                                   "each time")
        if request is None:
            st.caption("Enter the source's URL.")
            return
        test, look = st.columns(2)
        if test.button("Test connection", key=f"{_KEY}test"):
            try:
                st.success(sources.probe(request))
                st.session_state[f"{_KEY}tables_{kind}"] = sources.tables(request)
            except AlphaForgeError as exc:
                st.error(str(exc))
        if look.button("Preview", key=f"{_KEY}preview"):
            try:
                st.session_state[f"{_KEY}head_{kind}"] = sources.preview(request)
            except AlphaForgeError as exc:
                st.error(str(exc))
        head = st.session_state.get(f"{_KEY}head_{kind}")
        if head is not None:
            st.dataframe(head, use_container_width=True, hide_index=True)
        mapping = column_mapping(list(head.columns) if head is not None else [], f"{_KEY}{kind}")
        name = st.text_input("Dataset name", sources.default_name(request),
                             key=f"{_KEY}name_{kind}")
        if st.button("Import", type="primary", key=f"{_KEY}import"):
            report = None
            with st.status("Importing...", expanded=True) as status:
                try:
                    st.write("Reading and validating...")
                    dataset = sources.load(request, column_map=mapping or None)
                    st.write("Saving to the project...")
                    project.save_dataset(name, dataset)
                    if remember:
                        sources.remember_password(request)
                    report = dataset.report
                    status.update(label=f"Imported '{name}'", state="complete")
                except DataError as exc:
                    report = exc.report if isinstance(exc.report, ValidationReport) else None
                    status.update(label="Import failed — nothing was saved", state="error")
                    st.error(str(exc))
                except AlphaForgeError as exc:
                    status.update(label="Import failed — nothing was saved", state="error")
                    st.error(str(exc))
            if report is not None:
                show_report(report)
