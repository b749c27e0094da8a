"""One parser for a single date a user types (``--start``, ``--end``, a date field).

``2015-13-45`` and impossible days such as ``2015-02-30`` get one clear message naming the
option, instead of a NumPy traceback from deep inside a date comparison. Ranges
(``START:END``) go through :class:`engine.mining.config.DateRange`, which uses the same rule.
"""

from __future__ import annotations

import datetime as dt

from engine.errors import ConfigError


def parse_day(value: dt.date | str, what: str = "date") -> dt.date:
    """``value`` as a date; ``what`` names the option in the error (``--start``)."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise ConfigError(f"{what} '{value}' is not a calendar date like 2016-07-01",
                          code="day_not_iso", params={"what": what, "value": str(value)}
                          ) from None
