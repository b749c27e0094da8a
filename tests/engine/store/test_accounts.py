"""Local accounts: hashing, recovery codes, lock-out, migrations, per-user folders."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from engine.errors import AlphaForgeError
from engine.store.accounts import AccountStore, AuthError, User, user_home


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


FAST = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


@pytest.fixture
def store(tmp_path: Path) -> tuple[AccountStore, Clock]:
    clock = Clock()
    return AccountStore(tmp_path / "accounts.db", clock=clock, hasher=FAST), clock


def test_sign_up_login_and_hashes_only(store: tuple[AccountStore, Clock], tmp_path: Path) -> None:
    accounts, _ = store
    signup = accounts.sign_up("jiwoo", "correct horse")
    assert accounts.login("JIWOO", "correct horse") == signup.user  # names are case-insensitive
    raw = (tmp_path / "accounts.db").read_bytes()
    assert b"correct horse" not in raw
    assert signup.recovery_code.replace("-", "").encode() not in raw
    row = sqlite3.connect(tmp_path / "accounts.db").execute(
        "SELECT password_hash FROM users").fetchone()
    assert row[0].startswith("$argon2id$")
    with pytest.raises(AuthError, match="wrong user name or password"):
        accounts.login("jiwoo", "wrong password")
    with pytest.raises(AuthError, match="wrong user name or password"):
        accounts.login("nobody", "correct horse")
    with pytest.raises(AuthError, match="taken"):
        accounts.sign_up("Jiwoo", "another password")
    with pytest.raises(AuthError, match="at least 8"):
        accounts.sign_up("minsu", "short")
    with pytest.raises(AuthError, match="3-32"):
        accounts.sign_up("../x", "long enough")


def test_reset_with_recovery_code(store: tuple[AccountStore, Clock]) -> None:
    accounts, _ = store
    code = accounts.sign_up("jiwoo", "first password").recovery_code
    with pytest.raises(AuthError):
        accounts.reset_password("jiwoo", "AAAA-BBBB-CCCC-DDDD", "second password")
    fresh = accounts.reset_password("jiwoo", code.lower().replace("-", " "), "second password")
    assert fresh != code
    accounts.login("jiwoo", "second password")
    with pytest.raises(AuthError):  # the code is single-use
        accounts.reset_password("jiwoo", code, "third password")
    accounts.reset_password("jiwoo", fresh, "third password")
    accounts.change_password("jiwoo", "third password", "fourth password")
    accounts.login("jiwoo", "fourth password")


def test_lockout_after_repeated_failures(store: tuple[AccountStore, Clock]) -> None:
    accounts, clock = store
    accounts.sign_up("jiwoo", "right password")
    for _ in range(5):
        with pytest.raises(AuthError, match="wrong"):
            accounts.login("jiwoo", "bad password")
    with pytest.raises(AuthError, match="too many failed attempts"):
        accounts.login("jiwoo", "right password")  # even the right password waits
    clock.now += 31
    accounts.login("jiwoo", "right password")


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    AccountStore(path, hasher=FAST)
    con = sqlite3.connect(path)
    con.execute("PRAGMA user_version = 99")
    con.commit()
    con.close()
    with pytest.raises(AlphaForgeError, match="newer AlphaForge"):
        AccountStore(path, hasher=FAST)


def test_user_homes_are_separate(tmp_path: Path) -> None:
    a, b = User(1, "a"), User(2, "b")
    assert user_home(tmp_path, a) != user_home(tmp_path, b)
    assert user_home(tmp_path, None) == tmp_path / "projects"
