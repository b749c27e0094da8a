"""Transaction costs in basis points of the traded value (ALPHAFORGE_SPEC §7, issue 6).

Defaults 5 bps to buy and 15 bps to sell, the Qlib CN convention the paper's portfolio figures
use (0.05 % open, 0.15 % close including stamp duty); the minimum-cost-per-order rule of Qlib
is left out because positions here are weights, not share counts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.errors import ConfigError

BPS = 1e-4


@dataclass(frozen=True)
class CostModel:
    """Proportional costs: ``buy_bps`` per unit of value bought, ``sell_bps`` per unit sold."""

    buy_bps: float = 5.0
    sell_bps: float = 15.0

    def __post_init__(self) -> None:
        for name in ("buy_bps", "sell_bps"):
            value = getattr(self, name)
            if not (np.isfinite(value) and 0 <= value < 10_000):
                raise ConfigError(f"{name} must be a cost in basis points in [0, 10000), "
                                  f"got {value}", code="config_cost_bps",
                                  params={"field": name, "got": value})

    def cost(self, bought: np.ndarray | float, sold: np.ndarray | float) -> np.ndarray | float:
        """Cost as a fraction of portfolio value, for traded value fractions bought / sold."""
        return (self.buy_bps * np.asarray(bought) + self.sell_bps * np.asarray(sold)) * BPS
