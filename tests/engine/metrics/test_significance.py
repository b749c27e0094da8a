"""Significance after many trials: the deflated Sharpe ratio reproduces the worked example of
Bailey & López de Prado (2014); the multiple-testing haircut agrees with scipy and with the
Bonferroni hurdle Harvey, Liu & Zhu quote; the paired verdict names its test."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from engine.metrics import significance as sig


def test_deflated_sharpe_matches_the_papers_worked_example() -> None:
    # annual SR 2.5 over 5 years of daily returns (1,250), skew -3, kurtosis 10, 100 trials
    # whose annualised Sharpe ratios have variance 0.5 -> SR0 = 0.1132 a day, DSR = 0.9004
    bar = sig.expected_max_sharpe(100, 0.5 / 250)
    assert bar == pytest.approx(0.1132, abs=1e-4)
    dsr = sig.probabilistic_sharpe(2.5 / math.sqrt(250), 1250, -3.0, 10.0, bar)
    assert dsr == pytest.approx(0.9004, abs=1e-4)


def test_deflated_sharpe_of_a_series_uses_its_own_moments() -> None:
    r = np.random.default_rng(0).standard_t(5, 750) * 0.01 + 0.0008
    got = sig.deflated_sharpe(r, n_trials=20, sr_variance=0.002)
    sr = r.mean() / r.std(ddof=1)
    want = sig.probabilistic_sharpe(sr, r.size, float(stats.skew(r)),
                                    float(stats.kurtosis(r, fisher=False)),
                                    sig.expected_max_sharpe(20, 0.002))
    assert got.dsr == pytest.approx(want) and got.sharpe == pytest.approx(sr)
    assert sig.deflated_sharpe(r, 1, 0.0).dsr > got.dsr  # more trials, less significance


def test_adjusted_t_statistics() -> None:
    # HLZ's Bonferroni hurdle: with 316 tests a 5% two-sided test needs t of about 3.78
    hurdle = stats.norm.isf(0.05 / 2 / 316)
    assert hurdle == pytest.approx(3.78, abs=0.01)
    assert sig.adjusted_t([hurdle] + [0.0] * 315, "bonferroni")[0] == pytest.approx(1.96,
                                                                                  abs=1e-2)
    t = np.array([3.1, -2.2, 0.5, 4.0, 1.9])
    p = 2 * stats.norm.sf(np.abs(t))
    assert np.allclose(sig.adjusted_pvalues(t, "bhy"), stats.false_discovery_control(p,
                                                                                     method="by"))
    holm = sig.adjusted_pvalues(t, "holm")
    order = np.argsort(p)
    stepped = np.maximum.accumulate(p[order] * (5 - np.arange(5)))
    assert np.allclose(holm[order], np.minimum(1, stepped))
    assert np.all(np.abs(sig.adjusted_t(t, "bonferroni")) <= np.abs(t))
    adj = sig.adjusted_t(t)
    assert np.all((np.sign(adj) == np.sign(t)) | (adj == 0))  # p adjusted to 1 -> t 0


def test_paired_verdict_names_the_test() -> None:
    a = [0.05, 0.06, 0.04, 0.07, 0.05, 0.06, 0.08, 0.05]
    b = [0.01, 0.02, 0.00, 0.03, 0.02, 0.01, 0.02, 0.01]
    v = sig.paired_verdict("cnn", "gp", a, b)
    assert v.verdict == "better" and v.wins == 8 and "Wilcoxon" in v.test
    assert v.p_value == pytest.approx(stats.wilcoxon(np.subtract(a, b)).pvalue)
    assert sig.paired_verdict("cnn", "gp", a, a).verdict == "no difference"
