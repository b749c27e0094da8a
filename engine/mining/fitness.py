"""Fitness of candidate formulas on the training days (§3), and the per-formula cache (§8 #11).

:class:`TrainScorer` evaluates formulas and computes, per formula, the daily IC series, the
daily factor-return series ``ret_t`` (slope of the z-scored target on the z-scored factor),
their summaries, the gate of §3 step 6 and the chosen fitness. The definitions are those of
:func:`engine.metrics.factor.fitness` (missing values masked out of every per-day statistic,
§8 #3); here IC and ``ret_t`` come from one fused float32 pass over shared per-day moments,
because this is the miner's hot loop (about 3x faster than the general float64 metrics on a
2-core CPU; ``tests/engine/mining/test_fitness.py`` checks both agree).

``ret_t`` uses z-scores over each side's own finite values (as ``normalize_by_day`` does) and
a slope over the jointly finite stocks, which is ``(std_x / std_y) * cov_xy / var_x``.

:class:`FormulaBook` caches each formula's statistics by canonical text, and its ``ret_t``
series while the formula is live (in the predictor's store, the zoo or the current round):
when the zoo changes, re-scoring is a correlation-matrix product over cached series
(:func:`diversity_ok`), never a re-evaluation (§8 #11).

Leakage guard [ours]: a training label reads prices up to ``horizon + 1`` days ahead; labels of
the last ``horizon + 1`` training days would read the validation period, so they are dropped.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from engine.data.panel import Panel
from engine.data.target import forward_return
from engine.errors import ConfigError, FormulaError
from engine.expr.evaluate import Evaluator
from engine.expr.parse import Expr
from engine.metrics.factor import (
    daily_rank_ic,
    evaluate_factors,
    series_correlation,
    summarize,
)
from engine.mining.config import DateRange, MiningConfig

# A day's centred sum of squares below n * (this * |mean|)^2 is float32 rounding noise.
_CONSTANT_RTOL = 1e-5
_ZSCORE_EPS = 1e-12
# Cells per chunk of the fused pass: bounds the float32 temporaries (~16 MB each).
_CHUNK_CELLS = 1 << 22


# --------------------------------------------------------------------------- date split


@dataclass(frozen=True)
class Split:
    """Day indices (inclusive) of the segments on one panel's calendar."""

    train: tuple[int, int]
    valid: tuple[int, int]
    test: tuple[int, int] | None
    dates: Mapping[str, tuple[str, str]]

    def to_dict(self) -> dict[str, Any]:
        return {name: list(rng) for name, rng in self.dates.items()}


def suggest_split(panel: Panel, horizon: int = 20) -> tuple[DateRange, DateRange, DateRange]:
    """70/15/15 by time with a gap of ``horizon + 1`` days between segments (spec §1)."""
    gap = horizon + 1
    usable = panel.n_days - 2 * gap
    if usable < 20:
        raise ConfigError(f"the dataset has {panel.n_days} days: too few for a train/valid/"
                          f"test split with {gap}-day gaps", code="config_too_few_days",
                          params={"days": panel.n_days, "gap": gap})
    n_train, n_valid = int(usable * 0.70), int(usable * 0.15)
    bounds = [(0, n_train - 1), (n_train + gap, n_train + gap + n_valid - 1),
              (n_train + 2 * gap + n_valid, panel.n_days - 1)]
    day = [str(d) for d in panel.dates]
    train, valid, test = (DateRange(day[a], day[b]) for a, b in bounds)
    return train, valid, test


def _indices(panel: Panel, rng: DateRange, name: str, min_days: int) -> tuple[int, int]:
    mask = panel.date_mask(rng.start, rng.end)
    idx = np.flatnonzero(mask)
    first, last = str(panel.dates[0]), str(panel.dates[-1])
    if len(idx) < min_days:
        raise ConfigError(
            f"the {name} range {rng} holds {len(idx)} trading day(s) of this dataset "
            f"({first}..{last}); it needs at least {min_days}", code="config_range_short",
            params={"name": {"term": name}, "range": str(rng), "count": len(idx),
                    "first": first, "last": last, "min": min_days},
        )
    return int(idx[0]), int(idx[-1])


def resolve_split(panel: Panel, config: MiningConfig) -> Split:
    """Day indices of the config's ranges (or of :func:`suggest_split`); ConfigError when a
    range holds too few trading days of this panel."""
    if config.train is None:
        train, valid, test = suggest_split(panel, config.horizon)
    else:
        assert config.valid is not None
        train, valid, test = config.train, config.valid, config.test
    tr = _indices(panel, train, "train", config.horizon + 21)  # >= 20 labelled days
    va = _indices(panel, valid, "valid", 2)
    te = _indices(panel, test, "test", 2) if test is not None else None
    dates = {"train": (train.start, train.end), "valid": (valid.start, valid.end)}
    if test is not None:
        dates["test"] = (test.start, test.end)
    return Split(train=tr, valid=va, test=te, dates=dates)


def sub_panel(panel: Panel, stop: int) -> Panel:
    """The first ``stop`` days of a panel (formulas only look back, so the values on those
    days are the same as on the whole panel)."""
    return Panel(values=panel.values[:stop], dates=panel.dates[:stop], tickers=panel.tickers,
                 features=panel.features, universe=panel.universe[:stop],
                 vwap_derived=panel.vwap_derived)


# --------------------------------------------------------------------------- statistics


@dataclass(frozen=True)
class FormulaStats:
    """Training statistics of one formula (§3). ``score`` is the chosen fitness after the gate
    (0 when the gate fails; non-finite or negative -> 0); ic / icir are |mean IC| and
    |mean IC| / std; rank_* are NaN when the fitness did not need ranks; ``usable`` = passes
    the gate and has a finite mean IC."""

    score: float
    ic: float
    icir: float
    rank_ic: float
    rank_icir: float
    usable: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


ZERO_STATS = FormulaStats(0.0, 0.0, 0.0, math.nan, math.nan, False)


def _clean(x: torch.Tensor) -> torch.Tensor:
    return torch.where(torch.isfinite(x) & (x > 0), x, 0.0)


def _distinct(rows: torch.Tensor) -> torch.Tensor:
    """Number of distinct finite values per row of ``[..., N]``."""
    s, _ = torch.sort(torch.where(torch.isfinite(rows), rows, torch.inf), dim=-1)
    change = torch.ones_like(s, dtype=torch.bool)
    change[..., 1:] = s[..., 1:] != s[..., :-1]
    return (change & torch.isfinite(s)).sum(-1)


class TrainScorer:
    """Evaluates and scores formulas on the training days of one panel.

    ``score(exprs)`` -> (stats per formula, ``ret_t`` series ``[K, T_train]`` float32 CPU).
    """

    def __init__(self, panel: Panel, split: Split, config: MiningConfig,
                 device: torch.device) -> None:
        t0, t1 = split.train
        self.metric = config.fitness
        self.min_stocks = config.min_stocks
        self.batch = config.eval_batch
        self.t0, self.t1 = t0, t1
        self.device = device
        hist = sub_panel(panel, t1 + 1)
        self.evaluator = Evaluator(hist, device=device, cache_bytes=config.eval_cache_mb << 20)
        target = forward_return(panel, config.horizon, config.target_price)[t0:t1 + 1].clone()
        purge = max(0, (t1 - t0 + 1) - (config.horizon + 1))
        target[purge:] = torch.nan  # labels that would read past the training period
        self.universe = panel.universe[t0:t1 + 1].to(device)
        self.target = torch.where(self.universe, target.to(device), torch.nan)
        y, yv = self.target, torch.isfinite(self.target)
        ny = yv.sum(-1).clamp(min=1)
        my = torch.where(yv, y, 0.0).sum(-1) / ny
        dy = torch.where(yv, y - my[:, None], 0.0)
        self.y_valid = yv
        self.y_std = torch.sqrt((dy * dy).sum(-1) / ny)  # [T] own (population) std
        self.y_ok = (yv.sum(-1) >= 2) & (self.y_std > _ZSCORE_EPS)
        # gate (§3 step 6): per day, does the target have enough stocks, and how many finite
        # and distinct values it has
        self.y_count = yv.sum(-1)
        self.y_enough = self.y_count >= self.min_stocks
        self.y_distinct = _distinct(y)

    @property
    def n_days(self) -> int:
        return self.t1 - self.t0 + 1

    def values(self, exprs: Sequence[Expr]) -> tuple[torch.Tensor, list[bool]]:
        """``[K, T_train, N]`` float32 factor values (NaN rows where evaluation failed)."""
        out = torch.full((len(exprs), self.n_days, self.target.shape[1]), torch.nan,
                         device=self.device)
        ok = []
        for i, expr in enumerate(exprs):
            try:
                out[i] = self.evaluator.evaluate(expr)[self.t0:]
                ok.append(True)
            except FormulaError:
                ok.append(False)
        return out, ok

    def score(self, exprs: Sequence[Expr]) -> tuple[list[FormulaStats], torch.Tensor]:
        stats: list[FormulaStats] = []
        series: list[torch.Tensor] = []
        for start in range(0, len(exprs), self.batch):
            x, _ = self.values(exprs[start:start + self.batch])
            s, r = self.score_values(x)
            stats.extend(s)
            series.append(r)
        if not series:
            return [], torch.empty(0, self.n_days)
        return stats, torch.cat(series)

    def score_values(self, x: torch.Tensor) -> tuple[list[FormulaStats], torch.Tensor]:
        """Statistics of factor values ``x [K, T_train, N]`` (the fused pass)."""
        k, t, n = x.shape
        per = max(1, _CHUNK_CELLS // max(t * n, 1))
        ic_parts, ret_parts, gate_parts = [], [], []
        for s in range(0, k, per):
            ic, ret, gate = self._daily(x[s:s + per])
            ic_parts.append(ic)
            ret_parts.append(ret)
            gate_parts.append(gate)
        ic_series = torch.cat(ic_parts).to(torch.float64)
        ret_series = torch.cat(ret_parts)
        gate = torch.cat(gate_parts)
        ic = summarize(ic_series)
        ic_mean = ic.mean.abs()
        icir = ic_mean / ic.std
        rank_mean = rank_ir = torch.full_like(ic_mean, math.nan)
        if self.metric in ("rank_ic", "rank_icir"):
            rank = summarize(daily_rank_ic(x, self.target, self.universe, self.min_stocks))
            rank_mean = _clean(rank.mean.abs())
            rank_ir = _clean(rank.mean.abs() / rank.std)
        chosen = {"ic": ic_mean, "icir": icir, "rank_ic": rank_mean,
                  "rank_icir": rank_ir}[self.metric]
        score = torch.where(gate, _clean(chosen), 0.0)
        usable = gate & torch.isfinite(ic.mean)
        stats = [
            FormulaStats(score=float(score[i]), ic=float(_clean(ic_mean[i])),
                         icir=float(_clean(icir[i])), rank_ic=float(rank_mean[i]),
                         rank_icir=float(rank_ir[i]), usable=bool(usable[i]))
            for i in range(k)
        ]
        return stats, ret_series.to(torch.float32).cpu()

    def _daily(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Daily IC and ``ret_t`` of ``x [k, T, N]`` (each ``[k, T]`` float32) and the gate
        ``[k]`` bool."""
        y, yv = self.target, self.y_valid
        xv = torch.isfinite(x) & self.universe
        nx = xv.sum(-1)
        gate = self._gate(x, xv, nx)
        # Scale each day to max |x| = 1: IC and ret_t are scale-free, and float32 squares
        # of factor values near 1e-20 or 1e20 would underflow or overflow.
        top = torch.where(xv, x.abs(), 0.0).amax(-1)
        x = x / torch.where(top > 0, top, 1.0)[..., None]
        nxf = nx.clamp(min=1).to(x.dtype)
        mx = torch.where(xv, x, 0.0).sum(-1) / nxf
        dx = torch.where(xv, x - mx[..., None], 0.0)
        sx = torch.sqrt((dx * dx).sum(-1) / nxf)  # own std of the factor (z-score scale)
        del dx
        v = xv & yv
        cnt = v.sum(-1)
        cf = cnt.clamp(min=1).to(x.dtype)
        mxj = torch.where(v, x, 0.0).sum(-1) / cf
        myj = torch.where(v, y, 0.0).sum(-1) / cf
        xc = torch.where(v, x - mxj[..., None], 0.0)
        yc = torch.where(v, y - myj[..., None], 0.0)
        sxx = (xc * xc).sum(-1)
        syy = (yc * yc).sum(-1)
        sxy = (xc * yc).sum(-1)
        const_x = sxx <= cnt * (_CONSTANT_RTOL * mxj) ** 2
        const_y = syy <= cnt * (_CONSTANT_RTOL * myj) ** 2
        enough = cnt >= self.min_stocks
        ic = torch.where(enough & ~const_x & ~const_y,
                         (sxy / torch.sqrt(sxx * syy)).clamp(-1.0, 1.0), torch.nan)
        z_ok = (nx >= 2) & (sx > _ZSCORE_EPS) & self.y_ok
        ret = torch.where(enough & ~const_x & z_ok, sx / self.y_std * sxy / sxx, torch.nan)
        return ic, ret, gate

    def _gate(self, x: torch.Tensor, xv: torch.Tensor, nx: torch.Tensor) -> torch.Tensor:
        """§3 step 6 as :func:`engine.metrics.factor.passes_gate` with ``day=None``: on the
        first day where the target has ``min_stocks`` values and the factor has any, the
        factor needs 80% of the target's finite values and 1% of its distinct values."""
        usable = self.y_enough & (nx > 0)  # [k, T]
        first = torch.where(usable.any(-1), usable.to(torch.int8).argmax(-1), 0)  # [k]
        rows = torch.arange(x.shape[0], device=x.device)
        n_f = nx[rows, first]
        n_y = self.y_count[first]
        values = torch.where(xv[rows, first], x[rows, first], torch.nan)  # [k, N]
        ok = (n_y > 0) & (n_f >= 0.8 * n_y)
        return ok & (_distinct(values) >= 0.01 * self.y_distinct[first])


# --------------------------------------------------------------------------- diversity


def diversity_ok(series: torch.Tensor, zoo_series: torch.Tensor, corr_thresh: float,
                 chunk: int = 4096) -> torch.Tensor:
    """``[K]`` bool: the max |correlation| of each ``ret_t`` series ``[K, T]`` with the zoo's
    ``[Z, T]`` is at most ``corr_thresh`` (§3 step 7). NaN correlations (too few common days,
    a constant series) do not count as correlated, as in the reference."""
    if zoo_series.shape[0] == 0 or series.shape[0] == 0:
        return torch.ones(series.shape[0], dtype=torch.bool)
    out = []
    for s in range(0, series.shape[0], chunk):
        corr = series_correlation(series[s:s + chunk], zoo_series).abs()
        out.append(~(torch.nan_to_num(corr, nan=0.0) > corr_thresh).any(-1))
    return torch.cat(out)


# --------------------------------------------------------------------------- the cache


class FormulaBook:
    """Every formula scored so far, by canonical text (§8 #11).

    ``stats`` are kept for all formulas (they decide whether a formula is new and what its
    base fitness is); the ``ret_t`` series only while the caller keeps the formula live
    (:meth:`prune`), since they are what the diversity test needs.
    """

    def __init__(self) -> None:
        self.stats: dict[str, FormulaStats] = {}
        self.series: dict[str, torch.Tensor] = {}

    def __contains__(self, key: str) -> bool:
        return key in self.stats

    def __len__(self) -> int:
        return len(self.stats)

    def add(self, key: str, stats: FormulaStats, series: torch.Tensor) -> None:
        self.stats[key] = stats
        self.series[key] = series

    def needs_series(self, key: str) -> bool:
        """True when the formula must be (re-)evaluated to get its series: unknown, or its
        series was pruned while its base fitness is positive (zero-fitness formulas need no
        diversity test)."""
        stats = self.stats.get(key)
        return stats is None or (stats.score > 0 and key not in self.series)

    def matrix(self, keys: Sequence[str], n_days: int) -> torch.Tensor:
        """``[K, T]`` series of the keys (NaN rows for formulas without one)."""
        if not keys:
            return torch.empty(0, n_days)
        blank = torch.full((n_days,), torch.nan)
        return torch.stack([self.series.get(k, blank) for k in keys])

    def scores(self, keys: Iterable[str]) -> torch.Tensor:
        return torch.tensor([self.stats[k].score for k in keys], dtype=torch.float64)

    def prune(self, live: set[str]) -> None:
        """Forget the series of formulas no longer live (their statistics stay)."""
        for key in [k for k in self.series if k not in live]:
            del self.series[key]

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict[str, Any]:
        keys = list(self.stats)
        table = torch.tensor([[s.score, s.ic, s.icir, s.rank_ic, s.rank_icir, float(s.usable)]
                              for s in self.stats.values()], dtype=torch.float64)
        skeys = list(self.series)
        return {"keys": keys, "table": table.reshape(len(keys), 6),
                "series_keys": skeys,
                "series": torch.stack([self.series[k] for k in skeys]) if skeys else None}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        table = state["table"].tolist()
        self.stats = {k: FormulaStats(row[0], row[1], row[2], row[3], row[4], bool(row[5]))
                      for k, row in zip(state["keys"], table, strict=True)}
        series = state["series"]
        self.series = ({k: series[i].clone() for i, k in enumerate(state["series_keys"])}
                       if series is not None else {})


# --------------------------------------------------------------------------- reports


class SegmentReporter:
    """IC / RankIC / ICIR / RankICIR of formulas on the train, valid and test segments, for the
    zoo's record and display (full target on valid/test; the purged one on train)."""

    def __init__(self, panel: Panel, split: Split, config: MiningConfig,
                 device: torch.device, cache_mb: int = 256) -> None:
        self.split = split
        self.min_stocks = config.min_stocks
        self.evaluator = Evaluator(panel, device=device, cache_bytes=cache_mb << 20)
        target = forward_return(panel, config.horizon, config.target_price).to(device)
        t0, t1 = split.train
        purge_from = t1 - config.horizon
        self.target = target.clone()
        self.target[max(t0, purge_from):t1 + 1] = torch.nan
        self.universe = panel.universe.to(device)

    def report(self, exprs: Sequence[Expr]) -> list[dict[str, dict[str, float]]]:
        out: list[dict[str, dict[str, float]]] = [{} for _ in exprs]
        if not exprs:
            return out
        values = torch.stack([self.evaluator.evaluate(e) for e in exprs])
        segments = {"train": self.split.train, "valid": self.split.valid}
        if self.split.test is not None:
            segments["test"] = self.split.test
        for name, (a, b) in segments.items():
            rep = evaluate_factors(values[:, a:b + 1], self.target[a:b + 1],
                                   self.universe[a:b + 1], self.min_stocks)
            for i in range(len(exprs)):
                out[i][name] = {
                    "ic": _num(rep.ic.mean[i]), "icir": _num(rep.ic.ir[i]),
                    "rank_ic": _num(rep.rank_ic.mean[i]), "rank_icir": _num(rep.rank_ic.ir[i]),
                    "n_days": int(rep.ic.n_days[i]),
                }
        return out


def _num(x: torch.Tensor) -> float:
    v = float(x)
    return v if math.isfinite(v) else math.nan
