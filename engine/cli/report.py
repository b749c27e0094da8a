"""`alphaforge report`: a strategy's PDF report (or a comparison), HTML, data and alphalens.

    alphaforge report --strategy S [--compare S2 S3] [--out report.pdf] [--html report.html]
                      [--data series.zip] [--alphalens alphalens.zip]
                      [--lang en|ko] [--charts auto|kaleido|native] [--author NAME]
    alphaforge report --sweep RUN [--out sweep.pdf] [--html sweep.html] [--lang en|ko]

Without --out the PDF goes to ``<project>/reports/<name>.pdf``. Every file is written
atomically.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from engine.cli.common import Output, open_project
from engine.i18n import LANGUAGES, system_language


def _write(path: str | Path, data: bytes, overwrite: bool | None) -> Path:
    """``overwrite`` None: the project's own reports folder (a new report replaces the old);
    True / False: a path the user named (``--out``, ``--html``, ``--data``)."""
    from engine.store import atomic

    target = Path(path).expanduser().resolve()
    atomic.write_bytes(target, data, overwrite=overwrite)
    return target


def _check_outs(args: argparse.Namespace) -> None:
    """Refuse a named output that would lose something before any work is done."""
    from engine.store import atomic

    for name in ("out", "html", "data", "alphalens"):
        value = getattr(args, name, None)
        if value:
            atomic.check_target(Path(value).expanduser().resolve(), args.overwrite)


def cmd_report(args: argparse.Namespace) -> Output:
    from engine.i18n import Translator
    from engine.report import alphalens_export, content, export, html, pdf

    _check_outs(args)
    project = open_project(args)
    lang = args.lang or system_language()
    if args.sweep:
        return _sweep_report(args, project, lang)
    names = list(dict.fromkeys([args.strategy, *(args.compare or [])]))
    comparing = len(names) > 1
    if comparing:
        report = pdf.render_comparison_pdf(project, names, lang=lang, charts=args.charts,
                                           author=args.author)
        stem = "-vs-".join(names)
    else:
        report = pdf.render_pdf(project, args.strategy, lang=lang, charts=args.charts,
                                author=args.author)
        stem = args.strategy
    out = _write(args.out or project.root / "reports" / f"{stem}.pdf", report.data,
                 args.overwrite if args.out else None)
    t = Translator("en")  # the command line speaks English whatever the report's language
    written: dict[str, Any] = {"pdf": str(out)}
    lines = [f"{'Comparison' if comparing else 'Report'} of {', '.join(names)}: {out} "
             f"({report.pages} pages, {len(report.data) / 1e6:.1f} MB)",
             f"  charts: {report.charts.renderer} ({t(report.charts.reason)})"]
    if args.html:
        data = html.build_html(project, args.strategy, compare=names[1:], lang=lang,
                               author=args.author)
        written["html"] = str(_write(args.html, data, args.overwrite))
        lines.append(f"  interactive HTML: {written['html']}")
    if args.data:
        data = export.series_zip(content.gather_many(project, names),
                                 readme=t("report.data_readme"))
        written["data"] = str(_write(args.data, data, args.overwrite))
        lines.append(f"  series (CSV + Parquet): {written['data']}")
    if args.alphalens:
        frames = alphalens_export.build_frames(project, args.strategy)
        written["alphalens"] = str(_write(args.alphalens, alphalens_export.alphalens_zip(frames),
                                              args.overwrite))
        lines.append(f"  alphalens factor data ({len(frames.factor_data)} rows): "
                     f"{written['alphalens']}")
    return Output({"strategies": names, "lang": lang, "pages": report.pages,
                   "charts": report.charts.renderer, "charts_reason": report.charts.reason,
                   "files": written}, "\n".join(lines))


def _sweep_report(args: argparse.Namespace, project: Any, lang: str) -> Output:
    """A sweep's PDF (and HTML) report: design, chart, table, verdicts, significance."""
    from engine.errors import ConfigError
    from engine.i18n import Translator
    from engine.report import html, pdf

    for name in ("compare", "data", "alphalens"):
        if getattr(args, name, None):
            raise ConfigError(f"--{name} is for a strategy's report, not a sweep's")
    report = pdf.render_sweep_pdf(project, args.sweep, lang=lang, charts=args.charts,
                                  author=args.author)
    out = _write(args.out or project.root / "reports" / f"sweep-{args.sweep}.pdf", report.data,
                 args.overwrite if args.out else None)
    t = Translator("en")
    written: dict[str, Any] = {"pdf": str(out)}
    lines = [f"Report of sweep {args.sweep}: {out} ({report.pages} pages, "
             f"{len(report.data) / 1e6:.1f} MB)",
             f"  charts: {report.charts.renderer} ({t(report.charts.reason)})"]
    if args.html:
        data = html.build_sweep_html(project, args.sweep, lang=lang, author=args.author)
        written["html"] = str(_write(args.html, data, args.overwrite))
        lines.append(f"  interactive HTML: {written['html']}")
    return Output({"sweep": args.sweep, "lang": lang, "pages": report.pages,
                   "charts": report.charts.renderer, "files": written}, "\n".join(lines))


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("report", parents=[common],
                       help="PDF report of a strategy (or a comparison), HTML, data, alphalens")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--strategy", help="the strategy to report on")
    what.add_argument("--sweep", metavar="RUN", help="a sweep's report instead (its run id)")
    p.add_argument("--compare", nargs="+", metavar="STRATEGY",
                   help="compare --strategy with these strategies in one report")
    p.add_argument("--out", metavar="PDF",
                   help="PDF file to write (default: <project>/reports/<name>.pdf)")
    p.add_argument("--html", metavar="FILE", help="also write the interactive HTML report")
    p.add_argument("--data", metavar="ZIP", help="also write every series as CSV + Parquet")
    p.add_argument("--alphalens", metavar="ZIP",
                   help="also write --strategy's Mega-Alpha in alphalens' layout")
    p.add_argument("--lang", choices=LANGUAGES,
                   help="report language (default: the system's, else English)")
    p.add_argument("--charts", choices=["auto", "kaleido", "native"], default="auto",
                   help="auto: the app's charts via a Chromium/Chrome when one can draw them, "
                        "else native drawings")
    p.add_argument("--author", help="author shown on the cover")
    p.add_argument("--overwrite", action="store_true",
                   help="replace existing --out / --html / --data / --alphalens files")
    p.set_defaults(func=cmd_report)
