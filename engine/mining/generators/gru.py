"""Autoregressive GRU generator: the LSTM generator with a GRU cell (no cell state)."""

from __future__ import annotations

from torch import nn

from engine.mining.generators.lstm import RecurrentGenerator


class GRUGenerator(RecurrentGenerator):
    cell = nn.GRU
