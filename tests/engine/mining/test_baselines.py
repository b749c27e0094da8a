"""GP operators keep children grammar-valid and within 20 tokens; tournament picks the fit."""

from __future__ import annotations

import numpy as np
import torch

from engine.data.panel import Panel
from engine.expr.parse import encode, parse, size, to_text, validate
from engine.mining.baselines import (
    GeneticProgramming,
    all_paths,
    featured_paths,
    random_formulas,
    replace_at,
    subtree,
)
from engine.mining.session import Session
from tests.engine.mining.conftest import tiny


def test_tree_paths_and_replacement() -> None:
    e = parse("Add(ts_mean($close, 20), Mul(2, $open))", preset="alphaforge")
    assert featured_paths(e) == [(), (0,), (0, 0), (1,), (1, 1)]
    assert len(all_paths(e)) == 7
    assert to_text(subtree(e, (1, 1))) == "$open"
    new = replace_at(e, (0, 0), parse("$high"))
    assert to_text(new) == "Add(ts_mean($high, 20), Mul(2, $open))"


def test_children_are_valid_and_fit_in_twenty_tokens(small_panel: Panel) -> None:
    session = Session(small_panel, tiny(generator="gp", gp_population=40))
    gp = GeneticProgramming(session)
    gp.population = random_formulas(session, 40)
    gp.keys = [session.key(e) for e in gp.population]
    fitness = torch.rand(40, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    children = gp.breed(session, fitness)
    assert len(children) == 40
    for child in children:
        validate(child, features=session.vocab.features, preset=session.vocab.ops)
        assert size(child) <= 20
        encode(child, session.vocab)  # every token is in the vocabulary
    rng = np.random.default_rng(0)
    for _ in range(30):
        a, b = gp.population[int(rng.integers(40))], gp.population[int(rng.integers(40))]
        for child in (gp.crossover(rng, a, b), gp.subtree_mutation(session, rng, a),
                      gp.point_mutation(session, rng, a)):
            validate(child, features=session.vocab.features, preset=session.vocab.ops)
            assert size(child) <= 20


def test_tournament_prefers_fitter_formulas(small_panel: Panel) -> None:
    session = Session(small_panel, tiny(generator="gp", gp_tournament=7))
    gp = GeneticProgramming(session)
    gp.population = random_formulas(session, 50)
    fitness = torch.arange(50, dtype=torch.float64)
    rng = np.random.default_rng(1)
    picks = [gp.tournament(rng, fitness) for _ in range(200)]
    assert np.mean(picks) > 35  # the expected max of 7 uniform draws out of 50 is ~44
