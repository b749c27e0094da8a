"""Domain exceptions shared by every engine module.

The UI and the CLI show ``str(error)`` to the user and never a traceback, so every message
must name what is at fault (file, column, row, token) and what the user can do about it.
"""

from __future__ import annotations


class AlphaForgeError(Exception):
    """Base class of every error a user is expected to read."""


class DataError(AlphaForgeError):
    """Input data cannot be used (missing columns, unparseable values, duplicates...).

    ``report`` carries the full validation report (all errors and warnings found) when the
    error comes from the validator, so the UI can list every problem at once.
    """

    def __init__(self, message: str, report: object | None = None) -> None:
        super().__init__(message)
        self.report = report


class StoreError(AlphaForgeError):
    """A project file is missing, truncated, of a newer schema, or a name is not allowed."""


class FormulaError(AlphaForgeError):
    """A formula does not parse or is not allowed (e.g. it reads the future)."""


class ConfigError(AlphaForgeError):
    """A run configuration is inconsistent (empty date range, unknown option...)."""
