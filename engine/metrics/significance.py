"""Is the best result luck? Significance after many trials, and paired method comparisons.

A miner tries thousands of formulas and a sweep tries methods x seeds x years; the best of
many tries looks good by construction. Three corrections a reviewer expects:

- **Deflated Sharpe ratio** (Bailey & López de Prado, "The Deflated Sharpe Ratio", JPM 2014):
  the probability that the true Sharpe ratio of the chosen strategy exceeds the *expected
  maximum* Sharpe ratio of ``n_trials`` strategies with no skill, given the sample length and
  the returns' skewness and kurtosis (the probabilistic Sharpe ratio against that bar). The
  paper's worked example (annual SR 2.5 over 1,250 days, skew −3, kurtosis 10, 100 trials
  whose annual Sharpe ratios vary by 0.5) gives a bar of 0.1132 per day and DSR 0.9004; the
  tests check it.
- **Multiple-testing adjusted t-statistics** for factor ICs (Harvey, Liu & Zhu, "... and the
  Cross-Section of Expected Returns", RFS 2016): the p-value of each t-statistic adjusted for
  the number of tests (Bonferroni, Holm, or Benjamini–Hochberg–Yekutieli, the latter via
  :func:`scipy.stats.false_discovery_control`) and turned back into the t-statistic that p
  would need — the "haircut" t.
- **Paired comparison** of two methods over the same seed x year cells: the Wilcoxon
  signed-rank test (:func:`scipy.stats.wilcoxon`), which assumes neither normal differences
  nor equal variances; its name travels with the verdict.

Sharpe ratios here are per period (daily), not annualised, as in the paper's formulas.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
from scipy import stats

EULER_GAMMA = 0.5772156649015329
Adjustment = Literal["bonferroni", "holm", "bhy"]
ADJUSTMENTS: tuple[Adjustment, ...] = ("bonferroni", "holm", "bhy")


def probabilistic_sharpe(sr: float, n: int, skew: float, kurtosis: float,
                         benchmark: float = 0.0) -> float:
    """P[true SR > ``benchmark``] for an observed per-period ``sr`` over ``n`` returns with
    the given skewness and (non-excess) kurtosis (Bailey & López de Prado 2012, eq. 9)."""
    if n < 2:
        return math.nan
    var = 1.0 - skew * sr + (kurtosis - 1.0) / 4.0 * sr * sr
    if not var > 0:
        return math.nan
    return float(stats.norm.cdf((sr - benchmark) * math.sqrt(n - 1) / math.sqrt(var)))


def expected_max_sharpe(n_trials: int, sr_variance: float) -> float:
    """Expected maximum per-period SR of ``n_trials`` unskilled strategies whose Sharpe
    ratios have variance ``sr_variance`` (the DSR paper's ``SR_0``)."""
    if n_trials < 1 or sr_variance < 0:
        raise ValueError("n_trials must be >= 1 and sr_variance >= 0")
    if n_trials == 1:
        return 0.0
    z1 = stats.norm.ppf(1.0 - 1.0 / n_trials)
    z2 = stats.norm.ppf(1.0 - 1.0 / (n_trials * math.e))
    return float(math.sqrt(sr_variance) * ((1 - EULER_GAMMA) * z1 + EULER_GAMMA * z2))


@dataclass(frozen=True)
class DeflatedSharpe:
    """The deflated Sharpe ratio of one strategy and what went into it (per-period SRs)."""

    sharpe: float
    n: int
    skew: float
    kurtosis: float
    n_trials: int
    sr_variance: float
    benchmark: float  # the expected maximum SR of the trials (SR_0)
    dsr: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def deflated_sharpe(returns: Sequence[float] | np.ndarray, n_trials: int,
                    sr_variance: float) -> DeflatedSharpe:
    """DSR of a daily return series chosen as the best of ``n_trials`` whose per-period
    Sharpe ratios have variance ``sr_variance`` (estimate it from the trials' own SRs:
    :func:`trial_sr_variance`)."""
    r = np.asarray(returns, dtype=np.float64)
    r = r[np.isfinite(r)]
    n = int(r.size)
    sd = float(r.std(ddof=1)) if n > 1 else math.nan
    sr = float(r.mean() / sd) if n > 1 and sd > 0 else math.nan
    skew = float(stats.skew(r)) if n > 2 else math.nan
    kurt = float(stats.kurtosis(r, fisher=False)) if n > 3 else math.nan
    bar = expected_max_sharpe(max(1, n_trials), max(0.0, sr_variance))
    dsr = probabilistic_sharpe(sr, n, skew, kurt, bar) if math.isfinite(sr) else math.nan
    return DeflatedSharpe(sharpe=sr, n=n, skew=skew, kurtosis=kurt, n_trials=n_trials,
                          sr_variance=sr_variance, benchmark=bar, dsr=dsr)


def trial_sr_variance(sharpes: Sequence[float]) -> float:
    """Variance of the trials' per-period Sharpe ratios (0 with fewer than two)."""
    x = np.asarray([s for s in sharpes if math.isfinite(s)], dtype=np.float64)
    return float(x.var(ddof=1)) if x.size > 1 else 0.0


def adjusted_pvalues(t_stats: Sequence[float], method: Adjustment = "bhy") -> np.ndarray:
    """Two-sided p-values of ``t_stats`` (normal approximation, as HLZ) adjusted for the
    number of tests: ``bonferroni`` (p x M), ``holm`` (step-down) or ``bhy``
    (Benjamini–Hochberg–Yekutieli, valid under any dependence)."""
    t = np.abs(np.asarray(t_stats, dtype=np.float64))
    p = 2.0 * stats.norm.sf(t)
    m = p.size
    if m == 0:
        return p
    if method == "bonferroni":
        return np.minimum(1.0, p * m)
    if method == "holm":
        order = np.argsort(p)
        stepped = np.maximum.accumulate(p[order] * (m - np.arange(m)))
        out = np.empty_like(p)
        out[order] = np.minimum(1.0, stepped)
        return out
    if method == "bhy":
        return np.asarray(stats.false_discovery_control(p, method="by"))
    raise ValueError(f"unknown adjustment {method!r}; choose one of {', '.join(ADJUSTMENTS)}")


def adjusted_t(t_stats: Sequence[float], method: Adjustment = "bhy") -> np.ndarray:
    """The t-statistic each adjusted p-value corresponds to (HLZ's haircut t), with the sign
    of the original statistic."""
    t = np.asarray(t_stats, dtype=np.float64)
    p = np.clip(adjusted_pvalues(t, method), 1e-300, 1.0)
    return np.sign(t) * stats.norm.isf(p / 2.0)


@dataclass(frozen=True)
class BestFactor:
    """The best of ``tests`` t-statistics and its haircuts (HLZ) for having been picked."""

    t: float
    tests: int
    t_bonferroni: float
    t_bhy: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def best_of(t_stats: Sequence[float], tests: int) -> BestFactor | None:
    """The largest |t| of ``t_stats`` as the best of ``tests`` tests (at least the
    statistics given): adjusted by Bonferroni and BHY with the other tests taken as no better
    than it (conservative for BHY, exact for Bonferroni). None when no statistic is finite."""
    ts = [float(t) for t in t_stats if math.isfinite(t)]
    if not ts:
        return None
    top = max(ts, key=abs)
    m = max(len(ts), int(tests))
    rest = [top] + [0.0] * (m - 1)
    return BestFactor(t=top, tests=m, t_bonferroni=float(adjusted_t(rest, "bonferroni")[0]),
                      t_bhy=float(adjusted_t(rest, "bhy")[0]))


@dataclass(frozen=True)
class PairedVerdict:
    """``a`` against ``b`` over cells both ran: mean difference, wins, the test and p."""

    a: str
    b: str
    n: int
    mean_diff: float
    wins: int
    test: str
    p_value: float
    verdict: str  # "better", "worse" or "no difference" at ``alpha``

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


#: The paired test's name as records store it (English: records are data, not text); readers
#: word it and the verdicts through :data:`WORDING` in their language.
WILCOXON = "Wilcoxon signed-rank (two-sided)"
#: Catalogue key (engine/i18n/*/significance.toml) of each verdict and test name a record holds.
WORDING = {"better": "significance.verdict_better", "worse": "significance.verdict_worse",
           "no difference": "significance.verdict_no_difference",
           WILCOXON: "significance.test_wilcoxon"}


def paired_verdict(a: str, b: str, a_values: Sequence[float], b_values: Sequence[float],
                   alpha: float = 0.05) -> PairedVerdict:
    """Wilcoxon signed-rank test of ``a − b`` over paired cells (NaN pairs dropped)."""
    x = np.asarray(a_values, dtype=np.float64)
    y = np.asarray(b_values, dtype=np.float64)
    keep = np.isfinite(x) & np.isfinite(y)
    d = x[keep] - y[keep]
    n = int(d.size)
    test = WILCOXON
    if n == 0 or not np.any(d != 0):
        return PairedVerdict(a, b, n, float(d.mean()) if n else math.nan, 0, test, math.nan,
                             "no difference")
    p = float(stats.wilcoxon(d, alternative="two-sided").pvalue)
    mean = float(d.mean())
    verdict = "no difference" if not p < alpha else ("better" if mean > 0 else "worse")
    return PairedVerdict(a, b, n, mean, int((d > 0).sum()), test, p, verdict)
