"""Strategy service: backtests against a chosen benchmark ticker."""

from __future__ import annotations

import numpy as np
import pytest

from engine.backtest.topk import TopKConfig
from engine.combine.service import StrategySpec, backtest_strategy, build_strategy, combine_config
from engine.data.synthetic import SyntheticConfig
from engine.errors import ConfigError
from engine.store.demo import ensure_demo


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    project, _, _ = ensure_demo(tmp_path_factory.mktemp("svc") / "demo",
                                SyntheticConfig(n_tickers=30, n_days=300, seed=3))
    spec = StrategySpec(name="s", dataset="demo", factor_set="classic",
                        test=("2016-01-01", None), train=None, config=combine_config("equal"))
    build_strategy(project, spec)
    return project


def test_ticker_benchmark_is_that_tickers_return(built) -> None:  # type: ignore[no-untyped-def]
    panel = built.load_panel("demo")
    ticker = panel.tickers[0]
    result, info = backtest_strategy(built, "s", TopKConfig(top_k=5, drop_n=1),
                                     benchmark=ticker)
    assert info["benchmark"] == ticker
    close = panel.feature("close")[:, 0].double().numpy()
    daily = result.daily
    day = daily["date"][5]
    t = int(np.searchsorted(panel.dates, np.datetime64(day)))
    assert daily["benchmark"][5] == pytest.approx(close[t] / close[t - 1] - 1.0)


def test_default_benchmark_is_equal_weight(built) -> None:  # type: ignore[no-untyped-def]
    _, info = backtest_strategy(built, "s", TopKConfig(top_k=5, drop_n=1))
    assert info["benchmark"] == "equal"


def test_unknown_benchmark_ticker_is_named(built) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError, match="'NOPE' is not in the dataset"):
        backtest_strategy(built, "s", TopKConfig(top_k=5, drop_n=1), benchmark="NOPE")
