"""No look-ahead: changing any price (hence any return) after day t leaves every weight and
every score at days <= t unchanged, for every combination method (a property test)."""

from __future__ import annotations

import numpy as np
import polars as pl
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.combine import COMBINE_METHODS, CombineConfig, combine_panel
from tests.engine.combine._markets import causal_factors, make_panel, random_prices

T, N, HORIZON = 90, 25, 4
START = 40  # first scored day
BASE = random_prices(T, N, seed=0)


def run(prices: np.ndarray, method: str, window: int | None):
    panel = make_panel(prices)
    factors = causal_factors(panel.feature("close"))
    train = np.zeros(T, dtype=bool)
    train[:START] = True
    cfg = CombineConfig(method=method, window=window, horizon=HORIZON, price="close",
                        min_lookback_days=5, n_factors=2)
    return combine_panel(panel, factors, ["rev5", "vol10", "mom3", "level"], score_days=START,
                         train_days=train, config=cfg)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    t=st.integers(min_value=START, max_value=T - 2),
    method=st.sampled_from(COMBINE_METHODS.names()),
    window=st.sampled_from([None, 15]),
    seed=st.integers(min_value=0, max_value=2**31 - 1),
    missing=st.booleans(),
)
def test_future_prices_do_not_change_past_weights_or_scores(
    t: int, method: str, window: int | None, seed: int, missing: bool
) -> None:
    rng = np.random.default_rng(seed)
    changed = BASE.copy()
    changed[t + 1:] *= np.exp(rng.normal(0, 0.3, changed[t + 1:].shape))
    if missing:
        changed[t + 1:][rng.random(changed[t + 1:].shape) < 0.2] = np.nan
    before, after = run(BASE, method, window), run(changed, method, window)
    assert torch.equal(torch.isnan(before.score[: t + 1]), torch.isnan(after.score[: t + 1]))
    torch.testing.assert_close(before.score[: t + 1], after.score[: t + 1], equal_nan=True,
                               rtol=0, atol=0)
    cutoff = before.dates[t].astype("datetime64[D]").item()
    past_b = before.weights.filter(pl.col("date") <= cutoff)
    past_a = after.weights.filter(pl.col("date") <= cutoff)
    assert past_b.height == (t + 1 - START) * 4
    assert past_b.equals(past_a)
    # the future did change something, so the test is not vacuous
    assert not torch.equal(torch.nan_to_num(before.score), torch.nan_to_num(after.score)) or \
        t >= T - 6


def test_the_target_itself_reads_the_future() -> None:
    """Sanity check of the premise: the same change does move the target of day t - h."""
    from engine.data.target import forward_return

    t = 60
    changed = BASE.copy()
    changed[t + 1:] *= 1.5
    a = forward_return(make_panel(BASE), HORIZON, "close")
    b = forward_return(make_panel(changed), HORIZON, "close")
    torch.testing.assert_close(a[: t - HORIZON], b[: t - HORIZON], equal_nan=True, rtol=0,
                               atol=0)
    assert not torch.allclose(a[t - HORIZON], b[t - HORIZON])
