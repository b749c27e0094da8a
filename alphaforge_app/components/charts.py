"""A strategy's charts on a page, drawn from the engine's chart list in its order.

Pages never pick charts themselves: they pass the figures of
:func:`engine.report.charts.strategy_charts` (a whole list, or one section of it) and only
choose the layout, so the app shows the charts the PDF and HTML report show, in the same
order. Each chart gets the element key :func:`element_key` (tests read the keys back).
"""

from __future__ import annotations

from collections.abc import Mapping

import plotly.graph_objects as go
import streamlit as st

from engine.report.charts import STRATEGY_CHARTS

_NARROW = {spec.key for spec in STRATEGY_CHARTS if spec.narrow}


def element_key(chart: str) -> str:
    """The Streamlit key of chart ``chart`` (unique on a page: each chart is drawn once)."""
    return f"af_chart_{chart}"


def show_charts(figs: Mapping[str, go.Figure], *, pair_narrow: bool = False) -> None:
    """Draw ``figs`` in their order, full width; with ``pair_narrow``, two narrow charts in a
    row share it (drawdown beside turnover on the backtest tab)."""
    keys = list(figs)
    i = 0
    while i < len(keys):
        key = keys[i]
        nxt = keys[i + 1] if i + 1 < len(keys) else None
        if pair_narrow and key in _NARROW and nxt in _NARROW:
            left, right = st.columns(2)
            left.plotly_chart(figs[key], use_container_width=True, key=element_key(key))
            right.plotly_chart(figs[nxt], use_container_width=True, key=element_key(nxt))
            i += 2
        else:
            st.plotly_chart(figs[key], use_container_width=True, key=element_key(key))
            i += 1
