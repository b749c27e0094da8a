"""The mining loop of ALPHAFORGE_SPEC §4.4, and the neural (generative-predictive) strategy.

Read :func:`run` top to bottom: warm-up, then rounds until the zoo is full or a budget runs
out; each round asks the strategy for candidates, admits them into the zoo, lets the strategy
finish the round, and checkpoints. :class:`NeuralMiner` is one strategy; the baselines of
:mod:`engine.mining.baselines` are others, so every method shares the evaluator, the fitness,
the zoo rules and the budgets.

A neural round (§4.4):
1. re-score the stored formulas against the current zoo (a matrix product over cached
   series, §8 #11);
2. train the predictor on them (§4.2), then the generator against the predictor with the
   diversity losses (§4.3), scoring every formula the generator produces;
3. generate new formulas with the trained generator; with those met during training they
   are the round's candidates;
4-5. admission and periodic re-filter (done by :func:`run` through the session);
6. add random formulas (masked random logits) to the store for exploration.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import torch
import torch.nn.functional as F

from engine.data.panel import Panel
from engine.errors import FormulaError
from engine.expr.builtin_sets import builtin_set
from engine.expr.grammar import decode_batch
from engine.expr.parse import encode
from engine.mining import masker
from engine.mining.config import MiningConfig
from engine.mining.generators import make_generator
from engine.mining.generators.base import GeneratorSpec
from engine.mining.predictor import Predictor, train_predictor
from engine.mining.session import ProgressCallback, Session
from engine.mining.strategies import STRATEGIES
from engine.mining.zoo import Member


class Strategy(Protocol):
    """How formulas are proposed. The loop owns admission, stopping and checkpoints."""

    def warmup(self, session: Session) -> list[str]:
        """Initial formulas; returns the keys that are admission candidates (may be none)."""
        ...

    def round(self, session: Session, index: int) -> list[str]:
        """One round; returns the candidate keys for admission."""
        ...

    def after_admission(self, session: Session, index: int) -> None: ...

    def live_keys(self) -> set[str]:
        """Formulas whose factor-return series must stay cached."""
        ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: Mapping[str, Any]) -> None: ...


@dataclass(frozen=True)
class MiningResult:
    """The zoo and how the run ended."""

    zoo: tuple[Member, ...]
    reports: Mapping[str, Mapping[str, Mapping[str, float]]]
    stop_reason: str
    rounds: int
    evaluated: int
    elapsed_s: float
    split: Mapping[str, tuple[str, str]]


CheckpointFn = Callable[[dict[str, Any]], None]


def make_strategy(session: Session) -> Strategy:
    """The strategy named by ``config.generator``: a registered strategy (the baselines, a
    plug-in's), else the generative-predictive loop around the named neural generator."""
    name = session.config.generator
    if name in STRATEGIES:
        return STRATEGIES.get(name).make(session)
    return NeuralMiner(session)


def checkpoint_state(session: Session, strategy: Strategy) -> dict[str, Any]:
    """Everything a resumed run needs. ``threads``: torch's intra-op thread count, which
    changes float reductions, so a resumed run uses the same one."""
    return {"version": 1, "config": session.config.to_dict(), "threads": torch.get_num_threads(),
            "session": session.state_dict(), "strategy": strategy.state_dict()}


def restore(session: Session, strategy: Strategy, state: Mapping[str, Any]) -> None:
    session.load_state_dict(state["session"])
    strategy.load_state_dict(state["strategy"])


def run(session: Session, strategy: Strategy, *,
        checkpoint: CheckpointFn | None = None) -> MiningResult:
    """Mine until the zoo is full or a budget runs out (raises MiningCancelled on cancel)."""
    c = session.counters

    def end_phase(event: str, **extra: Any) -> None:
        session.prune(strategy.live_keys())
        session.emit(event, **session.take_tally(), **extra)
        if checkpoint is not None:
            checkpoint(checkpoint_state(session, strategy))

    if not c.warmup_done:
        session.check_cancel()
        session.begin_phase("warmup")
        candidates = strategy.warmup(session)
        changes = session.admit(candidates, -1) if candidates else {}
        c.warmup_done = True
        end_phase("warmup", **changes)
    while (reason := session.finished()) is None:
        index = c.rounds
        session.check_cancel()
        session.begin_phase("round")
        candidates = strategy.round(session, index)
        changes = session.admit(candidates, index)
        c.rounds += 1
        if session.finished() is None:  # exploration only feeds a next round
            strategy.after_admission(session, index)
        end_phase("round", **changes)
    reports = session.zoo_reports()
    session.emit("done", stop_reason=reason)
    return MiningResult(zoo=tuple(session.zoo), reports=reports,
                        stop_reason=reason, rounds=c.rounds, evaluated=c.evaluated,
                        elapsed_s=session.elapsed_s, split=dict(session.split.dates))


def mine(panel: Panel, config: MiningConfig, *, progress: ProgressCallback | None = None,
         should_stop: Callable[[], bool] | None = None) -> MiningResult:
    """Mine a panel with a config: no project, no files (tests, notebooks, benchmarks)."""
    session = Session(panel, config, progress=progress, should_stop=should_stop)
    return run(session, make_strategy(session))


# --------------------------------------------------------------------------- neural miner


def _encodable(session: Session, text: str) -> Any:
    """The formula as a tree of the session's vocabulary, or None when it uses a token the
    vocabulary lacks or is longer than ``max_len``."""
    try:
        expr = session.parse(text)
    except FormulaError:
        return None
    return expr if _actions(session, expr) is not None else None


def _actions(session: Session, expr: Any) -> torch.Tensor | None:
    """``[max_len]`` SEP-padded action row of a formula (None if it does not fit)."""
    try:
        codes = encode(expr, session.vocab)
    except FormulaError:
        return None
    max_len = session.config.max_len
    if len(codes) > max_len:
        return None
    return torch.tensor(codes + [session.vocab.sep_index] * (max_len - len(codes)))


class Store:
    """Formulas the predictor learns from: the current round's (weight 2) and older ones
    (weight 1, capped by random subsampling), as ``[L]`` action rows keyed by formula."""

    def __init__(self) -> None:
        self.current: dict[str, torch.Tensor] = {}
        self.older: dict[str, torch.Tensor] = {}

    def roll(self, new: Mapping[str, torch.Tensor]) -> None:
        """The current formulas become older ones; ``new`` becomes current."""
        self.older.update(self.current)
        for key in new:
            self.older.pop(key, None)
        self.current = dict(new)

    def add_current(self, new: Mapping[str, torch.Tensor]) -> None:
        for key, row in new.items():
            self.older.pop(key, None)
            self.current[key] = row

    def cap_older(self, cap: int, session: Session) -> None:
        if len(self.older) > cap:
            keep = sorted(session.rngs.numpy.choice(len(self.older), cap, replace=False))
            items = list(self.older.items())
            self.older = dict(items[i] for i in keep)

    def keys(self) -> set[str]:
        return set(self.current) | set(self.older)

    def training_set(self, current_weight: float
                     ) -> tuple[list[str], torch.Tensor, torch.Tensor]:
        keys = [*self.older, *self.current]
        rows = [*self.older.values(), *self.current.values()]
        weights = torch.tensor([1.0] * len(self.older) + [current_weight] * len(self.current))
        return keys, torch.stack(rows), weights

    def state_dict(self) -> dict[str, Any]:
        def pack(d: dict[str, torch.Tensor]) -> dict[str, Any]:
            return {"keys": list(d), "actions": torch.stack(list(d.values())) if d else None}

        return {"current": pack(self.current), "older": pack(self.older)}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        def unpack(p: Mapping[str, Any]) -> dict[str, torch.Tensor]:
            if p["actions"] is None:
                return {}
            return {k: p["actions"][i].clone() for i, k in enumerate(p["keys"])}

        self.current, self.older = unpack(state["current"]), unpack(state["older"])


def generator_loss(pred1: torch.Tensor, latent1: torch.Tensor, latent2: torch.Tensor,
                   onehot1: torch.Tensor, onehot2: torch.Tensor, cfg: MiningConfig,
                   eps: float = 1e-7) -> tuple[torch.Tensor, dict[str, float]]:
    """§4.3 step 3: ``-mean(pred1)`` + overlap penalty + latent-similarity penalty."""
    l_pred = -pred1.mean()
    overlap = (onehot1 * onehot2).sum(-1).sum(-1) / onehot1.shape[1]  # [B] share of positions
    l_overlap = F.relu(overlap - cfg.overlap_thresh).mean()
    u1, u2 = latent1.clamp(eps, 1 - eps), latent2.clamp(eps, 1 - eps)
    cos = (u1 * u2).sum(1) / (u1.norm(dim=1) * u2.norm(dim=1))
    l_latent = F.relu(cos - cfg.latent_thresh).mean()
    total = cfg.w_pred * l_pred + cfg.w_overlap * l_overlap + cfg.w_latent * l_latent
    parts = {"pred": l_pred, "overlap": l_overlap, "latent": l_latent, "total": total}
    return total, {name: float(value.detach()) for name, value in parts.items()}


class NeuralMiner:
    """The AlphaForge generative-predictive strategy with any registered generator."""

    def __init__(self, session: Session) -> None:
        cfg = session.config
        self.cfg = cfg
        spec = GeneratorSpec(n_actions=session.vocab.n_actions, max_len=cfg.max_len,
                             noise_dim=cfg.noise_dim)
        self.device = session.device
        with torch.random.fork_rng(devices=[]):  # default inits must not touch global RNG
            self.generator = make_generator(cfg.generator, spec).to(self.device)
            self.predictor = Predictor(session.vocab.n_actions, cfg.max_len).to(self.device)
        self.generator.reset_parameters(session.rngs.torch)
        self.predictor.reset_parameters(session.rngs.torch)
        self.g_opt = torch.optim.Adam(self.generator.parameters(), lr=cfg.g_lr)
        self.store = Store()

    # ------------------------------------------------------------------ sampling
    def _noise(self, session: Session) -> torch.Tensor:
        z = torch.randn(self.cfg.batch_size, self.cfg.noise_dim, generator=session.rngs.torch)
        return z.to(self.device)

    def _keys(self, session: Session, actions: torch.Tensor
              ) -> tuple[list[str], list[Any]]:
        exprs = decode_batch(actions.cpu(), session.vocab)
        return [session.key(e) for e in exprs], exprs

    def collect(self, session: Session, target: int, max_batches: int, *,
                reset: bool) -> dict[str, torch.Tensor]:
        """Distinct scored formulas from the generator (eval mode), ``target`` of them or
        what ``max_batches`` batches give; ``reset`` re-initialises the network before every
        batch (the warm-up's fresh random generators)."""
        found: dict[str, torch.Tensor] = {}
        exprs: dict[str, Any] = {}
        for _ in range(max_batches):
            if len(found) >= target:
                break
            session.check_cancel()
            if session.phase_over():
                break
            if reset:
                self.generator.reset_parameters(session.rngs.torch)
            self.generator.eval()
            with torch.no_grad():
                s = masker.sample(self.generator, self._noise(session), session.vocab,
                                  session.rngs.torch, tau=self.cfg.gumbel_tau)
            actions = s.actions.cpu()
            keys, trees = self._keys(session, actions)
            for i, key in enumerate(keys):
                if key not in found and len(found) < target:
                    found[key] = actions[i]
                    exprs[key] = trees[i]
        stats = session.evaluate(list(exprs.values()))
        return {k: found[k] for k, st in zip(exprs, stats, strict=True) if st is not None}

    # ------------------------------------------------------------------ strategy
    def warmup(self, session: Session) -> list[str]:
        """Seeds (a built-in set's factors and their mutations, ``warmup_seeds``), then fresh
        random generators, until ``warmup`` formulas. [ours] The warm-up's formulas are
        admission candidates too (§4.4 step 0 only teaches the predictor with them): on a real
        market, with a time budget, throwing them away starves the zoo."""
        seeds = self.seed_formulas(session)
        found = self.collect(session, max(0, self.cfg.warmup - len(seeds)),
                             self.cfg.warmup_max_batches, reset=True)
        self.store.add_current({**seeds, **found})
        return list(self.store.current) if self.cfg.warmup_admit else []

    def seed_formulas(self, session: Session) -> dict[str, torch.Tensor]:
        """The factors of the built-in set ``warmup_seed_set`` (classic by default, or
        Alpha158) that the vocabulary can write within ``max_len`` tokens and
        ``warmup_seeds`` point / sub-tree mutations of each, scored, as action rows."""
        from engine.mining import baselines

        cfg = self.cfg
        if cfg.warmup_seeds < 0:
            return {}
        seed_set = builtin_set(cfg.warmup_seed_set)
        assert seed_set is not None  # the config checked the name
        bases = [e for e in (_encodable(session, f) for f in seed_set.formulas) if e is not None]
        gp = baselines.GeneticProgramming(session)
        rng = session.rngs.numpy
        exprs = list(bases)
        for base in bases:
            for i in range(cfg.warmup_seeds):
                mutate = gp.point_mutation if i % 2 == 0 else gp.subtree_mutation
                exprs.append(mutate(session, rng, base))
        exprs = exprs[:cfg.warmup // 2]  # at most half the warm-up
        rows: dict[str, torch.Tensor] = {}
        trees: dict[str, Any] = {}
        for expr in exprs:
            key = session.key(expr)
            if key in rows:
                continue
            actions = _actions(session, expr)
            if actions is not None:
                rows[key], trees[key] = actions, expr
        stats = session.evaluate(list(trees.values()))
        return {k: rows[k] for k, st in zip(trees, stats, strict=True) if st is not None}

    def round(self, session: Session, index: int) -> list[str]:
        cfg = self.cfg
        self.store.cap_older(cfg.p_cap, session)
        if self.store.keys():
            keys, actions, weights = self.store.training_set(cfg.p_current_weight)
            labels = session.fitness(keys).to(torch.float32)  # step 1: against the zoo
            report = train_predictor(
                self.predictor, actions, labels, weights, session.rngs.torch,
                epochs=cfg.p_epochs, patience=cfg.p_patience, batch_size=cfg.p_batch,
                lr=cfg.p_lr, valid_share=cfg.p_valid_share, device=self.device)
            session.emit("predictor", losses={"predictor_train": report.train_loss,
                                              "predictor_valid": report.valid_loss},
                         samples=report.n_samples, epochs=report.epochs)
        # [ours] the previous round's formulas stay candidates one more admission: among
        # them the random exploration scored after the last one (after_admission), which
        # would otherwise only teach the predictor, and formulas a since-changed zoo turned
        # away for correlation (they are scored already: admission costs no evaluation)
        previous = list(self.store.current)
        in_train = self.train_generator(session)
        new = self.collect(session, cfg.new_per_round, cfg.new_max_batches, reset=False)
        self.store.roll({**in_train, **new})
        return list(dict.fromkeys([*self.store.current, *previous]))

    def after_admission(self, session: Session, index: int) -> None:
        n = self.cfg.random_per_round
        if n <= 0 or session.out_of_budget() or session.phase_over():
            return
        actions = masker.random_actions(session.vocab, n, session.rngs.torch, self.cfg.max_len)
        keys, exprs = self._keys(session, actions)
        stats = session.evaluate(exprs)
        found: dict[str, torch.Tensor] = {}
        for i, (key, st) in enumerate(zip(keys, stats, strict=True)):
            if st is not None and key not in found:
                found[key] = actions[i]
        self.store.add_current(found)

    def train_generator(self, session: Session) -> dict[str, torch.Tensor]:
        """§4.3: train G against the frozen predictor; every sampled formula is scored; keep
        the weights of the step with the best fitness (early stopping on it)."""
        cfg, g, p = self.cfg, self.generator, self.predictor
        g.reset_parameters(session.rngs.torch)
        self.g_opt = torch.optim.Adam(g.parameters(), lr=cfg.g_lr)
        p.eval()
        p.requires_grad_(False)
        seen: dict[str, torch.Tensor] = {}
        best, best_state, since = -1.0, None, 0
        seed = int(torch.randint(0, 2**62, (1,), generator=session.rngs.torch))
        forked = [self.device.index or 0] if self.device.type == "cuda" else []
        try:
            with torch.random.fork_rng(devices=forked):
                torch.manual_seed(seed)  # dropout inside the generator
                for step in range(cfg.g_steps):
                    session.check_cancel()
                    g.train()
                    s1 = masker.sample(g, self._noise(session), session.vocab,
                                       session.rngs.torch, tau=cfg.gumbel_tau)
                    s2 = masker.sample(g, self._noise(session), session.vocab,
                                       session.rngs.torch, tau=cfg.gumbel_tau)
                    pred1, latent1 = p(s1.onehot)
                    _, latent2 = p(s2.onehot)
                    loss, parts = generator_loss(pred1, latent1, latent2, s1.onehot,
                                                 s2.onehot, cfg)
                    # [ours] g_score_pair False: only the first sample of the step is
                    # scored (the one the predictor's term is about; the second one only
                    # feeds the latent-similarity term): twice the steps per formula scored
                    pair = (s1.actions, s2.actions) if cfg.g_score_pair else (s1.actions,)
                    actions = torch.cat(pair).cpu()
                    keys, exprs = self._keys(session, actions)
                    stats = session.evaluate(exprs)
                    scored = [k for k, st in zip(keys, stats, strict=True) if st is not None]
                    for i, (key, st) in enumerate(zip(keys, stats, strict=True)):
                        if st is not None and key not in seen:
                            seen[key] = actions[i]
                    fit = session.fitness(scored)
                    step_best = float(fit.max()) if len(scored) else 0.0
                    session.emit("generator", losses={"generator": parts},
                                 generator_step=step, step_best_fitness=step_best)
                    if step_best > best:
                        best, best_state, since = step_best, copy.deepcopy(g.state_dict()), 0
                    else:
                        since += 1
                        if since >= cfg.g_patience:
                            break
                    if session.out_of_budget() or session.time_spent() or \
                            session.generator_over():
                        break  # the round still generates and admits what it found
                    self.g_opt.zero_grad()
                    loss.backward()
                    self.g_opt.step()
        finally:
            p.requires_grad_(True)
        if best_state is not None:
            g.load_state_dict(best_state)
        return seen

    def live_keys(self) -> set[str]:
        return self.store.keys()

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.state_dict(),
                "predictor": self.predictor.state_dict(),
                "g_opt": self.g_opt.state_dict(), "store": self.store.state_dict()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.generator.load_state_dict(state["generator"])
        self.predictor.load_state_dict(state["predictor"])
        self.g_opt.load_state_dict(state["g_opt"])
        self.store.load_state_dict(state["store"])
