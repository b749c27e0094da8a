"""A data source added from outside the engine: one module + one registry line.

``toy://demo?tickers=12&days=260`` serves the built-in synthetic market, and its form asks for
an API key (declared as a field: the app draws the input without any UI code). The example of
docs/developer-guide.md "Adding a data source".
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

from engine.data.io import RawTable
from engine.data.sources import CONNECTORS
from engine.data.sources.base import Connector, SourceField, SourceRequest, with_rows
from engine.data.synthetic import SyntheticConfig, generate
from engine.errors import DataError


def _config(request: SourceRequest) -> SyntheticConfig:
    options = dict(parse_qsl(urlsplit(request.url).query))
    return SyntheticConfig(n_tickers=int(options.get("tickers", 12)),
                           n_days=int(options.get("days", 260)), seed=0)


def read(request: SourceRequest, limit: int | None) -> RawTable:
    if request.token != "sesame":
        raise DataError("toy: the API key is wrong (it is 'sesame')")
    frame = generate(_config(request))
    return with_rows(frame.head(limit) if limit else frame, "toy")


def probe(request: SourceRequest) -> str:
    cfg = _config(request)
    return f"toy market: {cfg.n_tickers} tickers x {cfg.n_days} days"


CONNECTORS.register(Connector(
    name="toy", schemes=("toy",), title="Toy market", example="toy://demo?tickers=12",
    read=read, tables=lambda _request: [], probe=probe,
    fields=(SourceField("secret", "token", label="API key"),),
))
