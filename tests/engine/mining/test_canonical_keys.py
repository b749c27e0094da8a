"""Formulas that mean the same are one formula to the miner: one key, one evaluation, one
book entry (and so one zoo slot); a formula whose canonical form is a constant scores 0
without being evaluated."""

from __future__ import annotations

from engine.data.panel import Panel
from engine.expr.parse import parse
from engine.mining.session import Session
from tests.engine.mining.conftest import tiny


def test_equivalent_formulas_share_one_key_and_one_evaluation(small_panel: Panel) -> None:
    session = Session(small_panel, tiny())
    variants = [parse("Sub($close, -2)"), parse("Add(2, $close)"), parse("Add($close, 2)"),
                parse("Mul(-1, Mul(-1, Add($close, 2)))")]
    assert len({session.key(e) for e in variants}) == 1
    before = session.counters.evaluated
    stats = session.evaluate(variants)
    assert session.counters.evaluated == before + 1
    assert len({id(s) for s in stats}) == 1 and len(session.book) == 1


def test_a_constant_formula_scores_zero_without_evaluation(small_panel: Panel) -> None:
    session = Session(small_panel, tiny())
    calls: list[int] = []
    original = session.scorer.score
    session.scorer.score = lambda exprs, **kw: (calls.append(len(exprs)),  # type: ignore
                                                original(exprs, **kw))[1]
    (st,) = session.evaluate([parse("Mul(Inv($low), $low)")])
    assert st is not None and st.score == 0.0 and not st.usable
    assert calls == []  # never reached the scorer
    assert session.key(parse("Mul(Inv($low), $low)")) == "1"
