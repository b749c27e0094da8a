"""Local, offline user accounts: sign-up, login, password change and reset without e-mail.

A laptop may be shared by several students, so each account gets its own projects folder.
Passwords and the one-time recovery code are stored only as argon2id hashes (argon2-cffi).
There is no e-mail offline, so at sign-up the user is shown a recovery code once; entering it
resets the password and issues a new code. Failed logins are rate-limited per user name with
an exponential lock-out, stored in the database so restarting the app does not reset it.

The store is one SQLite file. Schema changes are migrations keyed by ``PRAGMA user_version``
and applied inside a transaction, so an interrupted upgrade leaves the old schema intact.
"""

from __future__ import annotations

import re
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from engine.errors import AlphaForgeError

MIN_PASSWORD = 8
MAX_FAILURES = 5  # failures before the first lock-out
LOCK_SECONDS = 30  # doubled for every further failure, capped at one hour
_USERNAME = re.compile(r"^[\w.\-]{3,32}$", re.UNICODE)
_RECOVERY_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I look-alikes

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE users (
        id INTEGER PRIMARY KEY,
        username TEXT NOT NULL UNIQUE COLLATE NOCASE,
        password_hash TEXT NOT NULL,
        recovery_hash TEXT NOT NULL,
        created REAL NOT NULL,
        failures INTEGER NOT NULL DEFAULT 0,
        locked_until REAL NOT NULL DEFAULT 0
    );
    """,
)


class AuthError(AlphaForgeError):
    """Sign-up or login failed; the message is safe to show (it never says which part was
    wrong for a login, so it does not reveal which user names exist)."""


@dataclass(frozen=True)
class User:
    id: int
    username: str


@dataclass(frozen=True)
class SignUp:
    """A new account and its recovery code: show the code once, it is not stored in clear."""

    user: User
    recovery_code: str


def _login_failed() -> AuthError:
    return AuthError("wrong user name or password", code="login_failed")


def _bad_recovery_code() -> AuthError:
    return AuthError("wrong user name or recovery code", code="bad_recovery_code")


def new_recovery_code() -> str:
    """16 random characters in 4 groups, e.g. ``K7QH-M2XD-9RTW-PC4N`` (80 bits)."""
    raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(16))
    return "-".join(raw[i:i + 4] for i in range(0, 16, 4))


def _normalise_code(code: str) -> str:
    return re.sub(r"[\s\-]", "", code).upper()


class AccountStore:
    """Accounts in one SQLite file. ``clock`` is injectable so lock-outs can be tested."""

    def __init__(self, path: str | Path, *, clock: Callable[[], float] = time.time,
                 hasher: PasswordHasher | None = None) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._clock = clock
        self._ph = hasher or PasswordHasher()
        self._migrate()

    # ------------------------------------------------------------------ plumbing
    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        con = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        try:
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("BEGIN IMMEDIATE")
            yield con
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        finally:
            con.close()

    def _migrate(self) -> None:
        with self._db() as con:
            version = con.execute("PRAGMA user_version").fetchone()[0]
            if version > len(MIGRATIONS):
                raise AlphaForgeError(
                    f"{self.path}: the account database was written by a newer AlphaForge "
                    f"(schema {version}); update the application", code="accounts_newer",
                    params={"path": str(self.path), "version": version})
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                for statement in filter(str.strip, script.split(";")):
                    con.execute(statement)
                con.execute(f"PRAGMA user_version = {number}")

    def _verify(self, stored: str, secret: str) -> bool:
        try:
            return self._ph.verify(stored, secret)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    @staticmethod
    def _check_password(password: str) -> None:
        if len(password) < MIN_PASSWORD:
            raise AuthError(f"the password needs at least {MIN_PASSWORD} characters",
                            code="weak_password", params={"min": MIN_PASSWORD})

    # ------------------------------------------------------------------ API
    def user_count(self) -> int:
        with self._db() as con:
            return int(con.execute("SELECT COUNT(*) FROM users").fetchone()[0])

    def sign_up(self, username: str, password: str) -> SignUp:
        name = username.strip()
        if not _USERNAME.match(name):
            raise AuthError("the user name needs 3-32 letters, digits, '.', '-' or '_'",
                            code="bad_username", params={"name": name})
        self._check_password(password)
        code = new_recovery_code()
        with self._db() as con:
            if con.execute("SELECT 1 FROM users WHERE username = ?", (name,)).fetchone():
                raise AuthError(f"the user name '{name}' is taken", code="username_taken",
                                params={"name": name})
            cur = con.execute(
                "INSERT INTO users (username, password_hash, recovery_hash, created) "
                "VALUES (?, ?, ?, ?)",
                (name, self._ph.hash(password), self._ph.hash(_normalise_code(code)),
                 self._clock()))
            user = User(id=int(cur.lastrowid or 0), username=name)
        return SignUp(user=user, recovery_code=code)

    def _attempt(self, username: str, check: Callable[[sqlite3.Row], bool],
                 wrong: Callable[[], AuthError] = _login_failed) -> User:
        """Shared lock-out logic of login and password reset; ``wrong`` makes the error of a
        failed check, the same for an unknown name and a wrong secret."""
        now = self._clock()
        failure: AuthError | None = None
        with self._db() as con:
            con.row_factory = sqlite3.Row
            row = con.execute("SELECT * FROM users WHERE username = ?",
                              (username.strip(),)).fetchone()
            if row is None:
                # Hash anyway so timing does not reveal whether the name exists.
                self._ph.hash("timing-equaliser")
                failure = wrong()
            elif row["locked_until"] > now:
                wait = int(row["locked_until"] - now) + 1
                failure = AuthError(f"too many failed attempts; try again in {wait} s",
                                    code="locked", params={"seconds": wait})
            elif not check(row):
                failures = row["failures"] + 1
                locked = 0.0
                if failures >= MAX_FAILURES:
                    locked = now + min(3600, LOCK_SECONDS * 2 ** (failures - MAX_FAILURES))
                # Committed before the error is raised (raising inside would roll it back).
                con.execute("UPDATE users SET failures = ?, locked_until = ? WHERE id = ?",
                            (failures, locked, row["id"]))
                failure = wrong()
            else:
                con.execute("UPDATE users SET failures = 0, locked_until = 0 WHERE id = ?",
                            (row["id"],))
        if failure is not None:
            raise failure
        return User(id=int(row["id"]), username=str(row["username"]))

    def login(self, username: str, password: str) -> User:
        return self._attempt(username, lambda row: self._verify(row["password_hash"], password))

    def change_password(self, username: str, old: str, new: str) -> None:
        self._check_password(new)
        user = self.login(username, old)
        with self._db() as con:
            con.execute("UPDATE users SET password_hash = ? WHERE id = ?",
                        (self._ph.hash(new), user.id))

    def reset_password(self, username: str, recovery_code: str, new: str) -> str:
        """Set a new password with the recovery code; returns the *new* recovery code
        (the old one is spent)."""
        self._check_password(new)
        code = _normalise_code(recovery_code)
        user = self._attempt(username, lambda row: self._verify(row["recovery_hash"], code),
                             _bad_recovery_code)
        fresh = new_recovery_code()
        with self._db() as con:
            con.execute("UPDATE users SET password_hash = ?, recovery_hash = ? WHERE id = ?",
                        (self._ph.hash(new), self._ph.hash(_normalise_code(fresh)), user.id))
        return fresh


def user_home(home: Path, user: User | None) -> Path:
    """Folder of a user's projects: ``home/users/<id>/projects``, or ``home/projects`` in
    single-user mode. Ids, not names, so a renamed or look-alike name cannot reach another
    user's folder."""
    if user is None:
        return home / "projects"
    return home / "users" / str(user.id) / "projects"
