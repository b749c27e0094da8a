"""Home: what AlphaForge does, what to do next and why, the four steps (done ones ticked), a
short tour of the terms, the current project's state, the demo button."""

from __future__ import annotations

import streamlit as st

from alphaforge_app import state
from alphaforge_app.i18n import error_text, language, t
from engine.errors import AlphaForgeError
from engine.glossary import TOUR_TERMS, glossary_markdown
from engine.store.demo import ensure_demo
from engine.store.next_step import STEP_PAGES, done_steps, next_step

project = state.current_project(state.is_single_user())
step = next_step(project)
done = done_steps(project)

st.title(t("common.app_name"))
st.write(t("home.intro"))

with st.container(border=True, key="next_step"):
    st.subheader(t("home.next_title"))
    st.markdown(f"**{t(f'home.next_{step.key}')}**")
    st.write(t(f"home.reason_{step.reason}"))
    st.page_link(step.page, label=t("home.open_page", page=t(f"app.page_{step.key}")),
                 icon=":material/arrow_forward:")

cols = st.columns(len(STEP_PAGES))
for col, (key, page) in zip(cols, STEP_PAGES.items(), strict=True):
    with col.container(border=True, key=f"step_{key}"):
        st.page_link(page, label=t(f"home.step_{key}"))
        st.caption(t(f"home.step_{key}_text"))
        if key in done:
            st.badge(t("home.step_done"), color="green")
        elif key == step.key:
            st.badge(t("home.step_current"), color="blue")


@st.dialog(t("home.glossary_title"), width="large")
def _glossary(text: str) -> None:
    st.markdown(text)


# Open for a newcomer; once a strategy exists the words are familiar and it stays out of the way.
with st.expander(t("home.tour_title"), expanded=step.reason != "has_strategy",
                 icon=":material/school:"):
    st.write(t("home.tour_intro"))
    for term in TOUR_TERMS:
        st.markdown(f"**{t(f'home.term_{term}')}** — {t(f'home.def_{term}')}")
    glossary = glossary_markdown(language())
    if glossary is not None and st.button(t("home.glossary_button"), icon=":material/book:"):
        _glossary(glossary)

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
