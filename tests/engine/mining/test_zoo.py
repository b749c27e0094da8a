"""Zoo admission: thresholds, the correlation limit, capacity with replacement, re-filter;
factor sets saved in a project."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from engine.errors import StoreError
from engine.mining.scorer import FormulaStats
from engine.mining.zoo import (
    AdmissionRule,
    Factor,
    FactorSet,
    Member,
    admit,
    factor_set_names,
    load_factor_set,
    max_pairwise_corr,
    refilter,
    save_factor_set,
)
from engine.store.project import Project

G = torch.Generator().manual_seed(0)
BASE = torch.randn(6, 300, generator=G)


def member(name: str, score: float, series: torch.Tensor, ic: float | None = None,
           icir: float = 0.5) -> Member:
    ic = score if ic is None else ic
    return Member(name, FormulaStats(score, ic, icir, math.nan, math.nan, True), series)


def near(i: int, noise: float) -> torch.Tensor:
    return BASE[i] + noise * torch.randn(300, generator=G)


RULE = AdmissionRule(ic_thresh=0.03, icir_thresh=0.1, corr_thresh=0.7, capacity=3)


def test_thresholds_and_the_correlation_limit() -> None:
    cands = [
        member("a", 0.08, BASE[0]),
        member("a_twin", 0.07, near(0, 0.2)),  # |corr| ~ 0.98 with a: rejected
        member("a_neg", 0.065, -near(0, 0.2)),  # negatively correlated counts too
        member("weak", 0.02, BASE[1]),  # ic below 0.03
        member("noisy", 0.05, BASE[2], icir=0.05),  # icir below 0.1
        member("b", 0.04, BASE[3]),
    ]
    zoo, admitted, evicted = admit([], cands, RULE)
    assert admitted == ["a", "b"] and evicted == []
    assert max_pairwise_corr(zoo) <= 0.7


def test_within_pass_and_against_members() -> None:
    zoo, _, _ = admit([], [member("a", 0.05, BASE[0])], RULE)
    zoo, admitted, _ = admit(zoo, [member("a2", 0.09, near(0, 0.1)),
                                   member("c", 0.04, BASE[4])], RULE)
    assert admitted == ["c"] and [m.formula for m in zoo] == ["a", "c"]


def test_capacity_replaces_the_weakest_only_for_a_better_uncorrelated_candidate() -> None:
    zoo, _, _ = admit([], [member("a", 0.09, BASE[0]), member("b", 0.06, BASE[1]),
                           member("c", 0.04, BASE[2])], RULE)
    assert len(zoo) == 3
    zoo2, admitted, evicted = admit(zoo, [member("d", 0.05, BASE[3]),
                                          member("e", 0.035, BASE[4])], RULE)
    assert admitted == ["d"] and evicted == ["c"]
    assert sorted(m.formula for m in zoo2) == ["a", "b", "d"]
    # a better candidate correlated with a strong member does not get in
    _, admitted, evicted = admit(zoo2, [member("a_twin", 0.2, near(0, 0.1))], RULE)
    assert admitted == [] and evicted == []
    # ...but one correlated only with the weakest member replaces it
    _, admitted, evicted = admit(zoo2, [member("d_better", 0.2, near(3, 0.1))], RULE)
    assert admitted == ["d_better"] and evicted == ["d"]


def test_refilter_applies_the_same_rule_best_first() -> None:
    zoo = [member("a", 0.05, BASE[0]), member("a_twin", 0.07, near(0, 0.1)),
           member("weak", 0.01, BASE[1]), member("b", 0.04, BASE[2])]
    kept = refilter(zoo, RULE)
    assert [m.formula for m in kept] == ["a_twin", "b"]


def test_nan_correlation_does_not_block() -> None:
    short = torch.full((300,), torch.nan)
    short[:1] = 1.0
    zoo, admitted, _ = admit([member("a", 0.05, BASE[0])],
                             [member("s", 0.04, short)], RULE)
    assert admitted == ["s"]


def test_factor_sets_round_trip(tmp_path: Path) -> None:
    project = Project.create(tmp_path / "p")
    fs = FactorSet(name="run-1", source={"kind": "mined", "seed": 3},
                   factors=(Factor("ts_mean($close, 20)", 0.05,
                                   {"train": {"ic": 0.05, "icir": math.nan},
                                    "valid": {"ic": -0.01}}),
                            Factor("Ref($close, 5)")))
    path = save_factor_set(project, fs)
    assert path == project.root / "factors" / "run-1.json"
    again = load_factor_set(project, "run-1")
    assert again.formulas == ["ts_mean($close, 20)", "Ref($close, 5)"]
    assert math.isnan(again.factors[0].metrics["train"]["icir"])
    assert again.source["seed"] == 3 and factor_set_names(project) == ["run-1"]
    with pytest.raises(StoreError, match="no factor set 'other'.*available: run-1"):
        load_factor_set(project, "other")
    with pytest.raises(StoreError, match="may not contain"):
        save_factor_set(project, FactorSet(name="../evil", factors=()))
