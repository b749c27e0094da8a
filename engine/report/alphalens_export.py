"""A strategy's Mega-Alpha in alphalens' layout, so a user can continue the analysis there.

Three tables, written as CSV and Parquet into one zip:

- ``factor``: the Mega-Alpha score, indexed by (date, asset) — alphalens' ``factor`` Series.
- ``prices``: wide, one column per asset — alphalens' ``prices``. Row ``t`` holds the price at
  which a signal of day ``t`` is entered: the strategy's target price (VWAP or close) of day
  ``t + 1``. So alphalens' h-day forward return is ``p[t + h + 1] / p[t + 1] - 1``, the
  engine's target (``engine/data/target.py``) and the IC the strategy reports.
- ``factor_data``: what ``alphalens.utils.get_clean_factor_and_forward_returns(factor, prices,
  periods, quantiles, filter_zscore=None)`` returns for those two — forward return columns
  ("1D", "5D", ...), ``factor`` and ``factor_quantile`` — computed here the way alphalens
  computes it (prices forward-filled, rows with any missing value dropped, per-day quantiles
  by ``pandas.qcut``), so it can be used without alphalens installed.

alphalens itself is not a dependency of the engine: the test suite checks the layout and the
values against the installed alphalens-reloaded.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import polars as pl

from engine.data.csv_cells import defuse_pandas
from engine.errors import ConfigError
from engine.report import export
from engine.store.project import Project
from engine.store.strategies import load_strategy

DEFAULT_PERIODS = (1, 5, 10)
DEFAULT_QUANTILES = 5

README = """Mega-Alpha of strategy '{name}' in alphalens' layout ({price} prices).

    import pandas as pd, alphalens as al
    factor = pd.read_parquet("factor.parquet")["factor"]
    prices = pd.read_parquet("prices.parquet")
    factor_data = pd.read_parquet("factor_data.parquet")   # or compute it again:
    factor_data = al.utils.get_clean_factor_and_forward_returns(
        factor, prices, periods={periods}, quantiles={quantiles}, filter_zscore=None)
    al.tears.create_full_tear_sheet(factor_data)

prices row t = the {price} of the next trading day (the entry price of a signal of day t),
so the h-day forward return is the engine's target p[t+h+1] / p[t+1] - 1.
CSV files: read with pd.read_csv(..., parse_dates=["date"], index_col=["date", "asset"])
(prices.csv: index_col="date").
"""


@dataclass(frozen=True)
class AlphalensFrames:
    """``factor`` (Series, index date x asset), ``prices`` (DataFrame, dates x assets) and
    ``factor_data`` (alphalens' clean frame) of one strategy."""

    name: str
    price: str
    periods: tuple[int, ...]
    quantiles: int
    factor: pd.Series
    prices: pd.DataFrame
    factor_data: pd.DataFrame


def entry_prices(dates: np.ndarray, tickers: Sequence[str], values: np.ndarray) -> pd.DataFrame:
    """Wide prices where row ``t`` is the price of day ``t + 1`` (NaN on the last day).
    ``values``: ``[T, N]`` prices on the dataset's calendar ``dates``."""
    shifted = np.full(values.shape, np.nan)
    shifted[:-1] = values[1:]
    frame = pd.DataFrame(shifted, index=pd.DatetimeIndex(dates.astype("datetime64[ns]")),
                         columns=list(tickers))
    frame.index.name, frame.columns.name = "date", "asset"
    return frame


def clean_factor_data(factor: pd.Series, prices: pd.DataFrame, periods: Sequence[int],
                      quantiles: int) -> pd.DataFrame:
    """alphalens' ``get_clean_factor_and_forward_returns(..., filter_zscore=None)`` for a
    daily calendar, without alphalens."""
    _check(periods, quantiles)
    dates = factor.index.get_level_values("date").unique().intersection(prices.index)
    assets = set(factor.index.get_level_values("asset").unique())
    filled = prices.reindex(columns=[a for a in prices.columns if a in assets]).ffill()
    out = pd.DataFrame(index=factor.index)
    for h in sorted(set(periods)):
        fwd = (filled / filled.shift(h) - 1.0).shift(-h).reindex(dates)
        out[f"{h}D"] = fwd.stack(future_stack=True).reindex(factor.index)
    out["factor"] = factor[np.isfinite(factor)]
    out = out.dropna()
    out["factor_quantile"] = out.groupby(level="date", group_keys=False)["factor"].apply(
        lambda x: _qcut(x, quantiles))
    return out.dropna()


def _check(periods: Sequence[int], quantiles: int) -> None:
    if not periods or min(periods) < 1:
        raise ConfigError(f"alphalens periods must be whole days >= 1, got {list(periods)}")
    if quantiles < 2:
        raise ConfigError(f"alphalens quantiles must be at least 2, got {quantiles}")


def _qcut(x: pd.Series, quantiles: int) -> pd.Series:
    try:
        return pd.qcut(x, quantiles, labels=False) + 1
    except ValueError:  # too few distinct values that day: alphalens drops the day too
        return pd.Series(np.nan, index=x.index)


def build_frames(project: Project, name: str, *, periods: Sequence[int] = DEFAULT_PERIODS,
                 quantiles: int = DEFAULT_QUANTILES) -> AlphalensFrames:
    """The alphalens tables of a saved strategy (prices: its target price)."""
    _check(periods, quantiles)
    strategy = load_strategy(project, name)
    price = str(strategy.info.get("config", {}).get("price", "close"))
    panel = project.load_panel(str(strategy.info["dataset"]))
    scores = strategy.table("scores")
    factor = (scores.rename({"ticker": "asset", "score": "factor"})
              .with_columns(pl.col("date").cast(pl.Datetime("ns"))).to_pandas()
              .set_index(["date", "asset"])["factor"].sort_index())
    values = panel.feature(price).double().numpy()
    prices = entry_prices(np.asarray(panel.dates), list(panel.tickers), values)
    first = factor.index.get_level_values("date").min()
    assets = set(factor.index.get_level_values("asset").unique())
    prices = prices.loc[prices.index >= first, [t for t in prices.columns if t in assets]]
    periods = tuple(sorted(set(periods)))
    return AlphalensFrames(strategy.name, price, periods, quantiles, factor, prices,
                           clean_factor_data(factor, prices, periods, quantiles))


def _csv(frame: pd.DataFrame | pd.Series) -> bytes:
    return defuse_pandas(frame).to_csv(date_format="%Y-%m-%d").encode("utf-8")


def _parquet(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, compression="zstd")
    return buffer.getvalue()


def alphalens_zip(frames: AlphalensFrames) -> bytes:
    """factor / prices / factor_data as CSV and Parquet plus a README, in one zip."""
    factor = frames.factor.to_frame()
    tables = {"factor": factor, "prices": frames.prices, "factor_data": frames.factor_data}
    files = {f"{stem}.{ext}": (_csv(t) if ext == "csv" else _parquet(t))
             for stem, t in tables.items() for ext in ("csv", "parquet")}
    files["README.txt"] = README.format(name=frames.name, price=frames.price,
                                        periods=frames.periods,
                                        quantiles=frames.quantiles).encode("utf-8")
    return export.zip_bytes(files)
