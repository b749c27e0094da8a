"""From a saved factor set to a saved strategy, and from a strategy to its backtest.

This is the workflow the CLI (`alphaforge combine`, `alphaforge backtest`) and the app's
Combine & backtest page share: resolve the factor set, evaluate its formulas on the dataset,
combine them over the test dates, save; then rebuild the score tensor and backtest it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import torch

from engine.backtest import topk
from engine.backtest.prices import ticker_benchmark
from engine.combine.api import combine_panel
from engine.combine.base import CombinationResult, CombineConfig
from engine.data.panel import Panel
from engine.data.target import forward_return
from engine.errors import ConfigError, StoreError
from engine.expr.builtin_sets import BUILTIN_SETS, builtin_set
from engine.expr.evaluate import Evaluator
from engine.metrics.factor import evaluate_factors
from engine.mining.split import suggested_ranges
from engine.mining.worker import ZOO_FILE
from engine.mining.zoo import FactorSet, factor_set_names, load_factor_set
from engine.store import atomic
from engine.store.project import Project
from engine.store.strategies import load_strategy, save_backtest, save_strategy

CLASSIC_SET = "classic"  # the default built-in set
DateRange = tuple[str | None, str | None]


def parse_range(text: str | None, what: str) -> DateRange | None:
    """``"2017-01-01:2017-12-31"`` -> (start, end); either side may be empty."""
    if text is None:
        return None
    if ":" not in text:
        raise ConfigError(f"{what} must look like START:END (e.g. 2017-01-01:2017-12-31), "
                          f"got '{text}'", code="date_range_format", params={"text": text})
    start, end = (part.strip() or None for part in text.split(":", 1))
    for part in (start, end):
        if part is not None:
            try:
                np.datetime64(part, "D")
            except ValueError:
                raise ConfigError(f"{what}: '{part}' is not a date (YYYY-MM-DD)",
                                  code="date_not_iso",
                                  params={"range": text, "value": part}) from None
    return start, end


def resolve_factor_set(project: Project, name: str) -> FactorSet:
    """A saved factor set, a mining run's zoo (by run id), or a built-in set (classic,
    alpha158: :data:`engine.expr.builtin_sets.BUILTIN_SETS`)."""
    if name in factor_set_names(project):
        return load_factor_set(project, name)
    zoo = _run_zoo(project, name)
    if zoo is not None:
        return FactorSet.from_dict(atomic.read_json(zoo))
    builtin = builtin_set(name)
    if builtin is not None:
        return builtin
    return load_factor_set(project, name)  # raises with the list of available sets


def _run_zoo(project: Project, name: str) -> Path | None:
    """The zoo file of run ``name`` when it has one; None too for a name no run can have
    (the caller then tries the other kinds of factor sets)."""
    try:
        zoo = project.run_dir(name) / ZOO_FILE
    except StoreError:
        return None
    return zoo if zoo.exists() else None


def default_test_range(factor_set: FactorSet) -> DateRange | None:
    """The days after a mining run's validation range (to the end of the data): where its
    zoo has not been looked at. None for sets without a run's split (classic, imported)."""
    split = factor_set.source.get("split") or {}
    valid = split.get("valid")
    if not valid or len(valid) != 2 or not valid[1]:
        return None
    start = np.datetime64(str(valid[1]), "D") + np.timedelta64(1, "D")
    return str(start), None


def suggested_test_range(project: Project, dataset: str, factor_set: FactorSet,
                         horizon: int = CombineConfig.horizon) -> tuple[dt.date, dt.date]:
    """The test period the Combine page opens on: the days after the run's validation range
    (:func:`default_test_range`, as the CLI) when that falls inside this dataset, else the
    test range of :func:`engine.mining.split.suggest_split` on its calendar."""
    (first, _), _, (first_test, last) = suggested_ranges(project, dataset, horizon)
    after = default_test_range(factor_set)
    if after is not None and after[0] is not None:
        start = dt.date.fromisoformat(after[0])
        if first <= start <= last:
            return start, last
    return first_test, last


def available_factor_sets(project: Project) -> list[str]:
    """Names :func:`resolve_factor_set` accepts: saved sets, mining runs with a zoo, then the
    built-in sets."""
    zoos = [r.run_id for r in project.runs() if _run_zoo(project, r.run_id) is not None]
    saved = factor_set_names(project)
    return [*saved, *[z for z in zoos if z not in saved], *BUILTIN_SETS]


def _days(panel: Panel, span: DateRange, what: str, term: str) -> np.ndarray:
    """Day mask of ``span``; ``what`` names it in English, ``term`` in the catalogue."""
    mask = panel.date_mask(*span)
    if not mask.any():
        shown = f"{span[0] or '...'}:{span[1] or '...'}"
        raise ConfigError(f"{what} {shown} holds no trading day "
                          f"of the dataset ({panel.dates[0]} .. {panel.dates[-1]})",
                          code="config_range_no_days",
                          params={"name": {"term": term}, "range": shown,
                                  "first": str(panel.dates[0]), "last": str(panel.dates[-1])})
    return mask


@dataclass(frozen=True)
class StrategySpec:
    """What `alphaforge combine` was asked to do (saved in strategy.json)."""

    name: str
    dataset: str
    factor_set: str
    test: DateRange
    train: DateRange | None
    config: CombineConfig


def build_strategy(project: Project, spec: StrategySpec, *, overwrite: bool = False
                   ) -> tuple[CombinationResult, dict[str, Any]]:
    """Combine the factor set over the test dates and save the strategy; returns the result
    and the saved description."""
    panel = project.load_panel(spec.dataset)
    factor_set = resolve_factor_set(project, spec.factor_set)
    if not factor_set.factors:
        raise ConfigError(f"factor set '{factor_set.name}' is empty: nothing to combine",
                          code="combine_empty_set", params={"name": factor_set.name})
    score_days = _days(panel, spec.test, "the test range", "test")
    first_test = panel.dates[score_days][0]
    train_days = (_days(panel, spec.train, "the training range", "train") if spec.train is not None
                  else panel.dates < first_test)
    values = Evaluator(panel).evaluate_many(factor_set.formulas)
    result = combine_panel(panel, values, factor_set.formulas, score_days=score_days,
                           train_days=train_days, config=spec.config)
    meta = project.dataset_meta(spec.dataset)
    info = {
        "dataset": spec.dataset, "dataset_hash": meta.content_hash,
        "factor_set": factor_set.name, "formulas": factor_set.formulas,
        "test": list(spec.test), "train": list(spec.train) if spec.train else None,
        "config": spec.config.to_dict(), "summary": result.summary(),
        "factor_tests": factor_tests(panel, values, factor_set.formulas, score_days,
                                     spec.config),
    }
    save_strategy(project, spec.name, info, {
        "scores": result.scores_long(panel.tickers),
        "weights": result.weights,
        "daily": result.daily,
    }, overwrite=overwrite)
    return result, info


def factor_tests(panel: Panel, values: torch.Tensor, formulas: Sequence[str],
                 score_days: np.ndarray, config: CombineConfig) -> list[dict[str, Any]]:
    """Each factor's own IC over the scored days and its t-statistic, after the fact: what
    a report needs to say how significant the best factor is given how many were tried
    (engine.report.trials). Never an input of the combination."""
    days = torch.from_numpy(np.asarray(score_days, dtype=bool))
    target = forward_return(panel, config.horizon, config.price)  # type: ignore[arg-type]
    rep = evaluate_factors(values[:, days], target[days], panel.universe[days],
                           config.min_stocks)
    return [{"formula": f, "ic": _finite_or_none(float(m)), "t": _finite_or_none(float(t))}
            for f, m, t in zip(formulas, rep.ic.mean.reshape(-1).tolist(),
                               rep.ic.t_stat.reshape(-1).tolist(), strict=True)]


def _finite_or_none(x: float) -> float | None:
    return x if math.isfinite(x) else None


def scores_tensor(panel: Panel, scores: pl.DataFrame) -> torch.Tensor:
    """``[T, N]`` float32 score tensor of a (date, ticker, score) table on the panel's grid."""
    out = np.full((panel.n_days, panel.n_tickers), np.nan, dtype=np.float32)
    dates = scores.get_column("date").to_numpy().astype("datetime64[D]")
    t_idx = np.searchsorted(panel.dates, dates)
    ticker_index = {t: i for i, t in enumerate(panel.tickers)}
    n_idx = np.array([ticker_index.get(t, -1) for t in scores.get_column("ticker").to_list()],
                     dtype=np.int64)
    ok = (t_idx < panel.n_days) & (n_idx >= 0)
    ok[ok] &= panel.dates[t_idx[ok]] == dates[ok]
    out[t_idx[ok], n_idx[ok]] = scores.get_column("score").to_numpy()[ok]
    return torch.from_numpy(out)


def backtest_strategy(project: Project, name: str, config: topk.TopKConfig, *, rf: float = 0.0,
                      benchmark: str | None = None
                      ) -> tuple[topk.BacktestResult, dict[str, Any]]:
    """Top-k backtest of a saved strategy's scores; saves and returns the result.

    ``benchmark``: None (the equal-weight universe) or a ticker of the dataset whose daily
    close-to-close return is the benchmark (an index ETF, a market proxy).
    """
    strategy = load_strategy(project, name)
    dataset = str(strategy.info["dataset"])
    meta = project.dataset_meta(dataset)
    if meta.content_hash != strategy.info.get("dataset_hash"):
        raise StoreError(f"dataset '{dataset}' changed since strategy '{name}' was built; "
                         "re-run `alphaforge combine`")
    panel = project.load_panel(dataset)
    bench = None if benchmark in (None, "", "equal") else ticker_benchmark(panel, benchmark)
    result = topk.run(scores_tensor(panel, strategy.table("scores")), panel, config, bench)
    summary = result.summary(rf)
    info: Mapping[str, Any] = {"config": config.to_dict(), "rf": rf,
                               "benchmark": benchmark or "equal",
                               "summary": summary.to_dict()}
    save_backtest(project, name, info, {"backtest_daily": result.daily,
                                        "positions": result.positions,
                                        "trades": result.trades})
    return result, dict(info)


def combine_config(method: str, **overrides: Any) -> CombineConfig:
    """A CombineConfig for ``method`` with CLI/UI overrides (None = keep the default)."""
    base = CombineConfig(method=method)
    fields = {f.name for f in dataclasses.fields(CombineConfig)}
    unknown = set(overrides) - fields
    if unknown:
        raise ConfigError(f"unknown combination option(s): {', '.join(sorted(unknown))}")
    return dataclasses.replace(base, **{k: v for k, v in overrides.items() if v is not None})
