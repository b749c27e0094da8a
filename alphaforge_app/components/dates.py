"""A date range as two date inputs side by side: the range picker shows both ends only when
it is wide, and the sidebar is not (it cut '2010/01/04 – 2017/09/1…' short)."""

from __future__ import annotations

import datetime as dt

import streamlit as st

from alphaforge_app.i18n import t


def date_range(label: str, value: tuple[dt.date, dt.date], *, min_value: dt.date,
               max_value: dt.date, help: str | None = None) -> tuple[dt.date, dt.date]:
    """(first day, last day) picked under one caption, each end in its own input."""
    st.markdown(f"**{label}**", help=help)
    left, right = st.columns(2)
    start = left.date_input(t("common.date_from"), value[0], min_value=min_value,
                            max_value=max_value, key=f"{label}-from")
    end = right.date_input(t("common.date_to"), value[1], min_value=min_value,
                           max_value=max_value, key=f"{label}-to")
    return start, end
