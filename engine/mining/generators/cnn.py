"""The paper's generator: DCGAN-style 1-D deconvolutions from noise to 20 positions of logits.

ALPHAFORGE_SPEC §4.1 [ref: gan/network/generater.py NetG_DCGAN], with one fix (§8 #1): the
reference reshapes ``[B, C, L, 1]`` to ``[B, L, C]`` with ``view``, which scrambles channels
and positions; here the channel and position axes are swapped with ``permute``. All positions
are computed at once in :meth:`begin`; ``prev`` is ignored (the masker still samples position
by position so the grammar mask follows the sampled prefix).
"""

from __future__ import annotations

import torch
from torch import nn

from engine.errors import ConfigError
from engine.mining.generators import CNN_SEQ_LEN
from engine.mining.generators.base import GeneratorSpec, SequenceGenerator

SEQ_LEN = CNN_SEQ_LEN  # 6 -> 11 -> 15 -> 20 through the three transposed convolutions


def _same_conv(c_in: int, c_out: int) -> list[nn.Module]:
    """Kernel-8 convolution that keeps the length: zero-pad 4 before, 3 after."""
    return [nn.ConstantPad1d((4, 3), 0.0), nn.Conv1d(c_in, c_out, kernel_size=8)]


class CNNGenerator(SequenceGenerator):
    def __init__(self, spec: GeneratorSpec) -> None:
        super().__init__(spec)
        if spec.max_len != SEQ_LEN:  # config validation says so first, from the registry
            raise ConfigError(f"the cnn generator produces {SEQ_LEN} positions, not "
                              f"{spec.max_len}")
        self.linear = nn.Linear(spec.noise_dim, 6 * 384)
        self.deconv = nn.Sequential(
            nn.ConvTranspose1d(384, 256, kernel_size=6), nn.BatchNorm1d(256), nn.ReLU(),
            nn.ConvTranspose1d(256, 192, kernel_size=5), nn.BatchNorm1d(192), nn.ReLU(),
            nn.ConvTranspose1d(192, 128, kernel_size=6), nn.BatchNorm1d(128), nn.ReLU(),
        )
        self.conv = nn.Sequential(
            *_same_conv(128, 128), nn.BatchNorm1d(128), nn.ReLU(),
            *_same_conv(128, 64), nn.BatchNorm1d(64), nn.ReLU(),
            *_same_conv(64, spec.n_actions),
        )

    def begin(self, z: torch.Tensor) -> torch.Tensor:
        h = self.linear(z).view(z.shape[0], 384, 6)  # [B, 384, 6]
        h = self.deconv(h)  # [B, 128, 20]
        h = self.conv(h)  # [B, n_actions, 20]
        return h.permute(0, 2, 1)  # [B, 20, n_actions]  (§8 #1: permute, not view)

    def step(self, state: torch.Tensor, prev: torch.Tensor | None,
             pos: int) -> tuple[torch.Tensor, torch.Tensor]:
        return state[:, pos], state
