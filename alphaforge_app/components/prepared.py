"""A file made on request, then offered for download: PDF and HTML reports, bundles.

Making these takes seconds, so they are not built on every rerun like a CSV: a first button
makes the file (with a spinner, engine errors shown in the user's language), a second one
downloads it. The file is kept in the session under ``key`` together with what it was made
for (``subject``), so switching to another strategy never offers a stale file.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from alphaforge_app.i18n import error_text
from engine.errors import AlphaForgeError


def prepared_download(where: Any, *, key: str, subject: str, make: Callable[[], bytes],
                      make_label: str, download_label: str, spinner: str, file_name: str,
                      mime: str, help: str | None = None, primary: bool = False) -> None:
    """Draw the make button (and, once made, the download button) in container ``where``."""
    state = f"af_prepared_{key}"
    if where.button(make_label, key=f"{key}_make", help=help,
                    type="primary" if primary else "secondary"):
        try:
            with st.spinner(spinner):
                st.session_state[state] = (subject, make())
        except AlphaForgeError as exc:
            where.error(error_text(exc))
    ready = st.session_state.get(state)
    if ready and ready[0] == subject:
        where.download_button(download_label, ready[1], file_name, mime, key=f"{key}_download")
