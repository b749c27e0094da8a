"""Turn report pieces into downloadable bytes: tables as CSV/Parquet, charts as HTML/PNG.

HTML embeds plotly.js (no CDN: the app is used offline). PNG needs a Chromium/Chrome for
kaleido; without one (or if rendering takes too long) :func:`figure_png` returns None and the
caller offers HTML only.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import zipfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import plotly.graph_objects as go
import polars as pl

from engine.data.csv_cells import defuse

if TYPE_CHECKING:
    from engine.report.content import StrategyContent

# kaleido's Chromium would fetch MathJax from a CDN and make Google's background requests;
# choreographer hands it this proxy (an unused loopback port) so nothing leaves the computer
# however the engine is entered (launcher, CLI, tests). See launcher.py for the trace.
os.environ.setdefault("CHOREO_PROXY_SERVER", "http://127.0.0.1:9")

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
PNG_TIMEOUT_S = 30.0
T = TypeVar("T")


def browser_available() -> bool:
    """True when a Chromium/Chrome that kaleido can drive is on PATH."""
    return any(shutil.which(name) for name in BROWSERS)


def hangul_font_available() -> bool:
    """True when the browser kaleido drives can draw Hangul: Windows and macOS ship Korean
    fonts; elsewhere fontconfig must list one (``fc-list :lang=ko``)."""
    if sys.platform in ("win32", "darwin"):
        return True
    if not shutil.which("fc-list"):
        return False
    try:
        out = subprocess.run(["fc-list", ":lang=ko"], capture_output=True, text=True,
                             timeout=10, check=False).stdout
    except (OSError, subprocess.TimeoutExpired):
        return False
    return bool(out.strip())


def frame_csv(frame: pl.DataFrame) -> bytes:
    return defuse(frame).write_csv().encode("utf-8")


def frame_parquet(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.write_parquet(buffer, compression="zstd")
    return buffer.getvalue()


def figure_html(fig: go.Figure) -> bytes:
    """A self-contained interactive HTML file (plotly.js inlined, MathJax off)."""
    return fig.to_html(include_plotlyjs=True, full_html=True,
                       include_mathjax=False).encode("utf-8")


def _with_timeout(func: Callable[[], T], timeout: float) -> T | None:
    result: list[T] = []

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


def figure_svg(fig: go.Figure, *, width: int = 1200, height: int = 600,
               timeout: float = PNG_TIMEOUT_S) -> bytes | None:
    """SVG bytes rendered by kaleido (vector, for papers and slides), or None like PNG."""
    if not browser_available():
        return None
    return _with_timeout(lambda: fig.to_image(format="svg", width=width, height=height),
                         timeout)


def figures_png(figs: Sequence[go.Figure], sizes: Sequence[tuple[int, int]], *,
                scale: float = 2.0, timeout: float | None = None) -> list[bytes] | None:
    """PNG bytes of several figures rendered in one kaleido browser session (much faster than
    one :func:`figure_png` each), or None when no browser is available, rendering fails or
    it takes longer than ``timeout`` (default: 30 s plus 10 s a figure). ``sizes`` are
    (width, height) in CSS pixels."""
    if not figs:
        return []
    if not browser_available():
        return None
    import plotly.io as pio

    def render() -> list[bytes]:
        with tempfile.TemporaryDirectory(prefix="alphaforge-png-") as tmp:
            files = [Path(tmp) / f"{i}.png" for i in range(len(figs))]
            if hasattr(pio, "write_images"):  # plotly >= 6.1: one browser for all
                pio.write_images(list(figs), files, format="png", scale=scale,
                                 width=[w for w, _ in sizes], height=[h for _, h in sizes])
            else:
                for fig, file, (w, h) in zip(figs, files, sizes, strict=True):
                    fig.write_image(file, format="png", scale=scale, width=w, height=h)
            return [f.read_bytes() for f in files]

    return _with_timeout(render, timeout if timeout is not None
                         else PNG_TIMEOUT_S + 10.0 * len(figs))


def zip_bytes(files: Mapping[str, bytes]) -> bytes:
    """A zip archive of named byte strings (deflated), built in memory."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def frame_files(frames: Mapping[str, pl.DataFrame], formats: Sequence[str] = ("csv", "parquet")
                ) -> dict[str, bytes]:
    """Every frame as ``<name>.csv`` and/or ``<name>.parquet`` bytes."""
    writers = {"csv": frame_csv, "parquet": frame_parquet}
    return {f"{name}.{fmt}": writers[fmt](frame) for name, frame in frames.items()
            for fmt in formats}


def series_zip(contents: Sequence[StrategyContent], *, readme: str = "") -> bytes:
    """Every series of the strategies' reports (CSV + Parquet) with each one's provenance as
    ``strategy.json``, in one zip: flat for one strategy, a folder per strategy for several,
    plus an optional README."""
    from engine.report.content import provenance_json

    files: dict[str, bytes] = {"README.txt": readme.encode("utf-8")} if readme else {}
    for content in contents:
        folder = f"{content.name}/" if len(contents) > 1 else ""
        own = {**frame_files(content.frames()),
               "strategy.json": provenance_json(content).encode("utf-8")}
        files.update({folder + name: data for name, data in own.items()})
    return zip_bytes(files)
