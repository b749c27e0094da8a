"""Data page: import files, read the validation report, look at the data."""

from __future__ import annotations

import tempfile
from pathlib import Path

import polars as pl
import streamlit as st

from alphaforge_app import state
from alphaforge_app.components.imports import column_mapping, show_report
from alphaforge_app.components.sources import connect_source
from engine.data.stats import describe
from engine.data.validate import load
from engine.errors import AlphaForgeError, DataError
from engine.report.figures import coverage_heatmap, price_chart
from engine.store.project import Project, slugify

st.title("Data")
project = state.current_project(state.is_single_user())
if project is None:
    st.info("Create or open a project in the sidebar first (or start with the demo market on "
            "the Home page).")
    st.stop()


@st.cache_data(show_spinner=False)
def _frame(root: str, name: str, content_hash: str) -> pl.DataFrame:
    """The dataset's long table, cached by content hash (a re-import invalidates it)."""
    _ = content_hash
    return Project.open(root).load_frame(name)


with st.expander("Import a file", expanded=not project.dataset_names()):
    uploads = st.file_uploader("CSV, CSV.GZ or Parquet files (one row per date and ticker)",
                               type=["csv", "gz", "tsv", "txt", "parquet", "pq"],
                               accept_multiple_files=True)
    encoding = st.selectbox("Text encoding", ["utf-8", "cp949", "euc-kr", "latin-1"],
                            help="cp949 for Korean Excel exports")
    for upload in uploads or []:
        st.markdown(f"**{upload.name}**")
        name = st.text_input("Dataset name", slugify(upload.name), key=f"name_{upload.name}")
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / upload.name
            path.write_bytes(upload.getvalue())
            try:
                header = pl.read_csv(path, n_rows=0, encoding="utf8-lossy").columns if (
                    not upload.name.lower().endswith((".parquet", ".pq", ".gz"))) else []
            except pl.exceptions.PolarsError:
                header = []
            mapping = column_mapping(header, f"upload_{upload.name}")
            if st.button("Import", key=f"import_{upload.name}", type="primary"):
                report, failure = None, None
                with st.status(f"Importing {upload.name}...", expanded=True) as status:
                    try:
                        st.write("Reading and validating...")
                        dataset = load(str(path), column_map=mapping or None, encoding=encoding)
                        st.write("Saving to the project...")
                        project.save_dataset(name, dataset)
                        report = dataset.report
                        status.update(label=f"Imported '{name}'", state="complete")
                    except DataError as exc:
                        report, failure = exc.report, str(exc)
                        status.update(label="Import failed — nothing was saved", state="error")
                    except AlphaForgeError as exc:
                        failure = str(exc)
                        status.update(label="Import failed — nothing was saved", state="error")
                if report is not None:
                    show_report(report)
                elif failure:
                    st.error(failure)

connect_source(project)

names = project.dataset_names()
if not names:
    st.info("No datasets in this project yet: import a file above.")
    st.stop()

name = st.selectbox("Dataset", names)
meta = project.dataset_meta(name)
frame = _frame(str(project.root), name, meta.content_hash)
stats = describe(frame)
c1, c2, c3, c4 = st.columns(4)
c1.metric("Tickers", stats.n_tickers)
c2.metric("Trading days", stats.n_dates)
c3.metric("Coverage", f"{stats.coverage:.1%}")
c4.metric("Warnings", len(meta.validation.warnings))
st.caption(f"{stats.start} .. {stats.end} · source {meta.source} · hash "
           f"{meta.content_hash[:12]}" + (" · vwap derived as (h+l+c)/3" if meta.vwap_derived
                                          else ""))

preview, columns, coverage, prices, report, manage = st.tabs(
    ["Preview", "Statistics", "Coverage", "Prices", "Validation report", "Manage"])
with preview:
    st.dataframe(frame.head(500), use_container_width=True, hide_index=True,
                 column_config={"date": st.column_config.DateColumn("date", format="YYYY-MM-DD")})
with columns:
    st.dataframe(pl.DataFrame([c.__dict__ for c in stats.columns]), use_container_width=True,
                 hide_index=True)
with coverage:
    st.plotly_chart(coverage_heatmap(frame), use_container_width=True)
with prices:
    tickers = sorted(frame.get_column("ticker").unique().to_list())
    chosen = st.multiselect("Tickers", tickers, default=tickers[:3], max_selections=10)
    if chosen:
        st.plotly_chart(price_chart(frame, chosen), use_container_width=True)
with report:
    show_report(meta.validation)
    if not meta.validation.warnings:
        st.success("No warnings.")
with manage:
    with st.form("rename"):
        new = st.text_input("Rename to", name)
        if st.form_submit_button("Rename") and new != name:
            try:
                project.rename_dataset(name, new)
                st.rerun()
            except AlphaForgeError as exc:
                st.error(str(exc))
    sure = st.checkbox(f"Yes, delete dataset '{name}'")
    if st.button("Delete dataset", disabled=not sure):
        project.delete_dataset(name)
        st.rerun()
