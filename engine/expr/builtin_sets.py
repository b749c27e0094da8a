"""Built-in factor sets: the one list of sets every project has without mining.

Why a registry: the combiner's resolver, the list of available sets, bundle checks, the CLI's
help and the app's select box all read :data:`BUILTIN_SETS`, so adding a set (say Alpha360)
is one function and one line here. Imports are lazy so the CLI's help can list the names
without loading the formula language. A set's formulas are in this language's function form;
Alpha158 comes from Qlib's own expressions through :func:`engine.expr.qlib.parse_qlib`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from types import MappingProxyType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.mining.zoo import FactorSet


@dataclass(frozen=True)
class BuiltinSet:
    """``name``: what ``--factors`` takes; ``label``: catalogue key of its display name;
    ``formulas``: builds the set's formulas (function form), in the set's order."""

    name: str
    label: str
    formulas: Callable[[], tuple[str, ...]]


def _classic() -> tuple[str, ...]:
    from engine.expr.classic import CLASSIC

    return tuple(f.formula for f in CLASSIC.values())


@cache  # 158 Qlib texts parsed once per process, not on every page rerun
def _alpha158() -> tuple[str, ...]:
    from engine.expr.alpha158 import ALPHA158
    from engine.expr.parse import to_text
    from engine.expr.qlib import parse_qlib

    return tuple(to_text(parse_qlib(text)) for text in ALPHA158.values())


BUILTIN_SETS = MappingProxyType({s.name: s for s in (
    BuiltinSet("classic", "combine.classic_set", _classic),
    BuiltinSet("alpha158", "combine.alpha158_set", _alpha158),
)})


def builtin_set(name: str) -> FactorSet | None:
    """The built-in set called ``name`` (case-insensitive) as a factor set, or None."""
    from engine.mining.zoo import Factor, FactorSet

    spec = BUILTIN_SETS.get(name.lower())
    if spec is None:
        return None
    return FactorSet(name=spec.name, factors=tuple(Factor(formula=f) for f in spec.formulas()),
                     source={"kind": spec.name})
