"""A generator added from outside the engine: one module + one registry line.

An MLP from noise to every position's logits at once (like the CNN, without the shape
constraint). The example of docs/developer-guide.md "Adding a generator".
"""

from __future__ import annotations

import torch
from torch import nn

from engine.mining.generators import GENERATORS, GeneratorEntry
from engine.mining.generators.base import GeneratorSpec, SequenceGenerator


class ToyGenerator(SequenceGenerator):
    def __init__(self, spec: GeneratorSpec) -> None:
        super().__init__(spec)
        self.net = nn.Sequential(nn.Linear(spec.noise_dim, 64), nn.ReLU(),
                                 nn.Linear(64, spec.max_len * spec.n_actions))

    def begin(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).view(z.shape[0], self.spec.max_len, self.spec.n_actions)

    def step(self, state: torch.Tensor, prev: torch.Tensor | None,
             pos: int) -> tuple[torch.Tensor, torch.Tensor]:
        return state[:, pos], state


GENERATORS.register(GeneratorEntry("toy", "toy.generator", ToyGenerator, label="Toy MLP"))
