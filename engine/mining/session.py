"""What every mining strategy shares: scorer, formula cache, zoo, RNGs, budgets, progress.

A :class:`Session` owns the state of one run that is not specific to how formulas are
proposed (neural generator, GP, random search): the evaluator and training target, the
:class:`FormulaBook` of scored formulas, the zoo, the three seeded random generators
(torch, numpy, python), counters and budgets, the progress callback and the cancel check.
Its :meth:`state_dict` plus the strategy's is a complete checkpoint: a run restored from it
continues exactly as the uninterrupted run would have.
"""

from __future__ import annotations

import heapq
import random
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch

from engine.data.panel import Panel
from engine.device import pick_device
from engine.expr.ops import Vocabulary
from engine.expr.parse import Constant, Expr, parse_for, to_text
from engine.expr.simplify import simplify
from engine.mining import zoo as Z
from engine.mining.book import FormulaBook, diversity_ok, stats_from_row
from engine.mining.config import MiningConfig
from engine.mining.reports import SegmentReporter
from engine.mining.scorer import ZERO_STATS, FormulaStats, TrainScorer
from engine.mining.split import resolve_split

ProgressCallback = Callable[[dict[str, Any]], None]


class MiningCancelled(Exception):
    """Raised inside the loop when the run is asked to stop (cancel file, SIGTERM)."""


@dataclass
class Rngs:
    """The run's random generators, all seeded from the config seed."""

    torch: torch.Generator
    numpy: np.random.Generator
    python: random.Random

    @classmethod
    def from_seed(cls, seed: int) -> Rngs:
        return cls(torch=torch.Generator().manual_seed(seed),
                   numpy=np.random.default_rng(seed), python=random.Random(seed))

    def state_dict(self) -> dict[str, Any]:
        version, internal, gauss = self.python.getstate()
        return {"torch": self.torch.get_state(), "numpy": self.numpy.bit_generator.state,
                "python": [version, list(internal), gauss]}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.torch.set_state(state["torch"])
        self.numpy.bit_generator.state = state["numpy"]
        version, internal, gauss = state["python"]
        self.python.setstate((version, tuple(internal), gauss))


@dataclass
class Counters:
    rounds: int = 0  # completed rounds
    evaluated: int = 0  # distinct formulas scored (the evaluation budget counts these)
    generated: int = 0  # formulas proposed, repeats included
    elapsed_s: float = 0.0  # run time before this session (resumed runs)
    warmup_done: bool = False
    step: int = 0  # progress event counter


@dataclass
class RoundTally:
    """Formulas proposed in the current phase, for progress events."""

    proposed: int = 0
    new: int = 0
    usable: int = 0
    fitness: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        fit = self.fitness
        return {
            "proposed": self.proposed,
            "share_new": self.new / self.proposed if self.proposed else None,
            "share_valid": self.usable / self.proposed if self.proposed else None,
            "best_fitness": max(fit) if fit else None,
            "median_fitness": statistics.median(fit) if fit else None,
        }


#: Events that always carry the live board (phase ends); others carry it at most every
#: :data:`BOARD_EVERY_S` seconds, so the progress file stays small during fast generator steps.
BOARD_EVENTS = frozenset({"warmup", "round", "done"})
BOARD_EVERY_S = 2.0
HIST_BINS = 20


@dataclass
class Leaderboard:
    """The best distinct formulas so far and the fitness of every usable formula scored.

    Kept up to date as formulas are scored (one comparison each), from the statistics the
    scorer already computed, so a progress event can show the leaders and the fitness
    distribution of the run without re-reading the formula book or scoring anything again.
    ``excluded`` counts formulas without a usable full score (gated out, screened, invalid):
    they are left out of the leaders and the histogram, whose zero bin they would flood.
    """

    size: int = 10
    top: dict[str, tuple[float, float]] = field(default_factory=dict)  # key -> (score, ic)
    scores: list[float] = field(default_factory=list)
    excluded: int = 0
    floor: float = 0.0  # the weakest leader's score once the board is full

    @classmethod
    def from_stats(cls, stats: Mapping[str, FormulaStats], size: int = 10) -> Leaderboard:
        """Rebuilt from a restored formula book (resumed runs: the board is not checkpointed)."""
        board = cls(size=size)
        for key, st in stats.items():
            board.add(key, st)
        return board

    def add(self, key: str, st: FormulaStats) -> None:
        """Count one newly scored formula."""
        if not st.usable or st.screened or not st.score > 0:
            self.excluded += 1
            return
        self.scores.append(st.score)
        top = self.top
        if len(top) >= self.size and st.score < self.floor:
            return  # the common case: one comparison
        top[key] = (st.score, st.ic)
        if len(top) > self.size:
            del top[min(top, key=lambda k: (top[k][0], k))]
        if len(top) >= self.size:
            self.floor = min(score for score, _ in top.values())

    def fields(self, bins: int = HIST_BINS) -> dict[str, Any]:
        """``leaders`` (best first: formula, train fitness, train |IC|), ``best_so_far`` and
        ``fitness_hist`` (``hi``: upper edge, bins of equal width over [0, hi]; ``counts``;
        ``excluded``) for a progress event; small: ``size`` formulas and ``bins`` integers."""
        ranked = heapq.nlargest(self.size, self.top.items(), key=lambda kv: (kv[1][0], kv[0]))
        leaders = [{"formula": k, "fitness": round(s, 6), "ic": round(ic, 6)}
                   for k, (s, ic) in ranked]
        hi = max(self.scores) if self.scores else 0.0
        counts = (np.histogram(np.asarray(self.scores), bins=bins, range=(0.0, hi))[0].tolist()
                  if hi > 0 else [])
        return {"leaders": leaders, "best_so_far": leaders[0]["fitness"] if leaders else None,
                "fitness_hist": {"hi": round(hi, 6), "counts": counts,
                                 "excluded": self.excluded}}


class Session:
    def __init__(self, panel: Panel, config: MiningConfig, *,
                 progress: ProgressCallback | None = None,
                 should_stop: Callable[[], bool] | None = None,
                 scorer: Callable[..., TrainScorer] = TrainScorer) -> None:
        """``scorer``: the class that scores formulas (benchmarks pass a reference)."""
        self.config = config
        self.device = pick_device(config.device)
        self.vocab = Vocabulary.from_preset(config.operators, features=panel.features)
        self.split = resolve_split(panel, config)
        self.scorer = scorer(panel, self.split, config, self.device)
        self._panel = panel
        self._reporter: SegmentReporter | None = None
        self.book = FormulaBook()
        self.rule = Z.AdmissionRule.from_config(config)
        self.zoo: list[Z.Member] = []
        self.reports: dict[str, dict[str, dict[str, float]]] = {}
        self.rngs = Rngs.from_seed(config.seed)
        self.counters = Counters()
        self.tally = RoundTally()
        self.board = Leaderboard()
        self._progress = progress
        self._should_stop = should_stop
        self._started = time.monotonic()
        self._last_emit = self._started
        self._last_board = -BOARD_EVERY_S
        self._phase_end: float | None = None  # monotonic deadlines of the current phase
        self._generator_end: float | None = None

    # ------------------------------------------------------------------ time and budgets
    @property
    def elapsed_s(self) -> float:
        return self.counters.elapsed_s + (time.monotonic() - self._started)

    def budget_left(self) -> int | None:
        """Distinct formulas that may still be scored (None = unlimited)."""
        cap = self.config.max_evaluations
        return None if cap is None else max(0, cap - self.counters.evaluated)

    def out_of_budget(self) -> bool:
        left = self.budget_left()
        return left is not None and left <= 0

    def time_up(self) -> bool:
        """The time budget is spent. It never ends a run before its first round: a run that
        stopped after the warm-up would have trained nothing and admitted nothing."""
        limit = self.config.time_budget_s
        return limit is not None and self.counters.rounds >= 1 and self.elapsed_s >= limit

    def time_spent(self) -> bool:
        """Elapsed time is past the budget (inside a round: cut the generator training)."""
        limit = self.config.time_budget_s
        return limit is not None and self.elapsed_s >= limit

    def begin_phase(self, kind: str) -> None:
        """Deadlines of the phase that starts now, from the time budget (none without one).

        The budget includes the warm-up: it may take ``warmup_time_share`` of it. Each round
        then gets an equal share of what is left (over the rounds left of ``max_rounds``, or
        of ``time_rounds``), and its generator training ``g_time_share`` of that, so the
        round still has time to generate its new formulas. Formulas proposed after the
        phase's deadline are not scored (:meth:`evaluate` answers None, as for the
        evaluation budget)."""
        cfg, c = self.config, self.counters
        limit = cfg.time_budget_s
        if limit is None:
            self._phase_end = self._generator_end = None
            return
        now, left = time.monotonic(), max(0.0, limit - self.elapsed_s)
        if kind == "warmup":
            length = min(left, cfg.warmup_time_share * limit)
            self._phase_end, self._generator_end = now + length, None
            return
        total = cfg.max_rounds if cfg.max_rounds is not None else cfg.time_rounds
        length = left / max(1, total - c.rounds)
        self._phase_end = now + length
        self._generator_end = now + cfg.g_time_share * length

    def phase_over(self) -> bool:
        return self._phase_end is not None and time.monotonic() >= self._phase_end

    def generator_over(self) -> bool:
        """The round's generator training should stop (its share of the round is spent)."""
        return self._generator_end is not None and time.monotonic() >= self._generator_end

    def zoo_full(self) -> bool:
        return len(self.zoo) >= self.rule.capacity

    def finished(self) -> str | None:
        """Why the loop should stop now (None = go on)."""
        cfg = self.config
        if cfg.stop_when_full and self.zoo_full():
            return "zoo full"
        if cfg.max_rounds is not None and self.counters.rounds >= cfg.max_rounds:
            return "round budget"
        if self.out_of_budget():
            return "evaluation budget"
        if self.time_up():
            return "time budget"
        return None

    def eta_s(self) -> float | None:
        cfg, c = self.config, self.counters
        elapsed = self.elapsed_s
        etas = []
        if cfg.time_budget_s is not None:
            etas.append(max(0.0, cfg.time_budget_s - elapsed))
        if cfg.max_rounds is not None and c.rounds > 0:
            etas.append(elapsed / c.rounds * max(0, cfg.max_rounds - c.rounds))
        if cfg.max_evaluations is not None and c.evaluated > 0:
            etas.append(elapsed / c.evaluated * max(0, cfg.max_evaluations - c.evaluated))
        return min(etas) if etas else None

    def check_cancel(self) -> None:
        if self._should_stop is not None and self._should_stop():
            raise MiningCancelled("mining was cancelled")

    # ------------------------------------------------------------------ progress
    def emit(self, event: str, **fields: Any) -> dict[str, Any]:
        """Send one structured progress event to the callback (and return it).

        Phase ends, and other events at most every :data:`BOARD_EVERY_S` seconds, also carry
        the live board (:meth:`Leaderboard.fields`): what the app's live miner draws."""
        self.counters.step += 1
        eta = self.eta_s()
        payload = {"event": event, "step": self.counters.step, "round": self.counters.rounds,
                   "evaluated": self.counters.evaluated, "zoo_size": len(self.zoo),
                   "elapsed_s": round(self.elapsed_s, 3),
                   "eta_s": None if eta is None else round(eta, 1), **fields}
        now = time.monotonic()
        if event in BOARD_EVENTS or now - self._last_board >= BOARD_EVERY_S:
            payload.update(self.board.fields())
            self._last_board = now
        if self._progress is not None:
            self._progress(payload)
        self._last_emit = time.monotonic()
        return payload

    def heartbeat(self, every_s: float = 2.0) -> None:
        """An 'evaluating' event when nothing was reported for ``every_s`` seconds, so a long
        phase (the warm-up scores thousands of formulas) shows its count moving. Only the
        progress log sees it: no state a result depends on changes."""
        if self._progress is not None and time.monotonic() - self._last_emit >= every_s:
            self.emit("evaluating")

    def take_tally(self) -> dict[str, Any]:
        out = self.tally.summary()
        self.tally = RoundTally()
        return out

    # ------------------------------------------------------------------ formulas
    def key(self, expr: Expr) -> str:
        """The formula's identity: the text of its canonical form
        (:func:`engine.expr.simplify.simplify`), so that formulas that mean the same are one
        formula — one book entry, one evaluation, one zoo slot."""
        return to_text(simplify(expr))

    def parse(self, key: str) -> Expr:
        return parse_for(key, self.vocab)

    def evaluate(self, exprs: Sequence[Expr], *,
                 tally: bool = True) -> list[FormulaStats | None]:
        """Statistics of each formula (None when the evaluation budget ran out first).

        New formulas are scored in batches and counted against the budget; formulas seen
        before cost nothing (their series are recomputed only if pruned while needed).
        ``tally``: count the formulas as proposed in this phase (progress shares).
        """
        simple = [simplify(e) for e in exprs]
        keys = [to_text(e) for e in simple]
        if tally:
            self.counters.generated += len(keys)
            self.tally.proposed += len(keys)
        todo: dict[str, Expr] = {}
        left = self.budget_left()
        skipped: set[str] = set()
        for key, expr in zip(keys, simple, strict=True):
            if key in todo or key in skipped or not self.book.needs_series(key):
                continue
            is_new = key not in self.book
            if is_new and left is not None:
                if left <= 0:
                    skipped.add(key)
                    continue
                left -= 1
            todo[key] = expr
        seen_before = {k for k in keys if k in self.book}
        pending = list(todo.items())
        for start in range(0, len(pending), self.config.eval_batch):
            self.check_cancel()
            if tally and self.phase_over():
                break  # the phase's time is spent: the rest stay unscored (None)
            chunk = pending[start:start + self.config.eval_batch]
            stats, series = self._score([e for _, e in chunk])
            for (key, _), st, row in zip(chunk, stats, series, strict=True):
                if key not in self.book:
                    self.counters.evaluated += 1
                    self.board.add(key, st)
                self.book.add(key, st, row)
            self.heartbeat()
        out = [self.book.stats.get(key) for key in keys]
        if tally:
            self._count(keys, out, seen_before)
        return out

    def _score(self, exprs: Sequence[Expr]) -> tuple[list[FormulaStats], torch.Tensor]:
        """The scorer's statistics; a formula whose canonical form is a constant (the same
        value for every stock) has fitness 0 without being evaluated."""
        live = [i for i, e in enumerate(exprs) if not isinstance(e, Constant)]
        stats = [ZERO_STATS] * len(exprs)
        series = torch.full((len(exprs), self.scorer.n_days), torch.nan)
        if live:
            got, rows = self.scorer.score([exprs[i] for i in live])
            for j, i in enumerate(live):
                stats[i] = got[j]
                series[i] = rows[j]
        return stats, series

    def _count(self, keys: Sequence[str], stats: Sequence[FormulaStats | None],
               seen_before: set[str]) -> None:
        """Shares per proposed formula: a repeat is not new; best/median over distinct ones."""
        counted: set[str] = set()
        for key, st in zip(keys, stats, strict=True):
            if st is None:
                continue
            self.tally.usable += st.usable
            if key in counted:
                continue
            counted.add(key)
            self.tally.new += key not in seen_before
            self.tally.fitness.append(st.score)

    def fitness(self, keys: Sequence[str]) -> torch.Tensor:
        """``[K]`` float64 fitness against the current zoo: the base score, or 0 when the
        formula's factor-return series correlates above ``corr_thresh`` with a member's."""
        base = self.book.scores(keys)
        need = [i for i, k in enumerate(keys) if base[i] > 0]
        if need and self.zoo:
            rows = [keys[i] for i in need]
            missing = [self.parse(k) for k in rows if k not in self.book.series]
            if missing:
                self.evaluate(missing, tally=False)
            series = self.book.matrix(rows, self.scorer.n_days)
            zoo = torch.stack([m.series for m in self.zoo])
            ok = diversity_ok(series, zoo, self.rule.corr_thresh)
            idx = torch.tensor(need)
            base[idx] = torch.where(ok, base[idx], 0.0)
        return base

    # ------------------------------------------------------------------ zoo
    def admit(self, keys: Sequence[str], round_index: int) -> dict[str, Any]:
        """Admission pass over candidate formulas (§4.4 step 4), then the periodic re-filter
        (step 5). Returns what changed, for the progress event."""
        cands = []
        for key in dict.fromkeys(keys):
            st = self.book.stats.get(key)
            if st is None or not self.rule.qualifies(st):
                continue
            if key not in self.book.series:
                self.evaluate([self.parse(key)], tally=False)
            cands.append(Z.Member(key, st, self.book.series[key], round_index))
        self.zoo, admitted, evicted = Z.admit(self.zoo, cands, self.rule)
        refiltered: list[str] = []
        cfg = self.config
        if round_index % cfg.refilter_every == cfg.refilter_phase:
            kept = Z.refilter(self.zoo, self.rule)
            refiltered = [m.formula for m in self.zoo if m not in kept]
            self.zoo = kept
        return {"admitted": admitted, "evicted": evicted, "refiltered_out": refiltered}

    def zoo_reports(self) -> dict[str, dict[str, dict[str, float]]]:
        """Train / valid / test metrics of every zoo member (computed once per formula)."""
        todo = [m.formula for m in self.zoo if m.formula not in self.reports]
        if todo:
            if self._reporter is None:
                self._reporter = SegmentReporter(self._panel, self.split, self.config,
                                                 self.device)
            for key, rep in zip(todo, self._reporter.report([self.parse(k) for k in todo]),
                                strict=True):
                self.reports[key] = rep
        return {m.formula: self.reports[m.formula] for m in self.zoo}

    def prune(self, live: set[str]) -> None:
        self.book.prune(live | {m.formula for m in self.zoo})

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict[str, Any]:
        zoo = self.zoo
        return {
            "counters": {**asdict(self.counters), "elapsed_s": self.elapsed_s},
            "rngs": self.rngs.state_dict(),
            "book": self.book.state_dict(),
            "zoo": {
                "formulas": [m.formula for m in zoo],
                "rounds": [m.round for m in zoo],
                "stats": [list(asdict(m.stats).values()) for m in zoo],
                "series": torch.stack([m.series for m in zoo]) if zoo else None,
            },
            "reports": self.reports,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.counters = Counters(**state["counters"])
        self._started = time.monotonic()
        self.rngs.load_state_dict(state["rngs"])
        self.book.load_state_dict(state["book"])
        self.board = Leaderboard.from_stats(self.book.stats, self.board.size)
        z = state["zoo"]
        self.zoo = [
            Z.Member(f, stats_from_row(s), z["series"][i].clone(), int(r))
            for i, (f, r, s) in enumerate(zip(z["formulas"], z["rounds"], z["stats"],
                                              strict=True))
        ]
        self.reports = {k: {seg: dict(v) for seg, v in rep.items()}
                        for k, rep in state["reports"].items()}
