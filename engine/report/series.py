"""Chart-ready tables derived from saved strategies (the compute layer of the reports).

Figures only draw; anything a chart needs beyond the saved tables (wealth curves, drawdowns,
rolling Sharpe, a wide weights grid, short factor labels) is computed here once, so the app
and the PDF report derive it the same way.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from engine.combine.reasons import reason_texts
from engine.expr.gloss import gloss
from engine.expr.mathtext import readable
from engine.i18n import Translator
from engine.metrics.portfolio import TRADING_DAYS, drawdown_series

if TYPE_CHECKING:
    from engine.mining.planted import PlantedMatch
    from engine.mining.zoo import FactorSet
    from engine.store.records import RunRecord


def meaning(formula: str, t: Translator) -> str:
    """The plain-language gloss of a formula (:mod:`engine.expr.gloss`) in ``t``'s language;
    empty when the text does not parse."""
    g = gloss(formula)
    return "" if g is None else t(g.key, **g.params)


def worded(code: str, t: Translator) -> str:
    """A verdict or test name of a significance record (``better``, ``Wilcoxon signed-rank
    (two-sided)``: records keep English codes) in the reader's language; an unknown one as
    stored."""
    from engine.metrics.significance import WORDING  # scipy: only where a sweep is read

    key = WORDING.get(code)
    return t(key) if key else code


def factor_labels(formulas: Sequence[str]) -> dict[str, str]:
    """Short, stable labels (F1, F2, ...) for long formula texts, in the given order."""
    return {f: f"F{i}" for i, f in enumerate(formulas, start=1)}


def equity(daily: pl.DataFrame) -> pl.DataFrame:
    """date, strategy, benchmark (wealth from 1), drawdown, net, gross from backtest_daily."""
    net = daily.get_column("net").fill_null(0.0).to_numpy()
    bench = daily.get_column("benchmark").fill_null(0.0).fill_nan(0.0).to_numpy()
    return pl.DataFrame({
        "date": daily.get_column("date"),
        "strategy": np.cumprod(1.0 + net),
        "gross": np.cumprod(1.0 + daily.get_column("gross").fill_null(0.0).to_numpy()),
        "benchmark": np.cumprod(1.0 + bench),
        "drawdown": drawdown_series(net),
        "turnover": daily.get_column("turnover"),
        "net": daily.get_column("net"),
    })


def rolling_sharpe(daily: pl.DataFrame, window: int = 63) -> pl.DataFrame:
    """date, sharpe: annualised Sharpe of the last ``window`` days of net returns (rf 0)."""
    return daily.select(
        "date",
        (pl.col("net").rolling_mean(window) / pl.col("net").rolling_std(window)
         * np.sqrt(TRADING_DAYS)).alias("sharpe"),
    )


def weights_grid(weights: pl.DataFrame, labels: dict[str, str]) -> pl.DataFrame:
    """Wide date x factor-label table of coefficients (0 when inactive) + n_active."""
    grid = (weights.with_columns(pl.col("factor").replace_strict(labels, default=None)
                                 .alias("label"))
            .pivot(on="label", index="date", values="coef", aggregate_function="first")
            .sort("date"))
    active = weights.group_by("date").agg(pl.col("active").sum().alias("n_active"))
    ordered = [v for v in labels.values() if v in grid.columns]
    return grid.select("date", *ordered).join(active, on="date", how="left").fill_null(0.0)


def rolling_ic(daily: pl.DataFrame, window: int = 20) -> pl.DataFrame:
    """date, ic, rank_ic and their rolling means (NaN days skipped by the mean)."""
    return daily.select(
        "date", "ic", "rank_ic",
        pl.col("rank_ic").fill_nan(None).rolling_mean(window, min_samples=max(2, window // 2))
        .alias("rank_ic_mean"),
    )


def monthly_grid(monthly: Sequence[dict[str, float]]) -> pl.DataFrame:
    """year x month (1..12) table of monthly returns from the summary's 'monthly' list."""
    frame = pl.DataFrame(list(monthly), schema={"year": pl.Int64, "month": pl.Int64,
                                                 "return": pl.Float64})
    if frame.height == 0:
        return pl.DataFrame({"year": []}, schema={"year": pl.Int64})
    wide = frame.pivot(on="month", index="year", values="return").sort("year")
    months = [str(m) for m in range(1, 13)]
    for m in months:
        if m not in wide.columns:
            wide = wide.with_columns(pl.lit(None, dtype=pl.Float64).alias(m))
    return wide.select("year", *months)


def factor_table(weights: pl.DataFrame, labels: dict[str, str],
                 t: Translator | None = None) -> pl.DataFrame:
    """Per factor: label, readable form (:func:`engine.expr.mathtext.readable`), its meaning
    (:func:`meaning`, when ``t`` is given), formula, share of days active, mean |weight| when
    active, times its sign was flipped (consistently negative factor used with the opposite
    sign)."""
    stats = weights.group_by("factor").agg(
        pl.col("active").mean().alias("active_share"),
        pl.col("coef").filter(pl.col("active")).abs().mean().alias("mean_abs_weight"),
        pl.col("flipped").filter(pl.col("active")).sum().alias("days_flipped"),
    )
    order = pl.DataFrame({"factor": list(labels), "label": list(labels.values()),
                          "readable": [readable(f) for f in labels],
                          "meaning": [meaning(f, t) if t else "" for f in labels]})
    return order.join(stats, on="factor", how="left").select(
        "label", "readable", *(["meaning"] if t else []), pl.col("factor").alias("formula"),
        "active_share", "mean_abs_weight", "days_flipped")


def day_reasons(weights: pl.DataFrame, labels: dict[str, str], day: dt.date,
                t: Translator) -> pl.DataFrame:
    """Why each factor is (not) active on ``day``: label, active, weight, rank and the
    combiner's reason in ``t``'s language, in the strategy's factor order."""
    rows = weights.filter(pl.col("date") == day)
    order = pl.DataFrame({"factor": list(labels), "label": list(labels.values()),
                          "_order": list(range(len(labels)))})
    rows = rows.with_columns(pl.Series("reason_text", reason_texts(rows, t), dtype=pl.Utf8))
    return order.join(rows, on="factor", how="inner").sort("_order").select(
        "label", "active", "coef", "rank", pl.col("reason_text").alias("reason"))


METRIC_ROWS: tuple[tuple[str, str, str], ...] = (
    ("cumulative_return", "Cumulative return", "pct"),
    ("annual_return", "Annual return", "pct"),
    ("annual_volatility", "Annual volatility", "pct"),
    ("sharpe", "Sharpe", "num"),
    ("sortino", "Sortino", "num"),
    ("max_drawdown", "Max drawdown", "pct"),
    ("calmar", "Calmar", "num"),
    ("hit_rate", "Hit rate", "pct"),
    ("turnover", "Turnover (daily)", "pct"),
    ("excess_return", "Excess return (annual)", "pct"),
    ("information_ratio", "Information ratio", "num"),
    ("tracking_error", "Tracking error", "pct"),
)


def metrics_table(summaries: dict[str, dict[str, object]], t: Translator | None = None
                  ) -> pl.DataFrame:
    """Metric x strategy table of formatted values (name -> backtest summary dict), metric
    names and number formats in ``t``'s language (English by default)."""
    t = t or Translator()

    def fmt(value: object, kind: str) -> str:
        if not isinstance(value, int | float) or value != value:  # None or NaN
            return "—"
        return t.percent(float(value), 2) if kind == "pct" else t.number(float(value), 2)

    rows: dict[str, list[str]] = {t("figures.metric"): [t(f"figures.metric_{key}")
                                                       for key, _, _ in METRIC_ROWS]}
    for name, summary in summaries.items():
        rows[name] = [fmt(summary.get(key), kind) for key, _, kind in METRIC_ROWS]
    return pl.DataFrame(rows)


PROGRESS_SCHEMA = {"event": pl.String, "round": pl.Int64, "evaluated": pl.Int64,
                   "zoo_size": pl.Int64, "best_so_far": pl.Float64,
                   "best_fitness": pl.Float64, "median_fitness": pl.Float64,
                   "share_valid": pl.Float64, "share_new": pl.Float64,
                   "elapsed_s": pl.Float64}


def progress_frame(events: Sequence[dict[str, object]]) -> pl.DataFrame:
    """One row per count of formulas evaluated (the latest event at that count): event,
    round, evaluated, zoo_size, best_so_far (best train fitness of any formula so far), the
    phase's best and median fitness (phase-end events only), shares of valid and new
    formulas, elapsed_s.

    Every event counts, not only round ends, so the chart says something during the warm-up
    and after one or two rounds. Runs older than the live board have no ``best_so_far``: it
    is then the running maximum of the phases' best fitness."""
    rows = [{k: e.get(k) for k in PROGRESS_SCHEMA} for e in events
            if isinstance(e.get("evaluated"), int)]
    frame = pl.DataFrame(rows, schema=PROGRESS_SCHEMA)
    if frame.height == 0:
        return frame
    best = pl.coalesce("best_so_far", "best_fitness").forward_fill().cum_max()
    return (frame.with_columns(best.alias("best_so_far"))
            .unique(subset="evaluated", keep="last", maintain_order=True))


@dataclass(frozen=True)
class LiveBoard:
    """What the live miner shows from the latest event that carries a board: the best
    formulas so far (rank, readable, formula, fitness, ic), the fitness histogram (bin_lo,
    bin_hi, count) and how many formulas had no usable score (left out of both)."""

    leaders: pl.DataFrame
    histogram: pl.DataFrame
    excluded: int
    evaluated: int


def live_board(events: Sequence[dict[str, object]]) -> LiveBoard | None:
    """The latest live board of a run's progress events (None for runs that predate it or
    before the first one)."""
    last = next((e for e in reversed(events) if isinstance(e.get("leaders"), list)), None)
    if last is None:
        return None
    leaders = [x for x in last["leaders"] if isinstance(x, dict)]  # type: ignore[union-attr]
    table = pl.DataFrame(
        {"rank": list(range(1, len(leaders) + 1)),
         "readable": [readable(str(x.get("formula", ""))) for x in leaders],
         "formula": [str(x.get("formula", "")) for x in leaders],
         "fitness": [x.get("fitness") for x in leaders],
         "ic": [x.get("ic") for x in leaders]},
        schema={"rank": pl.Int64, "readable": pl.String, "formula": pl.String,
                "fitness": pl.Float64, "ic": pl.Float64})
    hist = last.get("fitness_hist")
    hist = hist if isinstance(hist, dict) else {}
    counts = [int(c) for c in hist.get("counts") or []]
    hi = float(hist.get("hi") or 0.0)
    edges = np.linspace(0.0, hi, len(counts) + 1) if counts else np.zeros(1)
    histogram = pl.DataFrame({"bin_lo": edges[:-1], "bin_hi": edges[1:], "count": counts},
                             schema={"bin_lo": pl.Float64, "bin_hi": pl.Float64,
                                     "count": pl.Int64})
    evaluated = last.get("evaluated")
    return LiveBoard(leaders=table, histogram=histogram,
                     excluded=int(hist.get("excluded") or 0),
                     evaluated=evaluated if isinstance(evaluated, int) else 0)


def run_fraction(events: Sequence[dict[str, object]]) -> float:
    """Share of a run done, from its latest event's elapsed time and ETA (0 when unknown).
    Below 1 until the run's 'done' event: a run past its estimate is finishing, not done."""
    if not events:
        return 0.0
    last = events[-1]
    if last.get("event") == "done":
        return 1.0
    elapsed, eta = last.get("elapsed_s"), last.get("eta_s")
    if not isinstance(elapsed, int | float) or not isinstance(eta, int | float):
        return 0.0
    return float(min(0.99, max(0.0, elapsed / max(elapsed + eta, 1e-9))))


def zoo_table(zoo: FactorSet, labels: dict[str, str], t: Translator | None = None,
              planted: Mapping[str, PlantedMatch | None] | None = None) -> pl.DataFrame:
    """One row per zoo factor: label, readable form, its meaning (when ``t`` is given), the
    demo market's planted signal it matches (when ``planted`` is given: the demo only),
    formula, fitness and its train/valid/test IC, RankIC, ICIR, RankICIR (columns
    ``train_ic`` ...; segments a run did not score are left out)."""
    factors = zoo.factors
    segments = [seg for seg in ("train", "valid", "test")
                if any(seg in f.metrics for f in factors)]
    t_none = (t or Translator())("mining.planted_none")
    rows = []
    for f in factors:
        row: dict[str, object] = {"label": labels.get(f.formula, ""),
                                  "readable": readable(f.formula)}
        if t is not None:
            row["meaning"] = meaning(f.formula, t)
        if planted is not None:
            match = planted.get(f.formula)
            row["planted"] = match.text() if match is not None else t_none
        row.update(formula=f.formula, fitness=f.fitness)
        for seg in segments:
            for key in ("ic", "rank_ic", "icir", "rank_icir"):
                value = f.metrics.get(seg, {}).get(key)
                row[f"{seg}_{key}"] = None if value is None else float(value)
        rows.append(row)
    schema = {"label": pl.Utf8, "readable": pl.Utf8, **({"meaning": pl.Utf8} if t else {}),
              **({"planted": pl.Utf8} if planted is not None else {}), "formula": pl.Utf8,
              "fitness": pl.Float64,
              **{f"{seg}_{key}": pl.Float64 for seg in segments
                 for key in ("ic", "rank_ic", "icir", "rank_icir")}}
    return pl.DataFrame(rows, schema=schema)


def runs_table(records: Sequence[RunRecord], statuses: Mapping[str, str],
               t: Translator | None = None) -> pl.DataFrame:
    """Past mining runs: id, status (``statuses[run_id]``, which may differ from the record's,
    e.g. 'stopped'), generator, fitness, dataset, seed, start and end time — in the given
    order."""
    t = t or Translator()
    rows = []
    for r in records:
        config = r.config or {}
        rows.append({
            t("figures.run_id"): r.run_id,
            t("figures.run_status"): t("mining.status_" + statuses[r.run_id]),
            t("figures.run_generator"): str(config.get("generator", "")),
            t("figures.run_fitness"): str(config.get("fitness", "")),
            t("figures.run_dataset"): r.dataset or "",
            t("figures.run_seed"): r.seed,
            t("figures.run_started"): (r.started or "")[:19],
            t("figures.run_ended"): (r.ended or "")[:19],
        })
    return pl.DataFrame(rows)


def factor_stats(weights: pl.DataFrame, labels: dict[str, str]) -> pl.DataFrame:
    """The report's factor table: per factor (in ``labels`` order) its label, formula, the sign
    it was used with, the look-back IC / ICIR / RankIC / RankICIR the combiner saw (mean over
    the scored days), the share of days active, mean and max |weight| when active and the
    days its sign was flipped.

    ``sign`` is "+" or "-" when at least 90 % of the active days' coefficients share that
    sign, "±" when the sign changed over time, and "" when the factor was never active.
    """
    stats = weights.group_by("factor").agg(
        *(pl.col(c).fill_nan(None).mean().alias(c) for c in ("ic", "icir", "rank_ic",
                                                             "rank_icir")),
        pl.col("active").mean().alias("active_share"),
        (pl.col("coef") > 0).filter(pl.col("active")).mean().alias("positive_share"),
        pl.col("coef").filter(pl.col("active")).abs().mean().alias("mean_abs_weight"),
        pl.col("coef").filter(pl.col("active")).abs().max().alias("max_abs_weight"),
        pl.col("flipped").filter(pl.col("active")).sum().alias("days_flipped"),
    )
    order = pl.DataFrame({"factor": list(labels), "label": list(labels.values())})
    share = pl.col("positive_share")
    sign = (pl.when(share.is_null()).then(pl.lit(""))
            .when(share >= 0.9).then(pl.lit("+"))
            .when(share <= 0.1).then(pl.lit("-"))
            .otherwise(pl.lit("±")))
    return order.join(stats, on="factor", how="left").select(
        "label", pl.col("factor").alias("formula"), sign.alias("sign"), "ic", "icir",
        "rank_ic", "rank_icir", pl.col("active_share").fill_null(0.0), "mean_abs_weight",
        "max_abs_weight", pl.col("days_flipped").fill_null(0))


def monthly_weights(weights: pl.DataFrame, labels: dict[str, str]) -> pl.DataFrame:
    """Month x factor-label table of mean coefficients (0 on inactive days): the weights
    history at a resolution a printed page can show. Columns: month (first day), labels."""
    grid = weights_grid(weights, labels)
    cols = [c for c in grid.columns if c not in ("date", "n_active")]
    return (grid.group_by(pl.col("date").dt.truncate("1mo").alias("month"))
            .agg(pl.col(cols).mean()).sort("month"))
