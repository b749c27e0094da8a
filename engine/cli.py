"""`alphaforge` command line: each command parses arguments, calls engine functions, prints.

Every command accepts ``--json`` for machine-readable output. Errors a user can act on
(bad data, bad names, bad formulas) print one clear message and exit with code 2; they never
print a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import AlphaForgeError, DataError
from engine.store.project import Project, default_project_path

EXIT_OK = 0
EXIT_USER_ERROR = 2


@dataclass(frozen=True)
class Output:
    """What a command returns: data for ``--json`` and text for people."""

    data: Any
    text: str


Command = Callable[[argparse.Namespace], Output]


def _project_path(args: argparse.Namespace) -> Path:
    return Path(args.project).expanduser() if args.project else default_project_path()


def _open_project(args: argparse.Namespace) -> Project:
    return Project.open(_project_path(args))


# ----------------------------------------------------------------------------- commands


def cmd_demo(args: argparse.Namespace) -> Output:
    from engine.data.synthetic import SyntheticConfig
    from engine.store.demo import ensure_demo

    config = SyntheticConfig(n_tickers=args.tickers, n_days=args.days, seed=args.seed)
    project, meta, created = ensure_demo(_project_path(args), config, name=args.name,
                                         replace=not args.if_missing)
    state = "created" if created else "already exists"
    text = (f"Demo project ready at {project.root}\n"
            f"  dataset 'demo' ({state}): {meta.n_tickers} tickers x {meta.n_dates} days "
            f"({meta.start} .. {meta.end}), {meta.n_rows} rows")
    return Output({"project": str(project.root), "dataset": meta.to_dict(), "created": created},
                  text)


def cmd_import(args: argparse.Namespace) -> Output:
    from engine.data.validate import load
    from engine.store.project import slugify

    mapping = dict(m.split("=", 1) for m in args.map) if args.map else None
    # Validate before touching the project: a bad file must leave it byte-for-byte unchanged.
    dataset = load(args.path, horizon=args.horizon, column_map=mapping, encoding=args.encoding)
    name = args.name or slugify(Path(args.path).name)
    from engine.store.project import validate_name

    validate_name(name, "dataset name")
    project = Project.create(_project_path(args))
    meta = project.save_dataset(name, dataset, overwrite=args.overwrite)
    record = project.new_run("import", {"path": str(Path(args.path).resolve()),
                                        "horizon": args.horizon, "column_map": mapping or {},
                                        "encoding": args.encoding}, dataset=name)
    project.save_record(record.finished("done"))
    text = (f"Imported '{meta.name}' into {project.root}: {meta.n_tickers} tickers x "
            f"{meta.n_dates} days ({meta.start} .. {meta.end})\n{dataset.report.summary()}")
    return Output({"project": str(project.root), "dataset": meta.to_dict(),
                   "warnings": [w.message for w in dataset.report.warnings],
                   "notes": [n.message for n in dataset.report.notes]}, text)


def cmd_datasets(args: argparse.Namespace) -> Output:
    project = _open_project(args)
    metas = [project.dataset_meta(n) for n in project.dataset_names()]
    rows = [f"{m.name:<24} {m.n_tickers:>6} tickers {m.n_dates:>6} days  {m.start} .. {m.end}"
            f"  {len(m.validation.warnings)} warning(s)" for m in metas]
    text = "\n".join(rows) if rows else f"No datasets in {project.root} yet."
    return Output([m.to_dict() for m in metas], text)


def cmd_inspect(args: argparse.Namespace) -> Output:
    from engine.data.stats import describe

    project = _open_project(args)
    meta = project.dataset_meta(args.dataset)
    stats = describe(project.load_frame(args.dataset))
    lines = [f"{meta.name}: {stats.n_tickers} tickers x {stats.n_dates} days, "
             f"{stats.start} .. {stats.end}, coverage {stats.coverage:.1%}",
             f"source: {meta.source}; hash {meta.content_hash[:12]}"
             + ("; vwap derived from (h+l+c)/3" if meta.vwap_derived else ""),
             f"{'column':<12}{'count':>10}{'missing':>9}{'mean':>14}{'std':>14}{'min':>14}"
             f"{'max':>14}"]

    def fmt(v: float | None) -> str:
        return f"{v:>14.4g}" if v is not None else f"{'-':>14}"

    for c in stats.columns:
        lines.append(f"{c.column:<12}{c.count:>10}{c.missing:>9}{fmt(c.mean)}{fmt(c.std)}"
                     f"{fmt(c.min)}{fmt(c.max)}")
    lines.append(meta.validation.summary())
    return Output({"dataset": meta.to_dict(), "stats": stats.to_dict()}, "\n".join(lines))


def cmd_app(args: argparse.Namespace) -> Output:
    """Start the Streamlit app on 127.0.0.1 (blocks until the server stops)."""
    import subprocess

    from engine.store.project import default_home
    from engine.store.settings import AppSettings, load_settings, save_settings

    if args.single_user or args.accounts:
        mode = "single" if args.single_user else "accounts"
        save_settings(default_home(), AppSettings(mode=mode,
                                                  language=load_settings(default_home()).language))
    if not args.no_demo:
        from engine.store.demo import ensure_demo

        ensure_demo(_project_path(args))
    app = Path(__file__).resolve().parents[1] / "alphaforge_app" / "app.py"
    cmd = [sys.executable, "-m", "streamlit", "run", str(app),
           "--server.address", "127.0.0.1", "--server.port", str(args.port),
           "--server.enableXsrfProtection", "true", "--browser.gatherUsageStats", "false",
           "--server.headless", "true" if args.no_browser else "false"]
    print(f"AlphaForge is starting on http://127.0.0.1:{args.port} (Ctrl+C stops it)")
    code = subprocess.call(cmd, cwd=app.parents[1])
    return Output({"exit_code": code}, f"server stopped (exit code {code})")


def cmd_runs(args: argparse.Namespace) -> Output:
    project = _open_project(args)
    records = project.runs()
    rows = [f"{r.run_id:<40} {r.kind:<8} {r.status:<9} {r.dataset or '-':<16} {r.started}"
            for r in records]
    return Output([r.to_dict() for r in records], "\n".join(rows) or "No runs yet.")


def _tree_lines(node: Any, prefix: str = "") -> list[str]:
    """Indented drawing of a formula tree (display only)."""
    from engine.expr.parse import Call, to_text

    if not isinstance(node, Call):
        return [prefix + to_text(node)]
    lines = [prefix + node.op]
    for arg in node.args:
        lines += _tree_lines(arg, prefix + "  ")
    return lines


def cmd_check(args: argparse.Namespace) -> Output:
    from engine.data.schema import BASE_FEATURES
    from engine.expr.parse import parse, to_rpn, to_text

    features: tuple[str, ...] = BASE_FEATURES
    if args.dataset:
        features = _open_project(args).dataset_meta(args.dataset).features
    tree = parse(args.formula, features=features, preset=None)
    rpn = " ".join(t.text for t in to_rpn(tree))
    text = "\n".join([f"formula: {to_text(tree)}", f"RPN:     {rpn}", "tree:",
                      *_tree_lines(tree, "  ")])
    return Output({"formula": to_text(tree), "rpn": rpn.split(" ")}, text)


def cmd_eval(args: argparse.Namespace) -> Output:
    from engine.metrics.formulas import score_formulas

    formulas = list(args.formula or [])
    if args.file:
        path = Path(args.file)
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise DataError(f"{path}: cannot read the formula file ({exc})") from None
        formulas += [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
    if not formulas:
        raise DataError("no formula given: pass one as an argument or --file FILE")
    project = _open_project(args)
    panel = project.load_panel(args.dataset)
    scores = score_formulas(panel, formulas, start=args.start, end=args.end,
                            horizon=args.horizon, price=args.target_price)
    rows = scores.table.to_dicts()
    lines = [f"{scores.n_days} scored days; target {args.target_price}[t+{args.horizon + 1}] / "
             f"{args.target_price}[t+1] - 1",
             f"{'IC':>8}{'ICIR':>8}{'RankIC':>8}{'RkICIR':>8}{'cover':>7}  formula"]
    for r in rows:
        lines.append(f"{r['ic']:>8.4f}{r['icir']:>8.3f}{r['rank_ic']:>8.4f}{r['rank_icir']:>8.3f}"
                     f"{r['coverage']:>7.1%}  {r['formula']}")
    for line, text, message in scores.errors:
        lines.append(f"formula {line} ({text!r}): {message}")
    data = {"n_days": scores.n_days, "results": rows,
            "errors": [{"line": i, "formula": t, "error": m} for i, t, m in scores.errors]}
    return Output(data, "\n".join(lines))


# ----------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="alphaforge",
        description="Mine, combine and backtest formulaic alpha factors (AlphaForge), offline.",
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--project", help="project folder (default: the demo project under "
                                          "$ALPHAFORGE_HOME or the user data folder)")
    common.add_argument("--json", action="store_true", help="machine-readable output")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("demo", parents=[common], help="create the demo project (synthetic market)")
    p.add_argument("--tickers", type=int, default=300)
    p.add_argument("--days", type=int, default=1500)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--name", help="project name (default: the folder name)")
    p.add_argument("--if-missing", action="store_true",
                   help="do nothing when the demo dataset already exists")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("import", parents=[common], help="validate and import a CSV/Parquet file "
                                                         "or a folder of per-ticker CSV files")
    p.add_argument("path")
    p.add_argument("--name", help="dataset name (default: from the file name)")
    p.add_argument("--horizon", type=int, default=20, help="forward-return horizon in days")
    p.add_argument("--map", action="append", metavar="COLUMN=CANONICAL",
                   help="map a column explicitly, e.g. --map Kurs=close (repeatable)")
    p.add_argument("--encoding", default="utf-8", help="text encoding of CSV files")
    p.add_argument("--overwrite", action="store_true", help="replace a dataset of the same name")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("datasets", parents=[common], help="list the project's datasets")
    p.set_defaults(func=cmd_datasets)

    p = sub.add_parser("inspect", parents=[common], help="statistics and validation of a dataset")
    p.add_argument("dataset")
    p.set_defaults(func=cmd_inspect)

    p = sub.add_parser("check", parents=[common], help="parse a formula: tree, RPN or the error")
    p.add_argument("formula")
    p.add_argument("--dataset", help="allow the extra feature columns of this dataset")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("eval", parents=[common], help="IC / RankIC of formulas on a dataset")
    p.add_argument("formula", nargs="*", help="formula text(s)")
    p.add_argument("--dataset", required=True)
    p.add_argument("--file", help="a text file with one formula per line ('#' comments)")
    p.add_argument("--start", help="first scored day (YYYY-MM-DD)")
    p.add_argument("--end", help="last scored day (YYYY-MM-DD)")
    p.add_argument("--target-price", choices=["vwap", "close"], default="vwap")
    p.add_argument("--horizon", type=int, default=20)
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("app", parents=[common], help="start the desktop app (local web server)")
    p.add_argument("--port", type=int, default=8501)
    p.add_argument("--no-browser", action="store_true", help="do not open a browser window")
    p.add_argument("--no-demo", action="store_true", help="do not create the demo project")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--single-user", action="store_true",
                      help="one person on this computer: no login (remembered)")
    mode.add_argument("--accounts", action="store_true",
                      help="several people: local accounts with login (remembered)")
    p.set_defaults(func=cmd_app)

    p = sub.add_parser("runs", parents=[common], help="list the project's runs")
    p.set_defaults(func=cmd_runs)
    return parser


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        out = args.func(args)
    except AlphaForgeError as exc:
        if args.json:
            payload: dict[str, Any] = {"ok": False, "error": str(exc)}
            report = getattr(exc, "report", None) if isinstance(exc, DataError) else None
            if report is not None and hasattr(report, "to_dict"):
                payload["report"] = report.to_dict()
            _print_json(payload)
        else:
            print(f"error: {exc}", file=sys.stderr)
            report = getattr(exc, "report", None)
            if report is not None and hasattr(report, "summary"):
                print(report.summary(), file=sys.stderr)
        return EXIT_USER_ERROR
    if args.json:
        _print_json({"ok": True, "result": out.data})
    else:
        print(out.text)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
