"""Heavy engine results cached across reruns, keyed by what they depend on.

Streamlit reruns a page on every click; recomputing a zoo's IC series or a panel each time
would make the page sluggish. Keys include the dataset's content hash, so a re-imported
dataset never serves stale numbers.
"""

from __future__ import annotations

import streamlit as st

from engine.data.panel import Panel
from engine.metrics.formulas import FactorDetail
from engine.metrics.formulas import factor_detail as _factor_detail
from engine.store.project import Project


@st.cache_resource(max_entries=4, show_spinner=False)
def _panel(root: str, dataset: str, content_hash: str) -> Panel:
    return Project.open(root).load_panel(dataset)


def panel(project: Project, dataset: str) -> Panel:
    """The dataset's panel, loaded once per content (shared by every session: read-only)."""
    meta = project.dataset_meta(dataset)
    return _panel(str(project.root), dataset, meta.content_hash)


@st.cache_data(max_entries=8, show_spinner=False)
def _detail(root: str, dataset: str, content_hash: str, formulas: tuple[str, ...]
            ) -> FactorDetail:
    return _factor_detail(_panel(root, dataset, content_hash), list(formulas))


def factor_detail(project: Project, dataset: str, formulas: tuple[str, ...]) -> FactorDetail:
    """IC series, decay and correlation of a zoo on its dataset (cached by content)."""
    meta = project.dataset_meta(dataset)
    return _detail(str(project.root), dataset, meta.content_hash, formulas)
