"""The operator registry, presets and vocabularies."""

from __future__ import annotations

import pytest
import torch

from engine.data.schema import BASE_FEATURES
from engine.errors import ConfigError
from engine.expr import ops as O
from engine.expr.ops import SEP, Token, Vocabulary

PAPER_ORDER = [
    "Inv", "S_log1p", "Add", "Sub", "Mul", "Div", "Pow", "Ref", "ts_mean", "ts_sum", "ts_std",
    "ts_var", "ts_max", "ts_min", "ts_med", "ts_mad", "ts_div", "ts_pctchange", "ts_delta",
    "ts_wma", "ts_ema", "ts_cov", "ts_corr",
]


def test_paper_preset_is_the_23_operators_in_order() -> None:
    assert [op.name for op in O.preset_ops("alphaforge")] == PAPER_ORDER
    kinds = [op.kind for op in O.preset_ops("alphaforge")]
    assert kinds == ["unary"] * 2 + ["binary"] * 5 + ["rolling"] * 14 + ["pair_rolling"] * 2


def test_default_preset_adds_seven_after_the_paper_ones() -> None:
    names = [op.name for op in O.preset_ops("default")]
    assert names[:23] == PAPER_ORDER
    assert names[23:] == ["cs_rank", "cs_zscore", "Abs", "Sign", "Log", "Greater", "Less"]


def test_operators_outside_the_presets_are_the_qlib_extras() -> None:
    """The miner's vocabulary is the presets'; the rest exists for Qlib text and Alpha158."""
    in_presets = {name for names in O.PRESETS.values() for name in names}
    assert set(O.REGISTRY) - in_presets == {
        "Gt", "Ge", "Lt", "Le", "Eq", "Ne", "ts_rank", "ts_quantile", "ts_argmax", "ts_argmin",
        "ts_slope", "ts_rsquare", "ts_resi", "ts_corr_nan"}


def test_unknown_preset_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown operator preset 'paper'.*alphaforge"):
        O.preset_ops("paper")


@pytest.mark.parametrize(("alias", "name"), [
    ("Mean", "ts_mean"), ("STD", "ts_std"), ("var", "ts_var"), ("Max", "ts_max"),
    ("min", "ts_min"), ("Med", "ts_med"), ("MAD", "ts_mad"), ("Sum", "ts_sum"),
    ("delta", "ts_delta"), ("wma", "ts_wma"), ("EMA", "ts_ema"), ("Corr", "ts_corr"),
    ("cov", "ts_cov"), ("rank", "cs_rank"), ("ZSCORE", "cs_zscore"), ("log1p", "S_log1p"),
    ("TS_MEAN", "ts_mean"), ("add", "Add"), ("s_LOG1P", "S_log1p"), ("delay", "Ref"),
])
def test_aliases_are_case_insensitive(alias: str, name: str) -> None:
    op = O.lookup(alias)
    assert op is not None and op.name == name


def test_lookup_unknown_is_none() -> None:
    assert O.lookup("Foo") is None


def test_operator_shapes() -> None:
    assert (O.REGISTRY["Inv"].arity, O.REGISTRY["Inv"].takes_window) == (1, False)
    assert (O.REGISTRY["Pow"].arity, O.REGISTRY["Pow"].takes_window) == (2, False)
    assert (O.REGISTRY["Ref"].arity, O.REGISTRY["Ref"].takes_window) == (2, True)
    assert (O.REGISTRY["ts_corr"].arity, O.REGISTRY["ts_corr"].n_series) == (3, 2)
    assert O.REGISTRY["cs_rank"].arity == 1
    assert O.REGISTRY["ts_corr"].signature == "ts_corr(x, y, w)"
    q = O.REGISTRY["ts_quantile"]
    assert (q.arity, q.n_series, q.n_params, q.takes_window) == (3, 1, 1, True)
    assert q.signature == "ts_quantile(x, q, w)" and q.param == O.Param("q", 0.0, 1.0)
    assert O.REGISTRY["ts_mean"].n_params == 0 and O.REGISTRY["ts_mean"].param is None


def test_an_operator_with_a_parameter_cannot_be_mined() -> None:
    ops = (*O.preset_ops("default"), O.REGISTRY["ts_quantile"])
    with pytest.raises(ConfigError, match="constant parameter cannot be mined.*ts_quantile"):
        Vocabulary(ops=ops)


def test_apply_returns_float32_without_infinities() -> None:
    x = torch.tensor([[0.0, 2.0, -1.0]])
    out = O.REGISTRY["Inv"].apply(x)
    assert out.dtype == torch.float32
    assert torch.isnan(out[0, 0]) and out[0, 1] == 0.5
    big = O.REGISTRY["Pow"].apply(torch.tensor([[1e20]]), torch.tensor(3.0))
    assert torch.isnan(big).all()


def test_paper_vocabulary_has_51_actions_in_order() -> None:
    v = Vocabulary.from_preset("alphaforge")
    assert len(v) == v.n_actions == 51
    texts = [t.text for t in v.tokens]
    assert texts[:23] == PAPER_ORDER
    assert texts[23:29] == [f"${f}" for f in BASE_FEATURES]
    assert texts[29:36] == ["1", "5", "10", "20", "30", "40", "50"]
    assert texts[36:50] == ["-30", "-10", "-5", "-2", "-1", "-0.5", "-0.01", "0.01", "0.5", "1",
                            "2", "5", "10", "30"]
    assert v.tokens[50] == SEP and v.sep_index == 50


def test_vocabulary_maps_both_ways_and_separates_kinds() -> None:
    v = Vocabulary.from_preset("default")
    assert len(v) == 58
    for i, tok in enumerate(v.tokens):
        assert v.index(tok) == i and v.token(i) == tok
    # "5" is both a window and a constant: two different actions
    assert v.index(Token("window", 5)) != v.index(Token("constant", 5.0))
    assert Token("window", 7) not in v
    assert v.operator("mean") is O.REGISTRY["ts_mean"]
    assert Vocabulary.from_preset("alphaforge").operator("rank") is None


def test_extra_features_become_tokens() -> None:
    v = Vocabulary.from_preset("alphaforge", features=(*BASE_FEATURES, "$Amount"))
    assert len(v) == 52
    assert v.features[-1] == "amount"
    assert v.token(29).text == "$amount"


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"features": ()}, "at least one feature"),
    ({"features": ("close", "close")}, "duplicate feature"),
    ({"features": ("my col",)}, "identifiers"),
    ({"windows": (0, 5)}, "positive"),
    ({"constants": (1.0, 1.0)}, "duplicate constant"),
])
def test_vocabulary_validation(kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Vocabulary.from_preset("alphaforge", **kwargs)


def test_vocabulary_needs_usable_operators() -> None:
    unary_only = (O.REGISTRY["Inv"],)
    with pytest.raises(ConfigError, match="binary"):
        Vocabulary(ops=unary_only)
    with pytest.raises(ConfigError, match="rolling operator"):
        Vocabulary(ops=(O.REGISTRY["Add"],))
    assert len(Vocabulary(ops=(O.REGISTRY["Add"],), windows=())) == 1 + 6 + 14 + 1


def test_format_number_round_trips() -> None:
    for value in (5.0, -0.5, 0.01, 1e-5, 1e16, 123.456, -30.0):
        text = O.format_number(value)
        assert float(text) == value
    assert O.format_number(5.0) == "5" and O.format_number(-0.5) == "-0.5"
