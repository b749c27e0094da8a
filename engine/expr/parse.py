"""Formulas as trees, text and RPN token sequences — and the conversions between them.

Text form (canonical): ``Div(Sub($close, Ref($close, 5)), ts_std($close, 20))``. Names are
case-insensitive and accept aliases (``mean`` -> ``ts_mean``); infix operators are not part of
the language. The parser is a tokenizer plus recursive descent — formulas are never ``eval``-ed.

RPN form (ALPHAFORGE_SPEC §2.3): the post-order token sequence the miner generates, e.g.
``$close 20 ts_mean``; :func:`encode` / :func:`decode` map it to a vocabulary's action indices.

Rules every formula obeys, whatever its source (text, RPN, code):
- features must exist in the dataset; operators must exist (in the preset, when one is given);
- windows are whole positive days (negative ``Ref`` shifts read the future and are rejected);
- *constant-only rules*: the formula depends on at least one feature; unary, cross-sectional and
  rolling operators take a featured argument, pair-rolling operators two, and binary operators
  at least one. These are the grammar's rules (spec §2.3), so a parsed formula can always be
  scored and its constant-only sub-trees are bare constants.
"""

from __future__ import annotations

import difflib
import math
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from engine.data.schema import BASE_FEATURES
from engine.errors import FormulaError
from engine.expr import ops as O
from engine.expr.ops import Operator, Token, Vocabulary

#: Largest window accepted in text formulas by default (days).
MAX_TEXT_WINDOW = 250


# --------------------------------------------------------------------------- tree nodes


@dataclass(frozen=True)
class Feature:
    """A dataset column, lower-case name without ``$``."""

    name: str

    def __str__(self) -> str:
        return to_text(self)


@dataclass(frozen=True)
class Constant:
    """A number (any finite float; the miner's vocabulary has 14 of them)."""

    value: float

    def __str__(self) -> str:
        return to_text(self)


@dataclass(frozen=True)
class Window:
    """The delta-time argument of a rolling operator (whole days, >= 1)."""

    value: int

    def __str__(self) -> str:
        return to_text(self)


@dataclass(frozen=True)
class Call:
    """An operator (canonical registry name) applied to its arguments (window last)."""

    op: str
    args: tuple[Node, ...]

    def __str__(self) -> str:
        return to_text(self)

    @property
    def operator(self) -> Operator:
        found = O.lookup(self.op)
        if found is None:
            raise FormulaError(f"unknown operator '{self.op}'", code="formula_unknown_op_name",
                               params={"token": self.op})
        return found


Node = Feature | Constant | Window | Call
#: A complete formula (never a bare window).
Expr = Feature | Constant | Call


def is_featured(node: Node) -> bool:
    """True when the sub-tree depends on at least one feature."""
    if isinstance(node, Feature):
        return True
    if isinstance(node, Call):
        return any(is_featured(a) for a in node.args)
    return False


def features_of(node: Node) -> set[str]:
    """Names of the features a formula reads."""
    if isinstance(node, Feature):
        return {node.name}
    if isinstance(node, Call):
        return set().union(*(features_of(a) for a in node.args))
    return set()


def size(node: Node) -> int:
    """Number of RPN tokens (SEP excluded): the formula length of spec §2.1."""
    if isinstance(node, Call):
        return 1 + sum(size(a) for a in node.args)
    return 1


def lookback(node: Node) -> int:
    """Days of history a formula reads before the day it is evaluated on (an upper bound:
    each windowed operator adds its window), so its values exist from this day of a panel."""
    if not isinstance(node, Call):
        return 0
    inner = max((lookback(a) for a in node.args if not isinstance(a, Window)), default=0)
    window = node.args[-1]
    return inner + (window.value if isinstance(window, Window) else 0)


# --------------------------------------------------------------------------- printing


def to_text(node: Node) -> str:
    """Canonical text: canonical names, ``, `` separators, shortest exact numbers."""
    if isinstance(node, Feature):
        return f"${node.name}"
    if isinstance(node, Constant):
        return O.format_number(node.value)
    if isinstance(node, Window):
        return str(node.value)
    return f"{node.op}({', '.join(to_text(a) for a in node.args)})"


# --------------------------------------------------------------------------- validation


class Problem(NamedTuple):
    """A rule broken: the English message plus the code and params the app translates.

    The ``*_problem`` functions below are the rules themselves; every reader of formula text
    (this parser, RPN, the Qlib parser in ``qlib.py``) applies them, so they agree.
    """

    code: str
    message: str
    params: dict[str, Any]


def _close(word: str, choices: Iterable[str]) -> list[str]:
    pool = {c.lower(): c for c in choices}
    return [pool[c] for c in difflib.get_close_matches(word.lower(), list(pool), n=3,
                                                       cutoff=0.6)]


def feature_problem(name: str, features: Sequence[str]) -> Problem:
    close = difflib.get_close_matches(name, list(features), n=3, cutoff=0.6)
    did = f" (did you mean {' or '.join(f'${c}' for c in close)}?)" if close else ""
    available = [f"${f}" for f in features]
    params: dict[str, Any] = {"token": f"${name}", "available": available}
    if close:
        return Problem("formula_unknown_feature_hint",
                        f"unknown feature '${name}'{did}; available: {', '.join(available)}",
                        {**params, "hint": " / ".join(f"${c}" for c in close)})
    return Problem("formula_unknown_feature",
                    f"unknown feature '${name}'; available: {', '.join(available)}", params)


def featured_problem(op: Operator, series: Sequence[Node]) -> Problem | None:
    """The problem if the operator's series arguments break the constant-only rules."""
    flags = [is_featured(a) for a in series]
    args = ", ".join(to_text(a) for a in series)
    if op.kind == "binary":
        if not any(flags):
            return Problem("formula_constants_only",
                            f"{op.name}({args}) combines constants only: at least one argument "
                            "must depend on a feature", {"call": f"{op.name}({args})"})
        return None
    if not all(flags):
        which = "both series" if op.n_series == 2 else "its argument"
        code = "formula_needs_features" if op.n_series == 2 else "formula_needs_feature"
        return Problem(code, f"{op.signature}: {which} must depend on a feature, got {args}",
                        {"usage": op.signature, "args": args})
    return None


def window_problem(op: Operator, series: Sequence[Node], value: int,
                   windows: Sequence[int] | None, max_window: int) -> Problem | None:
    params: dict[str, Any] = {"op": op.name, "window": value}
    if value < 0:
        call = f"{op.name}({', '.join(to_text(a) for a in series)}, {value})"
        return Problem("formula_reads_future",
                        f"{call} reads the future: a negative "
                        f"{'shift' if op.name == 'Ref' else 'window'} looks at later days; "
                        "use a positive number of days", {**params, "call": call})
    if value == 0:
        return Problem("formula_window_zero",
                        f"the window of {op.name} must be at least 1 day, got 0", params)
    if windows is not None and value not in windows:
        allowed = ", ".join(str(w) for w in windows)
        return Problem("formula_window_not_allowed",
                        f"window {value} of {op.name} is not allowed; allowed: {allowed}",
                        {**params, "allowed": allowed})
    if value > max_window:
        return Problem("formula_window_too_long",
                        f"window {value} of {op.name} exceeds the maximum of {max_window} days",
                        {**params, "max": max_window})
    return None


def param_problem(op: Operator, node: Node) -> Problem | None:
    """The problem if ``node`` is not a number in the range of ``op``'s constant parameter."""
    spec = op.param
    assert spec is not None
    params: dict[str, Any] = {"op": op.name, "param": spec.name}
    if not isinstance(node, Constant):
        return Problem("formula_param_not_number",
                        f"the {spec.name} of {op.name} must be a number, got '{to_text(node)}'",
                        {**params, "got": to_text(node)})
    if not spec.low <= node.value <= spec.high:
        low, high, got = (O.format_number(v) for v in (spec.low, spec.high, node.value))
        return Problem("formula_param_range",
                        f"the {spec.name} of {op.name} must be between {low} and {high}, "
                        f"got {got}", {**params, "low": low, "high": high, "got": got})
    return None


# --------------------------------------------------------------------------- text parser

_TOKEN_RE = re.compile(
    r"(?P<ws>\s+)"
    r"|(?P<feature>\$[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<number>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<punct>[(),])",
    re.ASCII,
)


#: The one nesting limit of formulas, for every reader, printer and the evaluator (each
#: recurses once or a few times per level; Python's stack allows ~1,000 frames). Mined
#: formulas are a few levels deep, Alpha158's at most 8.
MAX_DEPTH = 100


def _too_deep(position: int | None = None) -> FormulaError:
    where = f"position {position}: " if position is not None else ""
    return FormulaError(f"{where}the formula is nested more than {MAX_DEPTH} levels deep, "
                        "the limit", code="formula_too_deep",
                        params={"limit": MAX_DEPTH, "position": position or 0})


def check_depth(expr: Node) -> None:
    """FormulaError when ``expr`` is nested deeper than :data:`MAX_DEPTH` (measured without
    recursion, so a tree built by an infix chain such as ``a+a+a+…`` is refused too)."""
    stack: list[tuple[Node, int]] = [(expr, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise _too_deep()
        if isinstance(node, Call):
            stack.extend((arg, depth + 1) for arg in node.args)


@dataclass(frozen=True)
class _Tok:
    kind: str  # a group name of the pattern | bad | end
    text: str
    pos: int  # 1-based character position


def scan(pattern: re.Pattern[str], text: str) -> list[_Tok]:
    """Tokens of ``text`` by the named groups of ``pattern`` (a ``ws`` group is skipped); a
    character no token starts with becomes a ``bad`` token, and an ``end`` token closes the
    list. Both readers (this function form and :mod:`engine.expr.qlib`) scan with it.

    Formulas are plain ASCII: a look-alike letter (Cyrillic ``с`` in ``$сlose``) or an invisible
    character (a zero-width space, a NUL) pasted from elsewhere is named by its position and
    code point, since the reader cannot see what is wrong."""
    _check_ascii(text)
    toks: list[_Tok] = []
    i = nesting = 0
    while i < len(text):
        m = pattern.match(text, i)
        if m is None:
            toks.append(_Tok("bad", text[i], i + 1))
            i += 1
            continue
        if m.lastgroup != "ws":
            toks.append(_Tok(m.lastgroup or "", m.group(), i + 1))
            nesting += (m.group() == "(") - (m.group() == ")")
            if nesting > MAX_DEPTH:  # refused before a reader recurses into it
                raise _too_deep(i + 1)
        i = m.end()
    toks.append(_Tok("end", "", len(text) + 1))
    return toks


def _check_ascii(text: str) -> None:
    for i, ch in enumerate(text):
        if " " <= ch <= "~" or ch in "\t\n\r":
            continue
        point = f"U+{ord(ch):04X}"
        name = unicodedata.name(ch, "a control character")
        raise FormulaError(
            f"position {i + 1}: character {point} ({name}) is not allowed in a formula; "
            "formulas are plain ASCII (a look-alike letter or an invisible character pasted "
            "from elsewhere?)", code="formula_not_ascii",
            params={"position": i + 1, "point": point, "name": name})


def _tokenize(text: str) -> list[_Tok]:
    toks = scan(_TOKEN_RE, text)
    bad = next((tok for tok in toks if tok.kind == "bad"), None)
    if bad is not None:
        infix = bad.text in "+-*/^"
        hint = (" (infix operators are not supported: write Add(x, y), Sub, Mul, Div, Pow)"
                if infix else "")
        raise FormulaError(f"position {bad.pos}: unexpected character '{bad.text}'{hint}",
                           code="formula_infix" if infix else "formula_bad_char",
                           params={"position": bad.pos, "token": bad.text})
    return toks


class _Parser:
    def __init__(self, text: str, features: Sequence[str] | None,
                 ops: tuple[Operator, ...] | None, preset_name: str,
                 windows: Sequence[int] | None, max_window: int) -> None:
        self.toks = _tokenize(text)
        self.i = 0
        self.features = features
        self.ops = ops
        self.preset_name = preset_name
        self.windows = windows
        self.max_window = max_window

    def peek(self) -> _Tok:
        return self.toks[self.i]

    def take(self) -> _Tok:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def fail(self, tok: _Tok, problem: Problem) -> FormulaError:
        """The error at ``tok``: its position and text join the problem's params."""
        return FormulaError(f"position {tok.pos}: {problem.message}", code=problem.code,
                            params={"position": tok.pos, "token": tok.text, **problem.params})

    def describe(self, tok: _Tok) -> str:
        return "the end of the formula" if tok.kind == "end" else f"'{tok.text}'"

    @staticmethod
    def got(tok: _Tok) -> str | dict[str, str]:
        """What was found, as a param: the token text or the term "the end of the formula"."""
        return {"term": "end_of_formula"} if tok.kind == "end" else f"'{tok.text}'"

    def expect(self, text: str, after: _Tok) -> _Tok:
        tok = self.take()
        if tok.text != text or tok.kind != "punct":
            raise self.fail(tok, Problem(
                "formula_expected_paren",
                f"expected '{text}' after '{after.text}', got {self.describe(tok)}",
                {"expected": text, "after": after.text, "got": self.got(tok)}))
        return tok

    def parse(self) -> Expr:
        if self.peek().kind == "end":
            raise FormulaError("the formula is empty", code="formula_empty")
        expr = self.expr()
        tok = self.peek()
        if tok.kind != "end":
            raise self.fail(tok, Problem(
                "formula_trailing",
                f"unexpected {self.describe(tok)} after the end of the formula", {}))
        if not is_featured(expr):
            raise FormulaError(
                f"the formula '{to_text(expr)}' does not depend on any feature; "
                "use at least one $feature", code="formula_no_feature",
                params={"formula": to_text(expr)},
            )
        return expr

    def expr(self) -> Expr:
        tok = self.take()
        if tok.kind == "feature":
            return self.feature(tok)
        if tok.kind == "number":
            value = float(tok.text)
            if not math.isfinite(value):
                raise self.fail(tok, Problem("formula_number_range",
                                              f"number '{tok.text}' is out of range", {}))
            return Constant(value + 0.0)
        if tok.kind == "name":
            return self.call(tok)
        raise self.fail(tok, Problem(
            "formula_expected_operand",
            f"expected a $feature, a number or an operator, got {self.describe(tok)}",
            {"got": self.got(tok)}))

    def feature(self, tok: _Tok) -> Feature:
        name = tok.text[1:].lower()
        if self.features is not None and name not in self.features:
            raise self.fail(tok, feature_problem(name, self.features))
        return Feature(name)

    def resolve(self, tok: _Tok) -> Operator:
        op = O.lookup(tok.text)
        if op is None:
            word = tok.text.lower()
            bare = self.peek().text != "("
            if bare and (self.features is None or word in self.features):
                raise self.fail(tok, Problem(
                    "formula_missing_dollar",
                    f"'{tok.text}' is not a formula; features start with '$' "
                    f"(did you mean '${word}'?)", {"feature": f"${word}"}))
            known = self.ops if self.ops is not None else tuple(O.REGISTRY.values())
            names = [o.name for o in known]
            close = _close(tok.text, [n for o in known for n in (o.name, *o.aliases)])
            if close:
                hint = " or ".join(f"'{c}'" for c in close)
                raise self.fail(tok, Problem(
                    "formula_unknown_op_hint", f"unknown operator '{tok.text}' (did you mean "
                    f"{hint}?)", {"hint": " / ".join(close)}))
            raise self.fail(tok, Problem(
                "formula_unknown_op",
                f"unknown operator '{tok.text}'; known operators: {', '.join(names)}",
                {"known": names}))
        if self.ops is not None and op not in self.ops:
            raise self.fail(tok, Problem(
                "formula_op_not_in_preset",
                f"operator '{op.name}' is not part of the '{self.preset_name}' preset",
                {"op": op.name, "preset": self.preset_name}))
        return op

    def call(self, name_tok: _Tok) -> Call:
        op = self.resolve(name_tok)
        self.expect("(", name_tok)
        args: list[tuple[Node, _Tok]] = []
        if self.peek().text == ")":
            self.take()
        else:
            while True:
                start = self.peek()
                args.append((self.expr(), start))
                sep = self.take()
                if sep.kind == "punct" and sep.text == ")":
                    break
                if not (sep.kind == "punct" and sep.text == ","):
                    raise self.fail(sep, Problem(
                        "formula_expected_separator",
                        f"expected ',' or ')' in {op.name}(…), got {self.describe(sep)}",
                        {"op": op.name, "got": self.got(sep)}))
        if len(args) != op.arity:
            raise self.fail(name_tok, Problem(
                "formula_arity", f"{op.name} expects {op.arity} argument"
                f"{'s' if op.arity != 1 else ''}, got {len(args)} (usage: {op.signature})",
                {"op": op.name, "arity": op.arity, "count": len(args),
                 "usage": op.signature}))
        nodes: list[Node] = [node for node, _ in args[: op.n_series]]
        for node, tok in args[op.n_series: op.n_series + op.n_params]:
            problem = param_problem(op, node)
            if problem is not None:
                raise self.fail(tok, problem)
            nodes.append(node)
        if op.takes_window:
            nodes.append(self.window(op, nodes[: op.n_series], *args[-1]))
        rule = featured_problem(op, nodes[: op.n_series])
        if rule is not None:
            raise self.fail(name_tok, rule)
        return Call(op.name, tuple(nodes))

    def window(self, op: Operator, series: list[Node], node: Node, tok: _Tok) -> Window:
        got = to_text(node) if not (isinstance(node, Constant) and tok.kind == "number") else (
            None if float(node.value).is_integer() else tok.text)
        if got is not None:
            raise self.fail(tok, Problem(
                "formula_window_not_whole",
                f"the window of {op.name} must be a whole number of days, got '{got}'",
                {"op": op.name, "got": got}))
        value = int(node.value)
        problem = window_problem(op, series, value, self.windows, self.max_window)
        if problem is not None:
            raise self.fail(tok, problem)
        return Window(value)


def parse(
    text: str,
    *,
    features: Sequence[str] | None = BASE_FEATURES,
    preset: str | Sequence[Operator] | None = O.DEFAULT_PRESET,
    windows: Sequence[int] | None = None,
    max_window: int = MAX_TEXT_WINDOW,
) -> Expr:
    """Parse formula text into a tree; FormulaError (with position) on any problem.

    features:   allowed feature names (lower case, no ``$``); None accepts any name.
    preset:     allowed operators (preset name or operators); None accepts the whole registry.
    windows:    allowed window values; None accepts any whole number in ``1..max_window``.
    """
    feats = None if features is None else tuple(f.lstrip("$").lower() for f in features)
    ops = None if preset is None else O.preset_ops(preset)
    name = preset if isinstance(preset, str) else "given"
    normalised = text.replace("\u2212", "-")  # a typographic minus copied from docs
    try:
        tree = _Parser(normalised, feats, ops, name, windows, max_window).parse()
    except RecursionError:
        raise _too_deep() from None
    check_depth(tree)
    return tree


def validate(
    expr: Node,
    *,
    features: Sequence[str] | None = BASE_FEATURES,
    preset: str | Sequence[Operator] | None = None,
    windows: Sequence[int] | None = None,
    max_window: int = MAX_TEXT_WINDOW,
) -> Expr:
    """Check a tree built in code by the same rules as text; returns its canonical form.

    Implemented as a parse of the printed text, so both paths can never disagree.
    """
    if isinstance(expr, Window):
        raise FormulaError(f"a bare window ({expr.value}) is not a formula",
                           code="formula_bare_window", params={"window": expr.value})
    check_depth(expr)  # before printing it (the printer recurses)
    return parse(to_text(expr), features=features, preset=preset, windows=windows,
                 max_window=max_window)


def parse_for(text: str, vocab: Vocabulary, *, strict_windows: bool = False) -> Expr:
    """Parse with a vocabulary's features and operators (its windows too if ``strict_windows``)."""
    return parse(text, features=vocab.features, preset=vocab.ops,
                 windows=vocab.windows if strict_windows else None)


# --------------------------------------------------------------------------- RPN


def to_rpn(expr: Node) -> list[Token]:
    """Post-order tokens, e.g. ``ts_mean($close, 20)`` -> ``$close 20 ts_mean``."""
    out: list[Token] = []

    def walk(node: Node) -> None:
        if isinstance(node, Feature):
            out.append(Token("feature", node.name))
        elif isinstance(node, Constant):
            out.append(Token("constant", float(node.value)))
        elif isinstance(node, Window):
            out.append(Token("window", int(node.value)))
        else:
            for arg in node.args:
                walk(arg)
            out.append(Token("op", node.op))

    walk(expr)
    return out


def from_rpn(tokens: Sequence[Token]) -> Expr:
    """Build the tree from post-order tokens (stops at SEP); FormulaError if malformed."""
    stack: list[Node] = []
    for pos, tok in enumerate(tokens, start=1):
        if tok.kind == "sep":
            break
        if tok.kind == "feature":
            stack.append(Feature(str(tok.value)))
        elif tok.kind == "constant":
            stack.append(Constant(float(tok.value) + 0.0))
        elif tok.kind == "window":
            stack.append(Window(int(tok.value)))
        else:
            op = O.lookup(str(tok.value))
            if op is None:
                raise FormulaError(f"token {pos}: unknown operator '{tok.value}'")
            if len(stack) < op.arity:
                raise FormulaError(f"token {pos} '{op.name}' needs {op.arity} operands, "
                                   f"the stack holds {len(stack)}")
            args = stack[len(stack) - op.arity:]
            del stack[len(stack) - op.arity:]
            series, tail = args[: op.n_series], args[op.n_series:]
            if any(isinstance(a, Window) for a in series + tail[: op.n_params]):
                raise FormulaError(f"token {pos} '{op.name}': a window cannot be an operand")
            if op.takes_window and not isinstance(tail[-1], Window):
                raise FormulaError(f"token {pos} '{op.name}' needs a window on top of the stack")
            for param in tail[: op.n_params]:
                problem = param_problem(op, param)
                if problem is not None:
                    raise FormulaError(f"token {pos}: {problem.message}")
            rule = featured_problem(op, series)
            if rule is not None:
                raise FormulaError(f"token {pos}: {rule.message}")
            stack.append(Call(op.name, tuple(args)))
    if len(stack) != 1 or isinstance(stack[0], Window):
        raise FormulaError(f"incomplete formula: the token sequence leaves {len(stack)} "
                           "elements instead of one expression")
    expr = stack[0]
    if not is_featured(expr):
        raise FormulaError(f"the formula '{to_text(expr)}' does not depend on any feature")
    return expr


def encode(expr: Node, vocab: Vocabulary, *, sep: bool = False) -> list[int]:
    """Action indices of the formula's RPN in ``vocab`` (plus SEP if asked)."""
    out = []
    for tok in to_rpn(expr):
        if tok not in vocab:
            raise FormulaError(f"'{tok.text}' ({tok.kind}) is not a token of this vocabulary, "
                               f"so '{to_text(expr)}' cannot be encoded")
        out.append(vocab.index(tok))
    return [*out, vocab.sep_index] if sep else out


def decode(actions: Iterable[int], vocab: Vocabulary) -> Expr:
    """Tree of an action-index sequence (read up to the first SEP)."""
    return from_rpn([vocab.token(int(a)) for a in actions])
