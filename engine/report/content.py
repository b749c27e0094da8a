"""Everything a report shows, gathered once from the project, and its outline.

:func:`gather` reads a strategy into a :class:`StrategyContent`: metrics from the saved
summaries, chart series from :mod:`engine.report.series` (the same functions the app's pages
call), provenance from the dataset's metadata and the project's run records. The outline
functions (:func:`strategy_outline`, :func:`comparison_outline`) turn contents into translated,
formatted blocks (headings, text, tables, chart slots) that the PDF (:mod:`engine.report.pdf`)
and the HTML report (:mod:`engine.report.html`) both render, so the two cannot disagree.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import polars as pl

from engine import i18n
from engine.combine.methods import COMBINE_METHODS
from engine.combine.service import resolve_factor_set
from engine.errors import StoreError
from engine.expr.mathtext import readable
from engine.i18n import Translator
from engine.report import series
from engine.report.charts import benchmark_label, charts_of
from engine.report.trials import Significance, Trials, count_trials, strategy_significance
from engine.store.project import Project
from engine.store.records import RunRecord, package_versions, utc_now
from engine.store.strategies import StrategyFiles, load_strategy

#: The Mega-Alpha's signal statistics, in the order the reports list them.
SIGNAL_KEYS = ("ic", "icir", "rank_ic", "rank_icir")
#: Portfolio statistics of a backtest summary and how each is shown ("pct" or "num").
PORTFOLIO_KEYS: tuple[tuple[str, str], ...] = (
    ("cumulative_return", "pct"), ("annual_return", "pct"), ("annual_volatility", "pct"),
    ("sharpe", "num"), ("sortino", "num"), ("max_drawdown", "pct"), ("calmar", "num"),
    ("hit_rate", "pct"), ("turnover", "pct"), ("excess_return", "pct"),
    ("information_ratio", "num"), ("tracking_error", "pct"),
)
ROLLING_SHARPE_DAYS = 63
ROLLING_IC_DAYS = 20


@dataclass(frozen=True)
class RunInfo:
    """One run record that produced something this strategy depends on."""

    run_id: str
    kind: str
    status: str
    seed: int | None
    started: str
    versions: Mapping[str, str]

    @classmethod
    def of(cls, record: RunRecord) -> RunInfo:
        return cls(record.run_id, record.kind, record.status, record.seed, record.started,
                   dict(record.versions))


@dataclass(frozen=True)
class Provenance:
    """What is needed to reproduce the strategy: data identity, configs, seeds, versions.

    ``dataset_hash`` is the hash recorded when the strategy was built; ``dataset_hash_now``
    the dataset's hash today (None when the dataset was deleted), so a reader sees at once
    whether the data changed since.
    """

    dataset: str
    dataset_hash: str
    dataset_hash_now: str | None
    dataset_source: str | None
    dataset_span: tuple[str, str] | None
    dataset_shape: tuple[int, int] | None  # (tickers, trading days)
    factor_source: Mapping[str, Any]
    runs: tuple[RunInfo, ...]
    seeds: Mapping[str, int]
    combine_config: Mapping[str, Any]
    backtest_config: Mapping[str, Any] | None
    rf: float | None
    benchmark: str | None  # "equal" (equal-weight universe) or a ticker; None untested
    strategy_created: str
    backtest_created: str | None
    versions: Mapping[str, str] = field(default_factory=package_versions)
    generated: str = field(default_factory=utc_now)

    @property
    def data_unchanged(self) -> bool:
        return self.dataset_hash_now == self.dataset_hash

    @property
    def recorded_versions(self) -> Mapping[str, str]:
        """Package versions of the latest related run (what the inputs were made with)."""
        return self.runs[-1].versions if self.runs else {}


@dataclass(frozen=True)
class StrategyContent:
    """One strategy's report content. Frames follow :mod:`engine.report.series`; backtest
    fields are None when the strategy has not been backtested."""

    name: str
    method: str
    dataset: str
    factor_set: str
    formulas: tuple[str, ...]
    labels: Mapping[str, str]
    test: tuple[str | None, str | None]
    start: dt.date | None  # first and last scored day
    end: dt.date | None
    signal: Mapping[str, float]
    ic: pl.DataFrame  # date, ic, rank_ic, rank_ic_mean
    weights: pl.DataFrame  # date, F1.., n_active
    monthly_weights: pl.DataFrame  # month, F1..
    factors: pl.DataFrame  # series.factor_stats
    provenance: Provenance
    backtest: Mapping[str, Any] | None = None  # summary dict of the latest backtest
    equity: pl.DataFrame | None = None
    rolling_sharpe: pl.DataFrame | None = None
    monthly: pl.DataFrame | None = None  # year, 1..12
    significance: Significance | None = None  # given what the project tried (trials.py)

    @property
    def has_backtest(self) -> bool:
        return self.backtest is not None and self.equity is not None

    def frames(self) -> dict[str, pl.DataFrame]:
        """Every series the report draws, by file stem (for the data download)."""
        out = {"mega_alpha_ic": self.ic, "weights": self.weights,
               "weights_monthly": self.monthly_weights, "factors": self.factors,
               "signal": pl.DataFrame({"metric": list(self.signal),
                                       "value": [float(v) for v in self.signal.values()]})}
        backtest = {"equity": self.equity, "monthly_returns": self.monthly,
                    "rolling_sharpe": self.rolling_sharpe}
        out.update({k: v for k, v in backtest.items() if v is not None})
        if self.backtest is not None:
            out["portfolio"] = pl.DataFrame(
                {"metric": [k for k, _ in PORTFOLIO_KEYS],
                 "value": [_num(self.backtest.get(k)) for k, _ in PORTFOLIO_KEYS]},
                schema={"metric": pl.Utf8, "value": pl.Float64})
        return out


def _num(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and value == value else None


def _related_runs(project: Project, dataset_hash: str, source: Mapping[str, Any]
                  ) -> tuple[RunInfo, ...]:
    """Runs that made the data (same content hash) and the mining run of the factor set,
    oldest first."""
    mined = source.get("run_id")
    found = [r for r in project.runs()
             if (r.dataset_hash == dataset_hash and r.kind in ("demo", "import"))
             or (mined is not None and r.run_id == mined)]
    return tuple(RunInfo.of(r) for r in sorted(found, key=lambda r: r.started))


def _factor_source(project: Project, info: Mapping[str, Any]) -> Mapping[str, Any]:
    try:
        return dict(resolve_factor_set(project, str(info["factor_set"])).source)
    except StoreError:
        return {"kind": "unavailable"}


def _provenance(project: Project, strategy: StrategyFiles) -> Provenance:
    info = strategy.info
    dataset = str(info["dataset"])
    recorded_hash = str(info.get("dataset_hash", ""))
    try:
        meta = project.dataset_meta(dataset)
    except StoreError:
        meta = None
    source = _factor_source(project, info)
    runs = _related_runs(project, recorded_hash, source)
    seeds = {f"{r.kind} {r.run_id}": int(r.seed) for r in runs if r.seed is not None}
    bt = strategy.backtest
    return Provenance(
        dataset=dataset, dataset_hash=recorded_hash,
        dataset_hash_now=meta.content_hash if meta else None,
        dataset_source=meta.source if meta else None,
        dataset_span=(meta.start, meta.end) if meta else None,
        dataset_shape=(meta.n_tickers, meta.n_dates) if meta else None,
        factor_source=source, runs=runs, seeds=seeds,
        combine_config=dict(info.get("config", {})),
        backtest_config=dict(bt["config"]) if bt else None,
        rf=float(bt.get("rf", 0.0)) if bt else None,
        benchmark=str(bt.get("benchmark") or "equal") if bt else None,
        strategy_created=str(info.get("created", "")),
        backtest_created=str(bt.get("created", "")) if bt else None,
    )


def gather(project: Project, name: str, trials: Trials | None = None) -> StrategyContent:
    """Read a saved strategy (and its latest backtest) into a :class:`StrategyContent`, with
    the significance of its results given the project's ``trials`` (counted when None)."""
    strategy = load_strategy(project, name)
    info = strategy.info
    formulas = tuple(str(f) for f in info["formulas"])
    labels = series.factor_labels(formulas)
    weights = strategy.table("weights")
    daily = strategy.table("daily")
    dates = daily.get_column("date")
    test = info.get("test") or [None, None]
    content = StrategyContent(
        name=strategy.name, method=str(info["config"]["method"]), dataset=str(info["dataset"]),
        factor_set=str(info["factor_set"]), formulas=formulas, labels=labels,
        test=(test[0], test[1]),
        start=dates.min() if dates.len() else None,  # type: ignore[arg-type]
        end=dates.max() if dates.len() else None,  # type: ignore[arg-type]
        signal={k: float("nan") if (x := _num(v)) is None else x
                for k, v in info["summary"].items()},
        ic=series.rolling_ic(daily, ROLLING_IC_DAYS),
        weights=series.weights_grid(weights, labels),
        monthly_weights=series.monthly_weights(weights, labels),
        factors=series.factor_stats(weights, labels),
        provenance=_provenance(project, strategy),
        significance=strategy_significance(project, name, trials),
    )
    bt = strategy.backtest
    if bt is None:
        return content
    bt_daily = strategy.table("backtest_daily")
    summary = dict(bt["summary"])
    return replace(content, backtest=summary, equity=series.equity(bt_daily),
                   rolling_sharpe=series.rolling_sharpe(bt_daily, ROLLING_SHARPE_DAYS),
                   monthly=series.monthly_grid(summary.get("monthly", [])))


def gather_many(project: Project, names: Sequence[str]) -> list[StrategyContent]:
    """Several strategies for a comparison (names de-duplicated, order kept)."""
    trials = count_trials(project)
    return [gather(project, n, trials) for n in dict.fromkeys(names)]


def provenance_json(content: StrategyContent) -> str:
    """The appendix as JSON (what the data download ships beside the series)."""
    p = content.provenance
    payload = {
        "strategy": content.name, "method": content.method, "factor_set": content.factor_set,
        "formulas": list(content.formulas), "labels": dict(content.labels),
        "test": list(content.test), "signal": dict(content.signal),
        "dataset": {"name": p.dataset, "hash": p.dataset_hash, "hash_now": p.dataset_hash_now,
                    "source": p.dataset_source, "span": p.dataset_span,
                    "shape": p.dataset_shape},
        "factor_source": dict(p.factor_source), "seeds": dict(p.seeds),
        "runs": [asdict(r) for r in p.runs], "combine_config": dict(p.combine_config),
        "backtest_config": p.backtest_config, "rf": p.rf, "benchmark": p.benchmark,
        "backtest_summary": dict(content.backtest) if content.backtest else None,
        "strategy_created": p.strategy_created, "backtest_created": p.backtest_created,
        "versions": dict(p.versions), "generated": p.generated,
    }
    return json.dumps(payload, indent=2, ensure_ascii=False, default=str)


# ------------------------------------------------------------------------------ outline
# The report's text as neutral blocks, translated and formatted once: the PDF and the HTML
# report render the same outline, so they have the same sections, numbers and words.

@dataclass(frozen=True)
class Heading:
    text: str  # numbered ("2.1 Drawdown")
    level: int  # 0 = section, 1 = subsection
    anchor: str  # stable id for links and bookmarks
    new_page: bool = False


@dataclass(frozen=True)
class Text:
    text: str
    small: bool = False


@dataclass(frozen=True)
class Grid:
    """A table. ``widths`` are relative; ``numeric_from`` right-aligns the columns from that
    index on; ``mono`` columns use the formula font; ``keys`` makes the first column bold."""

    rows: tuple[tuple[str, ...], ...]
    widths: tuple[float, ...]
    header: bool = True
    numeric_from: int | None = None
    mono: tuple[int, ...] = ()
    keys: bool = False


@dataclass(frozen=True)
class Columns:
    """Tables side by side."""

    grids: tuple[Grid, ...]


@dataclass(frozen=True)
class Chart:
    """A chart by key (one of :data:`engine.report.charts.STRATEGY_CHARTS`, or a comparison
    chart of :mod:`engine.report.pdf_charts`) under its own heading."""

    key: str
    heading: Heading
    note: str = ""


Block = Heading | Text | Grid | Columns | Chart


@dataclass(frozen=True)
class Outline:
    title: str  # document title (metadata, running header)
    cover_title: str
    cover_subtitle: str
    cover_items: tuple[tuple[str, str], ...]
    blocks: tuple[Block, ...]

    @property
    def headings(self) -> list[Heading]:
        """Every heading in order (the table of contents)."""
        return [b.heading if isinstance(b, Chart) else b for b in self.blocks
                if isinstance(b, Heading | Chart)]


@dataclass(frozen=True)
class ChartsNote:
    """How the charts were drawn, for the appendix (already translated)."""

    renderer: str
    reason: str


class _Numbered:
    """Numbers headings 1, 1.1, 1.2, 2, ... as blocks are added."""

    def __init__(self) -> None:
        self.blocks: list[Block] = []
        self._h1 = self._h2 = 0

    def h1(self, text: str, *, new_page: bool = False) -> None:
        self._h1, self._h2 = self._h1 + 1, 0
        self.blocks.append(Heading(f"{self._h1}. {text}", 0, f"s{self._h1}", new_page))

    def h2_heading(self, text: str) -> Heading:
        self._h2 += 1
        return Heading(f"{self._h1}.{self._h2} {text}", 1, f"s{self._h1}-{self._h2}")

    def h2(self, text: str) -> None:
        self.blocks.append(self.h2_heading(text))

    def chart(self, key: str, title: str, note: str = "") -> None:
        self.blocks.append(Chart(key, self.h2_heading(title), note))

    def add(self, *blocks: Block) -> None:
        self.blocks.extend(blocks)


_SIGNAL_KIND = {"ic": "ic", "rank_ic": "ic", "icir": "num", "rank_icir": "num"}


def fmt_value(t: Translator, value: object, kind: str) -> str:
    """A metric as text: "pct" 2-decimal percent, "ic" 4 decimals, else 2 decimals."""
    if not isinstance(value, int | float) or value != value:
        return "–"
    if kind == "pct":
        return t.percent(float(value), 2)
    return t.number(float(value), 4 if kind == "ic" else 2)


def _plain(value: object) -> str:
    """A config value as short text (nested values as compact JSON)."""
    if isinstance(value, Mapping | list | tuple):
        return json.dumps(value, ensure_ascii=False, default=str)
    return "–" if value is None else str(value)


def _kv(items: Sequence[tuple[str, object]], key_width: float = 0.3) -> Grid:
    return Grid(tuple((k, _plain(v)) for k, v in items), (key_width, 1 - key_width),
                header=False, keys=True)


def _benchmark_setting(t: Translator, bench: str | None) -> str:
    if bench is None:
        return "–"
    return (t("report.benchmark_value") if bench == "equal"
            else t("report.benchmark_ticker", ticker=bench))


def period(t: Translator, c: StrategyContent) -> str:
    return t("report.period_value", start=t.date(c.start), end=t.date(c.end),
             days=t.number(int(c.signal.get("n_days", 0)), 0))


def method_name(t: Translator, method: str) -> str:
    """The method's short name (a method no longer registered shows its name)."""
    if method not in COMBINE_METHODS:
        return method
    entry = COMBINE_METHODS.get(method)
    key = entry.short_key or entry.label_key
    return t(key) if i18n.has(key) else COMBINE_METHODS.label(method, t)


def _cover_items(t: Translator, author: str | None) -> list[tuple[str, str]]:
    return [(t("report.setting.generated"), t.date(dt.date.today())),
            (t("report.setting.author"), author or "–")]


def _summary(o: _Numbered, t: Translator, c: StrategyContent) -> None:
    o.h1(t("report.section.summary"))
    o.add(Text(t("report.summary_text", method=method_name(t, c.method), n=len(c.formulas),
                 factor_set=c.factor_set, dataset=c.dataset, period=period(t, c))))
    bt, cfg = c.backtest, c.provenance.backtest_config
    if bt is not None and cfg is not None:
        o.add(Text(t("report.summary_backtest", top_k=cfg.get("top_k"), drop_n=cfg.get("drop_n"),
                     price=t(f"report.price.{cfg.get('trade_at')}"),
                     buy=t.number(cfg.get("buy_bps"), 1), sell=t.number(cfg.get("sell_bps"), 1),
                     cum=fmt_value(t, bt.get("cumulative_return"), "pct"),
                     ann=fmt_value(t, bt.get("annual_return"), "pct"),
                     sharpe=fmt_value(t, bt.get("sharpe"), "num"),
                     mdd=fmt_value(t, bt.get("max_drawdown"), "pct"))))
    else:
        o.add(Text(t("report.no_backtest")))
    grids = [Grid(((t("report.table.signal"), t("report.table.value")),
                   *((t(f"report.metric.{k}"), fmt_value(t, c.signal.get(k), _SIGNAL_KIND[k]))
                     for k in SIGNAL_KEYS)), (0.62, 0.38), numeric_from=1)]
    if bt is not None:
        grids.append(Grid(((t("report.table.portfolio"), t("report.table.value")),
                           *((t(f"report.metric.{k}"), fmt_value(t, bt.get(k), kind))
                             for k, kind in PORTFOLIO_KEYS)), (0.62, 0.38), numeric_from=1))
    o.add(Columns(tuple(grids)), Text(t("report.summary_note"), small=True))
    _significance(o, t, c)


def _three(x: float) -> str:
    return f"{x:.3f}" if math.isfinite(x) else "–"


def significance_lines(t: Translator, s: Significance, labels: Mapping[str, str]) -> list[str]:
    """The significance of a strategy's best results in the reader's words (the report and
    the Reports page say the same)."""
    lines = []
    d = s.sharpe
    if d is not None and math.isfinite(d.sharpe):
        lines.append(t("report.sig.sharpe", sharpe=f"{d.sharpe:+.4f}", dsr=_three(d.dsr),
                       n=s.trials.n, strategies=s.trials.strategies, cells=s.trials.sweep_cells))
    b = s.best_factor
    if b is not None and s.best_formula is not None:
        lines.append(t("report.sig.factor", label=labels.get(s.best_formula, s.best_formula),
                       t=f"{b.t:.2f}", tests=t.number(b.tests, 0),
                       bonf=f"{b.t_bonferroni:.2f}", bhy=f"{b.t_bhy:.2f}"))
    return lines


def _significance(o: _Numbered, t: Translator, c: StrategyContent) -> None:
    if c.significance is None:
        return
    lines = significance_lines(t, c.significance, c.labels)
    if not lines:
        return
    o.h2(t("report.sig.heading"))
    o.add(*(Text(line) for line in lines), Text(t("report.sig.note"), small=True))


def chart_params(c: StrategyContent, t: Translator) -> dict[str, object]:
    """The values every chart title and note of :data:`engine.report.charts.STRATEGY_CHARTS`
    is formatted with ({benchmark}, {depth}, {ic_days}...): one set for all charts, so a
    chart's line in the list names only its catalogue keys."""
    dd = (c.backtest or {}).get("drawdown") or {}
    recovery = (t.date(dd.get("recovery_date")) if dd.get("recovered")
                else t("report.not_recovered"))
    return {"benchmark": benchmark_label(c, t), "depth": fmt_value(t, dd.get("depth"), "pct"),
            "peak": t.date(dd.get("peak_date")), "trough": t.date(dd.get("trough_date")),
            "recovery": recovery, "sharpe_days": ROLLING_SHARPE_DAYS,
            "ic_days": ROLLING_IC_DAYS}


def _charts(o: _Numbered, t: Translator, c: StrategyContent, section: str) -> None:
    """The section's charts from the chart list, each under its heading with its note."""
    params = chart_params(c, t)
    for spec in charts_of(c, section):
        o.chart(spec.key, t(spec.title, **params), t(spec.note, **params) if spec.note else "")


def _performance(o: _Numbered, t: Translator, c: StrategyContent) -> None:
    o.h1(t("report.section.performance"), new_page=True)
    _charts(o, t, c, "performance")


def _signal(o: _Numbered, t: Translator, c: StrategyContent) -> None:
    o.h1(t("report.section.signal"), new_page=True)
    o.add(Text(t("report.signal_text")))
    _charts(o, t, c, "signal")


def _factors(o: _Numbered, t: Translator, c: StrategyContent) -> None:
    o.h1(t("report.section.factors"), new_page=True)
    o.add(Text(t("report.factors_text", n=len(c.formulas))))
    head = (t("report.col.label"), t("report.col.formula"), t("report.col.sign"),
            t("report.metric.ic"), t("report.metric.icir"), t("report.metric.rank_ic"),
            t("report.metric.rank_icir"), t("report.col.active"), t("report.col.mean_weight"),
            t("report.col.max_weight"))
    rows = [(r["label"], readable(r["formula"]), r["sign"] or "·", fmt_value(t, r["ic"], "ic"),
             fmt_value(t, r["icir"], "num"), fmt_value(t, r["rank_ic"], "ic"),
             fmt_value(t, r["rank_icir"], "num"), t.percent(r["active_share"], 0),
             fmt_value(t, r["mean_abs_weight"], "ic"), fmt_value(t, r["max_abs_weight"], "ic"))
            for r in c.factors.iter_rows(named=True)]
    o.add(Grid((head, *rows), (22, 164, 26, 38, 36, 38, 36, 36, 44, 44), numeric_from=3,
               mono=(1,)), Text(t("report.factors_note"), small=True))
    o.h2(t("report.section.formulas"))
    meanings = [(r["label"], series.meaning(r["formula"], t), r["formula"])
                for r in c.factors.iter_rows(named=True)]
    o.add(Grid(((t("report.col.label"), t("gloss.column"), t("report.col.formula")),
                *meanings), (22, 190, 272), numeric_from=None, mono=(2,)))


def _settings(o: _Numbered, t: Translator, c: StrategyContent) -> None:
    p = c.provenance
    o.h1(t("report.section.settings"), new_page=True)
    o.h2(t("report.section.combination"))
    items: list[tuple[str, object]] = [(t("report.setting.method"), method_name(t, c.method)),
                                       (t("report.setting.factor_set"), c.factor_set),
                                       (t("report.setting.test"), period(t, c))]
    items += [(k, v) for k, v in sorted(p.combine_config.items())
              if k not in ("method", "schema_version")]
    o.add(_kv(items))
    o.h2(t("report.section.backtest"))
    cfg = p.backtest_config
    if cfg is None:
        o.add(Text(t("report.no_backtest")))
        return
    o.add(_kv([
        (t("report.setting.top_k"), cfg.get("top_k")),
        (t("report.setting.drop_n"), cfg.get("drop_n")),
        (t("report.setting.rebalance"), t("report.every_days", days=cfg.get("rebalance"))),
        (t("report.setting.trade_at"), t(f"report.price.{cfg.get('trade_at')}")),
        (t("report.setting.costs"), t("report.costs_value", buy=t.number(cfg.get("buy_bps"), 1),
                                      sell=t.number(cfg.get("sell_bps"), 1))),
        (t("report.setting.rf"), t.percent(p.rf, 2)),
        (t("report.setting.benchmark"), _benchmark_setting(t, p.benchmark)),
    ]))
    conventions = (c.backtest or {}).get("conventions") or {}
    if conventions:
        metrics = {k for k, _ in PORTFOLIO_KEYS}
        o.h2(t("report.section.conventions"))
        o.add(Text(t("report.conventions_note"), small=True),
              _kv([(t(f"report.metric.{k}") if k in metrics else k, v)
                   for k, v in sorted(conventions.items())], key_width=0.22))


def _appendix(o: _Numbered, t: Translator, contents: Sequence[StrategyContent],
              charts: ChartsNote) -> None:
    o.h1(t("report.section.appendix"), new_page=True)
    o.add(Text(t("report.appendix_text")))
    o.h2(t("report.section.rendering"))
    o.add(_kv([(t("report.setting.charts"), charts.renderer),
               (t("report.setting.reason"), charts.reason),
               (t("report.setting.generated"), contents[0].provenance.generated),
               (t("report.setting.fonts"),
                "NanumGothic, NanumGothicBold, NanumGothicCoding (OFL)")]))
    for c in contents:
        p = c.provenance
        o.h2(t("report.section.data") + (f" — {c.name}" if len(contents) > 1 else ""))
        status = (t("report.hash_same") if p.data_unchanged else t("report.hash_missing")
                  if p.dataset_hash_now is None
                  else t("report.hash_changed", now=p.dataset_hash_now))
        shape = (t("report.shape_value", tickers=t.number(p.dataset_shape[0], 0),
                   days=t.number(p.dataset_shape[1], 0)) if p.dataset_shape else "–")
        o.add(_kv([
            (t("report.setting.dataset"), p.dataset),
            (t("report.setting.dataset_hash"), p.dataset_hash),
            (t("report.setting.hash_status"), status),
            (t("report.setting.source"), p.dataset_source),
            (t("report.setting.span"), " – ".join(p.dataset_span) if p.dataset_span else None),
            (t("report.setting.shape"), shape),
            (t("report.setting.factor_source"), dict(p.factor_source)),
            (t("report.setting.seeds"), dict(p.seeds) or None),
            (t("report.setting.strategy_created"), p.strategy_created),
            (t("report.setting.backtest_created"), p.backtest_created),
            (t("report.setting.config"), dict(p.combine_config)),
            (t("report.setting.backtest_config"), p.backtest_config),
        ]))
        if p.runs:
            head = (t("report.col.run"), t("report.col.kind"), t("report.col.seed"),
                    t("report.col.started"), t("report.col.status"))
            o.add(Grid((head, *((r.run_id, r.kind, _plain(r.seed), r.started, r.status)
                                for r in p.runs)), (150, 60, 40, 130, 115), mono=(0,)))
    p = contents[0].provenance
    o.h2(t("report.section.versions"))
    recorded = p.recorded_versions
    head = (t("report.col.package"), t("report.col.version_now"),
            t("report.col.version_recorded"))
    o.add(Grid((head, *((k, v, recorded.get(k, "–")) for k, v in p.versions.items())),
               (90, 200, 200)))


def strategy_outline(c: StrategyContent, t: Translator, charts: ChartsNote,
                     author: str | None = None) -> Outline:
    """One strategy's report: summary, performance (when backtested), Mega-Alpha, factors,
    settings, reproducibility appendix."""
    o = _Numbered()
    _summary(o, t, c)
    if c.has_backtest:
        _performance(o, t, c)
    _signal(o, t, c)
    _factors(o, t, c)
    _settings(o, t, c)
    _appendix(o, t, [c], charts)
    cover = [(t("report.setting.dataset"), c.dataset), (t("report.setting.test"), period(t, c)),
             (t("report.setting.method"), method_name(t, c.method)),
             (t("report.setting.factor_set"),
              t("report.factors_value", name=c.factor_set, n=len(c.formulas))),
             *_cover_items(t, author)]
    return Outline(f"{t('report.title')}: {c.name}", t("report.title"), c.name, tuple(cover),
                   tuple(o.blocks))


def _comparison_setting(t: Translator, c: StrategyContent, key: str) -> str:
    cfg = c.provenance.backtest_config or {}
    if key == "method":
        return method_name(t, c.method)
    if key == "factor_set":
        return t("report.factors_value", name=c.factor_set, n=len(c.formulas))
    if key == "test":
        return period(t, c)
    if not cfg:
        return "–"
    if key == "trade_at":
        return t(f"report.price.{cfg.get('trade_at')}")
    if key == "costs":
        return t("report.costs_value", buy=t.number(cfg.get("buy_bps"), 1),
                 sell=t.number(cfg.get("sell_bps"), 1))
    if key == "benchmark":
        return _benchmark_setting(t, c.provenance.benchmark)
    return _plain(cfg.get(key))


def best_compared(contents: Sequence[StrategyContent]) -> StrategyContent | None:
    """The compared strategy with the highest backtest Sharpe ratio (None if none has one)."""
    scored = [c for c in contents if c.significance is not None
              and c.significance.sharpe is not None and math.isfinite(c.significance.sharpe.sharpe)]
    return max(scored, key=lambda c: c.significance.sharpe.sharpe) if scored else None  # type: ignore[union-attr]


def _best_of_compared(o: _Numbered, t: Translator, contents: Sequence[StrategyContent]) -> None:
    best = best_compared(contents)
    if best is None or best.significance is None:
        return
    o.h2(t("report.sig.heading"))
    o.add(Text(t("report.sig.best_compared", name=best.name)),
          *(Text(line) for line in significance_lines(t, best.significance, best.labels)),
          Text(t("report.sig.note"), small=True))


def comparison_outline(contents: Sequence[StrategyContent], t: Translator, charts: ChartsNote,
                       author: str | None = None) -> Outline:
    """Several strategies side by side: metrics, overlaid wealth curves and drawdowns (when
    any is backtested), settings, reproducibility appendix."""
    o = _Numbered()
    names = tuple(c.name for c in contents)
    widths = (150.0, *([345.0 / len(contents)] * len(contents)))
    o.h1(t("report.section.metrics"))
    rows = [(t("report.table.metric"), *names)]
    rows += [(t(f"report.metric.{k}"), *(fmt_value(t, c.signal.get(k), _SIGNAL_KIND[k])
                                         for c in contents)) for k in SIGNAL_KEYS]
    rows += [(t(f"report.metric.{k}"), *(fmt_value(t, (c.backtest or {}).get(k), kind)
                                         for c in contents)) for k, kind in PORTFOLIO_KEYS]
    o.add(Grid(tuple(rows), widths, numeric_from=1), Text(t("report.summary_note"), small=True))
    untested = [c.name for c in contents if not c.has_backtest]
    if untested:
        o.add(Text(t("report.untested", names=", ".join(untested))))
    _best_of_compared(o, t, contents)
    if len(untested) < len(contents):
        o.h1(t("report.section.performance"), new_page=True)
        o.chart("compare_equity", t("report.chart.compare_equity"))
        o.chart("compare_drawdown", t("report.chart.compare_drawdown"))
    o.h1(t("report.section.settings"), new_page=True)
    keys = ("method", "factor_set", "test", "top_k", "drop_n", "trade_at", "costs", "benchmark")
    o.add(Grid(((t("report.table.setting"), *names),
                *((t(f"report.setting.{k}"), *(_comparison_setting(t, c, k) for c in contents))
                  for k in keys)), widths))
    _appendix(o, t, contents, charts)
    title = t("report.comparison_title")
    cover = [(t("report.setting.strategies"), ", ".join(names)),
             (t("report.setting.dataset"), ", ".join(dict.fromkeys(c.dataset
                                                                    for c in contents))),
             *_cover_items(t, author)]
    return Outline(title, title, ", ".join(names), tuple(cover), tuple(o.blocks))
