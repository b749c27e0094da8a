"""Score formula texts on a dataset over a date range (CLI `eval`, the app's formula box).

Formulas are evaluated on the *whole* panel, so a window reaching before ``start`` uses real
history rather than NaN; only the days in ``[start, end]`` are scored. A formula that does not
parse is reported with its line and message, and the others are still scored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl
import torch

from engine.data.panel import Panel
from engine.data.target import TargetPrice, forward_return
from engine.errors import ConfigError, FormulaError
from engine.expr.evaluate import Evaluator
from engine.expr.parse import to_text
from engine.expr.qlib import read_formula
from engine.metrics.factor import DEFAULT_MIN_STOCKS, evaluate_factors

BATCH = 16  # formulas scored together: bounds memory at BATCH x T x N floats


@dataclass(frozen=True)
class FormulaScores:
    """table: one row per formula that parsed (formula, ic, icir, rank_ic, rank_icir, ...);
    errors: (1-based position in the input, text, message) for formulas that did not."""

    table: pl.DataFrame
    errors: tuple[tuple[int, str, str], ...]
    n_days: int


def _scored_days(panel: Panel, start: str | None, end: str | None) -> torch.Tensor:
    """``[T]`` bool mask of the days in ``[start, end]``; an empty range is a clear error."""
    days = torch.from_numpy(panel.date_mask(start, end))
    if not bool(days.any()):
        raise ConfigError(
            f"no trading days between {start or 'the start'} and {end or 'the end'}; the "
            f"dataset covers {panel.dates[0]} .. {panel.dates[-1]}")
    return days


def score_formulas(
    panel: Panel,
    formulas: Sequence[str],
    *,
    start: str | None = None,
    end: str | None = None,
    horizon: int = 20,
    price: TargetPrice = "vwap",
    min_stocks: int = DEFAULT_MIN_STOCKS,
) -> FormulaScores:
    days = _scored_days(panel, start, end)
    target = forward_return(panel, horizon, price)[days]
    mask = panel.universe[days]
    evaluator = Evaluator(panel)
    parsed: list[tuple[int, str]] = []
    errors: list[tuple[int, str, str]] = []
    for i, text in enumerate(formulas, start=1):
        try:
            tree = read_formula(text, features=panel.features)  # function form or Qlib
            parsed.append((i, to_text(tree)))
        except FormulaError as exc:
            errors.append((i, text, str(exc)))
    tables = []
    for lo in range(0, len(parsed), BATCH):
        chunk = parsed[lo:lo + BATCH]
        values = evaluator.evaluate_many([f for _, f in chunk])[:, days]
        report = evaluate_factors(values, target, mask, min_stocks)
        tables.append(report.table([f for _, f in chunk]).with_columns(
            pl.Series("line", [i for i, _ in chunk])))
    table = pl.concat(tables) if tables else pl.DataFrame(
        schema={"factor": pl.Utf8, "ic": pl.Float64, "icir": pl.Float64,
                "rank_ic": pl.Float64, "rank_icir": pl.Float64, "coverage": pl.Float64,
                "line": pl.Int64})
    table = table.rename({"factor": "formula"}).select("line", "formula", pl.exclude(
        "line", "formula"))
    return FormulaScores(table=table, errors=tuple(errors), n_days=int(days.sum()))


@dataclass(frozen=True)
class FactorDetail:
    """What a researcher looks at before trusting a mined factor.

    ic: date, formula, ic, rank_ic (daily, over ``[start, end]``);
    decay: formula, horizon, rank_ic (mean daily RankIC against each forward horizon);
    correlation: formula x formula mean daily cross-sectional Pearson correlation, as a frame
    with a ``formula`` column followed by one column per formula (same order).
    """

    ic: pl.DataFrame
    decay: pl.DataFrame
    correlation: pl.DataFrame


def factor_detail(
    panel: Panel,
    formulas: Sequence[str],
    *,
    start: str | None = None,
    end: str | None = None,
    horizon: int = 20,
    price: TargetPrice = "vwap",
    decay_horizons: Sequence[int] = (1, 2, 3, 5, 10, 20, 40),
    min_stocks: int = DEFAULT_MIN_STOCKS,
) -> FactorDetail:
    """Daily IC series, IC decay and mutual correlation of a few factors (a zoo).

    Factors are evaluated on the whole panel and scored on ``[start, end]`` like
    :func:`score_formulas`. The correlation is the mean over days of the cross-sectional
    correlation, the same notion the miner's correlation limit uses.
    """
    from engine.metrics.factor import daily_ic, daily_rank_ic, ic_decay

    if not formulas:
        raise ConfigError("no formulas to describe")
    days = _scored_days(panel, start, end)
    full = Evaluator(panel).evaluate_many(list(formulas))
    values = full[:, days]
    mask = panel.universe[days]
    target = forward_return(panel, horizon, price)[days]
    dates = panel.dates[days.numpy()]
    ic = daily_ic(values, target, mask, min_stocks).numpy()
    ric = daily_rank_ic(values, target, mask, min_stocks).numpy()
    k = len(formulas)
    ic_frame = pl.DataFrame({
        "date": np.tile(dates, k),
        "formula": [f for f in formulas for _ in dates],
        "ic": ic.reshape(-1), "rank_ic": ric.reshape(-1),
    })
    # the forward returns of each horizon need the whole calendar: score all days, mask later
    decay = ic_decay(full, panel.feature(price), decay_horizons,
                     panel.universe & days[:, None], min_stocks).numpy()
    decay_frame = pl.DataFrame({
        "formula": [f for f in formulas for _ in decay_horizons],
        "horizon": list(decay_horizons) * k,
        "rank_ic": decay.reshape(-1),
    })
    corr = torch.stack([torch.nanmean(daily_ic(values, values[j], mask, min_stocks), dim=-1)
                        for j in range(k)]).numpy()
    corr_frame = pl.DataFrame({"formula": list(formulas),
                               **{f: corr[:, j] for j, f in enumerate(formulas)}})
    return FactorDetail(ic=ic_frame, decay=decay_frame, correlation=corr_frame)



def factor_values(
    panel: Panel,
    formulas: Sequence[str],
    labels: Sequence[str] | None = None,
    *,
    start: str | None = None,
    end: str | None = None,
) -> pl.DataFrame:
    """Long table of factor values for downloads: date, ticker, one column per formula
    (named by ``labels``, e.g. F1, F2...), rows in ``[start, end]`` where the stock is in the
    universe. Values are those the metrics see (evaluated on the whole panel first)."""
    if not formulas:
        raise ConfigError("no formulas to evaluate")
    names = list(labels) if labels is not None else list(formulas)
    if len(names) != len(formulas):
        raise ConfigError(f"{len(formulas)} formulas but {len(names)} labels")
    days = _scored_days(panel, start, end)
    values = Evaluator(panel).evaluate_many(list(formulas))[:, days]  # [K, T, N]
    keep = panel.universe[days].numpy()
    t_idx, n_idx = np.nonzero(keep)
    dates = panel.dates[days.numpy()]
    tickers = np.asarray(panel.tickers)
    return pl.DataFrame({
        "date": dates[t_idx], "ticker": tickers[n_idx],
        **{name: values[k].numpy()[t_idx, n_idx] for k, name in enumerate(names)},
    })
