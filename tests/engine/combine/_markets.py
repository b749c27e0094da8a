"""Small markets for the combination tests: prices, causal factors and the forward target."""

from __future__ import annotations

import numpy as np
import torch

from engine.data.panel import Panel
from engine.data.target import forward_return

FEATURES = ("open", "close", "high", "low", "volume", "vwap")


def make_panel(prices: np.ndarray, universe: np.ndarray | None = None,
               start: str = "2019-01-01") -> Panel:
    """A Panel whose six base features are all ``prices [T, N]`` (volume 1e6)."""
    t, n = prices.shape
    values = np.repeat(prices[:, :, None], len(FEATURES), axis=2).astype(np.float32)
    values[:, :, 4] = np.where(np.isfinite(prices), 1e6, np.nan)
    uni = np.isfinite(prices) if universe is None else universe & np.isfinite(prices)
    return Panel(
        values=torch.from_numpy(values),
        dates=np.busday_offset(np.datetime64(start, "D"), np.arange(t), roll="forward"),
        tickers=tuple(f"S{i:03d}" for i in range(n)),
        features=FEATURES,
        universe=torch.from_numpy(uni),
    )


def random_prices(t: int, n: int, seed: int, missing: float = 0.02) -> np.ndarray:
    """Random-walk prices with a few missing cells."""
    rng = np.random.default_rng(seed)
    p = 50 * np.exp(np.cumsum(rng.normal(0, 0.02, (t, n)), axis=0))
    p[rng.random((t, n)) < missing] = np.nan
    return p


def causal_factors(close: torch.Tensor) -> torch.Tensor:
    """``[4, T, N]`` factors that read only prices up to each day: 5-day reversal, 10-day
    volatility, 3-day momentum, price level."""
    t = close.shape[0]
    ret1 = torch.full_like(close, float("nan"))
    ret1[1:] = close[1:] / close[:-1] - 1
    rev5 = torch.full_like(close, float("nan"))
    rev5[5:] = -(close[5:] / close[:-5] - 1)
    mom3 = torch.full_like(close, float("nan"))
    mom3[3:] = close[3:] / close[:-3] - 1
    vol10 = torch.full_like(close, float("nan"))
    if t > 10:
        vol10[10:] = ret1.unfold(0, 10, 1)[1:].std(-1)
    return torch.stack([rev5, vol10, mom3, torch.log(close)])


def target_of(panel: Panel, horizon: int) -> torch.Tensor:
    return forward_return(panel, horizon, "close")
