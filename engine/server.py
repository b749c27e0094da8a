"""Options of the local app server, shared by `alphaforge app` and the desktop launcher.

The server must only ever be reachable from this computer: it binds 127.0.0.1, keeps XSRF
protection on, never sends usage statistics and never runs in development mode. Keeping the
options in one place means the CLI, the launcher and the frozen app cannot drift apart.
This module does not import Streamlit.
"""

from __future__ import annotations

import socket
import time
import urllib.request
from pathlib import Path
from typing import Any

LOOPBACK = "127.0.0.1"
APP_SCRIPT = Path(__file__).resolve().parents[1] / "alphaforge_app" / "app.py"


def server_options(port: int, *, headless: bool = True) -> dict[str, Any]:
    """Streamlit flag options (``section.option`` -> value)."""
    return {
        "server.address": LOOPBACK,
        "server.port": port,
        "server.headless": headless,
        "server.enableXsrfProtection": True,
        "server.maxUploadSize": 1024,
        "server.fileWatcherType": "none",
        "server.runOnSave": False,
        "browser.serverAddress": LOOPBACK,
        "browser.gatherUsageStats": False,
        "global.developmentMode": False,
        "client.toolbarMode": "minimal",
    }


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
