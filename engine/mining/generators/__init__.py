"""Formula generators behind a registry: noise in, grammar-masked token sequences out.

Adding a generator = one module with a :class:`SequenceGenerator` subclass + one line in
:data:`GENERATORS`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

from engine.errors import ConfigError
from engine.mining.generators.base import GeneratorSpec, SequenceGenerator
from engine.mining.generators.cnn import CNNGenerator
from engine.mining.generators.gru import GRUGenerator
from engine.mining.generators.lstm import LSTMGenerator
from engine.mining.generators.transformer import TransformerGenerator

GENERATORS: Mapping[str, Callable[[GeneratorSpec], SequenceGenerator]] = MappingProxyType({
    "cnn": CNNGenerator,
    "lstm": LSTMGenerator,
    "gru": GRUGenerator,
    "transformer": TransformerGenerator,
})


def make_generator(name: str, spec: GeneratorSpec) -> SequenceGenerator:
    """Build the named generator (untrained; call ``reset_parameters`` with a seeded RNG)."""
    if name not in GENERATORS:
        raise ConfigError(f"unknown generator '{name}'; available: {', '.join(GENERATORS)}")
    return GENERATORS[name](spec)


__all__ = ["GENERATORS", "GeneratorSpec", "SequenceGenerator", "make_generator"]
