"""Sweeps: one experiment over mining methods x seeds x test years, walk-forward.

One mining run on one split says little on a real market: a method moves by more than its
own edge from one seed or year to the next. A sweep runs every cell of a grid — for test
year Y, train from the first day to Y−2, validate on Y−1, test on Y (with the horizon + 1
day gaps of spec §1) — each cell a normal mining run (budgeted by formulas scored, so its
result does not depend on the machine or on which worker ran it), then the dynamic
Mega-Alpha of its zoo and a top-k backtest on the test year. ``classic`` is a method too:
the Classic factor set, no mining.

This module is pure: :func:`run_cell` takes a panel and returns a JSON-able record, so any
executor (:mod:`engine.mining.executors`: a process pool or Ray) can run it and only the
driver (:mod:`engine.mining.sweep_store`) writes into the project. The summaries
(:func:`results_table`, :func:`verdicts`, :func:`significance`) read the records alone.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import polars as pl
import torch

from engine.backtest import topk
from engine.combine.api import combine_panel
from engine.combine.base import CombineConfig
from engine.data.panel import Panel
from engine.errors import ConfigError
from engine.expr.classic import CLASSIC
from engine.expr.evaluate import Evaluator
from engine.metrics import significance as sig
from engine.mining.config import DateRange, MiningConfig, preset
from engine.mining.strategies import miner_names

CLASSIC_METHOD = "classic"


def sweep_methods() -> tuple[str, ...]:
    """Every method a sweep accepts: the miners (generators, then strategies) and the
    Classic set."""
    return (*miner_names(), CLASSIC_METHOD)


#: Metrics of a cell that the results table summarises (mean ± std over seeds).
TABLE_METRICS: tuple[str, ...] = ("test_ic", "test_rank_ic", "test_icir", "excess_return",
                                  "sharpe")
#: Methods every other method is compared with, when they are in the sweep.
REFERENCES: tuple[str, ...] = ("gp", "random")


@dataclass(frozen=True)
class SweepSpec:
    """What a sweep runs. ``overrides``: MiningConfig fields on top of the preset;
    ``backtest``: TopKConfig fields; ``combine``: CombineConfig fields."""

    dataset: str
    methods: tuple[str, ...]
    seeds: tuple[int, ...]
    test_years: tuple[int, ...]
    preset: str = "laptop"
    max_evaluations: int = 3000
    overrides: Mapping[str, Any] = field(default_factory=dict)
    backtest: Mapping[str, Any] = field(default_factory=dict)
    combine: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "methods", tuple(str(m) for m in self.methods))
        object.__setattr__(self, "seeds", tuple(int(s) for s in self.seeds))
        object.__setattr__(self, "test_years", tuple(int(y) for y in self.test_years))
        known = sweep_methods()
        bad = [m for m in self.methods if m not in known]
        if bad:
            raise ConfigError(f"unknown sweep method(s) {', '.join(bad)}; choose from "
                              f"{', '.join(known)}", code="config_unknown_choice",
                              params={"field": "methods", "value": ", ".join(bad),
                                      "choices": ", ".join(known)})
        for name, values in (("methods", self.methods), ("seeds", self.seeds),
                             ("test_years", self.test_years)):
            if not values:
                raise ConfigError(f"a sweep needs at least one of {name}")
            if len(set(values)) != len(values):
                raise ConfigError(f"sweep {name} repeat a value: {list(values)}")
        if self.max_evaluations < 1:
            raise ConfigError(f"max_evaluations must be positive, got {self.max_evaluations}")
        preset(self.preset, **dict(self.overrides))  # unknown preset / fields fail here
        topk.TopKConfig(**dict(self.backtest))
        CombineConfig(**{"method": "dynamic", **dict(self.combine)})

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.update(overrides=dict(self.overrides), backtest=dict(self.backtest),
                   combine=dict(self.combine))
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SweepSpec:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


@dataclass(frozen=True, order=True)
class Cell:
    """One cell of the grid."""

    year: int
    method: str
    seed: int

    @property
    def id(self) -> str:
        return f"{self.year}-{self.method}-s{self.seed}"


def cells(spec: SweepSpec) -> list[Cell]:
    """Every cell, year by year; ``classic`` has no seed to vary and runs once a year."""
    out = []
    for year in spec.test_years:
        for method in spec.methods:
            seeds = spec.seeds[:1] if method == CLASSIC_METHOD else spec.seeds
            out += [Cell(year, method, s) for s in seeds]
    return out


def walk_forward(panel: Panel, year: int, horizon: int = 20
                 ) -> tuple[DateRange, DateRange, DateRange]:
    """Train from the first day to the end of ``year − 2``, validate on ``year − 1``, test
    on ``year``; each later segment starts ``horizon + 1`` days after the previous one
    ends, so no label of one segment reads the next."""
    dates = np.asarray(panel.dates, dtype="datetime64[D]")
    years = dates.astype("datetime64[Y]").astype(int) + 1970
    test = np.nonzero(years == year)[0]
    valid = np.nonzero(years == year - 1)[0]
    gap = horizon + 1
    if test.size == 0 or valid.size == 0:
        have = f"{years.min()}–{years.max()}" if years.size else "no days"
        raise ConfigError(f"test year {year} needs data in {year - 1} and {year}; the "
                          f"dataset covers {have}", code="config_sweep_year",
                          params={"year": year, "have": have})
    v0, v1 = int(valid[0]), int(valid[-1])
    t0, t1 = int(test[0]), int(test[-1])
    train_end = v0 - gap - 1
    if train_end < 60 or t0 > t1 or v1 - v0 < gap:
        raise ConfigError(f"test year {year}: too few days before {year - 1} to train on "
                          f"(walk-forward needs at least one earlier year)",
                          code="config_sweep_short", params={"year": year})
    day = [str(d) for d in dates]
    return (DateRange(day[0], day[train_end]), DateRange(day[v0], day[v1 - gap]),
            DateRange(day[t0], day[t1]))


def cell_config(spec: SweepSpec, cell: Cell, panel: Panel) -> MiningConfig:
    """The cell's mining config: the preset and overrides, the walk-forward split, the seed,
    and a budget of formulas scored (no time budget: the result must not depend on the
    machine)."""
    base = preset(spec.preset, **dict(spec.overrides))
    train, valid, test = walk_forward(panel, cell.year, base.horizon)
    generator = cell.method if cell.method != CLASSIC_METHOD else base.generator
    return base.with_(generator=generator, seed=cell.seed, train=train, valid=valid,
                      test=test, max_evaluations=spec.max_evaluations, time_budget_s=None)


def run_cell(panel: Panel, spec: SweepSpec, cell: Cell) -> dict[str, Any]:
    """Mine (or take the Classic set), combine dynamically from the validation year on and
    backtest the test year: a JSON-able record. Runs on one torch thread, so a cell gives
    the same record on any executor."""
    from engine.mining.loop import mine
    from engine.plugins import load_plugins

    load_plugins()  # a cell may run in a process of its own (pool, Ray)
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        t0 = time.perf_counter()
        cfg = cell_config(spec, cell, panel)
        events: list[dict[str, Any]] = []
        if cell.method == CLASSIC_METHOD:
            formulas = [f.formula for f in CLASSIC.values()]
            zoo: list[dict[str, Any]] = [{"formula": f} for f in formulas]
            evaluated, rounds = 0, 0
        else:
            res = mine(panel, cfg, progress=events.append)
            formulas = [m.formula for m in res.zoo]
            zoo = [{"formula": m.formula, "fitness": m.stats.score,
                    "metrics": {k: dict(v) for k, v in res.reports.get(m.formula, {}).items()}}
                   for m in res.zoo]
            evaluated, rounds = res.evaluated, res.rounds
        record: dict[str, Any] = {
            "cell": asdict(cell), "id": cell.id, "config": cfg.to_dict(),
            "split": {name: [rng.start, rng.end] for name, rng in
                      (("train", cfg.train), ("valid", cfg.valid), ("test", cfg.test))},
            "evaluated": evaluated, "rounds": rounds, "zoo": zoo, "zoo_size": len(formulas),
            **_evaluate_zoo(panel, spec, cfg, formulas),
        }
        record["wall_s"] = time.perf_counter() - t0
        record["events"] = [e for e in events if e.get("event") in ("started", "done")]
        return record
    finally:
        torch.set_num_threads(before)


def _day_index(panel: Panel, rng: DateRange) -> tuple[int, int]:
    dates = np.asarray(panel.dates, dtype="datetime64[D]")
    lo, hi = np.datetime64(rng.start, "D"), np.datetime64(rng.end, "D")
    idx = np.nonzero((dates >= lo) & (dates <= hi))[0]
    return int(idx[0]), int(idx[-1])


def _evaluate_zoo(panel: Panel, spec: SweepSpec, cfg: MiningConfig,
                  formulas: Sequence[str]) -> dict[str, Any]:
    """Test-year figures of the zoo's dynamic Mega-Alpha and of its top-k backtest."""
    nan = math.nan
    empty = {"test_ic": nan, "test_rank_ic": nan, "test_icir": nan, "excess_return": nan,
             "sharpe": nan, "annual_return": nan, "returns": [], "factor_t": []}
    if not formulas:
        return empty
    ev = Evaluator(panel, cache_bytes=128 << 20)
    values = torch.stack([ev.evaluate(f) for f in formulas])
    v0, _ = _day_index(panel, cfg.valid)
    t0, t1 = _day_index(panel, cfg.test)
    combo_cfg = CombineConfig(**{"method": "dynamic", "horizon": cfg.horizon,
                                 "price": cfg.target_price, **dict(spec.combine)})
    res = combine_panel(panel, values, [f"f{i}" for i in range(len(formulas))],
                        score_days=v0, config=combo_cfg)
    daily = res.daily
    dates = np.asarray(daily["date"].to_numpy(), dtype="datetime64[D]")
    lo, hi = np.datetime64(cfg.test.start, "D"), np.datetime64(cfg.test.end, "D")
    keep = (dates >= lo) & (dates <= hi)
    ic = np.asarray(daily["ic"].to_numpy(), dtype=np.float64)[keep]
    rank_ic = np.asarray(daily["rank_ic"].to_numpy(), dtype=np.float64)[keep]
    out = dict(empty)
    out["test_ic"] = _mean(ic)
    out["test_rank_ic"] = _mean(rank_ic)
    sd = float(np.nanstd(ic, ddof=1)) if np.isfinite(ic).sum() > 1 else nan
    out["test_icir"] = out["test_ic"] / sd if sd and math.isfinite(sd) and sd > 0 else nan
    # per-factor test IC t-statistics (for the multiple-testing haircut of the best factor)
    from engine.data.target import forward_return
    from engine.metrics.factor import evaluate_factors

    target = forward_return(panel, cfg.horizon, cfg.target_price)
    rep = evaluate_factors(values[:, t0:t1 + 1], target[t0:t1 + 1], panel.universe[t0:t1 + 1])
    out["factor_t"] = [float(t) for t in rep.ic.t_stat.reshape(-1)]
    score = res.score.clone()
    score[:t0] = torch.nan
    bt = topk.run(score, panel, topk.TopKConfig(**dict(spec.backtest)))
    net = bt.returns("net")
    net = net[(net.index >= str(cfg.test.start)) & (net.index <= str(cfg.test.end))]
    if len(net) > 1:
        summary = bt.summary()
        out["excess_return"] = _num(summary.excess_return)
        out["sharpe"] = _num(summary.sharpe)
        out["annual_return"] = _num(summary.annual_return)
        out["returns"] = [float(x) for x in net.to_numpy()]
    return out


#: Fields of a cell record that depend on where and when it ran, not on what it computed.
VOLATILE_FIELDS = ("wall_s", "events", "run_id", "executor")


def same_result(a: Any, b: Any) -> bool:
    """Whether two cell records (or parts of them) computed the same thing: equal values, NaN
    equal to NaN, the :data:`VOLATILE_FIELDS` of a record ignored. A cell's result must not
    depend on the executor or worker that ran it (tests and ``bench_sweep.py`` check it)."""
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, dict) and isinstance(b, dict):
        keys = [k for k in a if k not in VOLATILE_FIELDS]
        return keys == [k for k in b if k not in VOLATILE_FIELDS] and all(
            same_result(a[k], b[k]) for k in keys)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_result(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _num(x: float | None) -> float:
    return math.nan if x is None or not math.isfinite(float(x)) else float(x)


def _mean(x: np.ndarray) -> float:
    x = x[np.isfinite(x)]
    return float(x.mean()) if x.size else math.nan


# --------------------------------------------------------------------------- summaries


def _mean_std(values: Sequence[float]) -> tuple[float, float]:
    x = [v for v in values if isinstance(v, int | float) and math.isfinite(v)]
    if not x:
        return math.nan, math.nan
    return statistics.fmean(x), statistics.stdev(x) if len(x) > 1 else math.nan


def cell_points(records: Sequence[Mapping[str, Any]], metric: str = "test_rank_ic"
                ) -> pl.DataFrame:
    """One row per finished cell (method, year, seed, value of ``metric``): what the
    method x year chart draws, seeds as points."""
    rows = [{"method": str(r["cell"]["method"]), "year": int(r["cell"]["year"]),
             "seed": int(r["cell"]["seed"]), "value": _num(r.get(metric))} for r in records]
    return pl.DataFrame(rows, schema={"method": pl.Utf8, "year": pl.Int64, "seed": pl.Int64,
                                      "value": pl.Float64}).sort("method", "year", "seed")


def results_table(records: Sequence[Mapping[str, Any]]) -> pl.DataFrame:
    """Per method and year (and ``all`` years): cells, mean and std over seeds of each
    :data:`TABLE_METRICS`, mean zoo size and formulas scored."""
    rows = []
    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for r in records:
        method, year = r["cell"]["method"], str(r["cell"]["year"])
        groups.setdefault((method, year), []).append(r)
        groups.setdefault((method, "all"), []).append(r)
    for (method, year), rs in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        row: dict[str, Any] = {"method": method, "year": year, "cells": len(rs),
                               "zoo_size": _mean_std([float(r["zoo_size"]) for r in rs])[0],
                               "evaluated": _mean_std([float(r["evaluated"]) for r in rs])[0]}
        for m in TABLE_METRICS:
            row[f"{m}_mean"], row[f"{m}_std"] = _mean_std([r.get(m, math.nan) for r in rs])
        rows.append(row)
    return pl.DataFrame(rows)


def verdicts(records: Sequence[Mapping[str, Any]], metric: str = "test_rank_ic",
             alpha: float = 0.05) -> list[sig.PairedVerdict]:
    """Each method against each reference (:data:`REFERENCES`) over the (seed, year) cells
    both ran, by the paired Wilcoxon signed-rank test. ``classic`` pairs by year."""
    by: dict[str, dict[tuple[int, int], float]] = {}
    for r in records:
        c = r["cell"]
        by.setdefault(c["method"], {})[(c["year"], c["seed"])] = float(r.get(metric, math.nan))
    out = []
    for ref in REFERENCES:
        if ref not in by:
            continue
        for method in sorted(by):
            if method == ref:
                continue
            mine_, theirs = by[method], by[ref]
            if method == CLASSIC_METHOD or ref == CLASSIC_METHOD:
                pairs = [(v, statistics.fmean([w for (y2, _), w in theirs.items() if y2 == y]))
                         for (y, _), v in mine_.items() if any(y2 == y for y2, _ in theirs)]
            else:
                pairs = [(v, theirs[k]) for k, v in mine_.items() if k in theirs]
            out.append(sig.paired_verdict(method, ref, [a for a, _ in pairs],
                                          [b for _, b in pairs], alpha))
    return out


def significance(records: Sequence[Mapping[str, Any]], extra_trials: int = 0
                 ) -> dict[str, Any]:
    """Significance of the sweep's best cell (highest test Sharpe): its deflated Sharpe
    ratio with the number of trials = every cell of the sweep plus ``extra_trials`` (the
    project's other strategies), and the multiple-testing adjusted t-statistic of its best
    factor's test IC, the number of tests being every formula the sweep scored."""
    scored = [r for r in records if r.get("returns") and math.isfinite(r.get("sharpe", math.nan))]
    if not scored:
        return {}
    best = max(scored, key=lambda r: r["sharpe"])
    daily_srs = []
    for r in scored:
        x = np.asarray(r["returns"], dtype=np.float64)
        if x.size > 1 and x.std(ddof=1) > 0:
            daily_srs.append(float(x.mean() / x.std(ddof=1)))
    n_trials = len(records) + max(0, extra_trials)
    dsr = sig.deflated_sharpe(best["returns"], n_trials, sig.trial_sr_variance(daily_srs))
    out: dict[str, Any] = {"best_cell": best["id"], "deflated_sharpe": dsr.to_dict()}
    ts = [t for t in best.get("factor_t", []) if isinstance(t, float)]
    top = sig.best_of(ts, sum(int(r.get("evaluated", 0)) for r in records))
    if top is not None:
        out["best_factor"] = top.to_dict()
    return out
