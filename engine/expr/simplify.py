"""Canonical form of a formula: the simplifier every formula can pass through before it is
shown, stored or scored, so that formulas that mean the same are one formula.

Rules, applied bottom-up until nothing changes:

- **Exact** (the same float32 value on every cell, NaN included): argument order of the
  commutative operators (``Add``, ``Mul``, ``Greater``, ``Less``; constants first, then by
  canonical text); ``Sub(x, c)`` → ``Add(-c, x)``; ``Sub(0, x)`` → ``Mul(-1, x)``;
  ``Sub(x, Mul(-1, y))`` → ``Add(x, y)``; ``Add(x, Mul(-1, y))`` → ``Sub(x, y)``;
  ``Mul(1, x)``, ``Add(0, x)``, ``Div(x, 1)``, ``Pow(x, 1)`` → ``x``; ``Div(x, -1)`` →
  ``Mul(-1, x)``; ``Mul(a, Mul(b, x))`` → ``Mul(a·b, x)`` when ``a`` or ``b`` is ±1 (a sign
  flip is exact; ``Mul(-1, Mul(-1, x))`` → ``x``); ``Abs(Abs(x))``, ``Abs(Mul(-1, x))`` →
  ``Abs(x)``; ``Sign(Sign(x))`` → ``Sign(x)``; ``Greater(x, x)``, ``Less(x, x)`` → ``x``; an
  operator whose arguments are all constants → its value, computed by the same float32
  kernel the evaluator would run.
- **Where defined** (the same value wherever the original has one; the simplified formula
  may also have values where the original is NaN): ``Sub(x, x)`` → 0, ``Div(x, x)`` → 1,
  ``Mul(Inv(x), x)`` → 1 (the original is 1 up to one rounding), and rolling operators over a
  constant (``ts_mean(c, w)`` → c, ``ts_std(c, w)`` → 0, ``ts_corr(c, x, w)`` → 0 ...). Never
  inside a cross-sectional operator: there a value that appears where the original was NaN
  would join the day's ranking and move every other stock's rank.

A formula that simplifies to a bare constant is degenerate (the same value for every stock):
:func:`simplify` returns the :class:`Constant` and callers treat it as such (the miner scores
it 0 without evaluating it). A rewrite that would produce a non-finite constant is not made.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from engine.expr.ops import lookup
from engine.expr.parse import Call, Constant, Expr, Node, Window, to_text

_COMMUTATIVE = frozenset({"Add", "Mul", "Greater", "Less"})
_CROSS_SECTION = "cs"
#: Rolling operators over a constant series c: their value where the window is complete.
_ROLLING_OF_CONSTANT: dict[str, Callable[[float, int], float]] = {
    "Ref": lambda c, w: c, "ts_mean": lambda c, w: c, "ts_max": lambda c, w: c,
    "ts_min": lambda c, w: c, "ts_med": lambda c, w: c, "ts_sum": lambda c, w: c * w,
    "ts_std": lambda c, w: 0.0, "ts_var": lambda c, w: 0.0, "ts_mad": lambda c, w: 0.0,
    "ts_delta": lambda c, w: 0.0, "ts_pctchange": lambda c, w: 0.0 if c != 0 else math.nan,
    "ts_div": lambda c, w: 1.0 if c != 0 else math.nan,
}
#: Pair-rolling operators that are 0 with a constant side: a flat window has no covariance
#: and, by the kernel's CORR_EPS rule, ts_corr 0 (ts_corr_nan is NaN there: no rule).
_PAIR_ZERO_WITH_CONSTANT = frozenset({"ts_cov", "ts_corr"})
_PAIR_ROLLING = "pair_rolling"
_MAX_PASSES = 8


def simplify(expr: Expr) -> Expr:
    """The canonical form of ``expr`` (a :class:`Constant` when the formula is degenerate)."""
    out = _simplify(expr, exact_only=False)
    assert not isinstance(out, Window)
    return out


def canonical_text(expr: Expr) -> str:
    """Canonical text of the simplified formula: equal for formulas that mean the same."""
    return to_text(simplify(expr))


def is_degenerate(expr: Expr) -> bool:
    """True when the formula is the same constant for every stock and day."""
    return isinstance(simplify(expr), Constant)


# --------------------------------------------------------------------------- internals


def _simplify(node: Node, exact_only: bool) -> Node:
    if not isinstance(node, Call):
        return node
    op = node.operator
    inner_exact = exact_only or op.kind == _CROSS_SECTION
    current: Node = Call(node.op, tuple(_simplify(a, inner_exact) for a in node.args))
    for _ in range(_MAX_PASSES):
        if not isinstance(current, Call):
            return current
        # every rewrite builds its result from already simplified sub-trees and constants,
        # so only the root needs another look
        nxt = _rewrite(current, exact_only)
        if nxt == current:
            return current
        current = nxt
    return current


def _const(node: Node) -> float | None:
    return node.value if isinstance(node, Constant) else None


def _neg_of(node: Node) -> Node | None:
    """``y`` when ``node`` is ``Mul(-1, y)``."""
    if isinstance(node, Call) and node.op == "Mul" and _const(node.args[0]) == -1.0:
        return node.args[1]
    return None


def _number(value: float) -> Constant | None:
    """The constant ``value`` (None if not finite; -0 becomes 0, which computes the same)."""
    if not math.isfinite(value):
        return None
    return Constant(float(value) + 0.0)


def _fold(node: Call) -> Constant | None:
    """An operator over constants only, by the evaluator's own float32 kernel."""
    op = node.operator
    series = node.args[: op.n_series]
    if not all(isinstance(a, Constant) for a in series):
        return None
    if op.kind == _CROSS_SECTION:
        return None  # ranks of a constant depend on the day's universe size
    values = [float(a.value) for a in series if isinstance(a, Constant)]
    if op.takes_window:
        window = node.args[-1]
        assert isinstance(window, Window)
        if op.kind == _PAIR_ROLLING:
            return Constant(0.0) if node.op in _PAIR_ZERO_WITH_CONSTANT else None
        rule = _ROLLING_OF_CONSTANT.get(node.op)
        if rule is None:
            return None  # ts_wma / ts_ema: c up to rounding, and NaN for w = 1: leave them
        if node.op in ("ts_std", "ts_var") and window.value == 1:
            return None  # NaN by definition
        return _number(float(torch.tensor(rule(values[0], window.value),
                                          dtype=torch.float32)))
    tensors = [torch.tensor(v, dtype=torch.float32) for v in values]
    return _number(float(op.apply(*tensors)))


def _sort_key(node: Node) -> tuple[int, str]:
    return (0 if isinstance(node, Constant) else 1, to_text(node))


def _rewrite(node: Call, exact_only: bool) -> Node:
    """One rewrite at the root of ``node`` (its arguments are already simplified)."""
    op, args = node.op, node.args
    operator = node.operator
    # a rolling operator over a constant or a pair with a constant side (where defined)
    if operator.takes_window and not exact_only:
        series = args[: operator.n_series]
        if any(isinstance(a, Constant) for a in series) and (
                operator.kind == _PAIR_ROLLING or all(isinstance(a, Constant) for a in series)):
            folded = _fold(Call(op, (*[a if isinstance(a, Constant) else Constant(1.0)
                                       for a in series], *args[operator.n_series:])))
            if folded is not None:
                return folded
        return node
    if operator.takes_window:
        return node
    folded = _fold(node)
    if folded is not None:
        return folded
    if op in _COMMUTATIVE:
        a, b = args
        if _sort_key(b) < _sort_key(a):
            return Call(op, (b, a))
    if len(args) == 2:
        a, b = args
        ca, cb = _const(a), _const(b)
        if op == "Sub":
            if cb is not None:
                flipped = _number(-cb)
                if flipped is not None:
                    return Call("Add", (flipped, a))
            if ca == 0.0:
                return Call("Mul", (Constant(-1.0), b))
            neg = _neg_of(b)
            if neg is not None:
                return Call("Add", (a, neg))
            if a == b and not exact_only:
                return Constant(0.0)
        if op == "Add":
            if ca == 0.0:
                return b
            for x, y in ((a, b), (b, a)):
                neg = _neg_of(y)
                if neg is not None and _const(x) is None:
                    return Call("Sub", (x, neg))
        if op == "Mul":
            if ca == 1.0:
                return b
            if ca is not None and isinstance(b, Call) and b.op == "Mul":
                cb2 = _const(b.args[0])
                if cb2 is not None and (abs(ca) == 1.0 or abs(cb2) == 1.0):
                    prod = _number(ca * cb2)
                    if prod is not None:
                        return b.args[1] if prod.value == 1.0 else Call("Mul", (prod, b.args[1]))
            if not exact_only and _is_inverse_pair(a, b):
                return Constant(1.0)
        if op == "Div":
            if cb == 1.0:
                return a
            if cb == -1.0:
                return Call("Mul", (Constant(-1.0), a))
            if a == b and not exact_only:
                return Constant(1.0)
        if op == "Pow" and cb == 1.0:
            return a
        if op in ("Greater", "Less") and a == b:
            return a
    if len(args) == 1:
        (a,) = args
        if op == "Abs" and isinstance(a, Call):
            if a.op == "Abs":
                return a
            neg = _neg_of(a)
            if neg is not None:
                return Call("Abs", (neg,))
        if op == "Sign" and isinstance(a, Call) and a.op == "Sign":
            return a
    return node


def _is_inverse_pair(a: Node, b: Node) -> bool:
    return (isinstance(a, Call) and a.op == "Inv" and a.args[0] == b) or (
        isinstance(b, Call) and b.op == "Inv" and b.args[0] == a)


def _check_registry() -> None:
    """Every operator a rule names exists (a renamed operator would silently skip rules)."""
    for name in (*_COMMUTATIVE, *_ROLLING_OF_CONSTANT, *_PAIR_ZERO_WITH_CONSTANT, "Sub", "Div",
                 "Pow", "Abs", "Sign", "Inv"):
        if lookup(name) is None:
            raise AssertionError(f"simplify names an unknown operator: {name}")


_check_registry()
