"""Panel building and the forward-return target."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest
import torch

from engine.data.panel import build
from engine.data.target import forward_return
from engine.errors import ConfigError, DataError
from tests.conftest import make_market


def _frame() -> pl.DataFrame:
    frame = make_market(n_tickers=4, n_days=50).with_columns(
        ((pl.col("high") + pl.col("low") + pl.col("close")) / 3).alias("vwap"))
    # drop one row (a missing day) and add an extra feature
    return frame.filter(~((pl.col("ticker") == "T01") & (pl.col("date") == pl.date(2020, 1, 7))))


def test_build_shapes_values_and_missing() -> None:
    frame = _frame().with_columns((pl.col("volume") * 2).alias("amount"))
    panel = build(frame.sample(fraction=1.0, shuffle=True, seed=1))  # order must not matter
    assert panel.values.shape == (50, 4, 7)
    assert panel.features == ("open", "close", "high", "low", "volume", "vwap", "amount")
    assert panel.tickers == ("T00", "T01", "T02", "T03")
    assert np.all(np.diff(panel.dates.astype(np.int64)) > 0)
    t = panel.date_index("2020-01-07")
    assert torch.isnan(panel.feature("$close")[t, 1])
    assert not bool(panel.universe[t, 1]) and bool(panel.universe[t, 0])
    row = frame.filter((pl.col("ticker") == "T02") & (pl.col("date") == pl.date(2020, 1, 10)))
    t2 = panel.date_index("2020-01-10")
    assert panel.feature("close")[t2, 2].item() == pytest.approx(row["close"][0], rel=1e-6)
    assert panel.values.dtype == torch.float32


def test_universe_column_and_unknown_feature() -> None:
    frame = _frame().with_columns((pl.col("ticker") != "T03").alias("in_universe"))
    panel = build(frame)
    assert not panel.universe[:, 3].any() and panel.universe[:, 0].all()
    with pytest.raises(DataError, match=r"unknown feature '\$foo'.*\$close"):
        panel.feature("$foo")


def test_target_definition_and_no_leakage() -> None:
    panel = build(_frame())
    h = 5
    target = forward_return(panel, horizon=h, price="vwap")
    vwap = panel.feature("vwap").double()
    t = 10
    expected = vwap[t + h + 1] / vwap[t + 1] - 1
    assert torch.allclose(target[t].double(), expected, equal_nan=True, atol=1e-6)
    assert torch.isnan(target[-(h + 1):]).all()  # future not available past the end
    # the target at t depends on t+1 .. t+h+1 only: changing data at or before t changes nothing
    values = panel.values.clone()
    values[: t + 1] += 100.0
    changed = build(_frame())
    object.__setattr__(changed, "values", values)
    assert torch.equal(torch.nan_to_num(forward_return(changed, h)[t]),
                       torch.nan_to_num(target[t]))


def test_features_at_t_ignore_later_rows() -> None:
    """The panel at day t is built from rows dated t only (no look-ahead in construction)."""
    frame = _frame()
    cut = dt.date(2020, 2, 14)
    full = build(frame)
    changed = build(frame.with_columns(
        pl.when(pl.col("date") > cut).then(pl.col("close") * 7).otherwise(pl.col("close"))
        .alias("close")))
    t = full.date_index(cut)
    assert torch.equal(torch.nan_to_num(full.values[: t + 1]),
                       torch.nan_to_num(changed.values[: t + 1]))


def test_target_rejects_bad_config() -> None:
    panel = build(_frame())
    with pytest.raises(ConfigError, match="horizon"):
        forward_return(panel, horizon=0)
    with pytest.raises(ConfigError, match="target price"):
        forward_return(panel, price="open")  # type: ignore[arg-type]


def test_real_panel(us_file) -> None:  # type: ignore[no-untyped-def]
    from engine.data.validate import load

    panel = build(load(str(us_file)).frame, vwap_derived=True)
    assert panel.values.shape == (1259, 505, 6)
    assert panel.universe.sum().item() == 619_040
