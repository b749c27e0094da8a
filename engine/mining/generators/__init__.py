"""Formula generators behind a registry: noise in, grammar-masked token sequences out.

Adding a generator = one module with a :class:`~engine.mining.generators.base.SequenceGenerator`
subclass + one ``GENERATORS.register(GeneratorEntry(...))`` line (below for a built-in, in the
plug-in module otherwise). Config validation, ``alphaforge mine --generator``, the Mining page
and the docs table all read :data:`GENERATORS`. This package's ``__init__`` imports no torch:
the networks are imported when one is built, so ``alphaforge --help`` stays quick.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from engine.registry import Ref, Registry, resolve

if TYPE_CHECKING:
    from engine.mining.generators.base import GeneratorSpec, SequenceGenerator

#: The paper's CNN: 6 -> 11 -> 15 -> 20 positions through its three transposed convolutions.
CNN_SEQ_LEN = 20


@dataclass(frozen=True)
class GeneratorEntry:
    """One generator and its constraints.

    ``build``: the class (or ``"module:Class"``) made from a ``GeneratorSpec``.
    ``seq_len``: the one formula length a network of fixed shape produces (the CNN's 20);
    None = any ``max_len``. Config validation enforces it, before anything is built.
    """

    name: str
    label_key: str
    build: Ref
    seq_len: int | None = None
    label: str = ""


GENERATORS: Registry[GeneratorEntry] = Registry("generator", "generator", (
    GeneratorEntry("cnn", "mining.generator_cnn", "engine.mining.generators.cnn:CNNGenerator",
                   seq_len=CNN_SEQ_LEN),
    GeneratorEntry("lstm", "mining.generator_lstm",
                   "engine.mining.generators.lstm:LSTMGenerator"),
    GeneratorEntry("gru", "mining.generator_gru", "engine.mining.generators.gru:GRUGenerator"),
    GeneratorEntry("transformer", "mining.generator_transformer",
                   "engine.mining.generators.transformer:TransformerGenerator"),
))


def make_generator(name: str, spec: GeneratorSpec) -> SequenceGenerator:
    """Build the named generator (untrained; call ``reset_parameters`` with a seeded RNG)."""
    generator: SequenceGenerator = resolve(GENERATORS.get(name).build)(spec)
    return generator


__all__ = ["CNN_SEQ_LEN", "GENERATORS", "GeneratorEntry", "make_generator"]
