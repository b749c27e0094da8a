"""Autoregressive Transformer-decoder generator [ours].

The noise is projected to a first "memory" token; each sampled token (its straight-through
one-hot times a bias-free linear map, plus a learned position embedding) is appended, and a
causal pre-norm Transformer stack reads the prefix; the last position's output gives the next
logits. Sequences are at most 21 tokens, so recomputing the prefix every step (no key/value
cache) costs little and keeps the module simple.
"""

from __future__ import annotations

import torch
from torch import nn

from engine.mining.generators.base import GeneratorSpec, SequenceGenerator


class TransformerGenerator(SequenceGenerator):
    def __init__(self, spec: GeneratorSpec, d_model: int = 128, n_layers: int = 2,
                 n_heads: int = 4, d_ff: int = 256, dropout: float = 0.2) -> None:
        super().__init__(spec)
        self.z_proj = nn.Linear(spec.noise_dim, d_model)
        self.embed = nn.Linear(spec.n_actions, d_model, bias=False)
        self.pos = nn.Parameter(torch.zeros(spec.max_len + 1, d_model))
        layer = nn.TransformerEncoderLayer(d_model, n_heads, dim_feedforward=d_ff,
                                           dropout=dropout, batch_first=True, norm_first=True)
        self.body = nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, spec.n_actions)

    def begin(self, z: torch.Tensor) -> list[torch.Tensor]:
        return [self.z_proj(z) + self.pos[0]]  # prefix of [B, d] tokens

    def step(self, state: list[torch.Tensor], prev: torch.Tensor | None,
             pos: int) -> tuple[torch.Tensor, list[torch.Tensor]]:
        if prev is not None:
            state = [*state, self.embed(prev) + self.pos[pos]]
        x = torch.stack(state, dim=1)  # [B, k, d]
        k = x.shape[1]
        causal = torch.triu(torch.full((k, k), float("-inf"), device=x.device), diagonal=1)
        out = self.body(x, mask=causal)  # [B, k, d]
        return self.head(self.norm(out[:, -1])), state  # [B, n_actions]
