"""Static baselines on the dynamic combiner's interface: weights fixed once on training days.

- ``equal``: every factor with a training IC gets weight ±1/K', the sign of its training mean
  IC (sign-aligned z-scores averaged).
- ``static``: pooled OLS with intercept on all (day, stock) rows of the training days, all K
  factors (the AlphaGen-style combination).
- ``icweighted``: weight_k = mean IC_k / Σ|mean IC_j| over the training days.

The training days are trimmed to those whose target was realised before the first scored day
(``d < first - (h + 1)``), the same gap the dynamic method uses, so a baseline cannot peek
either. The weights frame repeats the fixed weights on every scored date so that every method's
history has the same shape.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import polars as pl
import torch

from engine.combine.base import (
    CombinationResult,
    CombineConfig,
    Prepared,
    apply_weights,
    design_sums,
    mega_daily,
    solve_subsets,
    weights_frame,
)
from engine.combine.reasons import CODES, PARAMS_COLUMN, encode
from engine.errors import ConfigError
from engine.metrics.factor import summarize


def effective_train(prep: Prepared, days: np.ndarray, train: np.ndarray,
                    config: CombineConfig) -> np.ndarray:
    """Training days usable for scoring ``days``: realised before the first scored day."""
    first = int(np.flatnonzero(days)[0])
    usable = train & (np.arange(prep.n_days) < first - config.gap) & prep.realised.numpy()
    if usable.sum() < config.min_lookback_days:
        span = np.flatnonzero(train)
        told = (f"{prep.dates[span[0]]} to {prep.dates[span[-1]]}" if len(span) else "none")
        raise ConfigError(
            f"static '{config.method}' combination needs at least {config.min_lookback_days} "
            f"training days with a realised target before {prep.dates[first]} - {config.gap} "
            f"days (horizon + 1); the training days ({told}) leave {int(usable.sum())}",
            code="combine_short_training",
            params={"method": config.method, "min": config.min_lookback_days,
                    "first": str(prep.dates[first]), "gap": config.gap,
                    "train": told if len(span) else "–", "usable": int(usable.sum())},
        )
    return usable


#: A static weighting: (prepared, usable training days, mean training IC [K]) ->
#: (intercept, coefficients [K], how the weights were made). ``how`` is a reason code of
#: :data:`engine.combine.reasons.CODES` (worded when read, in the reader's language) or, for a
#: plug-in's weighting, plain text shown as it is.
Weighting = Callable[[Prepared, np.ndarray, torch.Tensor], tuple[torch.Tensor, torch.Tensor, str]]


def _zero() -> torch.Tensor:
    return torch.zeros((), dtype=torch.float64)


def equal_weights(_prep: Prepared, _usable: np.ndarray, mean_ic: torch.Tensor
                  ) -> tuple[torch.Tensor, torch.Tensor, str]:
    sign = torch.sign(mean_ic)
    return _zero(), sign / max(int((sign != 0).sum()), 1), "static_equal"


def ic_weights(_prep: Prepared, _usable: np.ndarray, mean_ic: torch.Tensor
               ) -> tuple[torch.Tensor, torch.Tensor, str]:
    return _zero(), mean_ic / mean_ic.abs().sum().clamp(min=1e-300), "static_icweighted"


def ols_weights(prep: Prepared, usable: np.ndarray, _mean_ic: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor, str]:
    gram, rhs = design_sums(prep, usable)
    use = torch.ones(1, prep.n_factors + 1, dtype=torch.bool)
    sol = solve_subsets(gram.sum(0, keepdim=True), rhs.sum(0, keepdim=True), use)[0]
    return sol[0], sol[1:], "static_ols"


def fit_equal(prep: Prepared, days: np.ndarray, train: np.ndarray,
              config: CombineConfig) -> CombinationResult:
    return fit(prep, days, train, config, equal_weights)


def fit_icweighted(prep: Prepared, days: np.ndarray, train: np.ndarray,
                   config: CombineConfig) -> CombinationResult:
    return fit(prep, days, train, config, ic_weights)


def fit_ols(prep: Prepared, days: np.ndarray, train: np.ndarray,
            config: CombineConfig) -> CombinationResult:
    return fit(prep, days, train, config, ols_weights)


def _reasons(how: str, active: torch.Tensor, flipped: torch.Tensor, ic: torch.Tensor,
             rank_ic: torch.Tensor, n_train: int) -> tuple[list[str], list[str | None]]:
    """Each factor's reason (the same on every scored day): the weighting's code, or
    ``static_zero`` for a factor it gave no weight, with the training statistics."""
    reasons: list[str] = []
    params: list[str | None] = []
    for j in range(len(active)):
        code = how if active[j] else "static_zero"
        if code not in CODES:  # a plug-in's own words
            reasons.append(how if active[j] else f"weight 0 ({how})")
            params.append(None)
            continue
        reasons.append(code)
        params.append(encode(code, ic=float(ic[j]), rank_ic=float(rank_ic[j]), days=n_train,
                             flipped=bool(flipped[j])))
    return reasons, params


def fit(prep: Prepared, days: np.ndarray, train: np.ndarray, config: CombineConfig,
        weighting: Weighting) -> CombinationResult:
    """A static combination: ``weighting`` fitted on ``train`` and applied on ``days``."""
    usable = effective_train(prep, days, train, config)
    sel = torch.from_numpy(usable)
    ic = summarize(prep.ic[:, sel])
    ric = summarize(prep.rank_ic[:, sel])
    k = prep.n_factors
    mean_ic = torch.nan_to_num(ic.mean, nan=0.0)
    intercept, coef, how = weighting(prep, usable, mean_ic)

    d = int(days.sum())
    coef_d = coef.unsqueeze(0).expand(d, k).contiguous()
    intercept_d = intercept.expand(d).contiguous()
    score = apply_weights(prep, days, coef_d, intercept_d)
    active = coef != 0
    rank = torch.zeros(k, dtype=torch.long)
    order = torch.argsort(-coef.abs(), stable=True)
    rank[order] = torch.arange(1, k + 1)
    rank = torch.where(active, rank, 0)
    flipped = active & (mean_ic < 0)
    reasons, params = _reasons(how, active, flipped, ic.mean, ric.mean, int(usable.sum()))

    def per_day(x: torch.Tensor) -> np.ndarray:
        return x.unsqueeze(0).expand(d, *x.shape).numpy()

    weights = weights_frame(prep, days, {
        "active": per_day(active),
        "flipped": per_day(flipped),
        "coef": coef_d.numpy(),
        "intercept": per_day(intercept.expand(k)),
        "ic": per_day(ic.mean),
        "icir": per_day(ic.ir),
        "rank_ic": per_day(ric.mean),
        "rank_icir": per_day(ric.ir),
        "rank": per_day(rank),
    }, reasons * d).with_columns(pl.Series(PARAMS_COLUMN, params * d, dtype=pl.Utf8))
    return CombinationResult(
        config=config,
        names=prep.names,
        dates=prep.dates,
        score=score,
        scored=days,
        weights=weights,
        daily=mega_daily(prep, score, days, coef_d, config.min_stocks),
    )
