"""Source commands: ``export`` (the ``import --from URL`` side lives with ``import`` in data.py)."""

from __future__ import annotations

import argparse

from engine.cli.common import Output, open_project


def cmd_export(args: argparse.Namespace) -> Output:
    from engine.data.export import export

    project = open_project(args)
    meta = project.dataset_meta(args.dataset)
    frame = project.load_frame(args.dataset)
    result = export(frame, args.format, args.out, vwap_derived=meta.vwap_derived,
                    universe=args.universe, price=args.price, factors=args.factor or None,
                    overwrite=args.overwrite)
    shown = ", ".join(result.files[:6]) + (f" (+{len(result.files) - 6} more)"
                                           if len(result.files) > 6 else "")
    text = (f"Exported '{meta.name}' as {args.format} to {result.path}: {result.n_tickers} "
            f"tickers, {result.n_rows} rows\n  {shown}")
    return Output({**result.to_dict(), "dataset": meta.name,
                   "content_hash": meta.content_hash}, text)


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    from engine.data.schema import DEFAULT_EXPORT_UNIVERSE as DEFAULT_UNIVERSE
    from engine.data.schema import EXPORT_FORMATS as FORMATS

    p = sub.add_parser("export", parents=[common],
                       help="export a dataset: Qlib data folder, alphalens frames, Parquet, CSV")
    p.add_argument("dataset")
    p.add_argument("--format", required=True, choices=FORMATS)
    p.add_argument("--out", required=True, metavar="PATH",
                   help="file (parquet, csv) or folder (qlib, alphalens) to create")
    p.add_argument("--universe", default=DEFAULT_UNIVERSE,
                   help="Qlib: name of the instruments file for in_universe "
                        f"(default {DEFAULT_UNIVERSE})")
    p.add_argument("--price", default="close",
                   help="alphalens: the price column of prices.parquet (default close)")
    p.add_argument("--factor", action="append", metavar="COLUMN",
                   help="alphalens: a column of factors.parquet (repeatable; default: every "
                        "feature)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing PATH")
    p.set_defaults(func=cmd_export)
