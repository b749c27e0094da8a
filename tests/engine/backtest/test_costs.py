"""Costs in basis points."""

from __future__ import annotations

import numpy as np
import pytest

from engine.backtest.costs import CostModel
from engine.errors import ConfigError


def test_defaults_and_arithmetic() -> None:
    c = CostModel()
    assert (c.buy_bps, c.sell_bps) == (5.0, 15.0)
    assert c.cost(1.0, 0.0) == pytest.approx(0.0005)
    assert c.cost(0.2, 0.3) == pytest.approx(0.2 * 0.0005 + 0.3 * 0.0015)
    np.testing.assert_allclose(c.cost(np.array([1.0, 0.0]), np.array([0.0, 1.0])),
                               [0.0005, 0.0015])


@pytest.mark.parametrize("bad", [-1.0, float("nan"), 10_000.0])
def test_invalid_costs_are_rejected(bad: float) -> None:
    with pytest.raises(ConfigError, match="sell_bps"):
        CostModel(sell_bps=bad)
