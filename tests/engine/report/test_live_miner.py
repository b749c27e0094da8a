"""The live miner's frames and figures: progress against formulas evaluated, the leaders
table and the fitness histogram; runs older than the live board still render."""

from __future__ import annotations

from typing import Any

from engine.report import figures, series

OLD_RUN: list[dict[str, Any]] = [
    {"event": "started", "step": 1, "round": 0, "evaluated": 0, "zoo_size": 0,
     "elapsed_s": 0.1, "eta_s": 60.0},
    {"event": "evaluating", "step": 2, "round": 0, "evaluated": 300, "zoo_size": 0,
     "elapsed_s": 2.1, "eta_s": 58.0},
    {"event": "warmup", "step": 3, "round": 0, "evaluated": 500, "zoo_size": 2,
     "elapsed_s": 4.0, "eta_s": 40.0, "best_fitness": 0.03, "median_fitness": 0.01},
    {"event": "round", "step": 4, "round": 1, "evaluated": 900, "zoo_size": 3,
     "elapsed_s": 9.0, "eta_s": 0.0, "best_fitness": 0.02, "median_fitness": 0.005},
]


def _board_event(evaluated: int) -> dict[str, Any]:
    return {"event": "evaluating", "step": 9, "round": 0, "evaluated": evaluated,
            "zoo_size": 0, "elapsed_s": 3.0, "eta_s": 50.0, "best_so_far": 0.05,
            "leaders": [{"formula": "Sub($close, -2)", "fitness": 0.05, "ic": 0.04},
                        {"formula": "Div($high, $low)", "fitness": 0.02, "ic": 0.03}],
            "fitness_hist": {"hi": 0.05, "counts": [5, 3, 0, 1, 1], "excluded": 7}}


def test_progress_frame_of_an_old_run_uses_every_count() -> None:
    frame = series.progress_frame(OLD_RUN)
    assert frame["evaluated"].to_list() == [0, 300, 500, 900]
    # no best_so_far field: the running maximum of the phases' best fitness
    assert frame["best_so_far"].to_list() == [None, None, 0.03, 0.03]
    fig = figures.mining_progress_chart(frame)
    assert list(fig.data[0].x) == [0, 300, 500, 900]
    assert fig.layout.xaxis.title.text == "formulas evaluated"
    assert {d.name for d in fig.data} == {"best fitness so far", "median fitness", "zoo size"}


def test_progress_frame_keeps_the_latest_event_per_count() -> None:
    events = [*OLD_RUN[:2], _board_event(300), _board_event(450)]
    frame = series.progress_frame(events)
    assert frame["evaluated"].to_list() == [0, 300, 450]
    assert frame["best_so_far"].to_list() == [None, 0.05, 0.05]
    assert series.progress_frame([]).height == 0


def test_live_board_reads_the_latest_board() -> None:
    assert series.live_board(OLD_RUN) is None
    board = series.live_board([_board_event(300), *OLD_RUN[3:]])
    assert board is not None and board.evaluated == 300 and board.excluded == 7
    assert board.leaders.columns == ["rank", "readable", "formula", "fitness", "ic"]
    assert board.leaders.row(0, named=True)["readable"] == "close + 2"
    assert board.histogram["count"].to_list() == [5, 3, 0, 1, 1]
    assert board.histogram["bin_lo"][0] == 0.0
    assert abs(board.histogram["bin_hi"][-1] - 0.05) < 1e-12
    fig = figures.fitness_histogram_chart(board.histogram)
    assert list(fig.data[0].y) == [5, 3, 0, 1, 1]
    assert abs(fig.data[0].x[0] - 0.005) < 1e-12


def test_empty_histogram_draws() -> None:
    event = {**_board_event(10), "fitness_hist": {"hi": 0.0, "counts": [], "excluded": 10}}
    board = series.live_board([event])
    assert board is not None and board.histogram.height == 0
    figures.fitness_histogram_chart(board.histogram)


def test_run_fraction_stays_below_one_until_done() -> None:
    assert series.run_fraction(OLD_RUN) == 0.99  # eta 0: finishing, not done
    assert series.run_fraction([*OLD_RUN, {"event": "done"}]) == 1.0
