"""Grammar-masked, differentiable sampling of formulas from a generator (the masker M, §4.1).

At each of the ``max_len`` positions: the generator's logits ``[B, A]`` get the grammar mask
of the *sampled* prefix (illegal actions -> -1e8, vectorised by :mod:`engine.expr.grammar`),
a hard Gumbel-softmax sample picks the token, and the grammar state advances with that token.
The one-hot that goes to the predictor and the action sequence that is decoded and scored are
the same sample (straight-through: one-hot forward, soft gradient backward), which fixes the
reference's mismatch between an arg-max formula and an independent Gumbel sample (§8 #2).

Gumbel noise is drawn from a seeded CPU ``torch.Generator`` and moved to the model's device,
so a seed gives the same formulas on any device up to the networks' own arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from engine.expr import grammar
from engine.expr.ops import Vocabulary
from engine.mining.generators.base import SequenceGenerator

MASK_FILL = -1e8


@dataclass(frozen=True, eq=False)
class Sample:
    """A batch of sampled formulas.

    onehot:  ``[B, L, A]`` float, hard one-hot in the forward pass with soft-max gradients.
    actions: ``[B, L]`` int64 action indices (SEP-padded after the formula ends); the same
        tokens as ``onehot.argmax(-1)``.
    """

    onehot: torch.Tensor
    actions: torch.Tensor


def gumbel_noise(shape: tuple[int, ...], generator: torch.Generator,
                 device: torch.device) -> torch.Tensor:
    """Standard Gumbel noise ``-log(E)``, ``E ~ Exp(1)``, drawn on CPU from ``generator``."""
    expo = torch.empty(shape).exponential_(generator=generator)
    return (-expo.log()).to(device)


def sample(model: SequenceGenerator, z: torch.Tensor, vocab: Vocabulary,
           generator: torch.Generator, *, tau: float = 1.0) -> Sample:
    """Decode ``z [B, noise_dim]`` into ``max_len`` grammar-legal positions.

    Gradients flow to the model through ``onehot`` when grad mode is on; call under
    ``torch.no_grad()`` to just generate.
    """
    length = model.spec.max_len
    batch = z.shape[0]
    state = grammar.initial_state(vocab, batch, max_len=length, device=z.device)
    decoder = model.begin(z)
    prev: torch.Tensor | None = None
    onehots, actions = [], []
    for pos in range(length):
        logits, decoder = model.step(decoder, prev, pos)  # [B, A]
        masked = logits.masked_fill(~grammar.legal_mask(state), MASK_FILL)
        noise = gumbel_noise(tuple(masked.shape), generator, masked.device)
        soft = F.softmax((masked + noise) / tau, dim=-1)
        index = soft.argmax(dim=-1)  # [B]
        hard = F.one_hot(index, vocab.n_actions).to(soft.dtype)
        onehot = hard - soft.detach() + soft  # straight-through
        state = grammar.step(state, index)
        onehots.append(onehot)
        actions.append(index)
        prev = onehot
    return Sample(onehot=torch.stack(onehots, dim=1), actions=torch.stack(actions, dim=1))


def random_actions(vocab: Vocabulary, n: int, generator: torch.Generator,
                   max_len: int = 20) -> torch.Tensor:
    """``[n, max_len]`` grammar-valid random sequences (uniform over legal tokens per step:
    the reference's masked random logits), SEP-padded, on CPU."""
    return grammar.sample_actions(vocab, n, generator, max_len=max_len)[:, :max_len]


def one_hot(actions: torch.Tensor, n_actions: int) -> torch.Tensor:
    """``[B, L]`` int64 -> ``[B, L, A]`` float32 one-hot (the predictor's input)."""
    return F.one_hot(actions, n_actions).to(torch.float32)
