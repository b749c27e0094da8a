"""Database passwords in the OS keyring, when there is one; never in project files or logs.

The key is the connection without its password (``postgresql://user@host:port/db``), so one
stored password serves every import from that database. Where no keyring backend exists (a
headless Linux box, a CI machine) every function here quietly does nothing and the caller asks
for the password each time.
"""

from __future__ import annotations

from typing import Any

SERVICE = "AlphaForge"


def _keyring() -> Any | None:
    try:
        import keyring
        from keyring.backends import fail
    except ImportError:
        return None
    try:
        backend = keyring.get_keyring()
    except Exception:  # a broken backend configuration must not break an import
        return None
    if isinstance(backend, fail.Keyring) or getattr(backend, "priority", 1) <= 0:
        return None
    return keyring


def available() -> bool:
    """True when an OS keyring backend can store passwords."""
    return _keyring() is not None


def lookup(key: str) -> str | None:
    ring = _keyring()
    if ring is None:
        return None
    try:
        value = ring.get_password(SERVICE, key)
    except Exception:
        return None
    return str(value) if value else None


def store(key: str, password: str) -> bool:
    """Remember ``password`` for ``key``; False when there is no keyring or it refused."""
    ring = _keyring()
    if ring is None:
        return False
    try:
        ring.set_password(SERVICE, key, password)
    except Exception:
        return False
    return True


def forget(key: str) -> None:
    ring = _keyring()
    if ring is None:
        return
    try:
        ring.delete_password(SERVICE, key)
    except Exception:
        return
