"""No look-ahead: changing the data after day t never changes a factor at or before t.

Checked for every operator and for random formulas from the grammar (hypothesis), with the
future rewritten completely: values, NaN holes and universe membership.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.data.panel import Panel
from engine.expr import grammar as G
from engine.expr import ops as O
from engine.expr.evaluate import Evaluator
from engine.expr.ops import Vocabulary
from engine.expr.parse import Expr, to_text

from .conftest import EXTRA, random_panel

PANEL = random_panel(n_days=40, n_tickers=7, seed=11, nan_frac=0.05)
VOCAB = Vocabulary.from_preset("default", features=PANEL.features)


def rewrite_future(panel: Panel, t: int, seed: int) -> Panel:
    """The same panel with every day after t replaced by fresh random data."""
    other = random_panel(n_days=panel.n_days, n_tickers=panel.n_tickers, seed=seed,
                         nan_frac=0.1)
    values = panel.values.clone()
    universe = panel.universe.clone()
    values[t + 1:] = other.values[t + 1:] * 1.7
    universe[t + 1:] = other.universe[t + 1:]
    return Panel(values=values, dates=panel.dates, tickers=panel.tickers,
                 features=panel.features, universe=universe)


def assert_past_unchanged(formulas: list[Expr | str], t: int, seed: int) -> None:
    before = Evaluator(PANEL, cache_bytes=0).evaluate_many(formulas)[:, : t + 1]
    after = Evaluator(rewrite_future(PANEL, t, seed), cache_bytes=0).evaluate_many(formulas)
    after = after[:, : t + 1]
    for k, f in enumerate(formulas):
        text = f if isinstance(f, str) else to_text(f)
        same_nan = torch.equal(before[k].isnan(), after[k].isnan())
        same = torch.equal(before[k].nan_to_num(), after[k].nan_to_num())
        assert same_nan and same, f"{text} changed at or before day {t}"


def formulas_for(op: O.Operator, w: int) -> list[str]:
    x, y = f"${EXTRA}", "Div($close, $open)"
    if op.kind in ("unary", "cs"):
        return [f"{op.name}({x})", f"{op.name}(ts_mean({y}, {w}))"]
    if op.kind == "binary":
        return [f"{op.name}({x}, {y})", f"{op.name}(Ref($close, {w}), 2)"]
    if op.kind == "rolling":
        return [f"{op.name}({x}, {w})", f"{op.name}(cs_rank({y}), {w})"]
    if op.kind == "rolling_param":
        return [f"{op.name}({x}, 0.3, {w})", f"{op.name}(cs_rank({y}), 1, {w})"]
    return [f"{op.name}({x}, {y}, {w})", f"{op.name}($volume, Ref($close, 1), {w})"]


@pytest.mark.parametrize("name", list(O.REGISTRY))
@settings(max_examples=12, deadline=None)
@given(w=st.sampled_from([1, 2, 3, 5, 8]), t=st.integers(0, PANEL.n_days - 2),
       seed=st.integers(0, 10_000))
def test_every_operator_is_causal(name: str, w: int, t: int, seed: int) -> None:
    assert_past_unchanged(formulas_for(O.REGISTRY[name], w), t, seed)


@settings(max_examples=40, deadline=None)
@given(formula_seed=st.integers(0, 2**31), t=st.integers(0, PANEL.n_days - 2),
       seed=st.integers(0, 10_000))
def test_random_formulas_are_causal(formula_seed: int, t: int, seed: int) -> None:
    gen = torch.Generator().manual_seed(formula_seed)
    formulas = G.sample_random(VOCAB, 4, gen, max_len=12)
    assert_past_unchanged(formulas, t, seed)


def test_rewrite_future_really_changes_the_future() -> None:
    """Guard against a vacuous property: the rewritten panel differs after t."""
    other = rewrite_future(PANEL, 10, 1)
    before = PANEL.values[11:].nan_to_num(-1.0)
    after = other.values[11:].nan_to_num(-1.0)
    assert not torch.equal(before, after)
    assert torch.equal(PANEL.values[:11].nan_to_num(), other.values[:11].nan_to_num())
    changed = Evaluator(other).evaluate("ts_mean($close, 3)")[11:]
    original = Evaluator(PANEL).evaluate("ts_mean($close, 3)")[11:]
    assert not np.array_equal(changed.nan_to_num().numpy(), original.nan_to_num().numpy())
