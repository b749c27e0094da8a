"""What a report shows: gathered once from the store, with its provenance and outline."""

from __future__ import annotations

import io
import json
import zipfile

from engine.i18n import Translator
from engine.report import content, export
from engine.store.project import Project


def test_gather_backtested_and_untested(report_project: Project) -> None:
    tested = content.gather(report_project, "classic-dynamic")
    assert tested.has_backtest and tested.equity is not None
    assert tested.start is not None and str(tested.start) >= "2016-01-04"
    assert tested.factors.height == len(tested.formulas) == len(tested.labels)
    assert set(tested.frames()) >= {"equity", "rolling_sharpe", "monthly_returns", "portfolio",
                                    "mega_alpha_ic", "weights", "factors", "signal"}
    p = tested.provenance
    assert p.data_unchanged and p.benchmark == "equal" and p.backtest_config is not None
    assert any(r.kind == "demo" and r.seed == 3 for r in p.runs)  # the data's seed
    assert p.versions["torch"] and p.recorded_versions["polars"]

    untested = content.gather(report_project, "classic-static")
    assert not untested.has_backtest and "equity" not in untested.frames()
    assert untested.provenance.benchmark is None


def test_ticker_benchmark_is_named(report_project: Project) -> None:
    c = content.gather(report_project, "classic-equal")
    assert c.provenance.benchmark == "SYN0001"
    assert content.benchmark_label(c, Translator("en")) == "SYN0001"


def test_outline_numbers_its_headings(report_project: Project) -> None:
    c = content.gather(report_project, "classic-dynamic")
    outline = content.strategy_outline(c, Translator("en"), content.ChartsNote("x", "y"))
    top = [h.text for h in outline.headings if h.level == 0]
    assert top == ["1. Executive summary", "2. Performance", "3. Mega-Alpha", "4. Factors",
                   "5. Settings", "6. Reproducibility appendix"]
    anchors = [h.anchor for h in outline.headings]
    assert len(anchors) == len(set(anchors))
    charts = [b.key for b in outline.blocks if isinstance(b, content.Chart)]
    assert charts == ["equity", "drawdown", "turnover", "monthly", "rolling_sharpe", "weights",
                      "rank_ic"]


def test_series_zip(report_project: Project) -> None:
    c = content.gather(report_project, "classic-dynamic")
    with zipfile.ZipFile(io.BytesIO(export.series_zip([c], readme="hi"))) as archive:
        names = set(archive.namelist())
        assert {"README.txt", "strategy.json", "equity.csv", "equity.parquet"} <= names
        meta = json.loads(archive.read("strategy.json"))
        assert meta["strategy"] == "classic-dynamic" and meta["formulas"] == list(c.formulas)
