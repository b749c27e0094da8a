"""Turn report pieces into downloadable bytes: tables as CSV/Parquet, charts as HTML/PNG.

HTML embeds plotly.js (no CDN: the app is used offline). PNG needs a Chromium/Chrome for
kaleido; without one (or if rendering takes too long) :func:`figure_png` returns None and the
caller offers HTML only.
"""

from __future__ import annotations

import io
import shutil
import threading
from collections.abc import Callable

import plotly.graph_objects as go
import polars as pl

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
PNG_TIMEOUT_S = 30.0


def browser_available() -> bool:
    """True when a Chromium/Chrome that kaleido can drive is on PATH."""
    return any(shutil.which(name) for name in BROWSERS)


def frame_csv(frame: pl.DataFrame) -> bytes:
    return frame.write_csv().encode("utf-8")


def frame_parquet(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.write_parquet(buffer, compression="zstd")
    return buffer.getvalue()


def figure_html(fig: go.Figure) -> bytes:
    """A self-contained interactive HTML file (plotly.js inlined, MathJax off)."""
    return fig.to_html(include_plotlyjs=True, full_html=True,
                       include_mathjax=False).encode("utf-8")


def _with_timeout(func: Callable[[], bytes], timeout: float) -> bytes | None:
    result: list[bytes] = []

    def target() -> None:
        try:
            result.append(func())
        except Exception:  # noqa: BLE001 - any renderer failure means "no PNG"
            return

    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    worker.join(timeout)
    return result[0] if result else None


def figure_png(fig: go.Figure, *, width: int = 1200, height: int = 600,
               timeout: float = PNG_TIMEOUT_S) -> bytes | None:
    """PNG bytes rendered by kaleido, or None when no browser is available or it times out."""
    if not browser_available():
        return None
    return _with_timeout(lambda: fig.to_image(format="png", width=width, height=height,
                                              scale=2), timeout)
