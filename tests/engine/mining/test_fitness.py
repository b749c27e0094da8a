"""Fitness on the training days: the fused scorer agrees with engine.metrics, the training
labels are purged at the segment end, and the formula cache re-scores without evaluating."""

from __future__ import annotations

import math

import pytest
import torch

from engine.data.panel import Panel
from engine.data.target import forward_return
from engine.expr.grammar import sample_random
from engine.expr.parse import parse
from engine.metrics.factor import fitness, series_correlation
from engine.mining.fitness import FormulaBook, TrainScorer, diversity_ok, resolve_split
from engine.mining.session import Session
from tests.engine.mining.conftest import tiny


def _scorer(panel: Panel, metric: str = "ic") -> TrainScorer:
    cfg = tiny(fitness=metric)
    return TrainScorer(panel, resolve_split(panel, cfg), cfg, torch.device("cpu"))


@pytest.mark.parametrize("metric", ["ic", "icir", "rank_ic", "rank_icir"])
def test_fused_scores_agree_with_the_metrics_module(small_panel: Panel, metric: str) -> None:
    scorer = _scorer(small_panel, metric)
    vocab_exprs = sample_random(
        Session(small_panel, tiny()).vocab, 40, torch.Generator().manual_seed(0))
    exprs = [*vocab_exprs, parse("Mul(-1, Sub(Div($close, Ref($close, 5)), 1))"),
             parse("Add($close, Sub($open, $open))"), parse("Mul(0, $close)")]
    x, _ = scorer.values(exprs)
    stats, ret = scorer.score_values(x)
    ref = fitness(x, scorer.target, scorer.universe, metric=metric)
    # Factors whose daily spread is at float32 rounding level are constant to the fused
    # scorer (by design) but not to the float64 metrics, and the metrics' z-score has an
    # absolute floor (std 1e-12) where the fused pass is scale-free: compare the others.
    tiny_spread = _degenerate(x, scorer)
    assert int(tiny_spread.sum()) <= 3
    for i, st in enumerate(stats):
        if tiny_spread[i]:
            continue
        assert st.score == pytest.approx(float(ref.score[i]), rel=1e-4, abs=1e-6), exprs[i]
        assert st.ic == pytest.approx(float(ref.ic_mean[i]), rel=1e-4, abs=1e-6)
        assert st.icir == pytest.approx(float(ref.icir[i]), rel=1e-4, abs=1e-6)
        if metric.startswith("rank"):
            assert st.rank_ic == pytest.approx(float(ref.rank_ic_mean[i]), rel=1e-4, abs=1e-6)
    ret, ref_ret = ret[~tiny_spread], ref.ret_series[~tiny_spread]
    both = torch.isfinite(ret) & torch.isfinite(ref_ret)
    assert torch.equal(torch.isfinite(ret), torch.isfinite(ref_ret))
    assert torch.allclose(ret[both].double(), ref_ret[both], rtol=1e-3, atol=1e-5)
    assert stats[-1].score == 0 and not stats[-1].usable  # constant factor: gated out


def _degenerate(x: torch.Tensor, scorer: TrainScorer) -> torch.Tensor:
    """``[K]`` bool: on some day the factor's spread is below 1e-4 of its level or below
    1e-10 in absolute terms (but not 0)."""
    v = torch.isfinite(x) & torch.isfinite(scorer.target)
    xd = torch.where(v, x, 0.0).double()
    n = v.sum(-1).clamp(min=1)
    mean = xd.sum(-1) / n
    sd = torch.sqrt((torch.where(v, xd - mean[..., None], 0.0) ** 2).sum(-1) / n)
    rel = sd / mean.abs()
    return ((rel > 0) & (rel < 1e-4)).any(-1) | ((sd > 0) & (sd < 1e-10)).any(-1)


def test_gate_matches_the_metrics_gate(small_panel: Panel) -> None:
    from engine.metrics.factor import passes_gate

    scorer = _scorer(small_panel)
    exprs = [parse(t) for t in ("$close", "Ref($close, 50)", "Sign($close)",
                                "ts_mean($volume, 20)", "Greater($close, 30)")]
    x, _ = scorer.values(exprs)
    fused = scorer._gate(x, torch.isfinite(x) & scorer.universe,
                         (torch.isfinite(x) & scorer.universe).sum(-1))
    assert fused.tolist() == passes_gate(x, scorer.target, scorer.universe).tolist()


def test_training_labels_do_not_read_past_the_training_range(small_panel: Panel) -> None:
    scorer = _scorer(small_panel)
    t0, t1 = scorer.t0, scorer.t1
    full = forward_return(small_panel)[t0:t1 + 1]
    kept = torch.isfinite(scorer.target).any(-1)
    assert not kept[-21:].any()  # labels of the last h + 1 days read the next segment
    assert kept[:-21].all()
    last = int(torch.nonzero(kept).max())
    assert t0 + last + 21 <= t1  # the latest label used reads a price inside the range
    assert torch.isfinite(full[-21:]).any()  # (they exist in the data: dropped on purpose)


def test_book_state_round_trip_and_pruning() -> None:
    from engine.mining.fitness import FormulaStats

    book = FormulaBook()
    book.add("a", FormulaStats(0.05, 0.05, 0.3, math.nan, math.nan, True), torch.arange(4.0))
    book.add("b", FormulaStats(0.0, 0.0, 0.0, math.nan, math.nan, False), torch.zeros(4))
    book.prune({"a"})
    assert "b" in book and "b" not in book.series and not book.needs_series("b")
    again = FormulaBook()
    again.load_state_dict(book.state_dict())
    assert again.stats.keys() == book.stats.keys()
    assert torch.equal(again.series["a"], book.series["a"])
    assert again.stats["a"].icir == 0.3 and again.stats["a"].usable


def test_diversity_penalty_is_a_matrix_product_over_cached_series() -> None:
    g = torch.Generator().manual_seed(0)
    zoo = torch.randn(3, 200, generator=g)
    close = zoo[0] + 0.3 * torch.randn(200, generator=g)
    far = torch.randn(200, generator=g)
    series = torch.stack([close, far, torch.full((200,), torch.nan)])
    ok = diversity_ok(series, zoo, 0.7)
    corr = series_correlation(series[:1], zoo[:1])
    assert float(corr) > 0.7 and ok.tolist() == [False, True, True]


def test_rescoring_after_the_zoo_changes_evaluates_nothing(small_panel: Panel) -> None:
    s = Session(small_panel, tiny())
    exprs = sample_random(s.vocab, 30, torch.Generator().manual_seed(2))
    s.evaluate(exprs)
    keys = [s.key(e) for e in exprs]
    before = s.fitness(keys)
    misses = s.scorer.evaluator.cache_info().misses
    evaluated = s.counters.evaluated
    best = max(range(len(keys)), key=lambda i: float(before[i]))
    s.admit([keys[best]], 0)
    after = s.fitness(keys)
    assert s.scorer.evaluator.cache_info().misses == misses
    assert s.counters.evaluated == evaluated
    assert float(after[best]) == 0.0  # a formula is perfectly correlated with itself
    assert (after <= before).all()
