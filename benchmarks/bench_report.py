"""Benchmark: time to produce a 5-year strategy's reports, with and without kaleido.

A synthetic market (full: 300 stocks x 1,520 days) with the classic factor set combined
dynamically over its last 1,260 trading days (5 years) and backtested (top 30 / drop 3).
Timed in the same run:

1. gathering the report content (store reads and chart series),
2. the PDF with native charts (reportlab drawings),
3. the PDF with the app's Plotly charts rendered by kaleido in one browser session,
4. the reference for 3: the same charts rendered one ``figure_png`` call each (a browser
   start per chart, as the app's chart downloads do),
5. the interactive HTML report and the alphalens export.

    python benchmarks/bench_report.py [--quick] [--write]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import machine, write_section  # noqa: E402

from engine.backtest.topk import TopKConfig  # noqa: E402
from engine.combine.service import (  # noqa: E402
    StrategySpec,
    backtest_strategy,
    build_strategy,
    combine_config,
)
from engine.data.synthetic import SyntheticConfig  # noqa: E402
from engine.i18n import Translator  # noqa: E402
from engine.report import alphalens_export, content, export, figures, html, pdf  # noqa: E402
from engine.report.pdf_charts import PX_WIDTH, strategy_charts  # noqa: E402
from engine.store.demo import ensure_demo  # noqa: E402
from engine.store.project import Project  # noqa: E402

HEADING = "## Reports"
NAME = "classic-dynamic"


def timed(func: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    out = func()
    return out, time.perf_counter() - start


def make_project(root: Path, n_tickers: int, n_days: int, test_days: int) -> Project:
    project, meta, _ = ensure_demo(root, SyntheticConfig(n_tickers=n_tickers, n_days=n_days,
                                                          seed=7))
    dates = project.load_panel("demo").dates
    start = str(dates[len(dates) - test_days])
    build_strategy(project, StrategySpec(name=NAME, dataset="demo", factor_set="classic",
                                         test=(start, None), train=None,
                                         config=combine_config("dynamic")))
    backtest_strategy(project, NAME, TopKConfig(top_k=30, drop_n=3))
    return project


def run(n_tickers: int, n_days: int, test_days: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-report-") as tmp:
        (project, setup_s) = timed(lambda: make_project(Path(tmp) / "p", n_tickers, n_days,
                                                        test_days))
        c, gather_s = timed(lambda: content.gather(project, NAME))
        native, native_s = timed(lambda: pdf.render_pdf(project, NAME, charts="native"))
        out: dict[str, Any] = {
            "n_tickers": n_tickers, "n_days": n_days, "test_days": test_days,
            "setup_s": setup_s, "gather_s": gather_s, "native_s": native_s,
            "native_pages": native.pages, "native_mb": len(native.data) / 1e6,
            "browser": export.browser_available(),
        }
        html_bytes, out["html_s"] = timed(lambda: html.build_html(project, NAME))
        out["html_mb"] = len(html_bytes) / 1e6
        frames, out["alphalens_s"] = timed(lambda: alphalens_export.build_frames(project, NAME))
        out["alphalens_rows"] = len(frames.factor_data)
        if out["browser"]:
            kaleido, out["kaleido_s"] = timed(lambda: pdf.render_pdf(project, NAME,
                                                                     charts="kaleido"))
            out.update(kaleido_renderer=kaleido.charts.renderer, kaleido_pages=kaleido.pages,
                       kaleido_mb=len(kaleido.data) / 1e6)
            specs = strategy_charts(c, Translator("en"))
            out["n_charts"] = len(specs)
            _, out["one_by_one_s"] = timed(lambda: [
                export.figure_png(figures.for_print(s.figure), width=PX_WIDTH,
                                  height=s.height_px) for s in specs])
        return out


def table(r: dict[str, Any]) -> str:
    rows = [
        "| step | time (s) | output | ratio |",
        "|---|---|---|---|",
        f"| gather content (store reads, chart series) | {r['gather_s']:.2f} | | |",
        f"| PDF, native charts | {r['native_s']:.2f} | {r['native_pages']} pages, "
        f"{r['native_mb']:.2f} MB | 1.0x |",
    ]
    if r["browser"]:
        rows += [
            f"| PDF, kaleido charts (one browser session) | {r['kaleido_s']:.2f} | "
            f"{r['kaleido_pages']} pages, {r['kaleido_mb']:.2f} MB, renderer "
            f"{r['kaleido_renderer']} | {r['kaleido_s'] / r['native_s']:.1f}x native |",
            f"| reference: the {r['n_charts']} charts, one `figure_png` each | "
            f"{r['one_by_one_s']:.2f} | PNG only | "
            f"{r['one_by_one_s'] / r['kaleido_s']:.1f}x the whole kaleido PDF |",
        ]
    else:
        rows.append("| PDF, kaleido charts | – | no Chromium/Chrome on this machine | |")
    rows += [
        f"| interactive HTML | {r['html_s']:.2f} | {r['html_mb']:.1f} MB (plotly.js inlined) "
        f"| |",
        f"| alphalens export (factor_data, 1D/5D/10D) | {r['alphalens_s']:.2f} | "
        f"{r['alphalens_rows']:,} rows | |",
    ]
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    parser.add_argument("--write", action="store_true", help="update benchmarks/RESULTS.md")
    args = parser.parse_args()
    sizes = (60, 400, 250) if args.quick else (300, 1520, 1260)
    result = run(*sizes)
    text = table(result)
    print(text)
    print(f"(market + strategy + backtest built in {result['setup_s']:.1f} s, not counted)")
    if args.write and not args.quick:
        section = (
            f"{HEADING} (bench_report.py)\n\n"
            f"Machine: {machine()}, CPU only, shared with other jobs while it ran. A 5-year "
            f"strategy: synthetic market of {result['n_tickers']} stocks x "
            f"{result['n_days']:,} days, the 24 classic factors combined dynamically over the "
            f"last {result['test_days']:,} trading days, top 30 / drop 3 backtest. The PDF "
            "holds a cover, contents, summary, 4 performance charts, the Mega-Alpha RankIC and "
            "weights charts, the factor table, settings and the reproducibility appendix. "
            "kaleido drives Debian's Chromium; its time includes starting the browser once. "
            "The reference renders the same charts one `figure_png` call each (a browser "
            "start per chart).\n\n" + text + "\n"
        )
        write_section(HEADING, section)


if __name__ == "__main__":
    main()
