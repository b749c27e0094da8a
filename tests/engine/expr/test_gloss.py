"""The plain-language gloss names the kind, features and windows of a formula, and every
kind reads in both languages."""

from __future__ import annotations

import pytest

from engine.expr.gloss import KINDS, gloss
from engine.i18n import LANGUAGES, Translator
from engine.report.series import meaning


@pytest.mark.parametrize(("formula", "kind", "features", "windows"), [
    ("Mul(-1, ts_corr($close, $volume, 10))", "volume_price", ("close", "volume"), (10,)),
    ("Div(Sub($high, $low), $close)", "volatility", ("high", "low", "close"), ()),
    ("ts_std($close, 20)", "volatility", ("close",), (20,)),
    ("Div($close, ts_min($low, 30))", "momentum", ("close", "low"), (30,)),
    ("Mul(-1, ts_pctchange($close, 20))", "reversal", ("close",), (20,)),
    ("Div(ts_mean($volume, 5), ts_mean($volume, 20))", "liquidity", ("volume",), (5, 20)),
    ("Div($open, $close)", "price_level", ("open", "close"), ()),
    ("Div(Sub($close, $low), Sub($high, $low))", "price_level", ("close", "low", "high"), ()),
    ("Mul(Inv($low), $low)", "constant", (), ()),
    ("Sub($close, -2)", "price_level", ("close",), ()),  # read on the simplified form
])
def test_gloss_reads_the_structure(formula: str, kind: str, features: tuple[str, ...],
                                   windows: tuple[int, ...]) -> None:
    g = gloss(formula)
    assert g is not None
    assert (g.kind, g.features, g.windows) == (kind, features, windows)


def test_unparsable_text_has_no_gloss_and_an_empty_meaning() -> None:
    assert gloss("Div($close,") is None
    assert meaning("Div($close,", Translator("en")) == ""


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_kind_is_worded_in_every_language(lang: str) -> None:
    t = Translator(lang)
    for kind in KINDS:
        for suffix in ("", "_w"):
            if kind == "constant" and suffix:
                continue
            text = t(f"gloss.{kind}{suffix}", features="close, volume", windows="10, 20")
            assert text and not text.startswith("gloss."), (lang, kind, suffix)
    assert "10" in meaning("ts_corr($close, $volume, 10)", t)
