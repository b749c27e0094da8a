"""Baselines on the same evaluator, fitness and zoo rules: random search and genetic programming.

They answer "did the neural miner earn its keep?": with ``max_evaluations`` set, every method
scores the same number of distinct formulas, and the loop (:func:`engine.mining.loop.run`)
admits their candidates with the same rule.

- :class:`RandomSearch`: grammar-valid random formulas (uniform over the legal tokens at each
  position, the reference's masked random logits), ``warmup`` of them first, then
  ``new_per_round`` a round; all are admission candidates.
- :class:`GeneticProgramming`: a population of ``gp_population`` formulas; each generation
  breeds a new one by tournament selection (``gp_tournament`` entrants, fitness against the
  current zoo), sub-tree crossover, sub-tree mutation, point mutation and reproduction, with
  every child kept within ``max_len`` tokens. Only featured sub-trees are exchanged, so a child
  obeys the grammar (§2.3) whenever its parents do.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from engine.expr.grammar import decode_batch
from engine.expr.parse import (
    Call,
    Constant,
    Expr,
    Feature,
    Node,
    Window,
    is_featured,
    size,
    to_text,
)
from engine.mining import masker
from engine.mining.session import Session

Path = tuple[int, ...]


def random_formulas(session: Session, n: int, max_len: int | None = None) -> list[Expr]:
    """``n`` grammar-valid random formulas of at most ``max_len`` tokens."""
    length = session.config.max_len if max_len is None else max_len
    actions = masker.random_actions(session.vocab, n, session.rngs.torch, length)
    return decode_batch(actions, session.vocab)


class RandomSearch:
    def __init__(self, session: Session) -> None:
        self.cfg = session.config

    def _batch(self, session: Session, n: int) -> list[str]:
        exprs = random_formulas(session, n)
        stats = session.evaluate(exprs)
        return [session.key(e) for e, st in zip(exprs, stats, strict=True) if st is not None]

    def warmup(self, session: Session) -> list[str]:
        return self._batch(session, self.cfg.warmup) if self.cfg.warmup else []

    def round(self, session: Session, index: int) -> list[str]:
        return self._batch(session, max(1, self.cfg.new_per_round))

    def after_admission(self, session: Session, index: int) -> None:
        return None

    def live_keys(self) -> set[str]:
        return set()

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        return None


# --------------------------------------------------------------------------- tree surgery


def featured_paths(node: Node, path: Path = ()) -> list[Path]:
    """Paths (argument indices from the root) of every featured sub-tree, root included."""
    out = [path] if is_featured(node) else []
    if isinstance(node, Call):
        for i, arg in enumerate(node.args):
            out.extend(featured_paths(arg, (*path, i)))
    return out


def all_paths(node: Node, path: Path = ()) -> list[Path]:
    out = [path]
    if isinstance(node, Call):
        for i, arg in enumerate(node.args):
            out.extend(all_paths(arg, (*path, i)))
    return out


def subtree(node: Node, path: Path) -> Node:
    for i in path:
        assert isinstance(node, Call)
        node = node.args[i]
    return node


def replace_at(node: Node, path: Path, new: Node) -> Node:
    if not path:
        return new
    assert isinstance(node, Call)
    i = path[0]
    args = list(node.args)
    args[i] = replace_at(args[i], path[1:], new)
    return Call(node.op, tuple(args))


class GeneticProgramming:
    def __init__(self, session: Session) -> None:
        self.cfg = session.config
        self._parse = session.parse
        self.population: list[Expr] = []
        self.keys: list[str] = []

    # ------------------------------------------------------------------ operators
    def _pick(self, rng: np.random.Generator, items: list[Any]) -> Any:
        return items[int(rng.integers(len(items)))]

    def tournament(self, rng: np.random.Generator, fitness: torch.Tensor) -> int:
        entrants = rng.integers(len(self.population), size=self.cfg.gp_tournament)
        return int(max(entrants, key=lambda i: (float(fitness[i]), -int(i))))

    def crossover(self, rng: np.random.Generator, a: Expr, b: Expr) -> Expr:
        """A's random featured sub-tree replaced by B's (retried if too long)."""
        for _ in range(5):
            path = self._pick(rng, featured_paths(a))
            donor = subtree(b, self._pick(rng, featured_paths(b)))
            child = replace_at(a, path, donor)
            if size(child) <= self.cfg.max_len:
                return child  # type: ignore[return-value]
        return a

    def subtree_mutation(self, session: Session, rng: np.random.Generator, a: Expr) -> Expr:
        """A random featured sub-tree replaced by a fresh random formula that fits."""
        path = self._pick(rng, featured_paths(a))
        room = self.cfg.max_len - (size(a) - size(subtree(a, path)))
        fresh = random_formulas(session, 1, max_len=max(1, room))[0]
        return replace_at(a, path, fresh)  # type: ignore[return-value]

    def point_mutation(self, session: Session, rng: np.random.Generator, a: Expr) -> Expr:
        """One node swapped for another of the same kind (feature, window, constant, or an
        operator of the same shape)."""
        vocab = session.vocab
        path = self._pick(rng, all_paths(a))
        node = subtree(a, path)
        new: Node
        if isinstance(node, Feature):
            new = Feature(self._pick(rng, list(vocab.features)))
        elif isinstance(node, Window):
            new = Window(self._pick(rng, list(vocab.windows)))
        elif isinstance(node, Constant):
            new = Constant(self._pick(rng, list(vocab.constants)))
        else:
            assert isinstance(node, Call)
            kind = node.operator.kind
            same = [op.name for op in vocab.ops if op.kind == kind]
            new = Call(self._pick(rng, same), node.args)
        return replace_at(a, path, new)  # type: ignore[return-value]

    def breed(self, session: Session, fitness: torch.Tensor) -> list[Expr]:
        cfg, rng = self.cfg, session.rngs.numpy
        p_cross = cfg.gp_crossover
        p_sub = p_cross + cfg.gp_subtree_mutation
        p_point = p_sub + cfg.gp_point_mutation
        children: list[Expr] = []
        while len(children) < cfg.gp_population:
            u = float(rng.random())
            parent = self.population[self.tournament(rng, fitness)]
            if u < p_cross:
                other = self.population[self.tournament(rng, fitness)]
                child = self.crossover(rng, parent, other)
            elif u < p_sub:
                child = self.subtree_mutation(session, rng, parent)
            elif u < p_point:
                child = self.point_mutation(session, rng, parent)
            else:
                child = parent
            children.append(child)
        return children

    # ------------------------------------------------------------------ strategy
    def _adopt(self, session: Session, exprs: list[Expr]) -> list[str]:
        stats = session.evaluate(exprs)
        kept = [(e, session.key(e)) for e, st in zip(exprs, stats, strict=True)
                if st is not None]
        if kept:  # out of budget mid-generation: keep the scored part
            self.population = [e for e, _ in kept]
            self.keys = [k for _, k in kept]
        return [k for _, k in kept]

    def warmup(self, session: Session) -> list[str]:
        return self._adopt(session, random_formulas(session, self.cfg.gp_population))

    def round(self, session: Session, index: int) -> list[str]:
        if not self.population:
            return self.warmup(session)
        fitness = session.fitness(self.keys)
        return self._adopt(session, self.breed(session, fitness))

    def after_admission(self, session: Session, index: int) -> None:
        return None

    def live_keys(self) -> set[str]:
        return set(self.keys)

    def state_dict(self) -> dict[str, Any]:
        # the trees as bred, not their canonical keys: breeding goes on from the same trees
        # after a resume (a canonical form may even be a bare constant, which cannot breed)
        return {"population": list(self.keys),
                "trees": [to_text(e) for e in self.population]}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.keys = list(state["population"])
        self.population = [self._parse(k) for k in state.get("trees", self.keys)]
