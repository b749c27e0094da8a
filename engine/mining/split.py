"""Train / valid / test day ranges of a mining run on one panel's calendar (spec §1).

Leakage guard [ours]: the suggested split leaves ``horizon + 1`` days between segments, so no
training label reads a price of the validation period; the scorer also drops the labels of
the last ``horizon + 1`` training days (see :mod:`engine.mining.scorer`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from engine.data.panel import Panel
from engine.errors import ConfigError
from engine.mining.config import DateRange, MiningConfig
from engine.store.project import Project


@dataclass(frozen=True)
class Split:
    """Day indices (inclusive) of the segments on one panel's calendar."""

    train: tuple[int, int]
    valid: tuple[int, int]
    test: tuple[int, int] | None
    dates: Mapping[str, tuple[str, str]]

    def to_dict(self) -> dict[str, Any]:
        return {name: list(rng) for name, rng in self.dates.items()}


def suggest_split(panel: Panel, horizon: int = 20) -> tuple[DateRange, DateRange, DateRange]:
    """70/15/15 by time with a gap of ``horizon + 1`` days between segments (spec §1)."""
    return split_calendar(panel.dates, horizon)


def split_calendar(dates: Sequence[Any] | np.ndarray, horizon: int = 20
                   ) -> tuple[DateRange, DateRange, DateRange]:
    """:func:`suggest_split` on a sorted trading calendar alone: the pages suggest the same
    ranges as a run would use without loading the dataset's prices."""
    n_days = len(dates)
    gap = horizon + 1
    usable = n_days - 2 * gap
    if usable < 20:
        raise ConfigError(f"the dataset has {n_days} days: too few for a train/valid/"
                          f"test split with {gap}-day gaps", code="config_too_few_days",
                          params={"days": n_days, "gap": gap})
    n_train, n_valid = int(usable * 0.70), int(usable * 0.15)
    bounds = [(0, n_train - 1), (n_train + gap, n_train + gap + n_valid - 1),
              (n_train + 2 * gap + n_valid, n_days - 1)]
    day = [str(d) for d in dates]
    train, valid, test = (DateRange(day[a], day[b]) for a, b in bounds)
    return train, valid, test


DayPair = tuple[dt.date, dt.date]


def suggested_ranges(project: Project, dataset: str, horizon: int = MiningConfig.horizon
                     ) -> tuple[DayPair, DayPair, DayPair]:
    """The default train / valid / test ranges of a dataset as dates for the pages' date
    inputs: what a run without ranges uses (:func:`suggest_split`, gaps included). A
    calendar too short to split gets its whole span for each range: the inputs still open
    on real dates, and starting a run then says what is missing."""
    dates = project.dataset_dates(dataset)
    try:
        ranges = split_calendar(dates, horizon)
    except ConfigError:
        ranges = (DateRange(str(dates[0]), str(dates[-1])),) * 3
    train, valid, test = ((dt.date.fromisoformat(r.start), dt.date.fromisoformat(r.end))
                          for r in ranges)
    return train, valid, test


def _indices(panel: Panel, rng: DateRange, name: str, min_days: int) -> tuple[int, int]:
    mask = panel.date_mask(rng.start, rng.end)
    idx = np.flatnonzero(mask)
    first, last = str(panel.dates[0]), str(panel.dates[-1])
    if len(idx) < min_days:
        raise ConfigError(
            f"the {name} range {rng} holds {len(idx)} trading day(s) of this dataset "
            f"({first}..{last}); it needs at least {min_days}", code="config_range_short",
            params={"name": {"term": name}, "range": str(rng), "count": len(idx),
                    "first": first, "last": last, "min": min_days},
        )
    return int(idx[0]), int(idx[-1])


def resolve_split(panel: Panel, config: MiningConfig) -> Split:
    """Day indices of the config's ranges (or of :func:`suggest_split`); ConfigError when a
    range holds too few trading days of this panel."""
    if config.train is None:
        train, valid, test = suggest_split(panel, config.horizon)
    else:
        assert config.valid is not None
        train, valid, test = config.train, config.valid, config.test
    tr = _indices(panel, train, "train", config.horizon + 21)  # >= 20 labelled days
    va = _indices(panel, valid, "valid", 2)
    te = _indices(panel, test, "test", 2) if test is not None else None
    dates = {"train": (train.start, train.end), "valid": (valid.start, valid.end)}
    if test is not None:
        dates["test"] = (test.start, test.end)
    return Split(train=tr, valid=va, test=te, dates=dates)


def sub_panel(panel: Panel, stop: int) -> Panel:
    """The first ``stop`` days of a panel (formulas only look back, so the values on those
    days are the same as on the whole panel)."""
    return Panel(values=panel.values[:stop], dates=panel.dates[:stop], tickers=panel.tickers,
                 features=panel.features, universe=panel.universe[:stop],
                 vwap_derived=panel.vwap_derived)


def day_range(panel: Panel, start: int, stop: int) -> Panel:
    """Days ``start … stop − 1`` of a panel. Every operator reads a bounded window, so a
    formula whose lookback is at most ``d`` days has the whole panel's values from day
    ``start + d`` on."""
    return Panel(values=panel.values[start:stop], dates=panel.dates[start:stop],
                 tickers=panel.tickers, features=panel.features,
                 universe=panel.universe[start:stop], vwap_derived=panel.vwap_derived)


def select_tickers(panel: Panel, keep: torch.Tensor) -> Panel:
    """The panel restricted to the tickers where ``keep [N]`` (bool) is True."""
    idx = torch.nonzero(keep.cpu()).flatten()
    return Panel(values=panel.values[:, idx.to(panel.values.device)],
                 dates=panel.dates, tickers=tuple(panel.tickers[i] for i in idx.tolist()),
                 features=panel.features,
                 universe=panel.universe[:, idx.to(panel.universe.device)],
                 vwap_derived=panel.vwap_derived)
