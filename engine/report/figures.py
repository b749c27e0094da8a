"""Every Plotly figure of the product, built in one place so the app and the PDF match.

Functions take already-computed data (frames, series) and only draw: no statistics are
computed here beyond what formatting needs (aggregating a coverage grid to a readable size).
"""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go
import polars as pl

PALETTE = ("#2F6FEB", "#E4572E", "#17BEBB", "#FFC914", "#76B041", "#8E6C8A", "#3D405B")
_LAYOUT = {"template": "plotly_white", "margin": {"l": 50, "r": 20, "t": 50, "b": 40},
           "font": {"family": "Noto Sans, Arial, sans-serif"}}


def coverage_heatmap(frame: pl.DataFrame, *, max_tickers: int = 120, every: str = "1mo",
                     title: str = "Data coverage") -> go.Figure:
    """Share of trading days with a close price, per ticker (rows) and period (columns).

    ``frame`` is a canonical long table. Tickers are sorted by their first date so listings
    and delistings show as a staircase; beyond ``max_tickers`` rows an even sample is shown.
    """
    days = frame.select(pl.col("date").dt.truncate(every).alias("period"), "date").unique()
    per_period = days.group_by("period").agg(pl.len().alias("days"))
    have = (
        frame.filter(pl.col("close").is_not_null())
        .with_columns(pl.col("date").dt.truncate(every).alias("period"))
        .group_by("ticker", "period").agg(pl.len().alias("n"))
        .join(per_period, on="period")
        .with_columns((pl.col("n") / pl.col("days")).alias("share"))
    )
    order = (frame.group_by("ticker").agg(pl.col("date").min().alias("first"))
             .sort("first", "ticker").get_column("ticker").to_list())
    if len(order) > max_tickers:
        step = len(order) / max_tickers
        order = [order[int(i * step)] for i in range(max_tickers)]
    periods = per_period.sort("period").get_column("period").to_list()
    grid = (have.filter(pl.col("ticker").is_in(order))
            .pivot(on="period", index="ticker", values="share"))
    grid = pl.DataFrame({"ticker": order}).join(grid, on="ticker", how="left")
    cols = [str(p) for p in periods]
    grid = grid.rename({c: str(c) for c in grid.columns})
    z = grid.select([c for c in cols if c in grid.columns]).fill_null(0).to_numpy()
    fig = go.Figure(go.Heatmap(z=z, x=cols, y=order, colorscale="Blues", zmin=0, zmax=1,
                               colorbar={"title": "share"},
                               hovertemplate="%{y} %{x}: %{z:.0%}<extra></extra>"))
    fig.update_layout(title=title, height=max(300, min(900, 12 * len(order) + 120)),
                      yaxis={"autorange": "reversed", "showticklabels": len(order) <= 60},
                      **_LAYOUT)
    return fig


def price_chart(frame: pl.DataFrame, tickers: Sequence[str], *, field: str = "close",
                normalise: bool = True, title: str | None = None) -> go.Figure:
    """Price lines of a few tickers; ``normalise`` rebases each to 1 on its first day."""
    fig = go.Figure()
    for i, ticker in enumerate(tickers):
        part = frame.filter(pl.col("ticker") == ticker).sort("date")
        y = part.get_column(field)
        if normalise and part.height:
            first = y.drop_nulls().head(1)
            y = y / first[0] if first.len() and first[0] else y
        fig.add_trace(go.Scatter(x=part.get_column("date").to_list(), y=y.to_list(),
                                 mode="lines", name=ticker,
                                 line={"color": PALETTE[i % len(PALETTE)], "width": 1.6}))
    label = f"{field} (rebased to 1)" if normalise else field
    fig.update_layout(title=title or f"{label} of {', '.join(tickers[:5])}"
                      + (" ..." if len(tickers) > 5 else ""), yaxis_title=label,
                      hovermode="x unified", **_LAYOUT)
    return fig
