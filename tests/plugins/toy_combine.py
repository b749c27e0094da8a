"""A combination method added from outside the engine: one module + one registry line.

"best": all the weight on the factor with the highest training IC (a static method, fitted
once on the training days, through the engine's static-combination machinery). The example
of docs/developer-guide.md "Adding a combination method".
"""

from __future__ import annotations

import numpy as np
import torch

from engine.combine import static
from engine.combine.base import CombinationResult, CombineConfig, Prepared
from engine.combine.methods import COMBINE_METHODS, CombineMethod


def best_factor(_prep: Prepared, _usable: np.ndarray, mean_ic: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor, str]:
    coef = torch.zeros_like(mean_ic)
    best = int(torch.argmax(mean_ic.abs()))
    coef[best] = torch.sign(mean_ic[best])
    return torch.zeros((), dtype=torch.float64), coef, "the best single factor on training IC"


def fit(prep: Prepared, days: np.ndarray, train: np.ndarray,
        config: CombineConfig) -> CombinationResult:
    return static.fit(prep, days, train, config, best_factor)


COMBINE_METHODS.register(CombineMethod("best", "toy.best", fit, label="Best single factor"))
