"""Domain exceptions shared by every engine module.

The UI and the CLI show ``str(error)`` to the user and never a traceback, so every message
must name what is at fault (file, column, row, token) and what the user can do about it.

An error a user meets in the app also carries a stable ``code`` and its ``params`` (the
file, column, token... as plain values), so the app can show the same message in the
user's language from the ``errors.<code>`` entry of the catalogues (``engine/i18n``). The
English ``message`` stays the source of truth for the CLI and logs; an error without a code
is shown as its message in every language.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class AlphaForgeError(Exception):
    """Base class of every error a user is expected to read.

    ``code``: stable identifier (``"name_empty"``), looked up as ``errors.<code>``;
    ``params``: the values the message names, as plain JSON-like values.
    """

    def __init__(self, message: str = "", *, code: str | None = None,
                 params: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.params: dict[str, Any] = dict(params or {})


class DataError(AlphaForgeError):
    """Input data cannot be used (missing columns, unparseable values, duplicates...).

    ``report`` carries the full validation report (all errors and warnings found) when the
    error comes from the validator, so the UI can list every problem at once.
    """

    def __init__(self, message: str, report: object | None = None, *, code: str | None = None,
                 params: Mapping[str, Any] | None = None) -> None:
        super().__init__(message, code=code, params=params)
        self.report = report


class StoreError(AlphaForgeError):
    """A project file is missing, truncated, of a newer schema, or a name is not allowed."""


class FormulaError(AlphaForgeError):
    """A formula does not parse or is not allowed (e.g. it reads the future)."""


class ConfigError(AlphaForgeError):
    """A run configuration is inconsistent (empty date range, unknown option...)."""
