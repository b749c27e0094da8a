"""The interface every formula generator implements, and the shared weight initialisation.

A generator turns noise ``z [B, noise_dim]`` into next-token logits one position at a time:
``begin(z)`` returns a decoding state, ``step(state, prev, pos)`` the logits ``[B, n_actions]``
of position ``pos`` given the previous position's sampled one-hot ``prev [B, n_actions]``
(None at position 0). Non-autoregressive generators (the paper's CNN) compute every position
in ``begin`` and ignore ``prev``; autoregressive ones (LSTM, GRU, Transformer) embed ``prev`` —
a straight-through one-hot, so gradients flow back through the whole sequence. The grammar
mask and the Gumbel sampling live in :mod:`engine.mining.masker`, outside the networks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn


@dataclass(frozen=True)
class GeneratorSpec:
    """What every generator is built from."""

    n_actions: int
    max_len: int = 20
    noise_dim: int = 100


class SequenceGenerator(nn.Module):
    """Base class: noise in, one position of logits per :meth:`step`.

    A network of fixed shape declares its one formula length in its registry entry
    (:attr:`engine.mining.generators.GeneratorEntry.seq_len`); config validation enforces it.
    """

    def __init__(self, spec: GeneratorSpec) -> None:
        super().__init__()
        self.spec = spec

    def begin(self, z: torch.Tensor) -> Any:
        """Decoding state for a batch of noise ``z [B, noise_dim]``."""
        raise NotImplementedError

    def step(self, state: Any, prev: torch.Tensor | None, pos: int) -> tuple[torch.Tensor, Any]:
        """Logits ``[B, n_actions]`` of position ``pos`` and the next state."""
        raise NotImplementedError

    def reset_parameters(self, generator: torch.Generator) -> None:
        """Re-initialise (the reference does it before every round): Xavier-normal weight
        matrices, zero biases, unit norm gains, fresh BatchNorm statistics — all drawn from
        ``generator`` so a seed fixes the network."""
        init_xavier(self, generator)


def init_xavier(module: nn.Module, generator: torch.Generator) -> None:
    """Xavier-normal for every parameter with >= 2 dims, zeros for biases, ones for 1-d
    weights (normalisation gains); BatchNorm running statistics reset."""
    with torch.no_grad():
        for name, param in module.named_parameters():
            if param.dim() > 1:
                # draw on CPU from the seeded generator, then copy (works for any device)
                tmp = torch.empty(param.shape, dtype=param.dtype)
                nn.init.xavier_normal_(tmp, generator=generator)
                param.copy_(tmp)
            elif name.endswith("bias"):
                param.zero_()
            else:
                param.fill_(1.0)
    for sub in module.modules():
        if isinstance(sub, nn.modules.batchnorm._BatchNorm):
            sub.reset_running_stats()
