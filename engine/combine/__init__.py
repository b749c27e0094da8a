"""Second stage of AlphaForge: combine a factor set into one Mega-Alpha score.

``combine(factors, target, ...)`` / ``combine_panel(panel, factors, names, ...)`` dispatch on
``CombineConfig.method``: "dynamic" (spec §6, re-selected and re-fitted daily), "equal",
"static" (OLS once) and "icweighted" baselines. All return a :class:`CombinationResult`.
"""

from engine.combine.api import REGISTRY, combine, combine_panel
from engine.combine.base import METHODS, CombinationResult, CombineConfig

__all__ = ["METHODS", "REGISTRY", "CombinationResult", "CombineConfig", "combine",
           "combine_panel"]
