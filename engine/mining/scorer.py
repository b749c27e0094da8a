"""Fitness of candidate formulas on the training days (spec §3), in three stages.

Most formulas a miner proposes are worthless, and on a real market evaluating one on every
stock and day is most of the miner's time (5.7 formulas/s on the CSI 300 panel). So each
formula goes through up to three stages, every one scored by the same implementation
(:func:`engine.metrics.fitness.daily_fitness`):

1. **Gate**: evaluated on a short prefix of the training days (the history before the
   training range plus ~30 days). The gate of §3 step 6 looks at the first day where the
   target has enough stocks and the factor any value; when that day falls in the prefix, the
   prefix decides the gate exactly. A formula with no value at all on the prefix although
   its windows fit in it is gated out too (undefined almost everywhere). About half of
   random formulas go here (NaN for most stocks, near-constant): their fitness is 0, known
   for a tenth of the cost.
2. **Screen** (approximate, ``screen_share`` > 0): evaluated on every k-th stock over all
   training days. A formula whose screened |IC| is below ``screen_ratio * ic_thresh`` cannot
   be admitted (admission needs ``ic_thresh`` on the full score), so it keeps the screened
   statistics, flagged ``screened``: good enough to rank it for GP or to teach the predictor.
3. **Full**: every stock that is in the universe on some training day, every day. What
   enters the zoo is always scored here (:class:`engine.mining.zoo.AdmissionRule` refuses
   screened statistics).

Stocks never in the universe during the training range are left out of every stage: the
scorer only reads universe cells, and cross-sectional operators only see the universe, so
the statistics are the same as on the whole panel.

Leakage guard [ours]: a training label reads prices up to ``horizon + 1`` days ahead; labels
of the last ``horizon + 1`` training days would read the validation period, so they are
dropped.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from engine.data.panel import Panel
from engine.data.target import forward_return
from engine.errors import FormulaError
from engine.expr.evaluate import Evaluator
from engine.expr.parse import Expr, lookback
from engine.metrics.factor import _finite
from engine.metrics.fitness import (
    TargetSide,
    _gate,
    daily_fitness,
    prepare_target,
    summarize_fitness,
)
from engine.mining.config import MiningConfig
from engine.mining.split import Split, select_tickers, sub_panel

#: Days of the gate prefix after the training start (or after day 100 of the panel, so that
#: formulas with long windows find their first value inside it).
_GATE_DAYS = 30
_GATE_MIN_HISTORY = 100
#: The screen needs about this many universe members per day times ``min_stocks``.
_SCREEN_MIN_FACTOR = 4


@dataclass(frozen=True)
class FormulaStats:
    """Training statistics of one formula (§3). ``score`` is the chosen fitness after the gate
    (0 when the gate fails; non-finite or negative -> 0); ic / icir are |mean IC| and
    |mean IC| / std; rank_* are NaN when the fitness did not need ranks; ``usable`` = passes
    the gate and has a finite mean IC; ``screened`` = the statistics come from the gate
    prefix or the stock screen, not the full score (such a formula is never admitted)."""

    score: float
    ic: float
    icir: float
    rank_ic: float
    rank_icir: float
    usable: bool
    screened: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


ZERO_STATS = FormulaStats(0.0, 0.0, 0.0, math.nan, math.nan, False)
GATED_OUT = FormulaStats(0.0, math.nan, math.nan, math.nan, math.nan, False, True)


@dataclass
class ScorerTally:
    """Where the scorer's time went (seconds) and how many formulas each stage decided."""

    seconds: dict[str, float] = field(default_factory=lambda: {
        "gate": 0.0, "screen": 0.0, "evaluate": 0.0, "score": 0.0})
    counts: dict[str, int] = field(default_factory=lambda: {
        "gated_out": 0, "screened_out": 0, "full": 0, "failed": 0})

    def to_dict(self) -> dict[str, Any]:
        return {"seconds": dict(self.seconds), "counts": dict(self.counts)}


class _Stage:
    """One evaluator and target over a set of days and stocks."""

    def __init__(self, panel: Panel, side: TargetSide, first_day: int, device: torch.device,
                 cache_mb: int) -> None:
        self.evaluator = Evaluator(panel, device=device, cache_bytes=cache_mb << 20)
        self.side = side
        self.first_day = first_day  # index of the first scored day in the stage's panel

    def values(self, exprs: Sequence[Expr]) -> tuple[torch.Tensor, list[bool]]:
        t, n = self.side.values.shape
        out = torch.full((len(exprs), t, n), torch.nan, device=self.side.values.device)
        ok = []
        for i, expr in enumerate(exprs):
            try:
                out[i] = self.evaluator.evaluate(expr)[self.first_day:]
                ok.append(True)
            except FormulaError:
                ok.append(False)
        return out, ok


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
        self.tally = ScorerTally()
        target = forward_return(panel, config.horizon, config.target_price)[t0:t1 + 1].clone()
        purge = max(0, (t1 - t0 + 1) - (config.horizon + 1))
        target[purge:] = torch.nan  # labels that would read past the training period
        universe = panel.universe[t0:t1 + 1]
        keep = universe.any(0)
        if not bool(keep.any()):
            keep = torch.ones_like(keep)
        hist = select_tickers(sub_panel(panel, t1 + 1), keep)
        target, universe = target[:, keep].to(device), universe[:, keep].to(device)
        self.side = prepare_target(target, universe, config.min_stocks)
        self.screen_threshold = config.screen_ratio * config.ic_thresh
        mb = config.eval_cache_mb
        self.full = _Stage(hist, self.side, t0, device, mb * 6 // 10)
        stop = min(t1 + 1, max(t0, _GATE_MIN_HISTORY) + _GATE_DAYS)
        self.gate_stage = (_Stage(sub_panel(hist, stop), _slice_side(self.side, 0, stop - t0),
                                  t0, device, mb * 15 // 100) if stop <= t1 else None)
        self.gate_stage_days = stop
        self.screen = self._screen_stage(hist, target, universe, config, mb // 4)

    def _screen_stage(self, hist: Panel, target: torch.Tensor, universe: torch.Tensor,
                      config: MiningConfig, cache_mb: int) -> _Stage | None:
        share = config.screen_share
        if share <= 0 or share >= 1:
            return None
        step = max(2, round(1 / share))
        pick = torch.zeros(hist.n_tickers, dtype=torch.bool)
        pick[::step] = True
        members = float(universe[:, pick.to(universe.device)].sum(-1).float().mean())
        if members < _SCREEN_MIN_FACTOR * config.min_stocks:
            return None  # too few stocks per day for a useful estimate
        side = prepare_target(target[:, pick.to(target.device)],
                              universe[:, pick.to(universe.device)], config.min_stocks)
        return _Stage(select_tickers(hist, pick), side, self.t0, self.device, cache_mb)

    # ------------------------------------------------------------------ public
    @property
    def n_days(self) -> int:
        return self.t1 - self.t0 + 1

    @property
    def target(self) -> torch.Tensor:
        """``[T_train, N]`` purged training target (NaN outside the universe)."""
        return self.side.values

    @property
    def universe(self) -> torch.Tensor:
        return self.side.universe

    @property
    def evaluator(self) -> Evaluator:
        return self.full.evaluator

    def values(self, exprs: Sequence[Expr]) -> tuple[torch.Tensor, list[bool]]:
        """``[K, T_train, N]`` float32 factor values on the full stage (NaN rows where
        evaluation failed)."""
        return self.full.values(exprs)

    def score(self, exprs: Sequence[Expr], *, stages: bool = True
              ) -> tuple[list[FormulaStats], torch.Tensor]:
        """Statistics and ``ret_t`` series of each formula; ``stages`` False scores every
        formula in full (the zoo's re-scoring, tests)."""
        stats: list[FormulaStats | None] = [None] * len(exprs)
        series = torch.full((len(exprs), self.n_days), torch.nan)
        todo = list(range(len(exprs)))
        if stages and self.gate_stage is not None:
            todo = self._gate_pass(exprs, todo, stats)
        if stages and self.screen is not None and todo:
            todo = self._screen_pass(exprs, todo, stats, series)
        for start in range(0, len(todo), self.batch):
            idx = todo[start:start + self.batch]
            a = time.perf_counter()
            x, _ = self.full.values([exprs[i] for i in idx])
            b = time.perf_counter()
            got, ret = self.score_values(x)
            self.tally.seconds["evaluate"] += b - a
            self.tally.seconds["score"] += time.perf_counter() - b
            self.tally.counts["full"] += len(idx)
            for j, i in enumerate(idx):
                stats[i] = got[j]
                series[i] = ret[j]
        return [s if s is not None else ZERO_STATS for s in stats], series

    def score_values(self, x: torch.Tensor, side: TargetSide | None = None,
                     screened: bool = False) -> tuple[list[FormulaStats], torch.Tensor]:
        """Statistics of factor values ``x [K, T_train, N]`` (the full stage's by default)."""
        side = self.side if side is None else side
        fit = summarize_fitness(x, side, daily_fitness(x, side), self.metric)
        nan = torch.full_like(fit.ic_mean, math.nan)
        rank_ic = nan if fit.rank_ic_mean is None else fit.rank_ic_mean
        rank_ir = nan if fit.rank_icir is None else fit.rank_icir
        stats = [FormulaStats(score=float(fit.score[i]), ic=float(fit.ic_mean[i]),
                              icir=float(fit.icir[i]), rank_ic=float(rank_ic[i]),
                              rank_icir=float(rank_ir[i]), usable=bool(fit.usable[i]),
                              screened=screened)
                 for i in range(x.shape[0])]
        return stats, fit.ret_series.to(torch.float32).cpu()

    # ------------------------------------------------------------------ stages
    def _gate_pass(self, exprs: Sequence[Expr], todo: list[int],
                   stats: list[FormulaStats | None]) -> list[int]:
        """Formulas whose gate the prefix decides as failed get :data:`GATED_OUT`; the rest
        (passed, or undecided in the prefix) go on."""
        stage = self.gate_stage
        assert stage is not None
        a = time.perf_counter()
        x, ok = stage.values([exprs[i] for i in todo])
        xv = _finite(x) & stage.side.universe
        nx = xv.sum(-1)
        decided = (stage.side.enough & (nx > 0)).any(-1)
        gate = _gate(x, xv, nx, stage.side, None)
        # No value on any prefix day although its windows fit in the prefix: the formula is
        # undefined almost everywhere (logs of negatives, powers of negative bases) [ours].
        empty = nx.sum(-1) == 0
        room = self.gate_stage_days - _GATE_DAYS // 2
        rest = []
        for j, i in enumerate(todo):
            if not ok[j]:
                stats[i] = ZERO_STATS
                self.tally.counts["failed"] += 1
            elif (bool(decided[j]) and not bool(gate[j])) or (
                    bool(empty[j]) and lookback(exprs[i]) <= room):
                stats[i] = GATED_OUT
                self.tally.counts["gated_out"] += 1
            else:
                rest.append(i)
        self.tally.seconds["gate"] += time.perf_counter() - a
        return rest

    def _screen_pass(self, exprs: Sequence[Expr], todo: list[int],
                     stats: list[FormulaStats | None], series: torch.Tensor) -> list[int]:
        """Formulas whose screened |IC| is below the threshold keep the screened statistics;
        the rest go on to the full score."""
        stage = self.screen
        assert stage is not None
        a = time.perf_counter()
        rest = []
        for start in range(0, len(todo), self.batch):
            idx = todo[start:start + self.batch]
            x, _ = stage.values([exprs[i] for i in idx])
            got, ret = self.score_values(x, stage.side, screened=True)
            for j, i in enumerate(idx):
                if got[j].ic < self.screen_threshold:
                    stats[i] = got[j]
                    series[i] = ret[j]
                    self.tally.counts["screened_out"] += 1
                else:
                    rest.append(i)
        self.tally.seconds["screen"] += time.perf_counter() - a
        return rest


def _slice_side(side: TargetSide, a: int, b: int) -> TargetSide:
    """The target side of days ``a .. b - 1``."""
    return TargetSide(values=side.values[a:b], valid=side.valid[a:b],
                      universe=side.universe[a:b], count=side.count[a:b], std=side.std[a:b],
                      ok=side.ok[a:b], enough=side.enough[a:b], distinct=side.distinct[a:b],
                      min_stocks=side.min_stocks, mean=side.mean[a:b],
                      centred=side.centred[a:b], centred_sq=side.centred_sq[a:b],
                      valid_f=side.valid_f[a:b])
