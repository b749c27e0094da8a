"""Combination methods behind a registry: the one list of ways to make a Mega-Alpha.

Every method is ``fit(prepared, score_days, train_days, config) -> CombinationResult`` on the
prepared factor panel (:func:`engine.combine.base.prepare`). ``CombineConfig`` validation,
``alphaforge combine --method``, the Combine & backtest page, the report's method name and the
docs table read :data:`COMBINE_METHODS`. Adding a method = one module with a ``fit`` function
+ one ``COMBINE_METHODS.register(CombineMethod(...))`` line. Light (no torch): the fitters are
imported when one runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from engine.registry import Ref, Registry, resolve

if TYPE_CHECKING:
    import numpy as np

    from engine.combine.base import CombinationResult, CombineConfig, Prepared

Fitter = Callable[["Prepared", "np.ndarray", "np.ndarray", "CombineConfig"], "CombinationResult"]


@dataclass(frozen=True)
class CombineMethod:
    """One method. ``label_key``: its name in a select box; ``short_key``: in a report's
    settings table (defaults to the label). ``fit``: the fitter or ``"module:function"``.
    ``refit_daily``: weights re-fitted every scored day (else fixed once on the training days).
    """

    name: str
    label_key: str
    fit: Ref
    short_key: str = ""
    refit_daily: bool = False
    label: str = ""

    def fitter(self) -> Fitter:
        fit: Fitter = resolve(self.fit)
        return fit


def fit_dynamic(prep: Prepared, days: np.ndarray, _train: np.ndarray,
                config: CombineConfig) -> CombinationResult:
    """The dynamic Mega-Alpha (it looks back from each scored day; no training range)."""
    from engine.combine import dynamic

    return dynamic.fit(prep, days, config)


COMBINE_METHODS: Registry[CombineMethod] = Registry("combination method", "method", (
    CombineMethod("dynamic", "combine.method_dynamic", "engine.combine.methods:fit_dynamic",
                  short_key="report.method.dynamic", refit_daily=True),
    CombineMethod("equal", "combine.method_equal", "engine.combine.static:fit_equal",
                  short_key="report.method.equal"),
    CombineMethod("static", "combine.method_static", "engine.combine.static:fit_ols",
                  short_key="report.method.static"),
    CombineMethod("icweighted", "combine.method_icweighted",
                  "engine.combine.static:fit_icweighted", short_key="report.method.icweighted"),
))
