"""One entry point for every combination method: ``combine(...)`` dispatches on the method.

The CLI and the UI call :func:`combine_panel` (the target is built from the panel with the
configured horizon and price); tests and benchmarks call :func:`combine` with tensors.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from engine.combine.base import CombinationResult, CombineConfig, prepare, resolve_days
from engine.combine.methods import COMBINE_METHODS
from engine.data.panel import Panel
from engine.data.target import forward_return

DayMask = np.ndarray | torch.Tensor | int


def combine(
    factors: torch.Tensor,
    target: torch.Tensor,
    *,
    names: Sequence[str],
    dates: np.ndarray,
    score_days: DayMask,
    universe: torch.Tensor | None = None,
    train_days: DayMask | None = None,
    config: CombineConfig | None = None,
) -> CombinationResult:
    """Combine ``factors [K, T, N]`` (raw values, NaN = missing) into a Mega-Alpha.

    target: ``[T, N]`` raw forward return (``engine.data.target.forward_return``) whose horizon
        is ``config.horizon``. universe: ``[T, N]`` bool (None = everything).
    score_days: ``[T]`` bool mask or the index of the first scored day (to the end).
    train_days: static methods only; default = every day before the first scored day. Either
        way the days whose target is not realised before the first scored day are dropped.
    """
    cfg = config if config is not None else CombineConfig()
    method = COMBINE_METHODS.get(cfg.method)
    prep = prepare(factors, target, names, dates, universe, cfg.min_stocks)
    days = resolve_days(score_days, prep.n_days, "score_days")
    if train_days is None:
        train = np.arange(prep.n_days) < int(np.flatnonzero(days)[0])
    else:
        train = resolve_days(train_days, prep.n_days, "train_days")
    return method.fitter()(prep, days, train, cfg)


def combine_panel(
    panel: Panel,
    factors: torch.Tensor,
    names: Sequence[str],
    *,
    score_days: DayMask,
    train_days: DayMask | None = None,
    config: CombineConfig | None = None,
) -> CombinationResult:
    """:func:`combine` with the target ``forward_return(panel, horizon, price)`` and the
    panel's calendar and universe."""
    cfg = config if config is not None else CombineConfig()
    target = forward_return(panel, cfg.horizon, cfg.price)  # type: ignore[arg-type]
    return combine(factors, target, names=names, dates=panel.dates, score_days=score_days,
                   universe=panel.universe, train_days=train_days, config=cfg)
