"""Widgets shared by every import path (file upload and connected sources)."""

from __future__ import annotations

import streamlit as st

from engine.data.quality import suggestion
from engine.data.schema import REQUIRED, canonical_name
from engine.data.validate import ValidationReport


def column_mapping(columns: list[str], key: str) -> dict[str, str]:
    """Select boxes for the required columns the aliases did not recognise; returns the
    user's mapping (source column -> canonical name)."""
    mapping: dict[str, str] = {}
    unknown = [c for c in REQUIRED if c not in {canonical_name(h) for h in columns}]
    if columns and unknown:
        st.caption("Some required columns were not recognised; pick them:")
        for canon in unknown:
            choice = st.selectbox(canon, ["—", *columns], key=f"{key}_map_{canon}")
            if choice != "—":
                mapping[choice] = canon
    return mapping


def show_report(report: ValidationReport) -> None:
    """Errors, then warnings (tickers and a suggestion each, in an expander), then notes."""
    for issue in report.errors:
        st.error(issue.message)
    if report.warnings:
        with st.expander(f"{len(report.warnings)} warning(s) — the data was imported", True):
            for issue in report.warnings:
                st.warning(issue.message)
                tip = suggestion(issue.code)
                if tip and tip not in issue.message:
                    st.caption(f"Suggestion: {tip}")
                if issue.tickers:
                    st.caption("Tickers: " + ", ".join(issue.tickers[:30]))
    for issue in report.notes:
        st.caption(issue.message)
