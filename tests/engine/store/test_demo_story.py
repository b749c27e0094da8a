"""The demo tells its story (#20 item 5) on the default demo seed: the flipping signal flips
inside the default test period, and there the dynamic Mega-Alpha beats the static and the
equal-weight combinations of the same factors (the classic set: no mining in a unit test;
docs/synthetic-market.md "The demo project" has the numbers, mined zoo included)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.combine.api import combine_panel
from engine.combine.service import combine_config
from engine.expr.builtin_sets import builtin_set
from engine.expr.evaluate import Evaluator
from engine.mining.split import suggest_split
from engine.store.demo import DEMO_DATASET, demo_config, ensure_demo, is_demo


def test_the_flip_is_in_the_default_test_period_and_the_dynamic_combiner_wins_there(
        tmp_path: Path) -> None:
    config = demo_config()
    project, meta, created = ensure_demo(tmp_path / "demo")
    assert created and is_demo(meta)
    panel = project.load_panel(DEMO_DATASET)
    _, _, test = suggest_split(panel)
    flip = np.datetime64(config.flip_date(), "D")
    start, end = np.datetime64(test.start, "D"), np.datetime64(test.end, "D")
    assert start + np.timedelta64(20, "D") < flip < end - np.timedelta64(90, "D")

    formulas = list(builtin_set("classic").formulas)  # type: ignore[union-attr]
    values = Evaluator(panel).evaluate_many(formulas)
    score = (panel.dates >= start) & (panel.dates <= end)
    rank_ic = {m: combine_panel(panel, values, formulas, score_days=score,
                                train_days=panel.dates < start,
                                config=combine_config(m)).summary()["rank_ic"]
               for m in ("dynamic", "static", "equal")}
    assert rank_ic["dynamic"] > rank_ic["static"] + 0.01
    assert rank_ic["dynamic"] > rank_ic["equal"] + 0.01
