"""The prediction target: the forward return a factor at day t is scored against.

``target[t] = p[t + h + 1] / p[t + 1] - 1`` (ALPHAFORGE_SPEC §1): the signal is known at
day t's close, the position is entered at t+1 and held h days. It reads the future by
design, so it lives here and never among the feature tokens of the formula language.
"""

from __future__ import annotations

from typing import Literal

import torch

from engine.data.panel import Panel
from engine.errors import ConfigError

TargetPrice = Literal["vwap", "close"]
DEFAULT_HORIZON = 20


def shift_back(x: torch.Tensor, days: int) -> torch.Tensor:
    """``out[t] = x[t + days]`` along dim 0 (NaN past the end). ``days`` >= 0."""
    out = torch.full_like(x, float("nan"))
    if days < x.shape[0]:
        out[: x.shape[0] - days] = x[days:]
    return out


def forward_return(
    panel: Panel, horizon: int = DEFAULT_HORIZON, price: TargetPrice = "vwap"
) -> torch.Tensor:
    """``[T, N]`` float32 forward return; NaN where either price is missing or past the end.

    Values are also NaN on days the stock is outside the universe, so that no metric ever
    scores a stock on a day it could not be held.
    """
    if horizon < 1:
        raise ConfigError(f"--horizon must be at least 1 day, got {horizon}",
                          code="horizon_too_small", params={"horizon": horizon})
    if horizon + 1 >= panel.n_days:  # no day would have a realised target [ours]
        raise ConfigError(f"--horizon {horizon} leaves no day with a realised target: the "
                          f"data has {panel.n_days} days", code="horizon_too_long",
                          params={"horizon": horizon, "days": panel.n_days})
    if price not in ("vwap", "close"):
        raise ConfigError(f"target price must be 'vwap' or 'close', got '{price}'")
    p = panel.feature(price).to(torch.float64)
    entry = shift_back(p, 1)
    exit_ = shift_back(p, horizon + 1)
    ret = exit_ / entry - 1.0
    ret = torch.where(torch.isfinite(ret) & panel.universe, ret, torch.nan)
    return ret.to(torch.float32)
