"""The simplifier keeps values: on random formulas and panels, wherever the original formula
has a value the canonical form has the same one (bit for bit for the exact rules), and
formulas that mean the same get one canonical text."""

from __future__ import annotations

import pytest
import torch

from engine.data.panel import Panel
from engine.expr.evaluate import Evaluator
from engine.expr.grammar import sample_random
from engine.expr.ops import Vocabulary
from engine.expr.parse import Call, Constant, Expr, parse, to_text
from engine.expr.simplify import canonical_text, is_degenerate, simplify
from tests.engine.expr.conftest import random_panel


@pytest.mark.parametrize(("text", "want"), [
    ("Mul(Inv($low), $low)", "1"),
    ("Pow($close, 1)", "$close"),
    ("Sub($close, -2)", "Add(2, $close)"),
    ("Mul(-1, Mul(-1, $close))", "$close"),
    ("Mul($close, -1)", "Mul(-1, $close)"),
    ("Add($volume, $close)", "Add($close, $volume)"),
    ("Sub(0, $close)", "Mul(-1, $close)"),
    ("Add($close, Mul(-1, $open))", "Sub($close, $open)"),
    ("Sub($close, Mul(-1, $open))", "Add($close, $open)"),
    ("Div($close, -1)", "Mul(-1, $close)"),
    ("Abs(Mul(-1, Abs($close)))", "Abs($close)"),
    ("Add($close, Sub($open, $open))", "$close"),
    ("ts_std(Mul(Inv($low), $low), 20)", "0"),
    ("Add($close, ts_corr($open, Div($high, $high), 10))", "$close"),
    ("Mul(-1, Mul(2, ts_mean($close, 5)))", "Mul(-2, ts_mean($close, 5))"),
    ("Greater($close, $close)", "$close"),
    # inside a cross-sectional operator only the exact rules apply
    ("cs_rank(Add($close, Sub($open, $open)))", "cs_rank(Add($close, Sub($open, $open)))"),
    ("cs_rank(Add($open, $close))", "cs_rank(Add($close, $open))"),
])
def test_rules(text: str, want: str) -> None:
    assert canonical_text(parse(text)) == want


def test_equivalent_formulas_share_one_canonical_text() -> None:
    texts = ["Sub(ts_mean($close, 5), -1)", "Add(ts_mean($close, 5), 1)",
             "Add(1, Mul(1, ts_mean($close, 5)))", "Add(Pow(ts_mean($close, 5), 1), 1)"]
    assert len({canonical_text(parse(t)) for t in texts}) == 1
    assert is_degenerate(parse("Sub(Div($close, $close), 1)"))
    assert not is_degenerate(parse("Sub($close, 1)"))


def test_idempotent_and_valid() -> None:
    vocab = Vocabulary.from_preset("default", features=random_panel().features)
    for f in sample_random(vocab, 300, torch.Generator().manual_seed(1)):
        once = simplify(f)
        assert simplify(once) == once, to_text(f)
        if not isinstance(once, Constant):
            # the canonical text parses back to the same tree
            assert parse(to_text(once), features=vocab.features) == once


def _patterns(f: Expr, g: Expr) -> list[tuple[str, bool]]:
    """Formulas that exercise the rules around random sub-formulas ``f`` and ``g``:
    (text, exact) where exact = only exact rules apply."""
    a, b = to_text(f), to_text(g)
    return [
        (f"Add({b}, {a})", True), (f"Mul({a}, {b})", True), (f"Sub({a}, -2)", True),
        (f"Mul(-1, Mul(-1, {a}))", True), (f"Pow({a}, 1)", True), (f"Div({a}, -1)", True),
        (f"Abs(Mul(-1, {a}))", True), (f"Sub(0, {a})", True), (f"Greater({a}, {a})", True),
        (f"Add({b}, Mul(-1, {a}))", True), (f"Mul(0.5, Mul(-1, {a}))", True),
        (f"cs_rank(Add(Mul(1, {a}), {b}))", True),
        (f"Add({b}, Sub({a}, {a}))", False), (f"Mul({b}, Div({a}, {a}))", False),
        (f"Add({b}, Mul(Inv({a}), {a}))", False), (f"Add({b}, ts_std(Sub({a}, {a}), 5))", False),
        (f"Add({b}, ts_corr({b}, Div({a}, {a}), 10))", False),
        (f"ts_mean(Add({b}, Sub({a}, {a})), 5)", False),
    ]


@pytest.mark.parametrize("seed", range(4))
def test_values_are_kept_on_random_formulas(seed: int) -> None:
    panel: Panel = random_panel(seed=seed)
    ev = Evaluator(panel, cache_bytes=0)
    vocab = Vocabulary.from_preset("default", features=panel.features)
    formulas = sample_random(vocab, 40, torch.Generator().manual_seed(seed))
    checked = 0
    for f, g in zip(formulas[::2], formulas[1::2], strict=True):
        for text, exact in _patterns(f, g):
            original = parse(text, features=panel.features)
            simple = simplify(original)
            before = ev.evaluate(original)
            defined = torch.isfinite(before)
            if isinstance(simple, Constant):
                assert torch.allclose(before[defined], torch.tensor(simple.value),
                                      rtol=1e-6, atol=1e-6), text
                continue
            after = ev.evaluate(simple)
            if exact:
                assert torch.equal(before.isnan(), after.isnan()), text
                assert torch.equal(before.nan_to_num(), after.nan_to_num()), text
            else:
                assert torch.isfinite(after[defined]).all(), text
                assert torch.allclose(after[defined], before[defined], rtol=1e-6,
                                      atol=1e-6), text
            checked += isinstance(original, Call) and original != simple
    assert checked > 100  # the rules fired
