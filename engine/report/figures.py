"""Every Plotly figure of the product, built in one place so the app and the PDF match.

Functions take already-computed data (frames, series) and only draw: no statistics are
computed here beyond what formatting needs (aggregating a coverage grid to a readable size).
"""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go
import polars as pl

from engine.expr.mathtext import readable
from engine.i18n import Translator, translate

PALETTE = ("#2F6FEB", "#E4572E", "#17BEBB", "#FFC914", "#76B041", "#8E6C8A", "#3D405B")
_LAYOUT = {"template": "plotly_white", "margin": {"l": 50, "r": 20, "t": 50, "b": 40},
           "font": {"family": "Source Sans, Noto Sans, Arial, alphaforge-hangul, sans-serif"}}


def coverage_heatmap(frame: pl.DataFrame, *, max_tickers: int = 120, every: str = "1mo",
                     title: str = "Data coverage", colorbar_title: str = "share") -> go.Figure:
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
                               colorbar={"title": colorbar_title},
                               hovertemplate="%{y} %{x}: %{z:.0%}<extra></extra>"))
    fig.update_layout(title=title, height=max(300, min(900, 12 * len(order) + 120)),
                      yaxis={"autorange": "reversed", "showticklabels": len(order) <= 60},
                      **_LAYOUT)
    return fig


def price_chart(frame: pl.DataFrame, tickers: Sequence[str], *, field: str = "close",
                normalise: bool = True, title: str | None = None,
                yaxis_title: str | None = None) -> go.Figure:
    """Price lines of a few tickers; ``normalise`` rebases each to 1 on its first day.
    ``title``/``yaxis_title`` replace the English defaults (the app passes translations)."""
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
    label = yaxis_title or (f"{field} (rebased to 1)" if normalise else field)
    fig.update_layout(title=title or f"{label} of {', '.join(tickers[:5])}"
                      + (" ..." if len(tickers) > 5 else ""), yaxis_title=label,
                      hovermode="x unified", **_LAYOUT)
    return fig


def equity_chart(eq: pl.DataFrame, *, title: str | None = None,
                 names: Sequence[str] = ("strategy", "benchmark"), t: Translator | None = None,
                 benchmark: str | None = None) -> go.Figure:
    """Wealth curves (from :func:`engine.report.series.equity`), strategy vs benchmark;
    ``benchmark`` names a ticker benchmark in the legend (default: the equal-weight one)."""
    fig = go.Figure()
    legend = {"strategy": _text(t, "strategy"),
              "benchmark": benchmark or _text(t, "benchmark_equal")}
    for i, col in enumerate(names):
        if col in eq.columns:
            fig.add_trace(go.Scatter(x=eq["date"].to_list(), y=(eq[col] - 1).to_list(),
                                     name=legend.get(col, col), mode="lines",
                                     line={"color": PALETTE[i], "width": 2 if i == 0 else 1.4,
                                           "dash": "solid" if i == 0 else "dash"}))
    fig.update_layout(title=title or _text(t, "equity_title"), yaxis_tickformat=".0%",
                      hovermode="x unified", **_LAYOUT)
    return fig


def equity_comparison(curves: dict[str, pl.DataFrame], *, title: str | None = None,
                      t: Translator | None = None) -> go.Figure:
    """Several strategies' wealth curves on one chart (name -> equity frame)."""
    fig = go.Figure()
    for i, (name, eq) in enumerate(curves.items()):
        fig.add_trace(go.Scatter(x=eq["date"].to_list(), y=(eq["strategy"] - 1).to_list(),
                                 name=name, mode="lines",
                                 line={"color": PALETTE[i % len(PALETTE)], "width": 1.8}))
    fig.update_layout(title=title or _text(t, "comparison_title"), yaxis_tickformat=".0%",
                      hovermode="x unified", **_LAYOUT)
    return fig


def drawdown_chart(eq: pl.DataFrame, *, title: str | None = None, t: Translator | None = None
                   ) -> go.Figure:
    fig = go.Figure(go.Scatter(x=eq["date"].to_list(), y=eq["drawdown"].to_list(), fill="tozeroy",
                               mode="lines", name=_text(t, "drawdown"),
                               line={"color": PALETTE[1], "width": 1}))
    fig.update_layout(title=title or _text(t, "drawdown_title"), yaxis_tickformat=".0%",
                      **_LAYOUT)
    return fig


def turnover_chart(eq: pl.DataFrame, *, title: str | None = None, t: Translator | None = None
                   ) -> go.Figure:
    fig = go.Figure(go.Bar(x=eq["date"].to_list(), y=eq["turnover"].to_list(),
                           marker_color=PALETTE[2], name=_text(t, "turnover")))
    fig.update_layout(title=title or _text(t, "turnover_title"), yaxis_tickformat=".0%",
                      **_LAYOUT)
    return fig


MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def monthly_heatmap(grid: pl.DataFrame, *, title: str | None = None,
                    months: Sequence[str] | None = None, t: Translator | None = None
                    ) -> go.Figure:
    """Year x month heat map (from :func:`engine.report.series.monthly_grid`); ``months``
    are the twelve column labels (default: the translator's month names)."""
    months = list(months) if months is not None else [_text(t, f"month_{i}")
                                                      for i in range(1, 13)]
    title = title or _text(t, "monthly_title")
    z = grid.drop("year").to_numpy() if grid.width > 1 else [[]]
    years = [str(y) for y in grid["year"].to_list()]
    fig = go.Figure(go.Heatmap(z=z, x=months, y=years, colorscale="RdYlGn", zmid=0,
                               texttemplate="%{z:.1%}", hovertemplate="%{y} %{x}: %{z:.2%}"
                               "<extra></extra>", colorbar={"tickformat": ".0%"}))
    fig.update_layout(title=title, yaxis={"autorange": "reversed", "type": "category"},
                      height=max(260, 60 * len(years) + 120), **_LAYOUT)
    return fig


def _formula_hover(formula: str) -> str:
    """Readable form above the function form (one line each) for hover labels."""
    nice = readable(formula)
    return formula if nice == formula else f"{nice}<br>{formula}"


def weights_heatmap(grid: pl.DataFrame, formulas: dict[str, str], *,
                    title: str | None = None, t: Translator | None = None) -> go.Figure:
    """Date x factor coefficients (from :func:`engine.report.series.weights_grid`) above the
    number of active factors; hovering a cell shows the formula behind its short label."""
    from plotly.subplots import make_subplots

    labels = [c for c in grid.columns if c not in ("date", "n_active")]
    dates = grid["date"].to_list()
    z = grid.select(labels).to_numpy().T if labels else [[]]
    formula_of = {v: k for k, v in formulas.items()}
    hover = [[_formula_hover(formula_of.get(label, label))] * len(dates) for label in labels]
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.8, 0.2],
                        vertical_spacing=0.04)
    fig.add_trace(go.Heatmap(z=z, x=dates, y=labels, colorscale="RdBu", zmid=0,
                             customdata=hover, colorbar={"title": _text(t, "weight"),
                                                         "len": 0.75, "y": 0.62},
                             hovertemplate="%{x}<br>%{customdata}<br>"
                             + _text(t, "weight") + " %{z:.4f}<extra></extra>"), row=1, col=1)
    fig.add_trace(go.Scatter(x=dates, y=grid["n_active"].to_list(),
                             name=_text(t, "active_factors"),
                             mode="lines", line={"color": "#1B2333", "width": 1.2,
                                                 "shape": "hv"}, showlegend=False),
                  row=2, col=1)
    fig.update_yaxes(autorange="reversed", row=1, col=1)
    fig.update_yaxes(title_text=_text(t, "active"), rangemode="tozero", row=2, col=1)
    fig.update_layout(title=title or _text(t, "weights_title"),
                      height=max(360, 22 * len(labels) + 220), **_LAYOUT)
    return fig


def ic_chart(ic: pl.DataFrame, *, title: str | None = None, t: Translator | None = None
             ) -> go.Figure:
    """Daily RankIC bars and their rolling mean (from :func:`engine.report.series.rolling_ic`)."""
    fig = go.Figure()
    fig.add_trace(go.Bar(x=ic["date"].to_list(), y=ic["rank_ic"].to_list(),
                         name=_text(t, "daily_rank_ic"), marker_color="#9DB7EE"))
    fig.add_trace(go.Scatter(x=ic["date"].to_list(), y=ic["rank_ic_mean"].to_list(),
                             name=_text(t, "rolling_mean"), mode="lines",
                             line={"color": PALETTE[0], "width": 2}))
    fig.update_layout(title=title or _text(t, "mega_alpha_ic_title"), hovermode="x unified",
                      **_LAYOUT)
    return fig


def mining_progress_chart(progress: pl.DataFrame, *, title: str | None = None,
                          t: Translator | None = None) -> go.Figure:
    """Best-so-far train fitness and zoo size against formulas evaluated (from
    :func:`engine.report.series.progress_frame`), the phases' median fitness as markers.

    Formulas evaluated, not rounds, on the x axis: the count moves every few seconds, so the
    chart has a shape during the warm-up and after one or two rounds already."""
    fig = go.Figure()
    x = progress["evaluated"].to_list()
    fig.add_trace(go.Scatter(x=x, y=progress["best_so_far"].to_list(),
                             name=_text(t, "best_so_far"), mode="lines+markers",
                             line={"color": PALETTE[0], "shape": "hv"}))
    phases = progress.filter(pl.col("median_fitness").is_not_null())
    if phases.height:
        fig.add_trace(go.Scatter(x=phases["evaluated"].to_list(),
                                 y=phases["median_fitness"].to_list(),
                                 name=_text(t, "median_fitness"), mode="markers",
                                 marker={"color": PALETTE[2], "symbol": "diamond"}))
    fig.add_trace(go.Scatter(x=x, y=progress["zoo_size"].to_list(), name=_text(t, "zoo_size"),
                             yaxis="y2", mode="lines", fill="tozeroy",
                             line={"color": "rgba(228,87,46,0.6)", "shape": "hv"},
                             fillcolor="rgba(228,87,46,0.15)"))
    top = max(progress["zoo_size"].max() or 1, 1) if progress.height else 1
    fig.update_layout(title=title or _text(t, "mining_progress_title"),
                      xaxis={"title": _text(t, "formulas_evaluated"), "rangemode": "tozero"},
                      yaxis={"title": _text(t, "fitness"), "rangemode": "tozero"},
                      yaxis2={"overlaying": "y", "side": "right", "title": _text(t, "zoo_size"),
                              "showgrid": False, "rangemode": "tozero",
                              "dtick": max(1, -(-int(top) // 5))},
                      legend={"orientation": "h", "y": -0.2}, **_LAYOUT)
    return fig


def fitness_histogram_chart(histogram: pl.DataFrame, *, title: str | None = None,
                            t: Translator | None = None) -> go.Figure:
    """How the train fitness of the usable formulas scored so far is spread (bins from
    :func:`engine.report.series.live_board`): most random formulas are weak, and the right
    tail is what the miner is after."""
    lo, hi = histogram["bin_lo"].to_numpy(), histogram["bin_hi"].to_numpy()
    fig = go.Figure(go.Bar(x=((lo + hi) / 2).tolist(), y=histogram["count"].to_list(),
                           width=(hi - lo).tolist(), marker_color=PALETTE[0],
                           name=_text(t, "formulas"),
                           customdata=list(zip(lo.tolist(), hi.tolist(), strict=True)),
                           hovertemplate="%{customdata[0]:.4f} – %{customdata[1]:.4f}: "
                                         "%{y}<extra></extra>"))
    fig.update_layout(title=title or _text(t, "fitness_histogram_title"),
                      xaxis_title=_text(t, "fitness"), yaxis_title=_text(t, "formulas"),
                      bargap=0.05, showlegend=False, **_LAYOUT)
    return fig


def sweep_chart(points: pl.DataFrame, *, metric_label: str | None = None,
                title: str | None = None, t: Translator | None = None) -> go.Figure:
    """A sweep's cells, method x test year: each seed a point, the mean over seeds a bar, so
    the spread between seeds is seen next to the gap between methods
    (:func:`engine.mining.sweep.cell_points`)."""
    fig = go.Figure()
    methods = list(dict.fromkeys(points["method"].to_list()))
    for i, method in enumerate(methods):
        rows = points.filter(pl.col("method") == method)
        color = PALETTE[i % len(PALETTE)]
        means = rows.group_by("year").agg(pl.col("value").mean()).sort("year")
        fig.add_trace(go.Bar(x=[str(y) for y in means["year"]], y=means["value"].to_list(),
                             name=method, marker_color=color, opacity=0.35,
                             offsetgroup=method, legendgroup=method,
                             hovertemplate=f"{method} %{{x}}: %{{y:.4f}}<extra></extra>"))
        fig.add_trace(go.Box(x=[str(y) for y in rows["year"]], y=rows["value"].to_list(),
                             name=method, marker_color=color, boxpoints="all", jitter=0.3,
                             pointpos=0, fillcolor="rgba(0,0,0,0)", line={"width": 0},
                             offsetgroup=method, legendgroup=method, showlegend=False,
                             customdata=rows["seed"].to_list(),
                             hovertemplate=f"{method} %{{x}} seed %{{customdata}}: "
                                           "%{y:.4f}<extra></extra>"))
    fig.update_layout(title=title or _text(t, "sweep_title"), boxmode="group",
                      barmode="group", xaxis_title=_text(t, "test_year"),
                      yaxis_title=metric_label or _text(t, "test_rank_ic"), **_LAYOUT)
    return fig


def _text(t: Translator | None, key: str) -> str:
    """A chart's word in the reader's language (English when no translator is given)."""
    return t(f"figures.{key}") if t is not None else translate(f"figures.{key}")


def decay_chart(decay: pl.DataFrame, *, t: Translator | None = None,
                title: str | None = None) -> go.Figure:
    """Mean RankIC against each forward horizon, one line per formula (from
    :func:`engine.metrics.formulas.factor_detail`): how fast each signal fades."""
    fig = go.Figure()
    for i, (formula, part) in enumerate(decay.group_by("formula", maintain_order=True)):
        fig.add_trace(go.Scatter(x=part["horizon"].to_list(), y=part["rank_ic"].to_list(),
                                 name=str(formula[0]), mode="lines+markers",
                                 line={"color": PALETTE[i % len(PALETTE)],
                                       "dash": ("solid", "dash", "dot")[i % 3]}))
    fig.update_layout(title=title or _text(t, "decay_title"),
                      xaxis_title=_text(t, "horizon_days"), yaxis_title=_text(t, "mean_rank_ic"),
                      showlegend=decay["formula"].n_unique() <= 8, **_LAYOUT)
    return fig


def correlation_heatmap(corr: pl.DataFrame, labels: dict[str, str] | None = None, *,
                        highlight: str | None = None, t: Translator | None = None,
                        title: str | None = None) -> go.Figure:
    """Mutual correlation of factors (``formula`` column + one column per formula). Axes show
    short labels (F1, F2...) with the formula on hover; ``highlight`` outlines one factor."""
    formulas = corr["formula"].to_list()
    names = [labels.get(f, f) if labels else f for f in formulas]
    z = corr.select(formulas).to_numpy()
    hover = [[f"{formulas[i]}<br>{formulas[j]}" for j in range(len(formulas))]
             for i in range(len(formulas))]
    fig = go.Figure(go.Heatmap(z=z, x=names, y=names, zmin=-1, zmax=1, colorscale="RdBu",
                               reversescale=True, customdata=hover,
                               texttemplate="%{z:.2f}" if len(formulas) <= 15 else None,
                               hovertemplate="%{customdata}: %{z:.2f}<extra></extra>"))
    if highlight in formulas:
        k = formulas.index(highlight)
        fig.add_shape(type="rect", x0=-0.5, x1=len(formulas) - 0.5, y0=k - 0.5, y1=k + 0.5,
                      line={"color": "black", "width": 2})
    fig.update_layout(title=title or _text(t, "correlation_title"),
                      yaxis={"autorange": "reversed"},
                      height=max(350, min(800, 28 * len(formulas) + 150)), **_LAYOUT)
    return fig


def rolling_sharpe_chart(rs: pl.DataFrame, *, title: str | None = None,
                         t: Translator | None = None) -> go.Figure:
    """Rolling annualised Sharpe (from :func:`engine.report.series.rolling_sharpe`)."""
    fig = go.Figure(go.Scatter(x=rs["date"].to_list(), y=rs["sharpe"].to_list(), mode="lines",
                               name=_text(t, "sharpe"),
                               line={"color": PALETTE[0], "width": 1.6}))
    fig.add_hline(y=0, line={"color": "#888888", "width": 1, "dash": "dot"})
    fig.update_layout(title=title or _text(t, "rolling_sharpe_title"), hovermode="x unified",
                      **_LAYOUT)
    return fig


def drawdown_comparison(curves: dict[str, pl.DataFrame], *, title: str | None = None,
                        t: Translator | None = None) -> go.Figure:
    """Several strategies' drawdowns on one chart (name -> equity frame)."""
    fig = go.Figure()
    for i, (name, eq) in enumerate(curves.items()):
        fig.add_trace(go.Scatter(x=eq["date"].to_list(), y=eq["drawdown"].to_list(),
                                 name=name, mode="lines",
                                 line={"color": PALETTE[i % len(PALETTE)], "width": 1.4}))
    fig.update_layout(title=title or _text(t, "drawdowns_compared_title"),
                      yaxis_tickformat=".0%", hovermode="x unified", **_LAYOUT)
    return fig


#: Dash patterns given to line traces in order, so printed reports read in black and white.
PRINT_DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")


def for_print(fig: go.Figure) -> go.Figure:
    """The same figure with every line trace given its own dash pattern (in trace order), so
    curves stay distinguishable on a black-and-white printout; colours are kept."""
    lines = [tr for tr in fig.data if isinstance(tr, go.Scatter) and "lines" in (tr.mode or "")]
    if len(lines) > 1:
        for i, trace in enumerate(lines):
            trace.line.dash = PRINT_DASHES[i % len(PRINT_DASHES)]
    return fig

