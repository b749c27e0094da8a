"""Second stage of AlphaForge: combine a factor set into one Mega-Alpha score.

``combine(...)`` / ``combine_panel(panel, factors, names, ...)`` dispatch on
``CombineConfig.method`` through :data:`engine.combine.methods.COMBINE_METHODS`: "dynamic"
(spec §6, re-selected and re-fitted daily), "equal", "static" (OLS once) and "icweighted"
baselines. All return a :class:`CombinationResult`. The names below are imported on first
use, so reading the method registry (``alphaforge --help``) does not import torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "combine": "engine.combine.api", "combine_panel": "engine.combine.api",
    "CombinationResult": "engine.combine.base", "CombineConfig": "engine.combine.base",
    "COMBINE_METHODS": "engine.combine.methods", "CombineMethod": "engine.combine.methods",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'engine.combine' has no attribute '{name}'")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
