"""Options of the local app server, shared by `alphaforge app` and the desktop launcher.

The server must only ever be reachable from this computer: it binds 127.0.0.1, keeps XSRF
protection on, never sends usage statistics and never runs in development mode. Keeping the
options in one place means the CLI, the launcher and the frozen app cannot drift apart.
This module does not import Streamlit.
"""

from __future__ import annotations

import socket
import time
import tomllib
import urllib.request
from pathlib import Path
from typing import Any

from engine.errors import ConfigError

LOOPBACK = "127.0.0.1"
#: Largest upload the Data page accepts (MB). Streamlit's own default is 200 MB; ten years of
#: daily OHLCV for three thousand stocks is about 0.5 GB as CSV.
DEFAULT_MAX_UPLOAD_MB = 1024
APP_SCRIPT = Path(__file__).resolve().parents[1] / "alphaforge_app" / "app.py"
#: The project's Streamlit config (theme, client options); shipped in the desktop bundle too.
CONFIG_FILE = APP_SCRIPT.parents[1] / ".streamlit" / "config.toml"


def server_options(port: int, *, headless: bool = True,
                   max_upload_mb: int = DEFAULT_MAX_UPLOAD_MB) -> dict[str, Any]:
    """Streamlit flag options (``section.option`` -> value)."""
    if max_upload_mb < 1:
        raise ConfigError(f"the upload size limit must be at least 1 MB, not {max_upload_mb}")
    return {
        "server.address": LOOPBACK,
        "server.port": port,
        "server.headless": headless,
        "server.enableXsrfProtection": True,
        "server.maxUploadSize": max_upload_mb,
        "server.fileWatcherType": "none",
        "server.runOnSave": False,
        "browser.serverAddress": LOOPBACK,
        "browser.gatherUsageStats": False,
        "global.developmentMode": False,
        "client.toolbarMode": "minimal",
    }


def file_options(path: Path = CONFIG_FILE) -> dict[str, Any]:
    """The options of a Streamlit ``config.toml`` as flag options (``section.option`` ->
    value); empty when the file is absent.

    Streamlit reads ``.streamlit/config.toml`` from the working directory, which for the
    desktop app is wherever the user started it; the launcher passes the file's options (the
    theme) as flags instead, with :func:`server_options` winning over it.
    """
    try:
        with open(path, "rb") as fh:
            table = tomllib.load(fh)
    except FileNotFoundError:
        return {}
    return {f"{section}.{key}": value for section, values in table.items()
            if isinstance(values, dict) for key, value in values.items()}


def command_line_flags(port: int, *, headless: bool = True) -> list[str]:
    """The same options as ``--section.option value`` flags for ``streamlit run``."""
    flags: list[str] = []
    for key, value in server_options(port, headless=headless).items():
        flags += [f"--{key}", str(value).lower() if isinstance(value, bool) else str(value)]
    return flags


def free_port(preferred: int = 8501) -> int:
    """``preferred`` if it is free on loopback, else any free port."""
    for candidate in (preferred, 0):
        with socket.socket() as s:
            try:
                s.bind((LOOPBACK, candidate))
            except OSError:
                continue
            return int(s.getsockname()[1])
    raise OSError("no free port on 127.0.0.1")


def is_healthy(port: int, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(f"http://{LOOPBACK}:{port}/_stcore/health",
                                    timeout=timeout) as response:
            return response.status == 200
    except OSError:
        return False


def wait_healthy(port: int, timeout: float = 90.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if is_healthy(port):
            return True
        time.sleep(0.3)
    return False
