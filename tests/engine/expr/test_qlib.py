"""Qlib expressions in and out: precedence, the operator mapping, errors that name the token and
its position, exports that read back to the same tree, and the syntax detector."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import i18n
from engine.data.schema import BASE_FEATURES
from engine.errors import FormulaError
from engine.expr.evaluate import Evaluator
from engine.expr.parse import Call, Constant, Feature, Window, parse, to_text
from engine.expr.qlib import (
    EXPORT_REJECTED,
    NO_EQUIVALENT,
    OURS_TO_QLIB,
    QLIB_TO_OURS,
    UNSUPPORTED,
    looks_like_qlib,
    parse_qlib,
    to_qlib,
)

from .conftest import random_panel


@pytest.mark.parametrize(("qlib", "ours"), [
    ("$close-$open/$open", "Sub($close, Div($open, $open))"),
    ("($close-$open)/$open", "Div(Sub($close, $open), $open)"),
    ("$close-Ref($close, 1)-1", "Sub(Sub($close, Ref($close, 1)), 1)"),
    ("-$close**2", "Mul(-1, Pow($close, 2))"),  # ** binds tighter than unary minus
    ("$close**-1", "Pow($close, -1)"),
    ("2**3**2*$close", "Mul(512, $close)"),  # right-associative, constants folded
    ("- 5 * $close", "Mul(-5, $close)"),
    ("+$close", "$close"),
    ("-Mean($close, 5)", "Mul(-1, ts_mean($close, 5))"),
    ("1/$close", "Div(1, $close)"),
    ("$close>$open+1", "Gt($close, Add($open, 1))"),
    ("($close>$open)==($low<=$vwap)", "Eq(Gt($close, $open), Le($low, $vwap))"),
    ("$close!=$open", "Ne($close, $open)"),
    ("$close >= 1e-3", "Ge($close, 0.001)"),
    ("Mean($close>Ref($close, 1), 5)", "ts_mean(Gt($close, Ref($close, 1)), 5)"),
    ("Mean($close, 2*5)", "ts_mean($close, 10)"),
    ("Add($Close, 1)", "Add($close, 1)"),
    ("Power($close, 0.5)", "Pow($close, 0.5)"),
    ("Greater($open, $close)-Less($open, $close)", "Sub(Greater($open, $close), "
                                                   "Less($open, $close))"),
    ("Abs(Sign(Log($volume)))", "Abs(Sign(Log($volume)))"),
    ("Sum($close, 5)+Std($close, 5)+Var($close, 5)+Delta($close, 5)+Mad($close, 5)",
     "Add(Add(Add(Add(ts_sum($close, 5), ts_std($close, 5)), ts_var($close, 5)), "
     "ts_delta($close, 5)), ts_mad($close, 5))"),
    ("Max($high, 5)-Min($low, 5)+Med($close, 5)",
     "Add(Sub(ts_max($high, 5), ts_min($low, 5)), ts_med($close, 5))"),
    ("Quantile($close, 20, 0.8)", "ts_quantile($close, 0.8, 20)"),
    ("Rank($close, 20)", "ts_rank($close, 20)"),
    ("Slope($close, 5)*Rsquare($close, 5)-Resi($close, 5)",
     "Sub(Mul(ts_slope($close, 5), ts_rsquare($close, 5)), ts_resi($close, 5))"),
    ("IdxMax($high, 9)-IdxMin($low, 9)", "Sub(ts_argmax($high, 9), ts_argmin($low, 9))"),
    ("Corr($close, $volume, 10)", "ts_corr_nan($close, $volume, 10)"),
    ("Cov($close, $volume, 10)", "ts_cov($close, $volume, 10)"),
    ("\u2212$close", "Mul(-1, $close)"),  # a typographic minus
])
def test_qlib_text_becomes_our_tree(qlib: str, ours: str) -> None:
    assert to_text(parse_qlib(qlib)) == ours


def test_features_are_checked_against_the_dataset() -> None:
    assert parse_qlib("$amount/$volume", features=(*BASE_FEATURES, "amount")) == Call(
        "Div", (Feature("amount"), Feature("volume")))
    assert parse_qlib("$anything", features=None) == Feature("anything")


def _error(text: str) -> FormulaError:
    with pytest.raises(FormulaError) as info:
        parse_qlib(text)
    return info.value


@pytest.mark.parametrize(("text", "code", "position", "fragment"), [
    ("", "qlib_empty", None, "empty"),
    ("$close % 2", "qlib_bad_char", 8, "unexpected character '%'"),
    ("$close = 1", "qlib_bad_char", 8, "'='"),
    ("Meen($close, 5)", "qlib_unknown_op_hint", 1, "did you mean 'Mean'"),
    ("Foo($close)", "qlib_unknown_op", 1, "unknown Qlib operator 'Foo'"),
    ("ts_mean($close, 5)", "qlib_ours_not_qlib", 1, "AlphaForge's function form"),
    ("close/2", "formula_missing_dollar", 1, "did you mean '$close'"),
    ("Skew($close, 5)", "qlib_unsupported_op", 1, "Skew is not supported"),
    ("If($close>$open, 1, 0)", "qlib_unsupported_op", 1, "If is not supported"),
    ("($close>$open) & ($low<$vwap)", "qlib_unsupported_op", 16, "And is not supported"),
    ("$$roewa_q", "qlib_unsupported_op", 1, "PFeature"),
    ("EMA($close, 10)", "qlib_no_equivalent", 1, "EMA has no exact equivalent"),
    ("WMA($close, 10)", "qlib_no_equivalent", 1, "divides by w once more"),
    ("Med($close, 4)", "qlib_no_equivalent", 1, "averages the two middle values"),
    ("Mean($close, 0)", "qlib_window_expanding", 14, "expanding window"),
    ("Ref($close, -1)", "formula_reads_future", 13, "reads the future"),
    ("Mean($close, 2.5)", "formula_window_not_whole", 14, "window of Mean must be a whole"),
    ("Mean($close, $open)", "formula_window_not_whole", 14, "got '$open'"),
    ("Mean($close, 300)", "formula_window_too_long", 14, "exceeds the maximum of 250"),
    ("Quantile($close, 5, 1.5)", "formula_param_range", 21, "q of Quantile must be between"),
    ("$close < $open < $high", "qlib_chained_comparison", 16, "chained comparison"),
    ("Mean($close)", "qlib_arity", 1, "Mean expects 2 arguments, got 1 (usage: Mean(x, N))"),
    ("Mean($close, 5", "qlib_expected_separator", 15, "expected ',' or ')'"),
    ("($close", "qlib_expected", 8, "expected ')'"),
    ("$close $open", "qlib_trailing", 8, "unexpected '$open'"),
    ("$close +", "qlib_expected_operand", 9, "got the end of the formula"),
    ("Mean($clse, 5)", "formula_unknown_feature_hint", 6, "did you mean $close"),
    ("Greater(1, 2)", "formula_constants_only", 1, "combines constants only"),
    ("Mean(5, 10)", "formula_needs_feature", 1, "must depend on a feature"),
    ("1/0*$close", "qlib_constant_math", 2, "1 / 0 is not a finite real number"),
    ("(-8)**(1/3)*$close", "qlib_constant_math", 5, "not a finite real number"),
    ("3+4", "formula_no_feature", None, "does not depend on any feature"),
])
def test_bad_input_names_the_token_and_its_position(text: str, code: str, position: int | None,
                                                    fragment: str) -> None:
    exc = _error(text)
    assert exc.code == code and fragment in str(exc), str(exc)
    if position is not None:
        assert exc.params["position"] == position and str(exc).startswith(
            f"position {position}: ")
    for lang in i18n.LANGUAGES:  # the app shows the message in the user's language
        rendered = i18n.render("errors", code, exc.params, lang)
        assert rendered is not None and "{" not in rendered, (lang, rendered)


def test_every_qlib_operator_is_mapped_refused_or_unsupported() -> None:
    """qlib/data/ops.py OpsList (+ pit.py's P, PRef): each name has exactly one fate."""
    qlib_ops = {
        "ChangeInstrument", "Rolling", "Ref", "Max", "Min", "Sum", "Mean", "Std", "Var", "Skew",
        "Kurt", "Med", "Mad", "Slope", "Rsquare", "Resi", "Rank", "Quantile", "Count", "EMA",
        "WMA", "Corr", "Cov", "Delta", "Abs", "Sign", "Log", "Power", "Add", "Sub", "Mul", "Div",
        "Greater", "Less", "And", "Or", "Not", "Gt", "Ge", "Lt", "Le", "Eq", "Ne", "Mask",
        "IdxMax", "IdxMin", "If", "Feature", "PFeature", "TResample", "P", "PRef"}
    fates = [set(QLIB_TO_OURS), set(NO_EQUIVALENT), set(UNSUPPORTED)]
    assert set().union(*fates) == qlib_ops
    assert sum(len(f) for f in fates) == len(qlib_ops)


# --------------------------------------------------------------------------- export

#: Operators whose Qlib text reads back to the same tree.
_UNARY = ["Abs", "Sign", "Log"]
_BINARY = ["Add", "Sub", "Mul", "Div", "Pow", "Greater", "Less", "Gt", "Ge", "Lt", "Le", "Eq",
           "Ne"]
_ROLLING = ["Ref", "ts_mean", "ts_sum", "ts_std", "ts_var", "ts_max", "ts_min", "ts_mad",
            "ts_delta", "ts_rank", "ts_slope", "ts_rsquare", "ts_resi", "ts_argmax", "ts_argmin"]
_PAIR = ["ts_cov", "ts_corr_nan"]
_CONSTANT = st.one_of(st.sampled_from([-1.0, -0.5, 0.0, 1.0, 2.0, 1e-12]),
                      st.floats(-1e6, 1e6, allow_nan=False)).map(lambda v: Constant(v + 0.0))
_WINDOW = st.integers(1, 60)


def exportable() -> st.SearchStrategy:
    """Random trees of the operators Qlib shares (constants of any sign on either side)."""
    leaf = st.sampled_from(BASE_FEATURES).map(Feature)

    def extend(children: st.SearchStrategy) -> st.SearchStrategy:
        return st.one_of(
            st.builds(lambda n, a: Call(n, (a,)), st.sampled_from(_UNARY), children),
            st.builds(lambda n, ab: Call(n, ab), st.sampled_from(_BINARY),
                      st.one_of(st.tuples(children, children), st.tuples(children, _CONSTANT),
                                st.tuples(_CONSTANT, children))),
            st.builds(lambda n, a, w: Call(n, (a, Window(w))), st.sampled_from(_ROLLING),
                      children, _WINDOW),
            st.builds(lambda a, w: Call("ts_med", (a, Window(2 * w + 1))), children,
                      st.integers(0, 30)),
            st.builds(lambda a, q, w: Call("ts_quantile", (a, Constant(q), Window(w))),
                      children, st.floats(0, 1).map(lambda q: q + 0.0), _WINDOW),
            st.builds(lambda n, a, b, w: Call(n, (a, b, Window(w))), st.sampled_from(_PAIR),
                      children, children, _WINDOW),
        )

    return st.recursive(leaf, extend, max_leaves=8)


@settings(max_examples=300, deadline=None)
@given(exportable())
def test_exported_text_reads_back_to_the_same_tree(expr) -> None:
    text = to_qlib(expr)
    assert parse_qlib(text, max_window=250) == expr, text
    assert parse(to_text(expr), preset=None) == expr  # a valid tree of the language


def test_export_examples() -> None:
    def q(text: str) -> str:
        return to_qlib(parse(text, preset=None))

    assert q("Mul(-1, ts_corr_nan($close, $volume, 10))") == "-1*Corr($close, $volume, 10)"
    assert q("Sub($close, Add($open, -1))") == "$close-($open+(-1))"
    assert q("Sub(Sub($close, $open), $low)") == "$close-$open-$low"
    assert q("Pow(Add($close, 1), 2)") == "Power($close+1, 2)"
    assert q("Gt(Gt($close, $open), $low)") == "($close>$open)>$low"
    assert q("ts_quantile($close, 0.2, 30)") == "Quantile($close, 30, 0.2)"
    assert q("ts_med($close, 5)") == "Med($close, 5)"


@pytest.mark.parametrize(("ours", "qlib"), [
    ("Inv(Add($close, $open))", "1/($close+$open)"),
    ("ts_div(Add($close, 1), 5)", "($close+1)/Ref($close+1, 5)"),
    ("ts_pctchange($close, 5)", "($close-Ref($close, 5))/Ref($close, 5)"),
])
def test_operators_without_a_qlib_name_are_written_out(ours: str, qlib: str) -> None:
    """The written-out text reads back as a Div tree with the same values."""
    tree = parse(ours, preset=None)
    assert to_qlib(tree) == qlib
    ev = Evaluator(random_panel(n_days=60, n_tickers=8, seed=3))
    a, b = ev.evaluate(tree), ev.evaluate(parse_qlib(qlib))
    assert torch.equal(a.isnan(), b.isnan())
    assert torch.allclose(a.nan_to_num(), b.nan_to_num(), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("text", [
    "ts_corr($close, $volume, 10)", "ts_wma($close, 5)", "ts_ema($close, 5)", "S_log1p($close)",
    "cs_rank($close)", "cs_zscore($close)", "ts_med($close, 4)",
    "Add($close, ts_corr($close, $open, 5))",
])
def test_operators_without_an_exact_equivalent_are_refused_by_name(text: str) -> None:
    tree = parse(text, preset=None)
    with pytest.raises(FormulaError, match="has no exact Qlib equivalent") as info:
        to_qlib(tree)
    exc = info.value
    assert exc.code == "qlib_export_unsupported" and exc.params["op"] in str(exc)
    assert exc.params["op"] in (*EXPORT_REJECTED, "ts_med")
    for lang in i18n.LANGUAGES:
        rendered = i18n.render("errors", exc.code, exc.params, lang)
        assert rendered is not None and "{" not in rendered


def test_every_registry_operator_has_an_export_decision() -> None:
    from engine.expr import ops as O

    written_out = {"Inv", "ts_div", "ts_pctchange"}
    for name in O.REGISTRY:
        assert (name in OURS_TO_QLIB) + (name in EXPORT_REJECTED) + (name in written_out) == 1, (
            name)


# --------------------------------------------------------------------------- detection


@pytest.mark.parametrize(("text", "qlib"), [
    ("($close-$open)/$open", True),
    ("$close>Ref($close, 1)", True),
    ("-$close", True),
    ("Mean($close, 5)/$close", True),
    ("Quantile($close, 5, 0.8)", True),
    ("Rank($close, 20)", True),
    ("Skew($close, 20)", True),
    ("$$roewa_q", True),
    ("Mean($close, 5)", False),  # both syntaxes, same tree
    ("Rank($close)", False),  # our cross-sectional rank
    ("Mul(-1, ts_corr($close, $volume, 10))", False),
    ("Add($close, -0.5)", False),
    ("Mul(\u22122, $close)", False),
    ("Div(Sub($close, Ref($close, 5)), ts_std($close, 20))", False),
    ("EMA($close, 10)", False),  # our alias of ts_ema: read as ours
    ("Corr(Rank($close), $volume, 5)", False),
    ("", False),
])
def test_looks_like_qlib(text: str, qlib: bool) -> None:
    assert looks_like_qlib(text) is qlib
