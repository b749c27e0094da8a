"""The dynamic combiner's reasons: codes with parameters, worded in the reader's language;
reasons saved as English text (before codes, or by a plug-in method) shown as they are."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest

from engine.combine import CombineConfig, combine
from engine.combine.reasons import CODES, PARAMS_COLUMN, encode, reason_text, reason_texts
from engine.i18n import Translator
from tests.engine.combine.test_dynamic import planted

EN, KO = Translator("en"), Translator("ko")


def test_selected_reason_in_english_and_korean() -> None:
    params = encode("selected", rank_ic=-0.0412, rank_icir=0.51, rank=1, count=2, flipped=True)
    assert reason_text("selected", params, EN) == (
        "RankIC -0.041, RankICIR 0.510, rank 1 of 2, sign flipped (negative RankIC)")
    assert reason_text("selected", params, KO) == (
        "RankIC -0.041, RankICIR 0.510, 2개 중 1위, 부호 반전 (음의 RankIC)")


def test_thresholds_are_shown_on_absolute_values() -> None:
    params = encode("below_both", rank_ic=-0.01, rank_ic_min=0.02, rank_icir=-0.1,
                    rank_icir_min=0.2)
    assert reason_text("below_both", params, EN) == (
        "not selected: |RankIC| 0.010 ≤ 0.020; |RankICIR| 0.100 ≤ 0.200")
    assert reason_text("below_both", params, KO).startswith("선택 안 됨: |RankIC| 0.010")


def test_a_missing_number_is_a_dash_and_strict_json() -> None:
    params = encode("fallback", rank_ic=float("nan"), rank_icir=0.3, flipped=False)
    assert json.loads(params)["rank_ic"] is None and "NaN" not in params
    assert "RankIC –," in reason_text("fallback", params, EN)


def test_old_english_text_is_shown_as_it_is() -> None:
    old = "RankIC 0.041, RankICIR 0.510, rank 1 of 2"
    assert reason_text(old, None, KO) == old
    assert reason_text("static OLS on 76 training days; RankIC 0.041", None, KO).startswith(
        "static OLS")
    frame = pl.DataFrame({"factor": ["a"], "reason": [old]})  # a weights file before codes
    assert reason_texts(frame, KO) == [old]


def test_unknown_code_is_refused() -> None:
    with pytest.raises(ValueError):
        encode("because")


def test_every_reason_of_a_combination_has_a_code_and_reads_in_both_languages() -> None:
    k, t, n = 6, 160, 80
    f, y = planted(k, t, n, 5)
    res = combine(f, y, names=[f"f{i}" for i in range(k)],
                  dates=np.arange(t).astype("datetime64[D]"), score_days=60,
                  config=CombineConfig(window=60, n_factors=2, horizon=2))
    w = res.weights
    assert set(w["reason"]) <= set(CODES) and w[PARAMS_COLUMN].null_count() == 0
    for tr in (EN, KO):
        texts = reason_texts(w, tr)
        assert all(texts) and not any("{" in x or "combine.reason" in x for x in texts)
    assert any(x.endswith("위") for x in reason_texts(w, KO))  # a selected factor, ranked
