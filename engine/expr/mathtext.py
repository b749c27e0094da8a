"""Math-like rendering of a formula, shown beside the function form: ``-corr(close, volume,
10)`` for ``Mul(-1, ts_corr($close, $volume, 10))``, ``(high - low) / close`` for
``Div(Sub($high, $low), $close)``.

Infix ``+ - * / ^`` with the usual precedence (``^`` binds tightest and to the right) and the
comparisons ``> >= < <= == !=`` below them (never chained), the fewest parentheses that keep
the meaning, features without ``$``, rolling operators by their plain name with the window
last (``mean(close, 20)``), ``max``/``min`` for the element-wise
``Greater``/``Less`` and ``tsmax``/``tsmin`` for the rolling ones. Render the simplified
formula (:func:`engine.expr.simplify.simplify`) for the most readable text. For display only:
the function form is the one that parses.
"""

from __future__ import annotations

from engine.errors import FormulaError
from engine.expr.ops import format_number
from engine.expr.parse import Call, Constant, Feature, Node, Window, parse
from engine.expr.simplify import simplify

_NAMES = {
    "Ref": "ref", "ts_mean": "mean", "ts_sum": "sum", "ts_std": "std", "ts_var": "var",
    "ts_max": "tsmax", "ts_min": "tsmin", "ts_med": "median", "ts_mad": "mad",
    "ts_div": "ratio", "ts_pctchange": "pct_change", "ts_delta": "delta", "ts_wma": "wma",
    "ts_ema": "ema", "ts_cov": "cov", "ts_corr": "corr", "cs_rank": "rank",
    "cs_zscore": "zscore", "Abs": "abs", "Sign": "sign", "Log": "log", "S_log1p": "slog1p",
    "Greater": "max", "Less": "min", "Inv": "inv", "ts_rank": "tsrank",
    "ts_quantile": "quantile", "ts_argmax": "argmax", "ts_argmin": "argmin",
    "ts_slope": "slope", "ts_rsquare": "rsquare", "ts_resi": "resi", "ts_corr_nan": "corr_nan",
}
# precedence: comparisons 0, sums 1, products 2, unary minus 3, powers 4, atoms and calls 5
_INFIX = {"Add": ("+", 1), "Sub": ("-", 1), "Mul": ("*", 2), "Div": ("/", 2), "Pow": ("^", 4),
          "Gt": (">", 0), "Ge": (">=", 0), "Lt": ("<", 0), "Le": ("<=", 0), "Eq": ("==", 0),
          "Ne": ("!=", 0)}


def to_math(node: Node) -> str:
    """Math-like text of a formula (or of any sub-tree)."""
    return _render(node)[0]


def readable(text: str) -> str:
    """The math-like text of a formula's canonical form, for tables and reports (the text
    itself when it does not parse: a display never fails on a stored formula)."""
    try:
        return to_math(simplify(parse(text, features=None, preset=None)))
    except FormulaError:
        return text


def _render(node: Node) -> tuple[str, int]:
    """(text, precedence of its outermost operator)."""
    if isinstance(node, Feature):
        return node.name, 5
    if isinstance(node, Constant):
        text = format_number(node.value)
        return text, 3 if text.startswith("-") else 5
    if isinstance(node, Window):
        return str(node.value), 5
    assert isinstance(node, Call)
    op, args = node.op, node.args
    if op == "Mul" and isinstance(args[0], Constant) and args[0].value == -1.0:
        inner, prec = _render(args[1])
        return "-" + (inner if prec > 3 else f"({inner})"), 3
    if op == "Inv":
        inner, prec = _render(args[0])
        return "1 / " + (inner if prec > 2 else f"({inner})"), 2
    if op in _INFIX:
        symbol, prec = _INFIX[op]
        left, right = args
        if op == "Add" and isinstance(left, Constant):  # constants last: x + 1, x - 0.5
            left, right = right, left
            if right.value < 0:
                symbol, right = "-", Constant(-right.value)
        lt, lp = _render(left)
        rt, rp = _render(right)
        if op == "Pow":
            lt = lt if lp > prec else f"({lt})"
            rt = rt if rp >= prec else f"({rt})"
            return f"{lt}^{rt}", prec
        # comparisons do not chain: (a > b) > c keeps its parentheses on either side
        lt = lt if (lp > prec if prec == 0 else lp >= prec) else f"({lt})"
        # a - (b + c), a / (b * c): the right side needs a strictly higher precedence
        strict = symbol in ("-", "/") or prec == 0
        rt = rt if (rp > prec if strict else rp >= prec) else f"({rt})"
        return f"{lt} {symbol} {rt}", prec
    name = _NAMES.get(op, op)
    return f"{name}({', '.join(_render(a)[0] for a in args)})", 5
