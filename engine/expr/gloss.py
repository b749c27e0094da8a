"""A plain-language gloss of what a formula measures: its kind, the features and the windows.

``-corr(close, volume, 10)`` is easier to read than its function form, but a student still
asks "what is it?". The gloss answers in one line — *Volume–price: how close and volume
move together, over 10 days* — from the formula's structure alone (its canonical form,
:func:`engine.expr.simplify.simplify`). It is a heuristic that names the dominant idea, not a
proof of what drives the factor's returns; the docs say so.

The engine stays free of translations: :func:`gloss` returns a message key
(``gloss.<kind>``) and its parameters, and the app, the PDF and the HTML word it through
:mod:`engine.i18n` (``t(g.key, **g.params)``), so the same formula reads the same in every
place and in both languages.

Kinds, first match wins:

- **volume_price**: price and volume features both appear (a price–volume correlation, a
  price move weighted by volume ...);
- **liquidity**: volume (or another non-price feature) only;
- **volatility**: a dispersion operator (std, var, mad, cov) or the daily range
  ``high − low`` over prices (not as a mere denominator);
- **momentum** / **reversal**: a change over time (pct_change, delta, ratio, ``x / ref``,
  ``x / mean``, ``x / tsmin`` ...) of prices; *reversal* when the whole formula is negated
  (it is high after a fall);
- **price_level**: prices only, no change over time;
- **composite**: anything else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from engine.errors import FormulaError
from engine.expr.parse import Call, Constant, Expr, Feature, Node, Window, parse
from engine.expr.simplify import simplify

Kind = Literal["volume_price", "liquidity", "volatility", "momentum", "reversal",
               "price_level", "composite", "constant"]
#: Every kind, in the order of the rules above (docs and tests read it).
KINDS: tuple[Kind, ...] = ("volume_price", "liquidity", "volatility", "momentum", "reversal",
                           "price_level", "composite", "constant")

PRICE_FEATURES = frozenset({"open", "high", "low", "close", "vwap"})
_DISPERSION = frozenset({"ts_std", "ts_var", "ts_mad", "ts_cov"})
#: Operators that compare a series with its own past: a change over time.
_CHANGE = frozenset({"ts_pctchange", "ts_delta", "ts_div", "Ref", "ts_mean", "ts_ema",
                     "ts_wma", "ts_med", "ts_max", "ts_min", "ts_sum", "ts_corr"})


@dataclass(frozen=True)
class Gloss:
    """What a formula measures: ``kind`` (one of :data:`KINDS`), its features in order of
    appearance and its windows, ascending. ``key``/``params`` word it through i18n."""

    kind: Kind
    features: tuple[str, ...] = ()
    windows: tuple[int, ...] = ()
    params: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def key(self) -> str:
        return f"gloss.{self.kind}" + ("_w" if self.windows else "")


def gloss(formula: Expr | str) -> Gloss | None:
    """The gloss of a formula (None when the text does not parse: a display never fails)."""
    try:
        tree = parse(formula, features=None, preset=None) if isinstance(formula, str) \
            else formula
        node = simplify(tree)
    except FormulaError:
        return None
    if isinstance(node, Constant):
        return Gloss("constant")
    feats = _features(node)
    windows = tuple(sorted(set(_windows(node))))
    kind = _kind(node, feats)
    params = {"features": ", ".join(feats),
              "windows": ", ".join(str(w) for w in windows)}
    return Gloss(kind, tuple(feats), windows, params)


def _kind(node: Node, feats: list[str]) -> Kind:
    prices = [f for f in feats if f in PRICE_FEATURES]
    others = [f for f in feats if f not in PRICE_FEATURES]
    ops = set(_operators(node))
    if prices and others:
        return "volume_price"
    if others:
        return "liquidity"
    if ops & _DISPERSION or _has_range(node):
        return "volatility"
    if ops & _CHANGE:
        return "reversal" if _negated(node) else "momentum"
    if prices:
        return "price_level"
    return "composite"


def _negated(node: Node) -> bool:
    return (isinstance(node, Call) and node.op == "Mul" and isinstance(node.args[0], Constant)
            and node.args[0].value < 0)


def _has_range(node: Node) -> bool:
    """``high − low`` somewhere but in a denominator: the day's range measured is volatility,
    while ``(close − low) / (high − low)`` only scales by it (a position in the range)."""
    if not isinstance(node, Call):
        return False
    if node.op == "Sub" and {_feature_name(a) for a in node.args} == {"high", "low"}:
        return True
    args = node.args[:1] if node.op == "Div" else node.args
    return any(_has_range(a) for a in args)


def _feature_name(node: Node) -> str | None:
    return node.name if isinstance(node, Feature) else None


def _features(node: Node) -> list[str]:
    out: list[str] = []
    stack = [node]
    while stack:
        n = stack.pop(0)
        if isinstance(n, Feature) and n.name not in out:
            out.append(n.name)
        elif isinstance(n, Call):
            stack[:0] = list(n.args)
    return out


def _windows(node: Node) -> list[int]:
    if isinstance(node, Window):
        return [node.value]
    if isinstance(node, Call):
        return [w for a in node.args for w in _windows(a)]
    return []


def _operators(node: Node) -> list[str]:
    if isinstance(node, Call):
        return [node.op, *[o for a in node.args for o in _operators(a)]]
    return []
