"""Qlib expressions in and out: read Qlib's expression syntax into this language's trees, and
write trees back as Qlib text where Qlib computes exactly the same thing.

Qlib (microsoft/qlib, ``qlib/data/base.py``, ``ops.py``) evaluates a field such as
``($close-Ref($close, 1))/$close`` as Python after rewriting ``$close`` to a feature object,
so its syntax is Python's subset: ``$fields``, numbers, calls ``Mean($close, 5)``, infix
``+ - * / **``, comparisons ``> >= < <= == !=`` (Python precedence: ``**`` over unary minus
over ``* /`` over ``+ -`` over comparisons). Here it is read by a small precedence (Pratt)
parser — never ``eval``-ed — into :mod:`engine.expr.parse` trees, under the same rules as the
function form (features exist, windows are whole positive days, no look-ahead).

Semantics. Qlib's rolling operators use ``min_periods=1`` and skip NaN inside a window; ours
need the whole window (NaN before it is full or when it holds a NaN). Wherever the window is
complete the values are Qlib's: the mapping only pairs operators that compute the same thing
there. Infinities become NaN (our evaluator's rule), and comparisons are NaN where a side is
NaN (numpy says False). Qlib operators with no exact counterpart (``EMA`` is an infinite
exponential mean, ``WMA`` divides by w twice, ``Med`` of an even window averages the middle
pair) and those outside the language (``If``, ``Skew``, ...) are rejected by name, never
approximated. docs/formula-language.md has the mapping table.
"""

from __future__ import annotations

import difflib
import math
import operator as py
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any

from engine.data.schema import BASE_FEATURES
from engine.errors import FormulaError
from engine.expr import ops as O
from engine.expr.parse import (
    MAX_TEXT_WINDOW,
    Call,
    Constant,
    Expr,
    Feature,
    Node,
    Problem,
    Window,
    _Tok,
    _too_deep,
    feature_problem,
    featured_problem,
    is_featured,
    param_problem,
    scan,
    to_text,
    validate,
    window_problem,
)

# --------------------------------------------------------------------------- the mapping


@dataclass(frozen=True)
class _Mapped:
    """A Qlib operator and ours: ``roles`` name Qlib's arguments in Qlib's order (x, y:
    series; N: window; q: parameter); ours are series, then parameters, then the window."""

    ours: str
    roles: tuple[str, ...]


def _m(ours: str, roles: str) -> _Mapped:
    return _Mapped(ours, tuple(roles))


#: Qlib operator -> ours, where both compute the same values on complete windows.
QLIB_TO_OURS: Mapping[str, _Mapped] = MappingProxyType({
    "Add": _m("Add", "xy"), "Sub": _m("Sub", "xy"), "Mul": _m("Mul", "xy"),
    "Div": _m("Div", "xy"), "Power": _m("Pow", "xy"), "Greater": _m("Greater", "xy"),
    "Less": _m("Less", "xy"), "Gt": _m("Gt", "xy"), "Ge": _m("Ge", "xy"),
    "Lt": _m("Lt", "xy"), "Le": _m("Le", "xy"), "Eq": _m("Eq", "xy"), "Ne": _m("Ne", "xy"),
    "Abs": _m("Abs", "x"), "Sign": _m("Sign", "x"), "Log": _m("Log", "x"),
    "Ref": _m("Ref", "xN"), "Mean": _m("ts_mean", "xN"), "Sum": _m("ts_sum", "xN"),
    "Std": _m("ts_std", "xN"), "Var": _m("ts_var", "xN"), "Max": _m("ts_max", "xN"),
    "Min": _m("ts_min", "xN"), "Med": _m("ts_med", "xN"), "Mad": _m("ts_mad", "xN"),
    "Delta": _m("ts_delta", "xN"), "Rank": _m("ts_rank", "xN"),
    "Quantile": _m("ts_quantile", "xNq"), "Slope": _m("ts_slope", "xN"),
    "Rsquare": _m("ts_rsquare", "xN"), "Resi": _m("ts_resi", "xN"),
    "IdxMax": _m("ts_argmax", "xN"), "IdxMin": _m("ts_argmin", "xN"),
    "Corr": _m("ts_corr_nan", "xyN"), "Cov": _m("ts_cov", "xyN"),
})
#: Ours -> Qlib operator (the inverse; ``Med`` only for odd windows).
OURS_TO_QLIB: Mapping[str, str] = MappingProxyType(
    {m.ours: name for name, m in QLIB_TO_OURS.items()})
#: Qlib operators with a namesake here that computes something else -> the reason's term id.
NO_EQUIVALENT: Mapping[str, str] = MappingProxyType({"EMA": "qlib_ema", "WMA": "qlib_wma"})
#: Qlib operators (qlib/data/ops.py OpsList, pit.py) outside the language.
UNSUPPORTED: frozenset[str] = frozenset({
    "Skew", "Kurt", "Count", "If", "Mask", "And", "Or", "Not", "ChangeInstrument", "Rolling",
    "TResample", "Feature", "PFeature", "P", "PRef",
})
#: Our operators Qlib has no exact expression for -> the reason's term id.
EXPORT_REJECTED: Mapping[str, str] = MappingProxyType({
    "ts_wma": "qlib_wma", "ts_ema": "qlib_ema", "ts_corr": "qlib_corr_flat",
    "S_log1p": "qlib_slog1p", "cs_rank": "qlib_cross_section", "cs_zscore": "qlib_cross_section",
})
#: English reasons of the term ids (the catalogues translate them: errors.term.<id>).
_REASONS = {
    "qlib_ema": "Qlib's EMA is an exponential mean over all history (pandas ewm), ts_ema "
                "one over the last w days",
    "qlib_wma": "Qlib's WMA weights 1 … w and divides by w once more (np.nanmean), ts_wma "
                "weights 0 … w − 1",
    "qlib_med_even": "Qlib's Med of an even window averages the two middle values, ts_med "
                     "takes the lower one",
    "qlib_corr_flat": "ts_corr is about 0 where a window is (nearly) flat, Qlib's Corr is NaN "
                      "there; ts_corr_nan is Corr",
    "qlib_slog1p": "Qlib's Log(1+Abs(x)) loses the digits of small x that log1p keeps",
    "qlib_cross_section": "Qlib expressions are per stock; Qlib ranks and z-scores across "
                          "stocks in processors (CSRankNorm, CSZScoreNorm)",
}

_COMPARISONS = {">": "Gt", ">=": "Ge", "<": "Lt", "<=": "Le", "==": "Eq", "!=": "Ne"}
#: Infix token -> (binding power, our operator). Python's precedence; ``**`` is right-assoc.
_INFIX: dict[str, tuple[int, str]] = {
    **{sym: (10, name) for sym, name in _COMPARISONS.items()},
    "+": (20, "Add"), "-": (20, "Sub"), "*": (30, "Mul"), "/": (30, "Div"), "**": (50, "Pow"),
}
#: Unary minus binds tighter than ``*`` and looser than ``**``: -x**2 is -(x**2).
_UNARY_BP = 40
_ATOM_BP = 100
#: Python operators Qlib maps to And / Or / Not.
_BITWISE = {"&": "And", "|": "Or", "~": "Not"}
#: Folding of constant arithmetic, as Python (and so Qlib) would compute it.
_FOLD: dict[str, Callable[[float, float], Any]] = {
    "Add": py.add, "Sub": py.sub, "Mul": py.mul, "Div": py.truediv, "Pow": py.pow,
}

# --------------------------------------------------------------------------- tokens

_TOKEN_RE = re.compile(
    r"(?P<ws>\s+)"
    r"|(?P<pfeature>\$\$[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<feature>\$[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op>\*\*|>=|<=|==|!=|[-+*/<>&|~(),])",
    re.ASCII,
)


def _tokens(text: str) -> list[_Tok]:
    """Tokens of ``text`` (kinds: pfeature | feature | number | name | op | bad | end)."""
    return scan(_TOKEN_RE, text)


def _fail(tok: _Tok, code: str, message: str, **params: Any) -> FormulaError:
    return FormulaError(f"position {tok.pos}: {message}", code=code,
                        params={"position": tok.pos, "token": tok.text, **params})


def _problem(tok: _Tok, problem: Problem) -> FormulaError:
    return _fail(tok, problem.code, problem.message, **problem.params)


def _got(tok: _Tok) -> str | dict[str, str]:
    return {"term": "end_of_formula"} if tok.kind == "end" else f"'{tok.text}'"


def _describe(tok: _Tok) -> str:
    return "the end of the formula" if tok.kind == "end" else f"'{tok.text}'"


# --------------------------------------------------------------------------- parser


class _Parser:
    def __init__(self, text: str, features: tuple[str, ...] | None, max_window: int) -> None:
        self.toks = _tokens(text)
        self.i = 0
        self.features = features
        self.max_window = max_window
        bad = next((t for t in self.toks if t.kind == "bad"), None)
        if bad is not None:
            raise _fail(bad, "qlib_bad_char",
                        f"unexpected character '{bad.text}' in a Qlib expression")

    def peek(self) -> _Tok:
        return self.toks[self.i]

    def take(self) -> _Tok:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def expect(self, text: str) -> _Tok:
        tok = self.take()
        if not (tok.kind == "op" and tok.text == text):
            raise _fail(tok, "qlib_expected", f"expected '{text}', got {_describe(tok)}",
                        expected=text, got=_got(tok))
        return tok

    def parse(self) -> Expr:
        if self.peek().kind == "end":
            raise FormulaError("the Qlib expression is empty", code="qlib_empty")
        expr = self.expr(0)
        tok = self.peek()
        if tok.kind != "end":
            raise _fail(tok, "qlib_trailing",
                        f"unexpected '{tok.text}' after the end of the expression")
        if isinstance(expr, Window) or not is_featured(expr):
            text = to_text(expr)
            raise FormulaError(
                f"the formula '{text}' does not depend on any feature; use at least one "
                "$feature", code="formula_no_feature", params={"formula": text})
        return expr

    # ---------------------------------------------------------------- expressions

    def expr(self, min_bp: int) -> Node:
        """Pratt loop: a prefix term, then infix operators binding tighter than ``min_bp``."""
        left = self.prefix()
        compared = False
        while True:
            tok = self.peek()
            if tok.kind == "op" and tok.text in _BITWISE:
                raise self.unsupported(tok, _BITWISE[tok.text])
            if tok.kind != "op" or tok.text not in _INFIX:
                return left
            bp, ours = _INFIX[tok.text]
            if bp <= min_bp:
                return left
            if ours in _COMPARISONS.values():
                if compared:
                    raise _fail(tok, "qlib_chained_comparison",
                                f"chained comparison at '{tok.text}': Python reads a < b < c "
                                "as (a < b) and (b < c); add parentheses")
                compared = True
            self.take()
            right = self.expr(bp - 1 if ours == "Pow" else bp)
            left = self.binary(ours, left, right, tok)

    def prefix(self) -> Node:
        tok = self.take()
        if tok.kind == "number":
            value = float(tok.text)
            if not math.isfinite(value):
                raise _fail(tok, "formula_number_range", f"number '{tok.text}' is out of range")
            return Constant(value)
        if tok.kind == "feature":
            name = tok.text[1:].lower()
            if self.features is not None and name not in self.features:
                raise _problem(tok, feature_problem(name, self.features))
            return Feature(name)
        if tok.kind == "pfeature":
            raise self.unsupported(tok, "PFeature")
        if tok.kind == "name":
            return self.call(tok)
        if tok.kind == "op" and tok.text == "(":
            inner = self.expr(0)
            self.expect(")")
            return inner
        if tok.kind == "op" and tok.text in "-+":
            operand = self.expr(_UNARY_BP)
            if tok.text == "+":
                return operand
            if isinstance(operand, Constant):
                return Constant(-operand.value + 0.0)
            return self.binary("Mul", Constant(-1.0), operand, tok)
        raise _fail(tok, "qlib_expected_operand",
                    f"expected a $field, a number, an operator call or '(', got {_describe(tok)}",
                    got=_got(tok))

    def binary(self, ours: str, left: Node, right: Node, tok: _Tok) -> Node:
        """``left <op> right``; arithmetic of two constants is folded as Python would."""
        fold = _FOLD.get(ours)
        if fold is not None and isinstance(left, Constant) and isinstance(right, Constant):
            try:
                value = fold(left.value, right.value)
            except (ZeroDivisionError, OverflowError):
                value = math.nan
            if not isinstance(value, float | int) or not math.isfinite(value):
                call = f"{O.format_number(left.value)} {tok.text} {O.format_number(right.value)}"
                raise _fail(tok, "qlib_constant_math",
                            f"{call} is not a finite real number", call=call)
            return Constant(float(value) + 0.0)
        problem = featured_problem(O.REGISTRY[ours], [left, right])
        if problem is not None:
            raise _problem(tok, problem)
        return Call(ours, (left, right))

    # ---------------------------------------------------------------- calls

    def unsupported(self, tok: _Tok, name: str) -> FormulaError:
        supported = sorted(QLIB_TO_OURS)
        return _fail(tok, "qlib_unsupported_op",
                     f"the Qlib operator {name} is not supported; supported: "
                     f"{', '.join(supported)}", op=name, supported=supported)

    def resolve(self, tok: _Tok) -> _Mapped:
        name = tok.text
        if name in QLIB_TO_OURS:
            return QLIB_TO_OURS[name]
        if name in NO_EQUIVALENT:
            raise self.no_equivalent(tok, NO_EQUIVALENT[name])
        if name in UNSUPPORTED:
            raise self.unsupported(tok, name)
        if self.peek().text != "(":
            word = name.lower()
            raise _fail(tok, "formula_missing_dollar",
                        f"'{name}' is not a formula; features start with '$' "
                        f"(did you mean '${word}'?)", feature=f"${word}")
        if O.lookup(name) is not None:
            raise _fail(tok, "qlib_ours_not_qlib",
                        f"'{name}' is an operator of AlphaForge's function form, not of "
                        "Qlib: write the whole formula in one syntax")
        known = [*QLIB_TO_OURS, *NO_EQUIVALENT, *UNSUPPORTED]
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
        if close:
            hint = " or ".join(f"'{c}'" for c in close)
            raise _fail(tok, "qlib_unknown_op_hint",
                        f"unknown Qlib operator '{name}' (did you mean {hint}?)", hint=hint)
        raise _fail(tok, "qlib_unknown_op", f"unknown Qlib operator '{name}'")

    def no_equivalent(self, tok: _Tok, reason: str) -> FormulaError:
        return _fail(tok, "qlib_no_equivalent",
                     f"Qlib's {tok.text} has no exact equivalent here: {_REASONS[reason]}",
                     reason={"term": reason})

    def call(self, name_tok: _Tok) -> Call:
        mapped = self.resolve(name_tok)
        self.expect("(")
        args: list[tuple[Node, _Tok]] = []
        if self.peek().text == ")":
            self.take()
        else:
            while True:
                start = self.peek()
                args.append((self.expr(0), start))
                sep = self.take()
                if sep.kind == "op" and sep.text == ")":
                    break
                if not (sep.kind == "op" and sep.text == ","):
                    raise _fail(sep, "qlib_expected_separator",
                                f"expected ',' or ')', got {_describe(sep)}", got=_got(sep))
        usage = f"{name_tok.text}({', '.join(mapped.roles)})"
        if len(args) != len(mapped.roles):
            n = len(mapped.roles)
            raise _fail(name_tok, "qlib_arity",
                        f"{name_tok.text} expects {n} argument{'s' if n != 1 else ''}, got "
                        f"{len(args)} (usage: {usage})", op=name_tok.text, arity=n,
                        count=len(args), usage=usage)
        # the shared rules' messages name the operator as written: Mean, not ts_mean
        op = replace(O.REGISTRY[mapped.ours], name=name_tok.text)
        by_role = dict(zip(mapped.roles, args, strict=True))
        series = [by_role[r][0] for r in ("x", "y") if r in by_role]
        problem = featured_problem(op, series)
        if problem is not None:
            raise _problem(name_tok, problem)
        params: list[Node] = []
        if "q" in by_role:
            node, tok = by_role["q"]
            problem = param_problem(op, node)
            if problem is not None:
                raise _problem(tok, problem)
            params.append(node)
        window: list[Node] = []
        if "N" in by_role:
            window.append(self.window(op, name_tok, series, *by_role["N"]))
        return Call(mapped.ours, (*series, *params, *window))

    def window(self, op: O.Operator, name_tok: _Tok, series: Sequence[Node], node: Node,
               tok: _Tok) -> Window:
        if not isinstance(node, Constant) or not float(node.value).is_integer():
            got = to_text(node)
            raise _fail(tok, "formula_window_not_whole",
                        f"the window of {op.name} must be a whole number of days, got '{got}'",
                        op=op.name, got=got)
        value = int(node.value)
        if value == 0:
            raise _fail(tok, "qlib_window_expanding",
                        f"window 0 of {name_tok.text} is Qlib's expanding window (all history), "
                        "which is not supported; give a number of days", op=name_tok.text)
        problem = window_problem(op, series, value, None, self.max_window)
        if problem is not None:
            raise _problem(tok, problem)
        if name_tok.text == "Med" and value % 2 == 0:
            raise self.no_equivalent(name_tok, "qlib_med_even")
        return Window(value)


def parse_qlib(
    text: str,
    *,
    features: Sequence[str] | None = BASE_FEATURES,
    max_window: int = MAX_TEXT_WINDOW,
) -> Expr:
    """Parse a Qlib expression (``Mean($close, 5)/$close``) into a tree of this language.

    features: allowed feature names (lower case, no ``$``); None accepts any name.
    FormulaError, with the 1-based position and the token, for anything that does not parse,
    names an operator without an exact equivalent, or breaks the language's rules.
    """
    feats = None if features is None else tuple(f.lstrip("$").lower() for f in features)
    try:
        tree = _Parser(text.replace("\u2212", "-"), feats, max_window).parse()
    except RecursionError:
        raise _too_deep() from None
    # the function form's own checks, as a guard that both readers accept the same trees
    return validate(tree, features=feats, max_window=max_window)


# --------------------------------------------------------------------------- detection

#: Qlib operator names the function form does not know (a sure sign of Qlib text).
_QLIB_ONLY = frozenset(n for n in (*QLIB_TO_OURS, *UNSUPPORTED) if O.lookup(n) is None)


def looks_like_qlib(text: str) -> bool:
    """True when ``text`` reads as a Qlib expression rather than the function form.

    Signs of Qlib: an infix operator or comparison (``-`` and ``+`` count unless they are the
    sign of a number that starts an argument, as in ``Mul(-1, $close)``), a ``$$`` field, a Qlib
    operator the function form lacks (``Quantile``, ``Skew``, ...), or ``Rank`` with a window
    (Qlib's rolling rank; the function form's ``Rank`` is cross-sectional). Text valid in both
    and meaning the same there (``Mean($close, 5)``) is not Qlib: either parser gives the
    same tree. ``EMA``/``WMA``/``Med`` alone are read as the function form's operators.
    """
    toks = _tokens(text.replace("\u2212", "-"))
    for i, tok in enumerate(toks):
        prev = toks[i - 1] if i else None
        if tok.kind == "pfeature":
            return True
        if tok.kind == "op" and tok.text in ("-", "+"):
            sign_of_number = (toks[i + 1].kind == "number"
                              and (prev is None or prev.text in ("(", ",")))
            if not sign_of_number:
                return True
        elif tok.kind == "op" and tok.text in (*_INFIX, *_BITWISE):
            return True
        if tok.kind == "name" and toks[i + 1].text == "(":
            if tok.text in _QLIB_ONLY:
                return True
            if tok.text == "Rank" and _has_second_argument(toks, i + 1):
                return True
    return False


def _has_second_argument(toks: list[_Tok], open_at: int) -> bool:
    """True when the call whose ``(`` is ``toks[open_at]`` has a top-level comma."""
    depth = 0
    for tok in toks[open_at:]:
        if tok.text == "(":
            depth += 1
        elif tok.text == ")":
            depth -= 1
            if depth == 0:
                return False
        elif tok.text == "," and depth == 1:
            return True
    return False


# --------------------------------------------------------------------------- export

#: Our infix operators in Qlib text -> (symbol, binding power).
_EXPORT_INFIX: dict[str, tuple[str, int]] = {
    ours: (sym, bp) for sym, (bp, ours) in _INFIX.items() if ours != "Pow"
}


def to_qlib(expr: Node) -> str:
    """Qlib text of a tree, where Qlib computes the same values (on complete windows).

    Arithmetic and comparisons are written infix with the fewest parentheses that parse back
    to the same tree (``parse_qlib(to_qlib(e)) == e``); ``Pow`` is ``Power(x, y)``. Three
    operators have no Qlib name and are written out: ``Inv(x)`` as ``1/x``, ``ts_div(x, w)``
    as ``x/Ref(x, w)``, ``ts_pctchange(x, w)`` as ``(x-Ref(x, w))/Ref(x, w)`` (the same
    values; they read back as Div trees). FormulaError naming the operator where Qlib has no
    exact equivalent (``ts_corr``, ``ts_wma``, ``ts_ema``, ``ts_med`` of an even window,
    ``S_log1p``, the cross-sectional operators).
    """
    return _emit(expr)[0]


def _export_error(op: str, reason: str) -> FormulaError:
    return FormulaError(f"{op} has no exact Qlib equivalent: {_REASONS[reason]}",
                        code="qlib_export_unsupported", params={"op": op,
                                                                "reason": {"term": reason}})


def _emit(node: Node) -> tuple[str, int]:
    """(Qlib text, binding power of its outermost operator)."""
    if isinstance(node, Feature):
        return f"${node.name}", _ATOM_BP
    if isinstance(node, Constant):
        text = O.format_number(node.value)
        return text, _UNARY_BP if text.startswith("-") else _ATOM_BP
    if isinstance(node, Window):
        return str(node.value), _ATOM_BP
    op, args = node.op, node.args
    if op in EXPORT_REJECTED:
        raise _export_error(op, EXPORT_REJECTED[op])
    if op in _EXPORT_INFIX:
        symbol, bp = _EXPORT_INFIX[op]
        return _infix(symbol, bp, _emit(args[0]), _emit(args[1])), bp
    if op == "Inv":
        return _infix("/", 30, ("1", _ATOM_BP), _emit(args[0])), 30
    if op in ("ts_div", "ts_pctchange"):
        x, old = _emit(args[0]), f"Ref({_emit(args[0])[0]}, {to_text(args[1])})"
        if op == "ts_div":
            return _infix("/", 30, x, (old, _ATOM_BP)), 30
        change = _infix("-", 20, x, (old, _ATOM_BP))
        return _infix("/", 30, (change, 20), (old, _ATOM_BP)), 30
    if op == "ts_med" and isinstance(args[-1], Window) and args[-1].value % 2 == 0:
        raise _export_error(op, "qlib_med_even")
    name = OURS_TO_QLIB.get(op)
    if name is None:  # an operator added to the registry without a Qlib decision
        raise FormulaError(f"{op} has no Qlib equivalent", code="qlib_export_unknown",
                           params={"op": op})
    by_ours = _ours_order(QLIB_TO_OURS[name].roles)
    texts = [_emit(a)[0] for a in args]
    ordered = [texts[by_ours[role]] for role in QLIB_TO_OURS[name].roles]
    return f"{name}({', '.join(ordered)})", _ATOM_BP


def _ours_order(roles: tuple[str, ...]) -> dict[str, int]:
    """Role -> index of that argument in our order (series, parameters, window)."""
    ours = [r for r in ("x", "y", "q", "N") if r in roles]
    return {role: i for i, role in enumerate(ours)}


def _infix(symbol: str, bp: int, left: tuple[str, int], right: tuple[str, int]) -> str:
    """``left symbol right`` with the parentheses Python's grammar needs to give this tree:
    operators are left-associative (the right operand binds strictly tighter) and comparisons
    do not chain (both operands bind strictly tighter); a negative right operand is wrapped
    for readability (``$close-(-1)``)."""
    lt, lbp = left
    rt, rbp = right
    if lbp < bp or (lbp == bp and bp == 10):
        lt = f"({lt})"
    if rbp <= bp or rt.startswith("-"):
        rt = f"({rt})"
    return f"{lt}{symbol}{rt}"


def read_formula(text: str, *, features: Sequence[str] | None = BASE_FEATURES) -> Expr:
    """A formula in either syntax: Qlib's (when :func:`looks_like_qlib`) or the function
    form. What ``check``, ``eval`` and the formula editors call, so users paste either."""
    if looks_like_qlib(text):
        return parse_qlib(text, features=features)
    from engine.expr.parse import parse

    return parse(text, features=features, preset=None)
