"""A sweep's PDF and HTML report as download buttons (the Sweeps page and Reports' downloads):
made on request in the app's language, from the same outline (engine/report/sweep_report.py)."""

from __future__ import annotations

import streamlit as st

from alphaforge_app.components.prepared import prepared_download
from alphaforge_app.i18n import language, t
from engine.report.html import build_sweep_html
from engine.report.pdf import render_sweep_pdf
from engine.store.project import Project


def sweep_report_downloads(project: Project, run_id: str) -> None:
    """Make / download buttons for the PDF and the HTML report of sweep ``run_id``."""
    c1, c2 = st.columns(2)
    prepared_download(
        c1, key="sweep_pdf", subject=run_id, primary=True,
        make=lambda: render_sweep_pdf(project, run_id, lang=language()).data,
        make_label=t("sweep.make_pdf"), download_label=t("reports.download_pdf"),
        spinner=t("reports.making_pdf"), file_name=f"sweep-{run_id}.pdf",
        mime="application/pdf")
    prepared_download(
        c2, key="sweep_html", subject=run_id,
        make=lambda: build_sweep_html(project, run_id, lang=language()),
        make_label=t("sweep.make_html"), download_label=t("reports.download_html"),
        spinner=t("reports.making_html"), file_name=f"sweep-{run_id}.html", mime="text/html")
