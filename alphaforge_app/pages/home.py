"""Home: what AlphaForge does, the five steps, the current project's state, the demo button."""

from __future__ import annotations

import streamlit as st

from alphaforge_app import state
from engine.errors import AlphaForgeError
from engine.store.demo import ensure_demo

st.title("AlphaForge")
st.write(
    "Mine formulaic alpha factors with a generative-predictive neural network, combine them "
    "into a **Mega-Alpha** whose weights are re-fitted every day, backtest it and share the "
    "report — offline, on this computer."
)

STEPS = [
    ("1. Data", "pages/data.py", "Import daily OHLCV prices (CSV / Parquet) and check them."),
    ("2. Factor mining", "pages/mining.py", "Let the miner search for predictive formulas."),
    ("3. Combine & backtest", "pages/combine.py",
     "Build the dynamic Mega-Alpha and backtest a portfolio."),
    ("4. Reports", "pages/reports.py", "Compare strategies and download PDF reports."),
]
cols = st.columns(len(STEPS))
for col, (title, page, text) in zip(cols, STEPS, strict=True):
    with col.container(border=True):
        st.page_link(page, label=title)
        st.caption(text)

project = state.current_project(state.is_single_user())
st.subheader("Current project")
if project is None:
    st.info("No project yet. Start with the built-in demo market: a synthetic market with "
            "known, planted signals, so you can see the miner find them.")
else:
    summary = project.summary()
    c1, c2, c3 = st.columns(3)
    c1.metric("Datasets", len(summary["datasets"]))
    c2.metric("Runs", summary["runs"])
    c3.metric("Strategies", len(summary["strategies"]))
    st.caption(f"{summary['name']} — {summary['path']}")

if st.button("Start with the demo market", type="primary"):
    single = state.is_single_user()
    with st.spinner("Generating the demo market (a few seconds)..."):
        try:
            demo, meta, _ = ensure_demo(state.projects_root(single) / "demo", name="demo")
            state.set_project(demo)
            st.success(f"Demo project ready: {meta.n_tickers} tickers x {meta.n_dates} days.")
            st.rerun()
        except AlphaForgeError as exc:
            st.error(str(exc))
