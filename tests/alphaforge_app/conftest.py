"""Fixtures shared by the page tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.store.settings import AppSettings, save_settings


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An app home in single-user mode (no login), for AppTest pages; a test file may
    define its own ``home`` for other settings."""
    monkeypatch.setenv("ALPHAFORGE_HOME", str(tmp_path))
    save_settings(tmp_path, AppSettings(mode="single"))
    return tmp_path
