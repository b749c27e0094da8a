"""Data commands: demo, import, datasets, inspect, runs."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.cli.common import Output, open_project, project_path
from engine.errors import ConfigError

if TYPE_CHECKING:
    from engine.data.validate import Dataset


def cmd_demo(args: argparse.Namespace) -> Output:
    from engine.store.demo import demo_config, ensure_demo

    config = demo_config(n_tickers=args.tickers, n_days=args.days, seed=args.seed)
    project, meta, created = ensure_demo(project_path(args), config, name=args.name,
                                         replace=not args.if_missing)
    state = "created" if created else "already exists"
    text = (f"Demo project ready at {project.root}\n"
            f"  dataset 'demo' ({state}): {meta.n_tickers} tickers x {meta.n_dates} days "
            f"({meta.start} .. {meta.end}), {meta.n_rows} rows")
    return Output({"project": str(project.root), "dataset": meta.to_dict(), "created": created},
                  text)


def _ask_password(prompt: str) -> str | None:
    """Ask on the terminal (never echoed); None when there is no terminal to ask on."""
    import getpass
    import sys

    if not sys.stdin or not sys.stdin.isatty():
        return None
    return getpass.getpass(prompt)


def _load_source(args: argparse.Namespace, mapping: dict[str, str] | None
                 ) -> tuple[Dataset, str, dict[str, Any]]:
    """Read and validate ``--from URL`` (secrets: prompt, keyring or environment, never args)."""
    import os

    from engine.data import sources
    from engine.data.sources import SourceRequest

    request = SourceRequest(args.source, table=args.table, query=args.query,
                            token=os.environ.get("ALPHAFORGE_HTTP_TOKEN") or None)
    dataset = sources.load(request, horizon=args.horizon, column_map=mapping,
                           ask_password=_ask_password)
    config = {"source": request.label(), "table": args.table, "query": args.query,
              "horizon": args.horizon, "column_map": mapping or {}}
    return dataset, args.name or sources.default_name(request), config


def cmd_import(args: argparse.Namespace) -> Output:
    from engine.data.validate import load
    from engine.errors import ConfigError
    from engine.store.project import slugify

    if bool(args.path) == bool(args.source):
        raise ConfigError("give a file or folder to import, or --from URL (one of them)")
    if not args.source and (args.table or args.query):
        raise ConfigError("--table and --query need --from URL")
    mapping = _column_map(args.map) if args.map else None
    # Validate before touching the project: a bad file must leave it byte-for-byte unchanged.
    if args.source:
        dataset, name, config = _load_source(args, mapping)
    else:
        dataset = load(args.path, horizon=args.horizon, column_map=mapping,
                       encoding=args.encoding)
        name = args.name or slugify(Path(args.path).name)
        config = {"path": str(Path(args.path).resolve()), "horizon": args.horizon,
                  "column_map": mapping or {}, "encoding": args.encoding}
    from engine.store.project import Project, validate_name

    validate_name(name, "dataset name")
    project = Project.create(project_path(args))
    meta = project.save_dataset(name, dataset, overwrite=args.overwrite)
    record = project.new_run("import", config, dataset=name)
    project.save_record(record.finished("done"))
    text = (f"Imported '{meta.name}' into {project.root}: {meta.n_tickers} tickers x "
            f"{meta.n_dates} days ({meta.start} .. {meta.end})\n{dataset.report.summary()}")
    return Output({"project": str(project.root), "dataset": meta.to_dict(),
                   "warnings": [w.message for w in dataset.report.warnings],
                   "notes": [n.message for n in dataset.report.notes]}, text)


def cmd_datasets(args: argparse.Namespace) -> Output:
    project = open_project(args)
    metas = [project.dataset_meta(n) for n in project.dataset_names()]
    rows = [f"{m.name:<24} {m.n_tickers:>6} tickers {m.n_dates:>6} days  {m.start} .. {m.end}"
            f"  {len(m.validation.warnings)} warning(s)" for m in metas]
    text = "\n".join(rows) if rows else f"No datasets in {project.root} yet."
    return Output([m.to_dict() for m in metas], text)


def cmd_inspect(args: argparse.Namespace) -> Output:
    from engine.data.stats import describe

    project = open_project(args)
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


def cmd_runs(args: argparse.Namespace) -> Output:
    from engine.mining import worker

    project = open_project(args)
    records = project.runs()
    # a mining run whose worker is gone reads 'stopped', as on the Factor mining page
    shown = {r.run_id: worker.run_status(project, r) if r.kind == worker.RUN_KIND
             else r.status for r in records}
    rows = [f"{r.run_id:<40} {r.kind:<8} {shown[r.run_id]:<9} {r.dataset or '-':<16} "
            f"{r.started}" for r in records]
    return Output([r.to_dict() for r in records], "\n".join(rows) or "No runs yet.")



def _column_map(items: list[str]) -> dict[str, str]:
    """``--map COLUMN=CANONICAL`` options as a dict; a malformed one is named."""
    mapping = {}
    for item in items:
        column, sep, canonical = item.partition("=")
        if not sep or not column.strip() or not canonical.strip():
            raise ConfigError(f"--map '{item}' must look like COLUMN=CANONICAL, e.g. "
                              "--map Kurs=close", code="map_malformed", params={"value": item})
        mapping[column.strip()] = canonical.strip()
    return mapping


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("demo", parents=[common], help="create the demo project (synthetic market)")
    p.add_argument("--tickers", type=int, default=300)
    p.add_argument("--days", type=int, default=1500)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--name", help="project name (default: the folder name)")
    p.add_argument("--if-missing", action="store_true",
                   help="do nothing when the demo dataset already exists")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("import", parents=[common], help="validate and import a CSV/Parquet file, "
                                                         "a folder of per-ticker CSV files, or a "
                                                         "source (--from URL)")
    p.add_argument("path", nargs="?", help="file or folder (omit with --from)")
    p.add_argument("--from", dest="source", metavar="URL",
                   help="sqlite:///file.db, duckdb:///file.duckdb, postgresql://user@host:port/db,"
                        " http(s)://..., qlib:///dir?universe=NAME (passwords are asked for or "
                        "taken from the OS keyring / PGPASSWORD; an HTTP token from "
                        "ALPHAFORGE_HTTP_TOKEN)")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--table", help="table or view to import (SQL), universe (Qlib)")
    group.add_argument("--query", help='one read-only SELECT, e.g. "SELECT * FROM prices"')
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

    p = sub.add_parser("runs", parents=[common], help="list the project's runs")
    p.set_defaults(func=cmd_runs)
