"""Widgets shared by every import path (file upload and connected sources)."""

from __future__ import annotations

import streamlit as st

from alphaforge_app.i18n import issue_text, suggestion_text, t
from engine.data.schema import REQUIRED, canonical_name
from engine.data.validate import ValidationReport

NONE = "—"  # the "not mapped" choice: a dash, the same in every language
MAX_TICKERS_SHOWN = 30


def column_mapping(columns: list[str], key: str) -> dict[str, str]:
    """Select boxes for the required columns the aliases did not recognise; returns the
    user's mapping (source column -> canonical name)."""
    mapping: dict[str, str] = {}
    unknown = [c for c in REQUIRED if c not in {canonical_name(h) for h in columns}]
    if columns and unknown:
        st.caption(t("imports.pick_columns"))
        for canon in unknown:
            choice = st.selectbox(canon, [NONE, *columns], key=f"{key}_map_{canon}")
            if choice != NONE:
                mapping[choice] = canon
    return mapping


def show_report(report: ValidationReport) -> None:
    """Errors, then warnings (tickers and a suggestion each, in an expander), then notes,
    each in the session's language."""
    for issue in report.errors:
        st.error(issue_text(issue))
    if report.warnings:
        with st.expander(t("imports.warnings", count=len(report.warnings)), True):
            for issue in report.warnings:
                text = issue_text(issue)
                st.warning(text)
                tip = suggestion_text(issue.code)
                if tip and tip not in text:
                    st.caption(t("imports.suggestion", tip=tip))
                if issue.tickers:
                    st.caption(t("imports.tickers",
                                 tickers=", ".join(issue.tickers[:MAX_TICKERS_SHOWN])))
    for issue in report.notes:
        st.caption(issue_text(issue))
