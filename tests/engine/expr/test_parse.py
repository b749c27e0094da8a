"""Text <-> tree <-> RPN: round trips, canonical form, and error messages a user can act on."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.data.schema import BASE_FEATURES
from engine.errors import FormulaError
from engine.expr import ops as O
from engine.expr.ops import Token, Vocabulary
from engine.expr.parse import (
    Call,
    Constant,
    Feature,
    Window,
    decode,
    encode,
    features_of,
    from_rpn,
    is_featured,
    lookback,
    parse,
    parse_for,
    size,
    to_rpn,
    to_text,
    validate,
)

PAPER = Vocabulary.from_preset("alphaforge")
ALL_OPS = tuple(O.REGISTRY.values())


ANY_WINDOW = st.integers(1, 250)
ANY_CONSTANT = st.floats(allow_nan=False, allow_infinity=False, width=32)


def formulas(ops=ALL_OPS, windows=ANY_WINDOW, constants=ANY_CONSTANT):
    """Random valid trees (featured, obeying the constant-only rules)."""
    by_kind = {k: [op.name for op in ops if op.kind == k]
               for k in ("unary", "cs", "binary", "rolling", "rolling_param", "pair_rolling")}
    leaf = st.sampled_from(BASE_FEATURES).map(Feature)
    const = constants.map(lambda v: Constant(float(v) + 0.0))

    def extend(children):
        strategies = []
        for kind in ("unary", "cs"):
            if by_kind[kind]:
                strategies.append(st.builds(lambda n, a: Call(n, (a,)),
                                            st.sampled_from(by_kind[kind]), children))
        if by_kind["binary"]:
            args = st.one_of(st.tuples(children, children), st.tuples(children, const),
                             st.tuples(const, children))
            strategies.append(st.builds(lambda n, ab: Call(n, ab),
                                        st.sampled_from(by_kind["binary"]), args))
        if by_kind["rolling"]:
            strategies.append(st.builds(lambda n, a, w: Call(n, (a, Window(w))),
                                        st.sampled_from(by_kind["rolling"]), children, windows))
        if by_kind["rolling_param"]:
            strategies.append(st.builds(lambda n, a, q, w: Call(n, (a, Constant(q), Window(w))),
                                        st.sampled_from(by_kind["rolling_param"]), children,
                                        st.floats(0.0, 1.0).map(lambda q: q + 0.0), windows))
        if by_kind["pair_rolling"]:
            strategies.append(st.builds(lambda n, a, b, w: Call(n, (a, b, Window(w))),
                                        st.sampled_from(by_kind["pair_rolling"]), children,
                                        children, windows))
        return st.one_of(strategies)

    return st.recursive(leaf, extend, max_leaves=8)


# --------------------------------------------------------------------------- round trips


def test_canonical_text_example() -> None:
    text = "div(SUB($Close, ref($close,5)),  std($close , 20))"
    expr = parse(text)
    assert to_text(expr) == "Div(Sub($close, Ref($close, 5)), ts_std($close, 20))"
    assert expr == Call("Div", (
        Call("Sub", (Feature("close"), Call("Ref", (Feature("close"), Window(5))))),
        Call("ts_std", (Feature("close"), Window(20))),
    ))


def test_numbers() -> None:
    assert parse("Add($close, -0.5)").args[1] == Constant(-0.5)
    assert parse("Mul($close, 1e-3)").args[1] == Constant(0.001)
    assert parse("Mul(.5, $close)").args[0] == Constant(0.5)
    assert parse("Mul(\u22122, $close)").args[0] == Constant(-2.0)  # typographic minus
    assert to_text(parse("Add($close, 5.0)")) == "Add($close, 5)"
    assert to_text(parse("Add($close, -0)")) == "Add($close, 0)"


@settings(max_examples=200, deadline=None)
@given(formulas())
def test_text_round_trip(expr) -> None:
    text = to_text(expr)
    again = parse(text, features=BASE_FEATURES, preset=None)
    assert again == expr
    assert to_text(again) == text


@settings(max_examples=200, deadline=None)
@given(formulas(ops=O.preset_ops("alphaforge"), windows=st.sampled_from(O.DEFAULT_WINDOWS),
                constants=st.sampled_from(O.DEFAULT_CONSTANTS)))
def test_rpn_round_trip(expr) -> None:
    actions = encode(expr, PAPER)
    assert len(actions) == size(expr)
    assert decode(actions, PAPER) == expr
    assert decode([*actions, PAPER.sep_index, 0, 3], PAPER) == expr  # stops at SEP
    assert from_rpn(to_rpn(expr)) == expr


def test_rpn_order_matches_spec() -> None:
    assert [t.text for t in to_rpn(parse("ts_mean($close, 20)"))] == ["$close", "20", "ts_mean"]
    assert [t.text for t in to_rpn(parse("Div($high, Ref($low, 5))"))] == [
        "$high", "$low", "5", "Ref", "Div"]


def test_a_constant_parameter_sits_between_the_series_and_the_window() -> None:
    expr = parse("ts_quantile($close, 0.8, 20)", preset=None)
    assert expr == Call("ts_quantile", (Feature("close"), Constant(0.8), Window(20)))
    assert [t.text for t in to_rpn(expr)] == ["$close", "0.8", "20", "ts_quantile"]
    assert from_rpn(to_rpn(expr)) == expr and lookback(expr) == 20
    with pytest.raises(FormulaError, match="position 21: the q of ts_quantile must be between "
                                           "0 and 1, got 1.5") as info:
        parse("ts_quantile($close, 1.5, 20)", preset=None)
    assert info.value.code == "formula_param_range"
    with pytest.raises(FormulaError, match="the q of ts_quantile must be a number, got '\\$open'"):
        parse("ts_quantile($close, $open, 20)", preset=None)
    with pytest.raises(FormulaError, match="ts_quantile expects 3 arguments, got 2"):
        parse("ts_quantile($close, 20)", preset=None)
    bad = [Token("feature", "close"), Token("constant", 2.0), Token("window", 5),
           Token("op", "ts_quantile")]
    with pytest.raises(FormulaError, match="token 4: the q of ts_quantile must be between"):
        from_rpn(bad)


def test_tree_helpers() -> None:
    expr = parse("ts_corr($close, Mul(2, $volume), 10)")
    assert size(expr) == 6  # $close 2 $volume Mul 10 ts_corr
    assert features_of(expr) == {"close", "volume"}
    assert is_featured(expr) and not is_featured(Constant(1.0))
    assert str(expr) == to_text(expr)


def test_presets_and_features_restrict_parsing() -> None:
    with pytest.raises(FormulaError, match="'cs_rank' is not part of the 'alphaforge' preset"):
        parse("cs_rank($close)", preset="alphaforge")
    assert parse("$amount", features=None) == Feature("amount")
    assert parse("ts_mean($Amount, 5)", features=(*BASE_FEATURES, "amount")).args[0] == \
        Feature("amount")
    assert parse_for("ts_mean($close, 7)", PAPER) is not None
    with pytest.raises(FormulaError, match="window 7 of ts_mean is not allowed; allowed: 1, 5"):
        parse_for("ts_mean($close, 7)", PAPER, strict_windows=True)
    assert parse("ts_mean($close, 400)", max_window=500).args[1] == Window(400)


def test_validate_trees_built_in_code() -> None:
    tree = Call("mean", (Feature("close"), Window(5)))
    assert validate(tree) == Call("ts_mean", (Feature("close"), Window(5)))
    with pytest.raises(FormulaError, match="reads the future"):
        validate(Call("Ref", (Feature("close"), Window(-3))))
    with pytest.raises(FormulaError, match="bare window"):
        validate(Window(3))
    with pytest.raises(FormulaError, match="does not depend on any feature"):
        validate(Constant(2.0))


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(("text", "message"), [
    ("Foo($close)", "position 1: unknown operator 'Foo'"),
    ("Add($close, Fooo($open))", "position 13: unknown operator 'Fooo'"),
    ("tsmean($close, 5)", "position 1: unknown operator 'tsmean' (did you mean 'ts_mean'"),
    ("ts_mean($close)", "position 1: ts_mean expects 2 arguments, got 1"),
    ("Add($close, $open, $high)", "position 1: Add expects 2 arguments, got 3"),
    ("Inv()", "position 1: Inv expects 1 argument, got 0"),
    ("Add($vwapp, 1)", "position 5: unknown feature '$vwapp' (did you mean $vwap?); "
                       "available: $open, $close, $high, $low, $volume, $vwap"),
    ("Ref($close, -5)", "position 13: Ref($close, -5) reads the future"),
    ("ts_mean($close, -5)", "reads the future"),
    ("Ref($close, 0)", "position 13: the window of Ref must be at least 1 day, got 0"),
    ("ts_mean($close, 2.5)", "position 17: the window of ts_mean must be a whole number of "
                             "days, got '2.5'"),
    ("ts_mean($close, $open)", "position 17: the window of ts_mean must be a whole number"),
    ("ts_mean($close, 251)", "window 251 of ts_mean exceeds the maximum of 250 days"),
    ("$close + 1", "position 8: unexpected character '+' (infix operators are not supported"),
    ("Add($close, 1", "position 14: expected ',' or ')' in Add(…), got the end of the formula"),
    ("Add($close 1)", "position 12: expected ',' or ')' in Add(…), got '1'"),
    ("Add($close, 1))", "position 15: unexpected ')' after the end of the formula"),
    ("ts_mean", "position 8: expected '(' after 'ts_mean', got the end of the formula"),
    ("close", "position 1: 'close' is not a formula; features start with '$' "
              "(did you mean '$close'?)"),
    ("", "the formula is empty"),
    ("   ", "the formula is empty"),
    ("5", "the formula '5' does not depend on any feature"),
    ("Add(1, 2)", "position 1: Add(1, 2) combines constants only"),
    ("Mul($close, Add(1, 2))", "position 13: Add(1, 2) combines constants only"),
    ("ts_mean(5, 20)", "position 1: ts_mean(x, w): its argument must depend on a feature"),
    ("cs_rank(5)", "its argument must depend on a feature"),
    ("ts_corr($close, 1, 5)", "ts_corr(x, y, w): both series must depend on a feature"),
    ("Add(,$close)", "position 5: expected a $feature, a number or an operator, got ','"),
    ("Add($close, $1)", "position 13: unexpected character '$'"),
])
def test_error_messages(text: str, message: str) -> None:
    with pytest.raises(FormulaError) as err:
        parse(text)
    assert message in str(err.value)


def test_rpn_errors() -> None:
    with pytest.raises(FormulaError, match="'Add' needs 2 operands, the stack holds 1"):
        from_rpn([Token("feature", "close"), Token("op", "Add")])
    with pytest.raises(FormulaError, match="incomplete formula"):
        from_rpn([Token("feature", "close"), Token("feature", "open")])
    with pytest.raises(FormulaError, match="needs a window on top"):
        from_rpn([Token("feature", "close"), Token("feature", "open"), Token("op", "ts_mean")])
    with pytest.raises(FormulaError, match="a window cannot be an operand"):
        from_rpn([Token("feature", "close"), Token("window", 5), Token("op", "Add")])
    with pytest.raises(FormulaError, match="combines constants only"):
        from_rpn([Token("constant", 1.0), Token("constant", 2.0), Token("op", "Add")])
    with pytest.raises(FormulaError, match="unknown operator 'Nope'"):
        from_rpn([Token("feature", "close"), Token("op", "Nope")])
    with pytest.raises(FormulaError, match="'7' .window. is not a token of this vocabulary"):
        encode(parse("ts_mean($close, 7)"), PAPER)


def test_pathological_inputs() -> None:
    with pytest.raises(FormulaError, match="position 13: number '1e400' is out of range"):
        parse("Add($close, 1e400)")
    with pytest.raises(FormulaError, match="nested more than 100 levels deep"):
        parse("Abs(" * 5000 + "$close" + ")" * 5000)
    with pytest.raises(FormulaError, match=r"position 13: character U\+0661 \(ARABIC-INDIC"):
        parse("Add($close, \u0661)")  # an Arabic-Indic digit is not a number here
    # look-alikes and invisible characters are named by code point (#21), in both readers
    with pytest.raises(FormulaError, match=r"position 2: character U\+0441 \(CYRILLIC"):
        parse("$\u0441lose")
    with pytest.raises(FormulaError, match=r"position 7: character U\+200B \(ZERO WIDTH SPACE"):
        parse("$close\u200b")
    with pytest.raises(FormulaError, match=r"U\+0000 \(a control character\)"):
        parse("Abs($close)\x00")
    from engine.expr.qlib import parse_qlib
    with pytest.raises(FormulaError, match=r"U\+0441"):
        parse_qlib("Mean($\u0441lose, 5)")
    deep = "Abs(" * 50 + "$close" + ")" * 50
    assert size(parse(deep)) == 51
