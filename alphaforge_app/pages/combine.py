"""Combine & backtest page (the engine is ready from the command line; the page comes next)."""

from __future__ import annotations

import streamlit as st

st.title("Combine & backtest")
st.info("Coming next: this step is available from the command line today "
        "(see `alphaforge --help`); its page is being built.")
