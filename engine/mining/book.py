"""The cache of scored formulas and the diversity test against the zoo (spec §3 step 7, §8 #11).

:class:`FormulaBook` caches each formula's statistics by canonical text, and its ``ret_t``
series while the formula is live (in the predictor's store, the zoo or the current round):
when the zoo changes, re-scoring is a correlation-matrix product over cached series
(:func:`diversity_ok`), never a re-evaluation.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import torch

from engine.metrics.factor import series_correlation
from engine.mining.scorer import FormulaStats


def stats_from_row(row: Sequence[float]) -> FormulaStats:
    """:class:`FormulaStats` from a checkpoint row (6 columns before ``screened`` existed)."""
    screened = bool(row[6]) if len(row) > 6 else False
    return FormulaStats(*(float(v) for v in row[:5]), bool(row[5]), screened)


def diversity_ok(series: torch.Tensor, zoo_series: torch.Tensor, corr_thresh: float,
                 chunk: int = 4096) -> torch.Tensor:
    """``[K]`` bool: the max |correlation| of each ``ret_t`` series ``[K, T]`` with the zoo's
    ``[Z, T]`` is at most ``corr_thresh`` (§3 step 7). NaN correlations (too few common days,
    a constant series) do not count as correlated, as in the reference."""
    if zoo_series.shape[0] == 0 or series.shape[0] == 0:
        return torch.ones(series.shape[0], dtype=torch.bool)
    out = []
    for s in range(0, series.shape[0], chunk):
        corr = series_correlation(series[s:s + chunk], zoo_series).abs()
        out.append(~(torch.nan_to_num(corr, nan=0.0) > corr_thresh).any(-1))
    return torch.cat(out)


class FormulaBook:
    """Every formula scored so far, by canonical text (§8 #11).

    ``stats`` are kept for all formulas (they decide whether a formula is new and what its
    base fitness is); the ``ret_t`` series only while the caller keeps the formula live
    (:meth:`prune`), since they are what the diversity test needs.
    """

    def __init__(self) -> None:
        self.stats: dict[str, FormulaStats] = {}
        self.series: dict[str, torch.Tensor] = {}

    def __contains__(self, key: str) -> bool:
        return key in self.stats

    def __len__(self) -> int:
        return len(self.stats)

    def add(self, key: str, stats: FormulaStats, series: torch.Tensor) -> None:
        self.stats[key] = stats
        self.series[key] = series

    def needs_series(self, key: str) -> bool:
        """True when the formula must be (re-)evaluated to get its series: unknown, or its
        series was pruned while its base fitness is positive (zero-fitness formulas need no
        diversity test)."""
        stats = self.stats.get(key)
        return stats is None or (stats.score > 0 and key not in self.series)

    def matrix(self, keys: Sequence[str], n_days: int) -> torch.Tensor:
        """``[K, T]`` series of the keys (NaN rows for formulas without one)."""
        if not keys:
            return torch.empty(0, n_days)
        blank = torch.full((n_days,), torch.nan)
        return torch.stack([self.series.get(k, blank) for k in keys])

    def scores(self, keys: Iterable[str]) -> torch.Tensor:
        return torch.tensor([self.stats[k].score for k in keys], dtype=torch.float64)

    def prune(self, live: set[str]) -> None:
        """Forget the series of formulas no longer live (their statistics stay)."""
        for key in [k for k in self.series if k not in live]:
            del self.series[key]

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict[str, Any]:
        keys = list(self.stats)
        table = torch.tensor([[s.score, s.ic, s.icir, s.rank_ic, s.rank_icir, float(s.usable),
                               float(s.screened)] for s in self.stats.values()],
                             dtype=torch.float64)
        skeys = list(self.series)
        return {"keys": keys, "table": table.reshape(len(keys), 7),
                "series_keys": skeys,
                "series": torch.stack([self.series[k] for k in skeys]) if skeys else None}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        table = state["table"].tolist()
        self.stats = {k: stats_from_row(row) for k, row in zip(state["keys"], table, strict=True)}
        series = state["series"]
        self.series = ({k: series[i].clone() for i, k in enumerate(state["series_keys"])}
                       if series is not None else {})


