"""The live board of progress events: the best formulas so far and the fitness histogram,
kept from the scores the run already computed, small, and rebuilt on resume."""

from __future__ import annotations

import math
from typing import Any

from engine.data.panel import Panel
from engine.mining.loop import mine
from engine.mining.scorer import GATED_OUT, FormulaStats
from engine.mining.session import BOARD_EVENTS, HIST_BINS, Leaderboard
from tests.engine.mining.conftest import tiny


def _stats(score: float, ic: float = 0.02) -> FormulaStats:
    return FormulaStats(score, ic, 0.5, math.nan, math.nan, True)


def test_leaderboard_keeps_the_best_distinct_formulas() -> None:
    board = Leaderboard(size=3)
    for i, score in enumerate([0.01, 0.05, 0.03, 0.02, 0.04, 0.005]):
        board.add(f"f{i}", _stats(score))
    board.add("gated", GATED_OUT)
    board.add("screened", FormulaStats(0.9, 0.9, 0.9, math.nan, math.nan, True, True))
    out = board.fields(bins=5)
    assert [x["formula"] for x in out["leaders"]] == ["f1", "f4", "f2"]
    assert out["best_so_far"] == 0.05 and out["leaders"][0]["ic"] == 0.02
    hist = out["fitness_hist"]
    assert hist["hi"] == 0.05 and len(hist["counts"]) == 5
    assert sum(hist["counts"]) == 6 and hist["excluded"] == 2


def test_empty_board_is_well_formed() -> None:
    out = Leaderboard().fields()
    assert out == {"leaders": [], "best_so_far": None,
                   "fitness_hist": {"hi": 0.0, "counts": [], "excluded": 0}}


def test_rebuilt_board_matches_the_live_one() -> None:
    stats = {f"f{i}": _stats(0.001 * (i % 17)) for i in range(60)}
    live = Leaderboard()
    for key, st in stats.items():
        live.add(key, st)
    assert Leaderboard.from_stats(stats).fields() == live.fields()


def test_progress_events_carry_the_board(small_panel: Panel) -> None:
    events: list[dict[str, Any]] = []
    mine(small_panel, tiny(max_rounds=2, zoo_size=5, stop_when_full=False),
         progress=events.append)
    phase_ends = [e for e in events if e["event"] in BOARD_EVENTS]
    assert phase_ends and all("leaders" in e and "fitness_hist" in e for e in phase_ends)
    warmup = next(e for e in events if e["event"] == "warmup")
    assert 0 < len(warmup["leaders"]) <= 10
    fits = [x["fitness"] for x in warmup["leaders"]]
    assert fits == sorted(fits, reverse=True) and warmup["best_so_far"] == fits[0]
    assert len({x["formula"] for x in warmup["leaders"]}) == len(fits)
    assert len(warmup["fitness_hist"]["counts"]) == HIST_BINS
    assert sum(warmup["fitness_hist"]["counts"]) + warmup["fitness_hist"]["excluded"] \
        == warmup["evaluated"]
    best = [e["best_so_far"] for e in events if e.get("best_so_far") is not None]
    assert best == sorted(best), "best so far never goes down"
