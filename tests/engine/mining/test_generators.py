"""Generators: the registry, output shapes, grammar-valid samples, gradients, seeds, §8 #1."""

from __future__ import annotations

import pytest
import torch

from engine.errors import ConfigError
from engine.expr.grammar import decode_batch
from engine.expr.ops import Vocabulary
from engine.expr.parse import size
from engine.mining import masker
from engine.mining.generators import GENERATORS, make_generator
from engine.mining.generators.base import GeneratorSpec
from engine.mining.generators.cnn import CNNGenerator
from engine.mining.predictor import Predictor

VOCAB = Vocabulary.from_preset("alphaforge")
SPEC = GeneratorSpec(n_actions=VOCAB.n_actions, max_len=20, noise_dim=100)


def _built(name: str, seed: int = 0) -> torch.nn.Module:
    g = make_generator(name, SPEC)
    g.reset_parameters(torch.Generator().manual_seed(seed))
    return g


def test_registry_has_the_four_generators() -> None:
    assert list(GENERATORS) == ["cnn", "lstm", "gru", "transformer"]
    with pytest.raises(ConfigError, match="unknown generator 'gan'"):
        make_generator("gan", SPEC)
    with pytest.raises(ConfigError, match="produces 20 positions"):
        CNNGenerator(GeneratorSpec(n_actions=51, max_len=12))


def test_paper_vocabulary_has_51_actions() -> None:
    assert VOCAB.n_actions == 51


@pytest.mark.parametrize("name", list(GENERATORS))
def test_samples_are_valid_formulas_with_gradients(name: str) -> None:
    g = _built(name)
    g.train()
    rng = torch.Generator().manual_seed(1)
    z = torch.randn(16, 100, generator=rng)
    s = masker.sample(g, z, VOCAB, rng)
    assert s.onehot.shape == (16, 20, VOCAB.n_actions)
    assert s.actions.shape == (16, 20)
    # the one-hot is the decoded sequence (§8 #2: scored formula == predictor input)
    assert torch.equal(s.onehot.argmax(-1), s.actions)
    assert torch.allclose(s.onehot.sum(-1), torch.ones(16, 20))
    exprs = decode_batch(s.actions, VOCAB)  # raises if any sequence were invalid
    assert all(1 <= size(e) <= 20 for e in exprs)
    pred, latent = Predictor(VOCAB.n_actions)(s.onehot)
    assert pred.shape == (16,) and latent.shape == (16, 256)
    pred.sum().backward()
    grads = [p.grad for p in g.parameters() if p.grad is not None]
    assert grads and any(float(gr.abs().sum()) > 0 for gr in grads)


@pytest.mark.parametrize("name", list(GENERATORS))
def test_same_seed_same_formulas(name: str) -> None:
    def draw(seed: int) -> torch.Tensor:
        g = _built(name, seed)
        g.eval()
        rng = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            return masker.sample(g, torch.randn(8, 100, generator=rng), VOCAB, rng).actions

    assert torch.equal(draw(3), draw(3))
    assert not torch.equal(draw(3), draw(4))


def test_cnn_swaps_axes_with_permute_not_view() -> None:
    """§8 #1: position p of the output must be the convolution output at position p."""
    g = _built("cnn")
    g.eval()
    z = torch.randn(2, 100, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        conv = g.conv(g.deconv(g.linear(z).view(2, 384, 6)))  # [B, A, 20]
        logits = g.begin(z)  # [B, 20, A]
    assert logits.shape == (2, 20, VOCAB.n_actions)
    assert torch.equal(logits[:, 7, :], conv[:, :, 7])
    assert not torch.equal(logits, conv.reshape(2, 20, VOCAB.n_actions))


def test_reset_parameters_is_seeded_and_xavier() -> None:
    a, b = _built("cnn", 5), _built("cnn", 5)
    for (na, pa), (_, pb) in zip(a.named_parameters(), b.named_parameters(), strict=True):
        assert torch.equal(pa, pb), na
    biases = [p for n, p in a.named_parameters() if n.endswith("bias")]
    assert all(float(p.detach().abs().sum()) == 0 for p in biases)


def test_random_actions_are_grammar_valid() -> None:
    actions = masker.random_actions(VOCAB, 200, torch.Generator().manual_seed(0), 20)
    assert actions.shape == (200, 20)
    exprs = decode_batch(actions, VOCAB)
    assert len({str(e) for e in exprs}) > 150
