"""The operator registry: the one place every operator of the formula language lives.

Parser, printer, grammar masks, evaluator and the user reference (docs/formula-language.md)
all read this registry, so a new operator is one :class:`Operator` entry (plus its kernel in
``kernels.py``) and, if it should be minable, one name in a preset.

Presets (ALPHAFORGE_SPEC §2.1):
- ``alphaforge``: exactly the paper's 23 operators, in the reference's action order.
- ``default`` [ours]: the same 23 first (so their action indices match), then ``cs_rank``,
  ``cs_zscore``, ``Abs``, ``Sign``, ``Log``, ``Greater``, ``Less``.

The operators after those (comparisons, rank / quantile / trend / arg-max windows, Qlib's
correlation; kernels in ``window_stats.py``) are in no preset: they exist so that Qlib
expressions and Alpha158 (``qlib.py``, ``alpha158.py``) can be written in the language, and
the miner's vocabulary stays the paper's.

A :class:`Vocabulary` is the action space of the miner: ``ops + features + windows + constants
+ [SEP]`` (51 actions for the paper preset on the six base features).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

import torch

from engine.data.schema import BASE_FEATURES
from engine.errors import ConfigError
from engine.expr import kernels as K
from engine.expr import window_stats as W

OpKind = Literal["unary", "binary", "rolling", "rolling_param", "pair_rolling", "cs"]
TokenKind = Literal["op", "feature", "window", "constant", "sep"]

#: Per kind: expression arguments, constant parameters (written between them and the window)
#: and whether a window follows. ``rolling_param`` (``ts_quantile(x, q, w)``) is a kind of its
#: own, not a rolling operator with an extra field, so that nothing that dispatches on the
#: kind (grammar masks, the miner, tests) can take it for a two-argument rolling operator.
_SHAPE: dict[str, tuple[int, int, bool]] = {
    "unary": (1, 0, False),
    "cs": (1, 0, False),
    "binary": (2, 0, False),
    "rolling": (1, 0, True),
    "rolling_param": (1, 1, True),
    "pair_rolling": (2, 0, True),
}


_NAN = float("nan")


def _shares_memory(out: torch.Tensor, arg: object) -> bool:
    """True when a kernel handed back (a view of) one of its inputs: never clean in place."""
    return (isinstance(arg, torch.Tensor)
            and out.untyped_storage().data_ptr() == arg.untyped_storage().data_ptr())


@dataclass(frozen=True)
class Param:
    """A constant parameter of an operator (the ``q`` of ``ts_quantile``): a plain number in
    ``[low, high]``, written in the text between the series and the window. It is part of the
    formula, not data: the parser checks its range and the evaluator passes it to the kernel
    as a Python float."""

    name: str
    low: float
    high: float


@dataclass(frozen=True)
class Operator:
    """One operator of the formula language.

    ``fn`` works on ``[T, N]`` tensors (0-dim tensors for constants); a parameter (a float)
    follows the series, and rolling kinds take the window (an ``int`` number of days) as their
    last argument. Use :meth:`apply`, which also enforces the evaluator's output contract.
    """

    name: str
    kind: OpKind
    fn: Callable[..., torch.Tensor] = field(repr=False)
    summary: str
    aliases: tuple[str, ...] = ()
    param: Param | None = None

    def __post_init__(self) -> None:
        if (self.param is not None) != bool(_SHAPE[self.kind][1]):
            raise AssertionError(f"{self.name}: a {self.kind} operator "
                                 f"{'needs' if _SHAPE[self.kind][1] else 'takes no'} param")

    @property
    def n_series(self) -> int:
        """How many expression arguments the operator takes (parameters, windows excluded)."""
        return _SHAPE[self.kind][0]

    @property
    def n_params(self) -> int:
        """How many constant parameters follow the series (0 or 1)."""
        return _SHAPE[self.kind][1]

    @property
    def takes_window(self) -> bool:
        return _SHAPE[self.kind][2]

    @property
    def arity(self) -> int:
        """Total number of arguments in the text form (parameters and windows included)."""
        return self.n_series + self.n_params + int(self.takes_window)

    @property
    def signature(self) -> str:
        """``ts_corr(x, y, w)`` style signature used in messages and docs."""
        args = (["x", "y"][: self.n_series] + ([self.param.name] if self.param else [])
                + (["w"] if self.takes_window else []))
        return f"{self.name}({', '.join(args)})"

    def apply(self, *args: torch.Tensor | int | float) -> torch.Tensor:
        """Run the kernel; the result is ``[T, N]`` float32 with ±inf mapped to NaN.

        The inf -> NaN rule after every operator ([ours], spec §2.2) keeps infinities from
        propagating into window means and from reaching the scorer.
        """
        out = self.fn(*args)
        if out.dtype != torch.float32:
            out = out.to(torch.float32)  # a fresh tensor: cleaned in place below
        elif any(_shares_memory(out, a) for a in args):
            return torch.nan_to_num(out, nan=_NAN, posinf=_NAN, neginf=_NAN)
        # One float pass, in place on the kernel's own buffer (an isinf mask + masked_fill
        # costs ~10x more on CPU).
        return out.nan_to_num_(nan=_NAN, posinf=_NAN, neginf=_NAN)


def _op(name: str, kind: OpKind, fn: Callable[..., torch.Tensor], summary: str,
        *aliases: str, param: Param | None = None) -> Operator:
    return Operator(name=name, kind=kind, fn=fn, summary=summary, aliases=aliases, param=param)


_ALL: tuple[Operator, ...] = (
    # unary
    _op("Inv", "unary", K.inv, "1 / x; NaN where |x| < 1e-12", "Reciprocal"),
    _op("S_log1p", "unary", K.slog1p, "sign(x) · log(1 + |x|)", "Log1p", "SLog1p"),
    # binary
    _op("Add", "binary", K.add, "x + y"),
    _op("Sub", "binary", K.sub, "x − y"),
    _op("Mul", "binary", K.mul, "x · y"),
    _op("Div", "binary", K.safe_div, "x / y; NaN where |y| < 1e-12", "Divide"),
    _op("Pow", "binary", K.power, "x ** y (IEEE; negative base with fractional power is NaN)",
        "Power"),
    # rolling
    _op("Ref", "rolling", K.ref, "x[t − w]: the value w days ago", "Delay", "Shift"),
    _op("ts_mean", "rolling", K.ts_mean, "mean over the last w days", "Mean", "MA"),
    _op("ts_sum", "rolling", K.ts_sum, "sum over the last w days", "Sum"),
    _op("ts_std", "rolling", K.ts_std, "sample standard deviation (ddof 1; w = 1 gives NaN)",
        "Std", "Stddev"),
    _op("ts_var", "rolling", K.ts_var, "sample variance (ddof 1; w = 1 gives NaN)", "Var"),
    _op("ts_max", "rolling", K.ts_max, "maximum over the last w days", "Max"),
    _op("ts_min", "rolling", K.ts_min, "minimum over the last w days", "Min"),
    _op("ts_med", "rolling", K.ts_med, "median (lower middle value for even w)", "Med",
        "Median"),
    _op("ts_mad", "rolling", K.ts_mad, "mean absolute deviation from the window mean", "Mad"),
    _op("ts_div", "rolling", K.ts_div, "x[t] / x[t − w]", "Ratio"),
    _op("ts_pctchange", "rolling", K.ts_pctchange, "x[t] / x[t − w] − 1", "PctChange",
        "Pct_Change", "ROC"),
    _op("ts_delta", "rolling", K.ts_delta, "x[t] − x[t − w]", "Delta"),
    _op("ts_wma", "rolling", K.ts_wma,
        "weighted mean, weights 0, 1, …, w − 1 oldest to newest (w = 1 gives NaN)", "WMA"),
    _op("ts_ema", "rolling", K.ts_ema,
        "exponential mean, weights a^w … a^1 oldest to newest, a = 1 − 2/(w + 1) "
        "(w = 1 gives NaN)", "EMA"),
    # pair rolling
    _op("ts_cov", "pair_rolling", K.ts_cov, "sample covariance of x and y (ddof 1)", "Cov",
        "Covariance"),
    _op("ts_corr", "pair_rolling", K.ts_corr,
        "Pearson correlation; 0 when either series is flat (centred Σ squares < 1e-6)",
        "Corr", "Correlation"),
    # [ours] default-preset extras
    _op("cs_rank", "cs", K.cs_rank, "per-day percentile rank across stocks, ties averaged",
        "Rank"),
    _op("cs_zscore", "cs", K.cs_zscore, "per-day z-score across stocks (population std)",
        "Zscore"),
    _op("Abs", "unary", K.absolute, "|x|"),
    _op("Sign", "unary", K.sign, "−1, 0 or 1"),
    _op("Log", "unary", K.log, "natural log; NaN where x <= 0"),
    _op("Greater", "binary", K.greater, "element-wise max(x, y)"),
    _op("Less", "binary", K.less, "element-wise min(x, y)"),
    # [ours] in no preset: comparisons and the window statistics of Qlib / Alpha158
    _op("Gt", "binary", K.gt, "1 where x > y, else 0; NaN where either is NaN"),
    _op("Ge", "binary", K.ge, "1 where x ≥ y, else 0; NaN where either is NaN"),
    _op("Lt", "binary", K.lt, "1 where x < y, else 0; NaN where either is NaN"),
    _op("Le", "binary", K.le, "1 where x ≤ y, else 0; NaN where either is NaN"),
    _op("Eq", "binary", K.eq, "1 where x = y, else 0; NaN where either is NaN"),
    _op("Ne", "binary", K.ne, "1 where x ≠ y, else 0; NaN where either is NaN"),
    _op("ts_rank", "rolling", W.ts_rank,
        "percentile rank of today's value among the last w days, ties averaged: (0, 1]"),
    _op("ts_quantile", "rolling_param", W.ts_quantile,
        "q-quantile of the last w days, linear between order statistics (q in [0, 1])",
        param=Param("q", 0.0, 1.0)),
    _op("ts_argmax", "rolling", W.ts_argmax,
        "day of the window's maximum: 1 = oldest … w = today (first on ties)", "IdxMax"),
    _op("ts_argmin", "rolling", W.ts_argmin,
        "day of the window's minimum: 1 = oldest … w = today (first on ties)", "IdxMin"),
    _op("ts_slope", "rolling", W.ts_slope,
        "least-squares slope of x on the day number over the window (w = 1 gives NaN)",
        "Slope"),
    _op("ts_rsquare", "rolling", W.ts_rsquare,
        "R² of that least-squares line; NaN where the window's std ≤ 2e-5 (w = 1 gives NaN)",
        "Rsquare"),
    _op("ts_resi", "rolling", W.ts_resi,
        "today's residual from that least-squares line (w = 1 gives NaN)", "Resi"),
    _op("ts_corr_nan", "pair_rolling", W.ts_corr_nan,
        "Pearson correlation; NaN where either window's std ≤ 2e-5 (Qlib's Corr)"),
)

#: Canonical name -> operator, in registry order.
REGISTRY: Mapping[str, Operator] = MappingProxyType({op.name: op for op in _ALL})

_PAPER = (
    "Inv", "S_log1p", "Add", "Sub", "Mul", "Div", "Pow", "Ref", "ts_mean", "ts_sum", "ts_std",
    "ts_var", "ts_max", "ts_min", "ts_med", "ts_mad", "ts_div", "ts_pctchange", "ts_delta",
    "ts_wma", "ts_ema", "ts_cov", "ts_corr",
)
#: Preset name -> operator names in action order.
PRESETS: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "alphaforge": _PAPER,
    "default": (*_PAPER, "cs_rank", "cs_zscore", "Abs", "Sign", "Log", "Greater", "Less"),
})
DEFAULT_PRESET = "default"

#: Delta-time tokens of the paper (days).
DEFAULT_WINDOWS: tuple[int, ...] = (1, 5, 10, 20, 30, 40, 50)
#: Constant tokens of the paper.
DEFAULT_CONSTANTS: tuple[float, ...] = (
    -30.0, -10.0, -5.0, -2.0, -1.0, -0.5, -0.01, 0.01, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0,
)


def _build_lookup() -> dict[str, Operator]:
    table: dict[str, Operator] = {}
    for op in _ALL:
        for key in (op.name, *op.aliases):
            low = key.lower()
            if low in table:
                raise AssertionError(f"operator name clash: {key!r}")  # registry bug
            table[low] = op
    return table


_LOOKUP = _build_lookup()


def lookup(name: str) -> Operator | None:
    """Operator by name or alias, case-insensitively; None if unknown."""
    return _LOOKUP.get(name.lower())


def preset_ops(preset: str | Sequence[Operator] = DEFAULT_PRESET) -> tuple[Operator, ...]:
    """The operators of a named preset (or a given sequence, returned as a tuple)."""
    if not isinstance(preset, str):
        return tuple(preset)
    if preset not in PRESETS:
        raise ConfigError(
            f"unknown operator preset '{preset}'; available: {', '.join(PRESETS)}"
        )
    return tuple(REGISTRY[name] for name in PRESETS[preset])


# --------------------------------------------------------------------------- tokens


def format_number(value: float) -> str:
    """Shortest text that reads back as exactly ``value`` (``5``, ``-0.5``, ``1e-05``)."""
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


@dataclass(frozen=True)
class Token:
    """One action of the miner: an operator, a feature, a window, a constant or SEP."""

    kind: TokenKind
    value: str | int | float

    @property
    def text(self) -> str:
        if self.kind == "feature":
            return f"${self.value}"
        if self.kind == "constant":
            return format_number(float(self.value))
        return str(self.value)


SEP = Token("sep", "SEP")


@dataclass(frozen=True)
class Vocabulary:
    """The token set of a preset on a dataset: ``ops + features + windows + constants + SEP``.

    ``features`` are lower-case names without ``$``; a dataset's extra numeric columns become
    extra ``$name`` tokens after the base six.
    """

    ops: tuple[Operator, ...]
    features: tuple[str, ...] = BASE_FEATURES
    windows: tuple[int, ...] = DEFAULT_WINDOWS
    constants: tuple[float, ...] = DEFAULT_CONSTANTS
    preset: str = "custom"
    tokens: tuple[Token, ...] = field(init=False, repr=False)
    _index: dict[Token, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        feats = tuple(f.lstrip("$").lower() for f in self.features)
        object.__setattr__(self, "features", feats)
        object.__setattr__(self, "windows", tuple(int(w) for w in self.windows))
        object.__setattr__(self, "constants", tuple(float(c) + 0.0 for c in self.constants))
        self._validate()
        tokens = (
            *(Token("op", op.name) for op in self.ops),
            *(Token("feature", f) for f in self.features),
            *(Token("window", w) for w in self.windows),
            *(Token("constant", c) for c in self.constants),
            SEP,
        )
        object.__setattr__(self, "tokens", tokens)
        object.__setattr__(self, "_index", {tok: i for i, tok in enumerate(tokens)})

    def _validate(self) -> None:
        def dupes(items: Sequence[object]) -> list[str]:
            return sorted({str(x) for x in items if list(items).count(x) > 1})

        for what, items in (("operator", [op.name for op in self.ops]),
                            ("feature", self.features), ("window", self.windows),
                            ("constant", self.constants)):
            if dupes(items):
                raise ConfigError(f"duplicate {what} tokens in vocabulary: {dupes(items)}")
        if not self.features:
            raise ConfigError("a vocabulary needs at least one feature")
        bad = [f for f in self.features if not f.isidentifier()]
        if bad:
            raise ConfigError(f"feature names must be identifiers, got {bad}")
        if any(w < 1 for w in self.windows):
            raise ConfigError(f"windows must be positive days, got {list(self.windows)}")
        with_param = [op.name for op in self.ops if op.n_params]
        if with_param:
            raise ConfigError(f"operators with a constant parameter cannot be mined (the "
                              f"vocabulary has no parameter tokens): {', '.join(with_param)}")
        kinds = {op.kind for op in self.ops}
        if "binary" not in kinds:
            raise ConfigError("a vocabulary needs at least one binary operator")
        if self.windows and "rolling" not in kinds:
            raise ConfigError("window tokens need at least one rolling operator")
        if not self.windows and kinds & {"rolling", "pair_rolling"}:
            raise ConfigError("rolling operators need at least one window token")

    @classmethod
    def from_preset(
        cls,
        preset: str = "alphaforge",
        features: Sequence[str] = BASE_FEATURES,
        windows: Sequence[int] = DEFAULT_WINDOWS,
        constants: Sequence[float] = DEFAULT_CONSTANTS,
    ) -> Vocabulary:
        return cls(ops=preset_ops(preset), features=tuple(features), windows=tuple(windows),
                   constants=tuple(constants), preset=preset)

    def __len__(self) -> int:
        return len(self.tokens)

    @property
    def n_actions(self) -> int:
        return len(self.tokens)

    @property
    def sep_index(self) -> int:
        return len(self.tokens) - 1

    def index(self, token: Token) -> int:
        """Action index of a token; KeyError if the vocabulary lacks it."""
        return self._index[token]

    def __contains__(self, token: object) -> bool:
        return token in self._index

    def token(self, index: int) -> Token:
        return self.tokens[index]

    def operator(self, name: str) -> Operator | None:
        """The vocabulary's operator for a name or alias (None if not in this vocabulary)."""
        op = lookup(name)
        return op if op is not None and op in self.ops else None


# --------------------------------------------------------------------------- user reference

_KIND_TITLE = {"unary": "unary", "cs": "cross-sectional", "binary": "binary",
               "rolling": "rolling", "rolling_param": "rolling", "pair_rolling": "pair rolling"}


def reference_markdown() -> str:
    """The operator table of docs/formula-language.md, rendered from the registry.

    The docs test compares the file with this text, so the user reference cannot drift from
    the operators the engine actually has.
    """
    lines = [
        "| operator | kind | aliases | meaning | presets |",
        "|---|---|---|---|---|",
    ]
    for op in REGISTRY.values():
        aliases = ", ".join(f"`{a}`" for a in op.aliases) or "—"
        presets = ", ".join(p for p, names in PRESETS.items() if op.name in names) or "—"
        meaning = op.summary.replace("|", "\\|")
        lines.append(f"| `{op.signature}` | {_KIND_TITLE[op.kind]} | {aliases} | {meaning} "
                     f"| {presets} |")
    return "\n".join(lines)
