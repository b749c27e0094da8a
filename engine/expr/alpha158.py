"""Alpha158: Qlib's 158 hand-crafted price-volume factors, as Qlib writes them.

The expressions are those of ``Alpha158DL.get_feature_config()`` in microsoft/qlib
(``qlib/contrib/data/loader.py``) with its default configuration: the 9 k-bar factors, the
prices OPEN0 HIGH0 LOW0 VWAP0, and 29 rolling families over windows 5, 10, 20, 30 and 60 —
kept as Qlib text (name -> expression, in Qlib's order) and read through
:func:`engine.expr.qlib.parse_qlib`, so the set is Qlib's word for word and every factor is an
ordinary formula of this language (scored, combined and reported like mined ones).

Values equal Qlib's from the day each factor's windows are complete (60 days for the longest,
61 with the ``Ref($close, 1)`` inside CORD/CNTP/SUMP...); before that ours are NaN where Qlib's
``min_periods=1`` gives partial-window values (see docs/formula-language.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType

from engine.data.schema import BASE_FEATURES
from engine.expr.parse import Expr
from engine.expr.qlib import parse_qlib

#: Rolling windows of the default configuration (days).
WINDOWS: tuple[int, ...] = (5, 10, 20, 30, 60)

_KBAR: tuple[tuple[str, str], ...] = (
    ("KMID", "($close-$open)/$open"),
    ("KLEN", "($high-$low)/$open"),
    ("KMID2", "($close-$open)/($high-$low+1e-12)"),
    ("KUP", "($high-Greater($open, $close))/$open"),
    ("KUP2", "($high-Greater($open, $close))/($high-$low+1e-12)"),
    ("KLOW", "(Less($open, $close)-$low)/$open"),
    ("KLOW2", "(Less($open, $close)-$low)/($high-$low+1e-12)"),
    ("KSFT", "(2*$close-$high-$low)/$open"),
    ("KSFT2", "(2*$close-$high-$low)/($high-$low+1e-12)"),
)
_PRICE: tuple[tuple[str, str], ...] = tuple(
    (f"{field.upper()}0", f"${field}/$close") for field in ("open", "high", "low", "vwap")
)
#: Rolling families: name prefix -> template, ``{d}`` the window (Qlib's order).
_ROLLING: tuple[tuple[str, str], ...] = (
    ("ROC", "Ref($close, {d})/$close"),
    ("MA", "Mean($close, {d})/$close"),
    ("STD", "Std($close, {d})/$close"),
    ("BETA", "Slope($close, {d})/$close"),
    ("RSQR", "Rsquare($close, {d})"),
    ("RESI", "Resi($close, {d})/$close"),
    ("MAX", "Max($high, {d})/$close"),
    ("MIN", "Min($low, {d})/$close"),
    ("QTLU", "Quantile($close, {d}, 0.8)/$close"),
    ("QTLD", "Quantile($close, {d}, 0.2)/$close"),
    ("RANK", "Rank($close, {d})"),
    ("RSV", "($close-Min($low, {d}))/(Max($high, {d})-Min($low, {d})+1e-12)"),
    ("IMAX", "IdxMax($high, {d})/{d}"),
    ("IMIN", "IdxMin($low, {d})/{d}"),
    ("IMXD", "(IdxMax($high, {d})-IdxMin($low, {d}))/{d}"),
    ("CORR", "Corr($close, Log($volume+1), {d})"),
    ("CORD", "Corr($close/Ref($close,1), Log($volume/Ref($volume, 1)+1), {d})"),
    ("CNTP", "Mean($close>Ref($close, 1), {d})"),
    ("CNTN", "Mean($close<Ref($close, 1), {d})"),
    ("CNTD", "Mean($close>Ref($close, 1), {d})-Mean($close<Ref($close, 1), {d})"),
    ("SUMP", "Sum(Greater($close-Ref($close, 1), 0), {d})/(Sum(Abs($close-Ref($close, 1)), {d})"
             "+1e-12)"),
    ("SUMN", "Sum(Greater(Ref($close, 1)-$close, 0), {d})/(Sum(Abs($close-Ref($close, 1)), {d})"
             "+1e-12)"),
    ("SUMD", "(Sum(Greater($close-Ref($close, 1), 0), {d})-Sum(Greater(Ref($close, 1)-$close, 0),"
             " {d}))/(Sum(Abs($close-Ref($close, 1)), {d})+1e-12)"),
    ("VMA", "Mean($volume, {d})/($volume+1e-12)"),
    ("VSTD", "Std($volume, {d})/($volume+1e-12)"),
    ("WVMA", "Std(Abs($close/Ref($close, 1)-1)*$volume, {d})/(Mean(Abs($close/Ref($close, 1)-1)"
             "*$volume, {d})+1e-12)"),
    ("VSUMP", "Sum(Greater($volume-Ref($volume, 1), 0), {d})/(Sum(Abs($volume-Ref($volume, 1)),"
              " {d})+1e-12)"),
    ("VSUMN", "Sum(Greater(Ref($volume, 1)-$volume, 0), {d})/(Sum(Abs($volume-Ref($volume, 1)),"
              " {d})+1e-12)"),
    ("VSUMD", "(Sum(Greater($volume-Ref($volume, 1), 0), {d})-Sum(Greater(Ref($volume, 1)"
              "-$volume, 0), {d}))/(Sum(Abs($volume-Ref($volume, 1)), {d})+1e-12)"),
)

#: Factor name ("KMID", "ROC5", ...) -> Qlib expression, in Qlib's order (158 entries).
ALPHA158: Mapping[str, str] = MappingProxyType({
    **dict(_KBAR),
    **dict(_PRICE),
    **{f"{prefix}{d}": template.format(d=d) for prefix, template in _ROLLING for d in WINDOWS},
})

def alpha158_exprs(features: Sequence[str] = BASE_FEATURES) -> dict[str, Expr]:
    """The 158 factors parsed for a dataset's features (all need only the base six)."""
    return {name: parse_qlib(text, features=features) for name, text in ALPHA158.items()}
