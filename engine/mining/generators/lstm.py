"""Autoregressive LSTM generator (the reference's unused NetG_Lstm, made differentiable).

z -> initial hidden and cell states (Linear + ReLU per layer), 2 layers, d_model 128,
dropout 0.2 [ref: gan/network/generater.py NetG_Lstm]. The previous token enters as its
straight-through one-hot times a bias-free linear map (an embedding lookup in the forward
pass that still passes gradients), so the sequence the predictor scores is the one decoded.
"""

from __future__ import annotations

import torch
from torch import nn

from engine.mining.generators.base import GeneratorSpec, SequenceGenerator


class RecurrentGenerator(SequenceGenerator):
    """Shared body of the LSTM and GRU generators."""

    cell: type[nn.LSTM] | type[nn.GRU] = nn.LSTM

    def __init__(self, spec: GeneratorSpec, d_model: int = 128, n_layers: int = 2,
                 dropout: float = 0.2) -> None:
        super().__init__(spec)
        self.d_model, self.n_layers = d_model, n_layers
        self.fc_h = nn.Sequential(nn.Linear(spec.noise_dim, n_layers * d_model), nn.ReLU())
        if self.cell is nn.LSTM:
            self.fc_c = nn.Sequential(nn.Linear(spec.noise_dim, n_layers * d_model), nn.ReLU())
        self.start = nn.Parameter(torch.zeros(1, d_model))  # input at position 0
        self.embed = nn.Linear(spec.n_actions, d_model, bias=False)  # one-hot -> embedding
        self.rnn = self.cell(d_model, d_model, num_layers=n_layers, batch_first=True,
                             dropout=dropout)
        self.head = nn.Linear(d_model, spec.n_actions)

    def _initial(self, fc: nn.Module, z: torch.Tensor) -> torch.Tensor:
        # [B, layers * d] -> [layers, B, d]
        return fc(z).view(z.shape[0], self.n_layers, self.d_model).permute(1, 0, 2).contiguous()

    def begin(self, z: torch.Tensor) -> object:
        h = self._initial(self.fc_h, z)
        return (h, self._initial(self.fc_c, z)) if self.cell is nn.LSTM else h

    def step(self, state: object, prev: torch.Tensor | None,
             pos: int) -> tuple[torch.Tensor, object]:
        batch = (state[0] if isinstance(state, tuple) else state).shape[1]
        inp = self.start.expand(batch, -1) if prev is None else self.embed(prev)  # [B, d]
        out, state = self.rnn(inp[:, None, :], state)  # out [B, 1, d]
        return self.head(out[:, 0]), state  # [B, n_actions]


class LSTMGenerator(RecurrentGenerator):
    cell = nn.LSTM
