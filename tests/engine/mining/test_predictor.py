"""Predictor: architecture, label scaling, weighted training with early stopping, seeds."""

from __future__ import annotations

import torch

from engine.expr.ops import Vocabulary
from engine.mining.masker import random_actions
from engine.mining.predictor import Predictor, scale_labels, train_predictor

VOCAB = Vocabulary.from_preset("alphaforge")


def _data(n: int = 400) -> tuple[torch.Tensor, torch.Tensor]:
    actions = random_actions(VOCAB, n, torch.Generator().manual_seed(0), 20)
    # a learnable label: how many times the first feature token appears
    feat = VOCAB.n_actions - 1 - len(VOCAB.constants) - len(VOCAB.windows) - len(VOCAB.features)
    y = (actions == feat).sum(-1).to(torch.float32)
    return actions, y


def test_shapes_follow_the_spec() -> None:
    p = Predictor(VOCAB.n_actions)
    assert p.latent[0].in_features == 128 * 6
    pred, latent = p(torch.zeros(3, 20, VOCAB.n_actions))
    assert pred.shape == (3,) and latent.shape == (3, 256)


def test_label_scaling() -> None:
    y, top = scale_labels(torch.tensor([0.0, 0.02, 0.05]))
    assert abs(top - 0.05) < 1e-7 and torch.allclose(y, torch.tensor([0.0, 40.0, 100.0]))
    zero, _ = scale_labels(torch.zeros(4))
    assert float(zero.abs().sum()) == 0


def test_training_learns_and_is_reproducible() -> None:
    actions, y = _data()
    w = torch.ones(len(y))
    w[-100:] = 2.0

    def fit(seed: int) -> tuple[Predictor, float]:
        p = Predictor(VOCAB.n_actions)
        rep = train_predictor(p, actions, y, w, torch.Generator().manual_seed(seed),
                              epochs=15, patience=5)
        return p, rep.valid_loss

    p1, loss1 = fit(0)
    p2, loss2 = fit(0)
    assert loss1 == loss2
    for a, b in zip(p1.parameters(), p2.parameters(), strict=True):
        assert torch.equal(a, b)
    scaled, _ = scale_labels(y)
    baseline = float(((scaled - scaled.mean()) ** 2).mean())
    assert loss1 < 0.5 * baseline  # far better than predicting the mean


def test_training_leaves_the_global_rng_alone() -> None:
    actions, y = _data(100)
    model = Predictor(VOCAB.n_actions)
    torch.manual_seed(123)
    before = torch.get_rng_state()
    train_predictor(model, actions, y, torch.ones(len(y)),
                    torch.Generator().manual_seed(0), epochs=2, patience=2)
    assert torch.equal(before, torch.get_rng_state())
