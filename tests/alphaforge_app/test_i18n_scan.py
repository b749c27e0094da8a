"""Static scan: no user-visible English literal in the app bypasses the translation layer.

Every ``.py`` under ``alphaforge_app/`` is parsed with ``ast``. A string literal (non-empty,
with a letter) or an f-string with literal text is a violation where a person would read it:
a positional argument of an ``st.*`` call or of an element method (``.button``, ``.metric``,
``.tabs``...), also inside a list/tuple, a ``+``, an ``x if c else y`` or an ``x or y``; and
any call's text keywords (``label=``, ``help=``, ``title=``...). Keys (``key=``), icons
(``":material/...:"``), page paths (``"pages/data.py"``), file names (``"strategy.json"``),
strings without letters, options shown through a ``format_func``, a download's file name and
MIME type, and the metric names the glossary keeps (IC, RankIC...) are allowed; anything else
that must stay literal goes in :data:`ALLOWED` with a reason.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

import pytest

from tests.conftest import REPO

APP = REPO / "alphaforge_app"

#: Pages not yet converted (the scan skips them); empty: every page goes through the layer.
PENDING: set[str] = set()

#: (file, literal) -> why the literal may stay as it is.
ALLOWED: dict[tuple[str, str], str] = {}
#: Metric names the glossary keeps untranslated in every language (docs/ko/glossary.md).
UNTRANSLATED = {"IC", "ICIR", "RankIC", "RankICIR"}
#: Methods whose only text argument is the first (the rest are data, file name, MIME type).
LABEL_ONLY = {"download_button"}

#: Methods of Streamlit elements/containers whose positional arguments are read by people.
ELEMENT_METHODS = {
    "button", "markdown", "write", "error", "info", "warning", "success", "exception",
    "caption", "header", "subheader", "title", "text", "metric", "text_input", "text_area",
    "number_input", "selectbox", "multiselect", "radio", "checkbox", "toggle", "slider",
    "select_slider", "date_input", "time_input", "file_uploader", "color_picker", "tabs",
    "expander", "popover", "form_submit_button", "download_button", "link_button",
    "page_link", "toast", "status", "spinner", "Page", "set_page_config", "latex", "badge",
    "feedback", "pills", "segmented_control", "chat_input", "chat_message", "dialog",
}
#: Keywords that carry text a person reads, checked on every call.
TEXT_KEYWORDS = {
    "label", "help", "placeholder", "caption", "title", "body", "text", "page_title",
    "options", "value_label", "name_label", "yaxis_title", "xaxis_title", "colorbar_title",
}
#: ``st.<name>`` calls whose positional arguments are not text (keys, paths, data, code).
NOT_TEXT = {
    "session_state", "cache_data", "cache_resource", "fragment", "form", "container",
    "columns", "empty", "switch_page", "navigation", "code", "plotly_chart", "dataframe",
    "data_editor", "table", "image", "json", "rerun", "stop", "query_params", "html",
    "column_config", "sidebar", "line_chart", "bar_chart", "area_chart", "audio", "video",
}
_ICON = re.compile(r"^:material/[a-z_]+:$")
_PAGE = re.compile(r"^[\w./-]+\.py$")
_FILE = re.compile(r"^[\w-]*\.(csv|parquet|json|html|png|svg|pdf|zip|txt)$")  # file names


def _allowed(text: str, file: str) -> bool:
    return (not re.search(r"[^\W\d_]", text) or bool(_ICON.match(text))
            or bool(_PAGE.match(text)) or bool(_FILE.match(text)) or text in UNTRANSLATED
            or (file, text) in ALLOWED)


def _literals(node: ast.AST) -> Iterator[str]:
    """Literal text a person would read in an argument (not inside nested calls)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        yield node.value
    elif isinstance(node, ast.JoinedStr):
        text = "".join(v.value for v in node.values
                       if isinstance(v, ast.Constant) and isinstance(v.value, str))
        if text:
            yield text
    elif isinstance(node, ast.List | ast.Tuple | ast.Set):
        for elt in node.elts:
            yield from _literals(elt)
    elif isinstance(node, ast.BinOp):
        yield from _literals(node.left)
        yield from _literals(node.right)
    elif isinstance(node, ast.IfExp):
        yield from _literals(node.body)
        yield from _literals(node.orelse)
    elif isinstance(node, ast.BoolOp):
        for value in node.values:
            yield from _literals(value)


def _st_name(func: ast.expr) -> str | None:
    """``name`` for ``st.name`` / ``st.sidebar.name``; None for anything else."""
    if not isinstance(func, ast.Attribute):
        return None
    base = func.value
    if isinstance(base, ast.Name) and base.id == "st":
        return func.attr
    if (isinstance(base, ast.Attribute) and base.attr == "sidebar"
            and isinstance(base.value, ast.Name) and base.value.id == "st"):
        return func.attr
    return None


def violations(source: str, file: str = "<snippet>") -> list[str]:
    """``file:line: 'literal'`` for every user-visible literal in ``source``, by line."""
    out: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        st_name = _st_name(node.func)
        method = node.func.attr if isinstance(node.func, ast.Attribute) else None
        texts: list[ast.AST] = [kw.value for kw in node.keywords if kw.arg in TEXT_KEYWORDS]
        if (st_name is not None and st_name not in NOT_TEXT) or method in ELEMENT_METHODS:
            # Options shown through a format_func are values, not text; so are a download's
            # data, file name and MIME type.
            label_only = (st_name or method) in LABEL_ONLY or any(
                kw.arg == "format_func" for kw in node.keywords)
            texts += node.args[:1] if label_only else node.args
        for arg in texts:
            out += [(node.lineno, f"{file}:{node.lineno}: {text!r}")
                    for text in _literals(arg) if not _allowed(text, file)]
    return [text for _, text in sorted(out, key=lambda hit: hit[0])]


def _app_files() -> list[str]:
    return sorted(p.relative_to(APP).as_posix() for p in APP.rglob("*.py"))


@pytest.mark.parametrize("file", [f for f in _app_files() if f not in PENDING])
def test_no_user_visible_literal(file: str) -> None:
    assert violations((APP / file).read_text(encoding="utf-8"), file) == []


def test_pending_pages_exist() -> None:
    """A pending page that was renamed or removed must leave the set too."""
    assert set(_app_files()) >= PENDING


@pytest.mark.parametrize("snippet", [
    'st.title("Data")',
    'st.sidebar.button("Log out")',
    'c1.metric("Tickers", 3)',
    'st.tabs(["Preview", t("data.tab_report")])',
    'st.info(f"{n} rows imported")',
    'st.text_input(t("a.b"), help="cp949 for Korean Excel exports")',
    'st.Page("home.py", title="Home")',
    'status.update(label="Import failed", state="error")',
    'st.error("Error: " + str(exc))',
    'st.checkbox(t("a.b"), help=None if ok else "no keyring")',
    'price_chart(frame, tickers, title="Close prices")',
    'st.caption(note or "nothing yet")',
    'st.selectbox("Preset", ["laptop", "paper"], format_func=name.get)',
    'st.download_button("Download PDF", data, "report.pdf", "application/pdf")',
    'st.radio(t("a.b"), ["A table", "A query"])',
])
def test_scan_catches_violations(snippet: str) -> None:
    assert violations(snippet), snippet


@pytest.mark.parametrize("snippet", [
    'st.title(t("data.title"))',
    'st.button(t("data.import"), key="import_file", type="primary")',
    'st.Page(PAGES / "home.py", title=t("app.page_home"), icon=":material/home:")',
    'st.markdown(f"**{name}**")',
    'st.page_link("pages/data.py", label=t("home.step_data"))',
    'st.form("login")',
    'st.session_state.get("af_lang")',
    'st.column_config.DateColumn(DATE, format="YYYY-MM-DD")',
    'st.metric(t("data.coverage"), f"{share:.1%}")',
    'st.code(detail, language=None)',
    'st.selectbox(t("mining.preset"), ["laptop", "paper"], format_func=name.get)',
    'st.download_button(t("reports.pdf"), data, f"{name}.pdf", "application/pdf")',
    'c1.metric("RankIC", value)',
    'st.download_button(f"{stem}.csv", data, f"{name}_{stem}.csv", "text/csv")',
])
def test_scan_allows_keys_icons_and_translations(snippet: str) -> None:
    assert violations(snippet) == [], snippet
