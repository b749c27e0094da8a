"""Home: what AlphaForge does, the five steps, the current project's state, the demo button."""

from __future__ import annotations

import streamlit as st

from alphaforge_app import state
from alphaforge_app.i18n import error_text, t
from engine.errors import AlphaForgeError
from engine.store.demo import ensure_demo

st.title(t("common.app_name"))
st.write(t("home.intro"))

STEPS = [
    ("home.step_data", "pages/data.py", "home.step_data_text"),
    ("home.step_mining", "pages/mining.py", "home.step_mining_text"),
    ("home.step_combine", "pages/combine.py", "home.step_combine_text"),
    ("home.step_reports", "pages/reports.py", "home.step_reports_text"),
]
cols = st.columns(len(STEPS))
for col, (title, page, text) in zip(cols, STEPS, strict=True):
    with col.container(border=True):
        st.page_link(page, label=t(title))
        st.caption(t(text))

project = state.current_project(state.is_single_user())
st.subheader(t("home.current_project"))
if project is None:
    st.info(t("home.no_project"))
else:
    summary = project.summary()
    c1, c2, c3 = st.columns(3)
    c1.metric(t("home.datasets"), len(summary["datasets"]))
    c2.metric(t("home.runs"), summary["runs"])
    c3.metric(t("home.strategies"), len(summary["strategies"]))
    st.caption(t("home.project_path", name=summary["name"], path=summary["path"]))

if st.button(t("home.demo_button"), type="primary"):
    single = state.is_single_user()
    with st.spinner(t("home.demo_generating")):
        try:
            demo, meta, _ = ensure_demo(state.projects_root(single) / "demo", name="demo")
            state.set_project(demo)
            st.success(t("home.demo_ready", tickers=meta.n_tickers, days=meta.n_dates))
            st.rerun()
        except AlphaForgeError as exc:
            st.error(error_text(exc))
