"""Heavy engine results cached across reruns, keyed by what they depend on.

Streamlit reruns a page on every click; recomputing a zoo's IC series or a panel each time
would make the page sluggish. Keys include the dataset's content hash, so a re-imported
dataset never serves stale numbers.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from engine.data.panel import Panel
from engine.metrics.formulas import FactorDetail
from engine.metrics.formulas import factor_detail as _factor_detail
from engine.mining.planted import PlantedMatch
from engine.mining.planted import planted_matches as _planted_matches
from engine.store.demo import is_demo
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


@st.cache_data(max_entries=8, show_spinner=False)
def _planted(root: str, dataset: str, content_hash: str, formulas: tuple[str, ...],
             train: tuple[str, str] | None) -> dict[str, PlantedMatch | None]:
    panel = _panel(root, dataset, content_hash)
    days = panel.date_mask(*train) if train else np.ones(panel.n_days, dtype=bool)
    return _planted_matches(panel, list(formulas), days)


def planted_matches(project: Project, dataset: str, formulas: tuple[str, ...],
                    train: tuple[str, str] | None) -> dict[str, PlantedMatch | None] | None:
    """Which planted signal each formula matches over the training days, on the demo market
    only (None on any other dataset: nothing is planted there)."""
    meta = project.dataset_meta(dataset)
    if not is_demo(meta):
        return None
    return _planted(str(project.root), dataset, meta.content_hash, formulas, train)
