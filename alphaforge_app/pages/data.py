"""Data page: import files, read the validation report, look at the data."""

from __future__ import annotations

import tempfile
from pathlib import Path

import polars as pl
import streamlit as st

from alphaforge_app import state
from alphaforge_app.components.imports import column_mapping, show_report
from alphaforge_app.components.sources import connect_source
from alphaforge_app.i18n import error_text, t, translator
from engine.data.schema import DATE
from engine.data.stats import ColumnStats, describe
from engine.data.validate import load
from engine.errors import AlphaForgeError, DataError
from engine.report.figures import coverage_heatmap, price_chart
from engine.store.project import Project, slugify

#: Text encodings offered for CSV uploads (codec names, not words to translate).
ENCODINGS = ("utf-8", "cp949", "euc-kr", "latin-1")
UPLOAD_TYPES = ("csv", "gz", "tsv", "txt", "parquet", "pq")
ISO_DATE = "YYYY-MM-DD"

st.title(t("data.title"))
project = state.current_project(state.is_single_user())
if project is None:
    st.info(t("data.no_project"))
    st.stop()


@st.cache_data(show_spinner=False)
def _frame(root: str, name: str, content_hash: str) -> pl.DataFrame:
    """The dataset's long table, cached by content hash (a re-import invalidates it)."""
    _ = content_hash
    return Project.open(root).load_frame(name)


with st.expander(t("data.import_file"), expanded=not project.dataset_names()):
    uploads = st.file_uploader(t("data.upload_label"), type=list(UPLOAD_TYPES),
                               accept_multiple_files=True)
    encoding = st.selectbox(t("data.encoding"), ENCODINGS, help=t("data.encoding_help"))
    for upload in uploads or []:
        st.markdown(f"**{upload.name}**")
        name = st.text_input(t("data.dataset_name"), slugify(upload.name),
                             key=f"name_{upload.name}")
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / upload.name
            path.write_bytes(upload.getvalue())
            try:
                header = pl.read_csv(path, n_rows=0, encoding="utf8-lossy").columns if (
                    not upload.name.lower().endswith((".parquet", ".pq", ".gz"))) else []
            except pl.exceptions.PolarsError:
                header = []
            mapping = column_mapping(header, f"upload_{upload.name}")
            if st.button(t("data.import"), key=f"import_{upload.name}", type="primary"):
                report, failure = None, None
                with st.status(t("data.importing_file", file=upload.name),
                               expanded=True) as status:
                    try:
                        st.write(t("data.reading"))
                        dataset = load(str(path), column_map=mapping or None, encoding=encoding)
                        st.write(t("data.saving"))
                        project.save_dataset(name, dataset)
                        report = dataset.report
                        status.update(label=t("data.imported", name=name), state="complete")
                    except DataError as exc:
                        report, failure = exc.report, error_text(exc)
                        status.update(label=t("data.import_failed"), state="error")
                    except AlphaForgeError as exc:
                        failure = error_text(exc)
                        status.update(label=t("data.import_failed"), state="error")
                if report is not None:
                    show_report(report)
                elif failure:
                    st.error(failure)

connect_source(project)

names = project.dataset_names()
if not names:
    st.info(t("data.no_datasets"))
    st.stop()

tr = translator()
name = st.selectbox(t("data.dataset"), names)
meta = project.dataset_meta(name)
try:
    frame = _frame(str(project.root), name, meta.content_hash)
except AlphaForgeError as exc:  # e.g. panel.parquet changed outside AlphaForge
    st.error(error_text(exc))
    st.stop()
stats = describe(frame)
c1, c2, c3, c4 = st.columns(4)
c1.metric(t("data.tickers"), stats.n_tickers)
c2.metric(t("data.trading_days"), stats.n_dates)
c3.metric(t("data.coverage"), tr.percent(stats.coverage))
c4.metric(t("data.warnings"), len(meta.validation.warnings))
st.caption(t("data.dataset_caption", start=stats.start, end=stats.end, source=meta.source,
             hash=meta.content_hash[:12])
           + (t("data.vwap_derived") if meta.vwap_derived else ""))

preview, columns, coverage, prices, report, manage = st.tabs(
    [t("data.tab_preview"), t("data.tab_statistics"), t("data.tab_coverage"),
     t("data.tab_prices"), t("data.tab_report"), t("data.tab_manage")])
with preview:
    st.dataframe(frame.head(500), use_container_width=True, hide_index=True,
                 column_config={DATE: st.column_config.DateColumn(DATE, format=ISO_DATE)})
with columns:
    fields = list(ColumnStats.__dataclass_fields__)
    st.dataframe(pl.DataFrame([c.__dict__ for c in stats.columns], schema=fields),
                 use_container_width=True, hide_index=True,
                 column_config={f: t(f"data.stat_{f}") for f in fields})
with coverage:
    st.plotly_chart(coverage_heatmap(frame, title=t("data.coverage_title"),
                                     colorbar_title=t("data.coverage_share")),
                    use_container_width=True)
with prices:
    tickers = sorted(frame.get_column("ticker").unique().to_list())
    chosen = st.multiselect(t("data.tickers"), tickers, default=tickers[:3], max_selections=10)
    if chosen:
        shown = ", ".join(chosen[:5]) + (" …" if len(chosen) > 5 else "")
        st.plotly_chart(price_chart(frame, chosen, title=t("data.price_title", tickers=shown),
                                    yaxis_title=t("data.price_axis")),
                        use_container_width=True)
with report:
    show_report(meta.validation)
    if not meta.validation.warnings:
        st.success(t("data.no_warnings"))
with manage:
    with st.form("rename"):
        new = st.text_input(t("data.rename_to"), name)
        if st.form_submit_button(t("common.rename")) and new != name:
            try:
                project.rename_dataset(name, new)
                st.rerun()
            except AlphaForgeError as exc:
                st.error(error_text(exc))
    sure = st.checkbox(t("data.confirm_delete", name=name))
    if st.button(t("data.delete_dataset"), disabled=not sure):
        project.delete_dataset(name)
        st.rerun()
