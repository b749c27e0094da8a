"""Which planted signal of the demo market a mined formula found.

The demo market (:mod:`engine.data.synthetic`) hides :data:`PLANTED_SIGNALS` in its returns.
A first-time user should *see* that the miner found them rather than take it on trust, so the
Mining page and ``alphaforge mine`` name, next to each zoo factor of a run on the demo, the
planted signal it matches: the one with the highest mean daily cross-sectional correlation
over the run's training days. A factor is a match only above :data:`MATCH_THRESHOLD`; the sign
says whether it found the signal or its mirror image (both predict, with opposite weights).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from engine.data.panel import Panel
from engine.data.synthetic import PLANTED_SIGNALS
from engine.expr.evaluate import Evaluator
from engine.metrics.factor import daily_ic, summarize

#: |mean daily correlation| from which a factor is said to have found a planted signal: well
#: above what two unrelated price formulas share (the classic set's pairs are mostly < 0.3).
MATCH_THRESHOLD = 0.5


@dataclass(frozen=True)
class PlantedMatch:
    """The planted signal closest to a formula: its name and the signed correlation."""

    signal: str
    corr: float

    def text(self) -> str:
        return f"{self.signal} ({self.corr:+.2f})"


def planted_matches(panel: Panel, formulas: Sequence[str], days: np.ndarray
                    ) -> dict[str, PlantedMatch | None]:
    """Per formula, its closest planted signal over ``days`` (a boolean day mask) or None
    when none reaches :data:`MATCH_THRESHOLD`. Correlation: Pearson across in-universe stocks
    each day, averaged over the days (the daily IC of the formula against the signal)."""
    if not formulas:
        return {}
    keep = torch.from_numpy(np.asarray(days, dtype=bool))
    ev = Evaluator(panel)
    signals = torch.stack([ev.evaluate(s.formula)[keep] for s in PLANTED_SIGNALS])
    mask = panel.universe[keep]
    out: dict[str, PlantedMatch | None] = {}
    for formula in formulas:
        x = ev.evaluate(formula)[keep]
        corr = summarize(daily_ic(signals, x, mask)).mean
        corr = torch.nan_to_num(corr, nan=0.0)
        best = int(corr.abs().argmax())
        value = float(corr[best])
        out[formula] = (PlantedMatch(PLANTED_SIGNALS[best].name, value)
                        if abs(value) >= MATCH_THRESHOLD else None)
    return out
