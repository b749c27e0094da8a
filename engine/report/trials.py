"""How much a project tried, counted from its records, and what that does to its best results.

A Sharpe ratio or a factor IC picked as the best of many tries is inflated by the picking.
So next to every "best" result the Reports page, the strategy report and the comparison name
(the strategy's backtest, the strategy's best factor, the best of the compared strategies),
they put its significance *given how much was tried*:

- the **deflated Sharpe ratio** (:func:`engine.metrics.significance.deflated_sharpe`), the
  trials being every backtested strategy of the project and every finished sweep cell (each
  is a backtest somebody could have picked), their Sharpe ratios' spread estimated from
  those same trials;
- the **adjusted t-statistic** of the best factor's test IC
  (:func:`engine.metrics.significance.best_of`), the tests being every formula the project's
  mining runs scored (sweep cells included), at least the strategy's own factors.

Counting from records is a lower bound: a strategy re-backtested with other settings keeps
only its latest backtest, and what was tried outside the project is not known.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from engine.errors import StoreError
from engine.metrics import significance as sig
from engine.store.project import Project
from engine.store.strategies import load_strategy, strategy_names


@dataclass(frozen=True)
class Trials:
    """What the project's records say was tried."""

    strategies: int  # backtested strategies
    sweep_cells: int  # finished sweep cells (each one mined, combined and backtested)
    formulas: int  # formulas scored by the project's mining runs
    sharpes: tuple[float, ...]  # per-period Sharpe ratio of every trial with returns

    @property
    def n(self) -> int:
        return max(1, self.strategies + self.sweep_cells)

    @property
    def sr_variance(self) -> float:
        return sig.trial_sr_variance(self.sharpes)


@dataclass(frozen=True)
class Significance:
    """The significance of one strategy's best results (None where it has none)."""

    sharpe: sig.DeflatedSharpe | None
    best_factor: sig.BestFactor | None
    best_formula: str | None
    trials: Trials

    def to_dict(self) -> dict[str, Any]:
        return {"deflated_sharpe": self.sharpe.to_dict() if self.sharpe else None,
                "best_factor": self.best_factor.to_dict() if self.best_factor else None,
                "best_formula": self.best_formula, "trials": asdict(self.trials)}


def daily_sharpe(returns: Sequence[float] | np.ndarray) -> float:
    x = np.asarray(returns, dtype=np.float64)
    x = x[np.isfinite(x)]
    sd = float(x.std(ddof=1)) if x.size > 1 else math.nan
    return float(x.mean() / sd) if x.size > 1 and sd > 0 else math.nan


def backtest_returns(project: Project, name: str) -> np.ndarray | None:
    """The net daily returns of a strategy's latest backtest, or None when it has none."""
    strategy = load_strategy(project, name)
    if strategy.backtest is None:
        return None
    try:
        daily = strategy.table("backtest_daily")
    except StoreError:
        return None
    return np.asarray(daily.get_column("net").to_numpy(), dtype=np.float64)


def count_trials(project: Project) -> Trials:
    """Backtested strategies, sweep cells and formulas scored, from the project's files."""
    from engine.mining import sweep_store, worker

    sharpes: list[float] = []
    strategies = 0
    for name in strategy_names(project):
        returns = backtest_returns(project, name)
        if returns is not None:
            strategies += 1
            sharpes.append(daily_sharpe(returns))
    cells = 0
    for run_id in sweep_store.sweep_ids(project):
        for record in sweep_store.done_cells(project, run_id).values():
            cells += 1
            if record.get("returns"):
                sharpes.append(daily_sharpe(record["returns"]))
    formulas = 0
    for record in project.runs():
        if record.kind != worker.RUN_KIND:
            continue
        zoo = worker.read_zoo(project, record.run_id)
        if zoo is not None:
            formulas += int(zoo.source.get("evaluated") or 0)
    return Trials(strategies=strategies, sweep_cells=cells, formulas=formulas,
                  sharpes=tuple(s for s in sharpes if math.isfinite(s)))


def best_factor(info: Mapping[str, Any], trials: Trials
                ) -> tuple[sig.BestFactor | None, str | None]:
    """The strategy's factor with the largest |test IC t| (from ``strategy.json``'s
    ``factor_tests``; strategies built before it was recorded have none) as the best of the
    formulas tried."""
    tests = [r for r in info.get("factor_tests") or []
             if isinstance(r.get("t"), int | float) and math.isfinite(r["t"])]
    if not tests:
        return None, None
    top = sig.best_of([float(r["t"]) for r in tests], max(trials.formulas, len(tests)))
    formula = max(tests, key=lambda r: abs(float(r["t"])))["formula"]
    return top, str(formula)


def strategy_significance(project: Project, name: str, trials: Trials | None = None
                          ) -> Significance:
    """Deflated Sharpe of the strategy's backtest and the haircut t of its best factor."""
    trials = trials or count_trials(project)
    returns = backtest_returns(project, name)
    dsr = (sig.deflated_sharpe(returns, trials.n, trials.sr_variance)
           if returns is not None and returns.size > 1 else None)
    top, formula = best_factor(load_strategy(project, name).info, trials)
    return Significance(sharpe=dsr, best_factor=top, best_formula=formula, trials=trials)
