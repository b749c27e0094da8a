"""The one list of a strategy's charts: which plots a strategy shows, and in which order.

alphalens' ``tears.py`` is the model: :mod:`engine.report.figures` draws (each plot a function
of data), and only this list decides which plots a strategy has. The Reports page, the Combine
& backtest page, the PDF and the HTML report all read :data:`STRATEGY_CHARTS` (through
:func:`strategy_charts` and :func:`charts_of`), so they show the same charts in the same
order. Adding a chart is one function in ``figures.py`` and one line here.

The figures keep the titles the app shows; the PDF and HTML report put each chart under a
numbered heading of its own (``title``) instead, with its ``note`` as the caption. Both are
catalogue keys formatted with :func:`engine.report.content.chart_params`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import plotly.graph_objects as go
import polars as pl

from engine.i18n import Translator
from engine.report import figures

if TYPE_CHECKING:
    from engine.report.content import StrategyContent

#: Report sections a chart can sit in, in report order (``report.section.<name>``).
SECTIONS = ("performance", "signal")


@dataclass(frozen=True)
class ChartSpec:
    """One chart of a strategy.

    ``key`` is its stable name (chart download file names, the reports' chart slots, the
    app's element keys). ``draw`` builds the Plotly figure from the gathered content; it only
    picks the frames and hands them to a function of :mod:`engine.report.figures`.
    ``height_px`` is its printed height (kaleido, at the PDF's pixel width) when the figure
    sets none; ``narrow`` says it reads well at half width, so a page may put it beside a
    narrow neighbour.
    """

    key: str
    section: str
    title: str
    draw: Callable[[StrategyContent, Translator], go.Figure]
    note: str | None = None
    needs_backtest: bool = False
    height_px: int = 400
    narrow: bool = False


def benchmark_label(c: StrategyContent, t: Translator) -> str:
    """The benchmark's name: a ticker, or the equal-weight universe."""
    bench = c.provenance.benchmark
    return t("figures.benchmark_equal") if bench in (None, "equal") else str(bench)


def _tested(frame: pl.DataFrame | None) -> pl.DataFrame:
    """A backtest frame, which a ``needs_backtest`` chart is only drawn with."""
    if frame is None:
        raise ValueError("a backtest chart was drawn for a strategy without a backtest")
    return frame


STRATEGY_CHARTS: tuple[ChartSpec, ...] = (
    ChartSpec("equity", "performance", "report.chart.equity",
              lambda c, t: figures.equity_chart(_tested(c.equity), t=t,
                                                benchmark=benchmark_label(c, t)),
              note="report.equity_note", needs_backtest=True, height_px=450),
    ChartSpec("drawdown", "performance", "report.chart.drawdown",
              lambda c, t: figures.drawdown_chart(_tested(c.equity), t=t),
              note="report.drawdown_note", needs_backtest=True, height_px=340, narrow=True),
    ChartSpec("turnover", "performance", "report.chart.turnover",
              lambda c, t: figures.turnover_chart(_tested(c.equity), t=t),
              note="report.turnover_note", needs_backtest=True, height_px=340, narrow=True),
    ChartSpec("monthly", "performance", "report.chart.monthly",
              lambda c, t: figures.monthly_heatmap(_tested(c.monthly), t=t),
              needs_backtest=True),
    ChartSpec("rolling_sharpe", "performance", "report.chart.rolling_sharpe",
              lambda c, t: figures.rolling_sharpe_chart(_tested(c.rolling_sharpe), t=t),
              note="report.rolling_sharpe_note", needs_backtest=True, height_px=340),
    ChartSpec("weights", "signal", "report.chart.weights",
              lambda c, t: figures.weights_heatmap(c.weights, dict(c.labels), t=t),
              note="report.weights_note", height_px=500),
    ChartSpec("rank_ic", "signal", "report.chart.ic",
              lambda c, t: figures.ic_chart(c.ic, t=t), note="report.ic_note", height_px=420),
)


def charts_of(c: StrategyContent, section: str | None = None) -> tuple[ChartSpec, ...]:
    """The charts strategy ``c`` has (backtest charts only once it is backtested), in list
    order; only those of ``section`` when one is given."""
    return tuple(spec for spec in STRATEGY_CHARTS
                 if (c.has_backtest or not spec.needs_backtest)
                 and section in (None, spec.section))


def strategy_charts(c: StrategyContent, t: Translator, section: str | None = None
                    ) -> dict[str, go.Figure]:
    """The figures of :func:`charts_of` by key, in list order (what every caller draws)."""
    return {spec.key: spec.draw(c, t) for spec in charts_of(c, section)}
