"""Mining strategies that are not a neural generator: the baselines, behind a registry.

A value of ``MiningConfig.generator`` names either a neural generator
(:data:`engine.mining.generators.GENERATORS`, mined by the generative-predictive loop) or an
entry here (a strategy of its own: genetic programming, random search, a plug-in). Adding one
is a module with a :class:`engine.mining.loop.Strategy` and one
``STRATEGIES.register(StrategyEntry(...))`` line. :func:`miner_names` is the list every caller
offers (config validation, ``alphaforge mine --generator``, the Mining page, sweeps).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from engine import i18n
from engine.mining.generators import GENERATORS
from engine.registry import Ref, Registry, resolve

if TYPE_CHECKING:
    from engine.mining.loop import Strategy
    from engine.mining.session import Session


@dataclass(frozen=True)
class StrategyEntry:
    """One strategy: ``build`` (the class or ``"module:Class"``, imported when a run starts:
    the built-ins' module imports the session) makes it from the run's session."""

    name: str
    label_key: str
    build: Ref
    label: str = ""

    def make(self, session: Session) -> Strategy:
        strategy: Strategy = resolve(self.build)(session)
        return strategy


STRATEGIES: Registry[StrategyEntry] = Registry("strategy", "generator", (
    StrategyEntry("gp", "mining.generator_gp", "engine.mining.baselines:GeneticProgramming"),
    StrategyEntry("random", "mining.generator_random", "engine.mining.baselines:RandomSearch"),
))


def miner_names() -> tuple[str, ...]:
    """Every value ``--generator`` takes: the neural generators, then the strategies."""
    return (*GENERATORS.names(), *STRATEGIES.names())


def is_neural(name: str) -> bool:
    return name in GENERATORS


def check_miner(name: str) -> None:
    """The ConfigError of an unknown miner, listing both registries' names."""
    if name not in GENERATORS and name not in STRATEGIES:
        raise GENERATORS.unknown(name, miner_names())


def miner_label(name: str, t: i18n.Translator | None = None) -> str:
    registry = GENERATORS if name in GENERATORS else STRATEGIES
    return registry.label(name, t)


def miner_labels(t: i18n.Translator | None = None) -> dict[str, str]:
    return {name: miner_label(name, t) for name in miner_names()}
