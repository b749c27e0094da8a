"""The dense panel: the one canonical structure every later stage takes.

A long table (date, ticker, fields...) becomes a ``[T days, N tickers, F features]`` float32
tensor with NaN for missing values, plus the calendar, the ticker list and the point-in-time
universe mask. Building it is a scatter into a preallocated array (no Python loop over
tickers or days), so a 500 x 2,500 market builds in well under a second.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import polars as pl
import torch

from engine.data.schema import BASE_FEATURES, DATE, TICKER, UNIVERSE
from engine.dates import parse_day
from engine.errors import DataError


@dataclass(frozen=True)
class Panel:
    """Daily market data as tensors.

    values:    ``[T, N, F]`` float32, NaN = missing.
    dates:     ``[T]`` numpy ``datetime64[D]``, strictly increasing (the trading calendar).
    tickers:   N ticker strings, sorted.
    features:  F feature names (lower case, without ``$``): the six base features first.
    universe:  ``[T, N]`` bool, True where the stock is a member that day *and* has data.
    vwap_derived: True when ``vwap`` was computed as (high+low+close)/3 because the
        source had none (the dataset records it; reports say so).
    """

    values: torch.Tensor
    dates: np.ndarray
    tickers: tuple[str, ...]
    features: tuple[str, ...]
    universe: torch.Tensor
    vwap_derived: bool = False
    _index: dict[str, int] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        t, n, f = self.values.shape
        if len(self.dates) != t or len(self.tickers) != n or len(self.features) != f:
            raise DataError(
                f"panel shape {tuple(self.values.shape)} does not match "
                f"{len(self.dates)} dates x {len(self.tickers)} tickers x "
                f"{len(self.features)} features"
            )
        self._index.update({name: i for i, name in enumerate(self.features)})

    @property
    def n_days(self) -> int:
        return int(self.values.shape[0])

    @property
    def n_tickers(self) -> int:
        return int(self.values.shape[1])

    @property
    def device(self) -> torch.device:
        return self.values.device

    def feature(self, name: str) -> torch.Tensor:
        """``[T, N]`` view of one feature (name with or without ``$``, any case)."""
        key = name.lstrip("$").lower()
        if key not in self._index:
            raise DataError(
                f"unknown feature '{name}'; this dataset has: "
                + ", ".join(f"${f}" for f in self.features)
            )
        return self.values[:, :, self._index[key]]

    def to(self, device: str | torch.device) -> Panel:
        """The same panel on another device (CPU/CUDA)."""
        return Panel(
            values=self.values.to(device),
            dates=self.dates,
            tickers=self.tickers,
            features=self.features,
            universe=self.universe.to(device),
            vwap_derived=self.vwap_derived,
        )

    def date_mask(self, start: dt.date | str | None, end: dt.date | str | None) -> np.ndarray:
        """``[T]`` bool, True for days in ``[start, end]`` (inclusive; None = open end)."""
        mask = np.ones(len(self.dates), dtype=bool)
        if start is not None:
            mask &= self.dates >= np.datetime64(parse_day(start, "start date"), "D")
        if end is not None:
            mask &= self.dates <= np.datetime64(parse_day(end, "end date"), "D")
        return mask

    def date_index(self, day: dt.date | str) -> int:
        """Index of the first trading day on or after ``day``."""
        return int(np.searchsorted(self.dates, np.datetime64(parse_day(day), "D")))


def feature_columns(frame: pl.DataFrame) -> list[str]:
    """Feature columns of a canonical long table: base features first, then extra numerics."""
    numeric = [
        c
        for c, dtype in frame.schema.items()
        if c not in (DATE, TICKER, UNIVERSE) and dtype.is_numeric()
    ]
    base = [c for c in BASE_FEATURES if c in numeric]
    return base + sorted(c for c in numeric if c not in base)


def build(frame: pl.DataFrame, *, vwap_derived: bool = False) -> Panel:
    """Long canonical table -> :class:`Panel`.

    ``frame`` must have ``date`` (Date), ``ticker`` (Utf8) and numeric feature columns, with
    unique (date, ticker) pairs (the validator guarantees it). The optional ``in_universe``
    column (Bool) marks point-in-time membership; without it every stock with a row is in.
    """
    if frame.height == 0:
        raise DataError("cannot build a panel from an empty table")
    features = feature_columns(frame)
    dates = frame.get_column(DATE).unique().sort()
    tickers = frame.get_column(TICKER).unique().sort()
    # Dense ranks map each row to its (t, n) cell: vectorised, no loop over tickers or days.
    idx = frame.select(
        (pl.col(DATE).rank("dense") - 1).cast(pl.Int64).alias("_t"),
        (pl.col(TICKER).rank("dense") - 1).cast(pl.Int64).alias("_n"),
    )
    t_idx = idx.get_column("_t").to_numpy()
    n_idx = idx.get_column("_n").to_numpy()
    t_len, n_len = dates.len(), tickers.len()

    values = np.full((t_len, n_len, len(features)), np.nan, dtype=np.float32)
    flat = t_idx * n_len + n_idx
    values_2d = values.reshape(t_len * n_len, len(features))
    for j, name in enumerate(features):  # loop over a handful of columns only
        col = frame.get_column(name).cast(pl.Float32).to_numpy()
        values_2d[flat, j] = col

    universe = np.zeros((t_len, n_len), dtype=bool)
    if UNIVERSE in frame.columns:
        member = frame.get_column(UNIVERSE).fill_null(False).to_numpy().astype(bool)
    else:
        member = np.ones(frame.height, dtype=bool)
    universe.reshape(-1)[flat] = member
    return Panel(
        values=torch.from_numpy(values),
        dates=dates.to_numpy().astype("datetime64[D]"),
        tickers=tuple(tickers.to_list()),
        features=tuple(features),
        universe=torch.from_numpy(universe),
        vwap_derived=vwap_derived,
    )
