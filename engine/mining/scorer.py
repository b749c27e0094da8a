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
   training days (k = 2^m). A formula whose screened |IC| is below
   ``screen_ratio * ic_thresh`` cannot be admitted (admission needs ``ic_thresh`` on the full
   score), so it keeps the screened statistics, flagged ``screened``: good enough to rank it
   for GP or to teach the predictor. A survivor is then evaluated on the next group of stocks
   (every k/2-th, offset by k/4; then every k/4-th offset by k/8 ...), which with the
   screen's makes every (k/2)-th stock, and so on until all stocks are in: each level costs
   only its new stocks, so a formula that reaches the full score costs one evaluation of the
   panel, however many levels it passed. Each level judges the formula on its *new* stocks
   alone, disjoint from those already seen: a family of formulas shares the screen's stocks
   and so its error (the price level and its hundreds of mutations have |IC| 0.035 on the
   screen's quarter of the CSI 300, dominated by a few very high-priced stocks, and 0.012 on
   the rest), which pooling the levels would carry along. The bar of a group of 1/2^(j+1)
   of the stocks is ``1 − (1 − screen_ratio)·sqrt((2^(j+1) − 1)/(2^m − 1))`` of
   ``ic_thresh``, which gives a formula whose true |IC| is ``ic_thresh`` the same chance of
   being cut at every level. A formula cut at a level keeps the statistics of all the stocks
   seen so far.
3. **Full**: every stock that is in the universe on some training day, every day. What
   enters the zoo is always scored here (:class:`engine.mining.zoo.AdmissionRule` refuses
   screened statistics). The groups' values, interleaved, are the whole panel's bit for bit
   (each stock's value depends on its own series only; :mod:`engine.expr.kernels`), except for
   cross-sectional operators, which see every stock of a day: formulas with one are scored
   on the whole panel after the screen.

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
from engine.expr.parse import Call, Expr, lookback
from engine.metrics.factor import _finite
from engine.metrics.fitness import (
    TargetSide,
    _gate,
    daily_fitness,
    prepare_target,
    summarize_fitness,
)
from engine.mining.config import MiningConfig
from engine.mining.split import Split, day_range, select_tickers, sub_panel

#: Days of the gate prefix after the training start (or after day 100 of the panel, so that
#: formulas with long windows find their first value inside it).
_GATE_DAYS = 30
_GATE_MIN_HISTORY = 100
#: Days of history the gate prefixes keep before the training start, one prefix per tier.
#: Every operator reads a bounded window, so a formula whose lookback fits in a prefix's
#: history has the same values on its scored days as on the whole panel; each formula goes to
#: the shortest prefix its lookback fits (60% of random laptop-preset formulas look back at
#: most 40 days, 98.5% at most 120), the others pass the gate undecided. On the CSI 300 (a year
#: of history before 2011) the 120-day prefix halved the gate's cost, and the shorter ones
#: take another third off it.
_GATE_TIERS = (20, 60, 120)
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
        "gated_out": 0, "screened_out": 0, "narrowed_out": 0, "full": 0, "failed": 0})

    def to_dict(self) -> dict[str, Any]:
        return {"seconds": dict(self.seconds), "counts": dict(self.counts)}


class _Stage:
    """One evaluator over a set of days and stocks; ``values`` are its training days."""

    def __init__(self, panel: Panel, first_day: int, device: torch.device,
                 cache_mb: int) -> None:
        self.evaluator = Evaluator(panel, device=device, cache_bytes=cache_mb << 20)
        self.first_day = first_day  # index of the first scored day in the stage's panel
        self.shape = (panel.n_days - first_day, panel.n_tickers)

    def values(self, exprs: Sequence[Expr]) -> tuple[torch.Tensor, list[bool]]:
        out = torch.full((len(exprs), *self.shape), torch.nan, device=self.evaluator.device)
        ok = []
        for i, expr in enumerate(exprs):
            try:
                out[i] = self.evaluator.evaluate(expr)[self.first_day:]
                ok.append(True)
            except FormulaError:
                ok.append(False)
        return out, ok


@dataclass
class _Gate:
    """One gate prefix: its stage (``first_day`` = days of history before the training
    start), the target side of its training days, the furthest lookback it decides (None:
    the prefix starts on the panel's first day, so it decides every formula) and its days."""

    stage: _Stage
    side: TargetSide
    reach: int | None
    days: int


@dataclass
class _Level:
    """Every 2^j-th stock of the full stage: its target side, the stage that evaluates the
    stocks this level adds to the coarser one (for the coarsest: all of its stocks), the bar
    the |IC| on those new stocks must reach to go on (None: the full score), and their own
    target side (None for the coarsest, whose new stocks are all of its stocks)."""

    side: TargetSide
    stage: _Stage
    threshold: float | None
    new_side: TargetSide | None = None


def _interleave(even: torch.Tensor, odd: torch.Tensor) -> torch.Tensor:
    """``[K, T, a + b]`` with ``even`` at stock positions 0, 2, 4 ... and ``odd`` at 1, 3 ...:
    every 2^(j+1)-th stock and those offset by 2^j make every 2^j-th stock, in order."""
    k, t, a = even.shape
    out = torch.empty((k, t, a + odd.shape[-1]), dtype=even.dtype, device=even.device)
    out[..., 0::2] = even
    out[..., 1::2] = odd
    return out


def _has_cross_section(expr: Expr) -> bool:
    if isinstance(expr, Call):
        return expr.operator.kind == "cs" or any(_has_cross_section(a) for a in expr.args)
    return False


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
        mb = config.eval_cache_mb
        self.full = _Stage(hist, t0, device, mb * 2 // 10)
        self.gates = self._gates(hist, mb * 15 // 100)
        self.levels = self._levels(hist, target, universe, config, mb * 65 // 100)

    def _gates(self, hist: Panel, cache_mb: int) -> list[_Gate]:
        """The gate prefixes, shortest history first (empty: training too short for one)."""
        t0, t1 = self.t0, self.t1
        stop = min(t1 + 1, max(t0, _GATE_MIN_HISTORY) + _GATE_DAYS)
        if stop > t1:
            return []
        starts = []
        for history in _GATE_TIERS:
            starts.append(max(0, t0 - history))
            if starts[-1] == 0:  # the panel's first day: longer histories add nothing
                break
        total = sum(stop - start for start in starts)
        side = self.side.days(0, stop - t0)
        return [_Gate(_Stage(day_range(hist, start, stop), t0 - start, self.device,
                             max(1, cache_mb * (stop - start) // total)), side,
                      t0 - start if start > 0 else None, stop - start)
                for start in starts]

    def _levels(self, hist: Panel, target: torch.Tensor, universe: torch.Tensor,
                config: MiningConfig, cache_mb: int) -> list[_Level]:
        """The screen levels, coarsest first, then the full one (empty: no screen)."""
        share = config.screen_share
        if share <= 0 or share >= 1:
            return []
        m = max(1, round(math.log2(1 / share)))
        n = hist.n_tickers
        # the coarsest level needs about _SCREEN_MIN_FACTOR x min_stocks members a day
        while m > 0:
            members = float(universe[:, ::2 ** m].sum(-1).float().mean())
            if members >= _SCREEN_MIN_FACTOR * config.min_stocks:
                break
            m -= 1
        if m == 0:
            return []
        def side_of(c: torch.Tensor) -> TargetSide:
            return prepare_target(target[:, c.to(target.device)],
                                  universe[:, c.to(universe.device)], config.min_stocks)

        levels = []
        for j in range(m, -1, -1):
            cols = torch.arange(n)[:: 2 ** j]
            new = cols if j == m else torch.arange(n)[2 ** j:: 2 ** (j + 1)]
            keep = torch.zeros(n, dtype=torch.bool)
            keep[new] = True
            share_new = 2 ** m if j == m else 2 ** (j + 1)  # the new stocks: 1 in share_new
            bar = None if j == 0 else config.ic_thresh * (1 - (1 - config.screen_ratio) * (
                math.sqrt((share_new - 1) / (2 ** m - 1))))
            mb = max(1, int(cache_mb * len(new) / n))  # the cache follows the stocks
            levels.append(_Level(self.side if j == 0 else side_of(cols),
                                 _Stage(select_tickers(hist, keep), self.t0, self.device, mb),
                                 bar, side_of(new) if 0 < j < m else None))
        return levels

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

    @property
    def screen(self) -> _Stage | None:
        """The coarsest screen's stage (None: no screen)."""
        return self.levels[0].stage if self.levels else None

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
        if stages and self.gates:
            todo = self._gate_pass(exprs, todo, stats)
        whole = todo
        if stages and self.levels and todo:
            whole = []
            for start in range(0, len(todo), self.batch):
                whole += self._levels_pass(exprs, todo[start:start + self.batch], stats,
                                           series)
        for start in range(0, len(whole), self.batch):
            idx = whole[start:start + self.batch]
            a = time.perf_counter()
            x, _ = self.full.values([exprs[i] for i in idx])
            self.tally.seconds["evaluate"] += time.perf_counter() - a
            self._full_score(x, idx, stats, series)
        return [s if s is not None else ZERO_STATS for s in stats], series

    def _full_score(self, x: torch.Tensor, idx: Sequence[int],
                    stats: list[FormulaStats | None], series: torch.Tensor) -> None:
        b = time.perf_counter()
        got, ret = self.score_values(x)
        self.tally.seconds["score"] += time.perf_counter() - b
        self.tally.counts["full"] += len(idx)
        for j, i in enumerate(idx):
            stats[i] = got[j]
            series[i] = ret[j]

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
        """Formulas whose gate a prefix decides as failed get :data:`GATED_OUT`; the rest
        (passed, or undecided in the prefix) go on. Each formula is judged on the shortest
        prefix whose history covers its lookback; one reading further back than every
        prefix is undecided."""
        a = time.perf_counter()
        groups: dict[int, list[tuple[int, int]]] = {}
        for i in todo:
            back = lookback(exprs[i])
            tier = next((g for g, gate in enumerate(self.gates)
                         if gate.reach is None or back <= gate.reach), None)
            if tier is not None:
                groups.setdefault(tier, []).append((i, back))
        out: set[int] = set()
        for tier, members in sorted(groups.items()):
            out |= self._gate_tier(self.gates[tier], exprs, members, stats)
        rest = [i for i in todo if i not in out]
        self.tally.seconds["gate"] += time.perf_counter() - a
        return rest

    def _gate_tier(self, gate: _Gate, exprs: Sequence[Expr], members: list[tuple[int, int]],
                   stats: list[FormulaStats | None]) -> set[int]:
        """The formulas of one prefix (index, lookback) that its gate rejects."""
        side = gate.side
        x, ok = gate.stage.values([exprs[i] for i, _ in members])
        xv = _finite(x)
        xv &= side.universe
        nx = torch.count_nonzero(xv, dim=-1)  # a bool sum is ~2x slower
        decided = (side.enough & (nx > 0)).any(-1)
        verdict = _gate(x, xv, nx, side, None)
        # No value on any prefix day although its windows fit in the prefix: the formula is
        # undefined almost everywhere (logs of negatives, powers of negative bases) [ours].
        empty = nx.sum(-1) == 0
        room = gate.days - _GATE_DAYS // 2
        out: set[int] = set()
        for j, (i, back) in enumerate(members):
            if not ok[j]:
                stats[i] = ZERO_STATS
                self.tally.counts["failed"] += 1
                out.add(i)
            elif (bool(decided[j]) and not bool(verdict[j])) or (
                    bool(empty[j]) and back <= room):
                stats[i] = GATED_OUT
                self.tally.counts["gated_out"] += 1
                out.add(i)
        return out

    def _levels_pass(self, exprs: Sequence[Expr], idx: list[int],
                     stats: list[FormulaStats | None], series: torch.Tensor) -> list[int]:
        """One batch through the screen levels and, for those that pass them all, the full
        score from the interleaved groups. Returns the formulas left for the whole panel
        (those with a cross-sectional operator that passed the coarsest screen)."""
        a = time.perf_counter()
        first = self.levels[0]
        x, _ = first.stage.values([exprs[i] for i in idx])
        whole: list[int] = []
        for depth, level in enumerate(self.levels):
            if depth > 0:
                if depth == 1:  # cross-sectional formulas need every stock of a day
                    split = [_has_cross_section(exprs[i]) for i in idx]
                    whole = [i for i, c in zip(idx, split, strict=True) if c]
                    rows = [r for r, c in enumerate(split) if not c]
                    idx, x = [idx[r] for r in rows], x[rows]
                    if not idx:
                        break
                if level.threshold is None:
                    self.tally.seconds["screen"] += time.perf_counter() - a
                    a = time.perf_counter()
                new, _ = level.stage.values([exprs[i] for i in idx])
                x = _interleave(x, new)
            if level.threshold is None:  # all stocks in: the full score
                self.tally.seconds["evaluate"] += time.perf_counter() - a
                self._full_score(x, idx, stats, series)
                return whole
            if level.new_side is None:  # the coarsest: judged on all its stocks
                judge, ret = self.score_values(x, level.side, screened=True)
                cut = [r for r in range(len(idx)) if judge[r].ic < level.threshold]
                kept_stats = {r: (judge[r], ret[r]) for r in cut}
            else:  # judged on the new stocks; the cut keep the statistics of all seen so far
                judge = self.score_values(new, level.new_side, screened=True)[0]
                cut = [r for r in range(len(idx)) if judge[r].ic < level.threshold]
                got, ret = self.score_values(x[cut], level.side, screened=True) if cut \
                    else ([], torch.empty(0))
                kept_stats = {r: (got[j], ret[j]) for j, r in enumerate(cut)}
            for r in cut:
                i = idx[r]
                stats[i], series[i] = kept_stats[r]
                self.tally.counts["screened_out" if depth == 0 else "narrowed_out"] += 1
            cut_set = set(cut)
            keep = [r for r in range(len(idx)) if r not in cut_set]
            idx, x = [idx[r] for r in keep], x[keep]
            if not idx:
                break
        self.tally.seconds["screen"] += time.perf_counter() - a
        return whole
