"""Local-only guarantees: the server listens on loopback only, XSRF stays on, usage stats
off; users cannot reach each other's projects."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from engine.store.accounts import AccountStore
from engine.store.project import Project
from engine.store.settings import AppSettings, save_settings
from tests.conftest import REPO

pytestmark = pytest.mark.e2e


def _listening(port: int) -> set[str]:
    """Local addresses of LISTEN sockets on ``port`` (read from /proc, no traffic sent)."""
    found: set[str] = set()
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, state = fields[1], fields[3]
            addr, port_hex = local.split(":")
            if state == "0A" and int(port_hex, 16) == port:  # 0A = LISTEN
                raw = bytes.fromhex(addr)
                if width == 8:
                    found.add(socket.inet_ntop(socket.AF_INET, raw[::-1]))
                else:
                    words = b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4))
                    found.add(socket.inet_ntop(socket.AF_INET6, words))
    return found


def test_server_binds_loopback_only(server_factory) -> None:  # type: ignore[no-untyped-def]
    if not Path("/proc/net/tcp").exists():
        pytest.skip("needs Linux /proc")
    server = server_factory('{"mode": "single"}')
    addresses = _listening(server.port)
    assert addresses == {"127.0.0.1"}, addresses
    with socket.create_connection(("127.0.0.1", server.port), timeout=5):
        pass


def test_config_keeps_xsrf_and_no_stats() -> None:
    text = (REPO / ".streamlit" / "config.toml").read_text()
    assert 'address = "127.0.0.1"' in text
    assert "enableXsrfProtection = true" in text
    assert "gatherUsageStats = false" in text
    from engine.server import command_line_flags, server_options

    options = server_options(8501)
    assert options["server.address"] == "127.0.0.1"
    assert options["server.enableXsrfProtection"] is True
    assert options["browser.gatherUsageStats"] is False
    assert options["global.developmentMode"] is False
    flags = command_line_flags(8501)
    assert flags[flags.index("--server.enableXsrfProtection") + 1] == "true"


def test_user_cannot_open_another_users_project(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALPHAFORGE_HOME", str(tmp_path))
    save_settings(tmp_path, AppSettings(mode="accounts"))
    accounts = AccountStore(tmp_path / "accounts.db")
    alice = accounts.sign_up("alice", "alice password").user
    bob = accounts.sign_up("bob_b", "bob password").user
    secret = Project.create(tmp_path / "users" / str(alice.id) / "projects" / "secret")
    at = AppTest.from_file(str(REPO / "alphaforge_app" / "app.py"))
    at.session_state["af_user"] = bob
    at.session_state["af_project_path"] = str(secret.root)  # a forged or stale path
    at.run(timeout=60)
    assert not at.exception
    assert not any("secret" in (c.value or "") for c in at.caption)
    assert at.sidebar.selectbox == [] or "secret" not in at.sidebar.selectbox[0].options
    assert any("No project yet" in i.value for i in at.info)
