"""AlphaForge Streamlit entrypoint: page setup, login gate, project picker, navigation.

Run through `alphaforge app` (or `make run`), which binds 127.0.0.1 with XSRF protection on.
"""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `streamlit run alphaforge_app/app.py` from a source checkout
    sys.path.insert(0, str(ROOT))

from alphaforge_app import auth, sidebar, state  # noqa: E402
from alphaforge_app.i18n import error_text, language_switch, t  # noqa: E402
from engine.errors import AlphaForgeError  # noqa: E402
from engine.plugins import load_plugins  # noqa: E402

PAGES = Path(__file__).parent / "pages"

st.set_page_config(page_title=t("common.app_name"), page_icon=str(ROOT / "assets" / "logo.png"),
                   layout="wide")

try:
    load_plugins()  # a plug-in's generators, methods and connectors join the select boxes
except AlphaForgeError as exc:
    st.error(error_text(exc))
    st.stop()

if not auth.allowed():
    st.navigation([st.Page(auth.gate_page, title=t("app.welcome"))], position="hidden").run()
else:
    single = state.is_single_user()
    language_switch()
    st.sidebar.image(str(ROOT / "assets" / "logo.png"), width=150)
    sidebar.project_picker(single)
    sidebar.account_box()
    sidebar.device_caption()
    nav = st.navigation([
        st.Page(PAGES / "home.py", title=t("app.page_home"), icon=":material/home:",
                default=True),
        st.Page(PAGES / "data.py", title=t("app.page_data"), icon=":material/table_chart:"),
        st.Page(PAGES / "mining.py", title=t("app.page_mining"), icon=":material/science:"),
        st.Page(PAGES / "combine.py", title=t("app.page_combine"),
                icon=":material/stacked_line_chart:"),
        st.Page(PAGES / "reports.py", title=t("app.page_reports"),
                icon=":material/description:"),
        st.Page(PAGES / "sweeps.py", title=t("app.page_sweeps"), icon=":material/grid_on:"),
    ])
    nav.run()
