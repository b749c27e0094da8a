"""`alphaforge factors`: list the project's factor sets, import one from a text file (function
form or Qlib expressions), export one (function form or Qlib)."""

from __future__ import annotations

import argparse
from pathlib import Path

from engine.cli.common import Output, open_project


def cmd_list(args: argparse.Namespace) -> Output:
    from engine.combine.service import available_factor_sets, resolve_factor_set

    project = open_project(args)
    rows = [{"name": n, "formulas": len(resolve_factor_set(project, n).factors)}
            for n in available_factor_sets(project)]
    text = "\n".join(f"{r['name']:<28}{r['formulas']:>5} formulas" for r in rows)
    return Output(rows, text or "no factor sets")


def cmd_import(args: argparse.Namespace) -> Output:
    from engine.combine.factor_files import import_factor_set
    from engine.data.safe_open import read_utf8
    from engine.data.schema import BASE_FEATURES

    project = open_project(args)
    path = Path(args.file).expanduser()
    text = read_utf8(path)
    features = project.dataset_meta(args.dataset).features if args.dataset else BASE_FEATURES
    name = args.name or path.stem
    factor_set, parsed = import_factor_set(project, name, text, source=path.name,
                                           features=features, overwrite=args.overwrite)
    lines = [f"factor set '{name}': {len(factor_set.factors)} formulas from {path}"]
    if parsed.duplicates:
        lines.append(f"  {len(parsed.duplicates)} duplicate line(s) skipped (the same formula "
                     f"as an earlier line): {', '.join(map(str, parsed.duplicates[:20]))}")
    lines.append(f"  use it: alphaforge combine --factors {name} ...")
    return Output({"name": name, "formulas": factor_set.formulas,
                   "duplicates": list(parsed.duplicates)}, "\n".join(lines))


def cmd_export(args: argparse.Namespace) -> Output:
    from engine.combine.factor_files import factor_set_text
    from engine.combine.service import resolve_factor_set
    from engine.store import atomic

    out = Path(args.out).expanduser()
    atomic.check_target(out, args.overwrite)
    project = open_project(args)
    factor_set = resolve_factor_set(project, args.name)
    text, skipped = factor_set_text(factor_set, args.format)
    atomic.write_text(out, text)
    lines = [f"factor set '{factor_set.name}': {len(factor_set.factors) - skipped} formulas "
             f"written to {out} ({args.format})"]
    if skipped:
        lines.append(f"  {skipped} formula(s) have no exact Qlib equivalent: written as "
                     "'#' comments with the reason")
    return Output({"out": str(out), "written": len(factor_set.factors) - skipped,
                   "skipped": skipped}, "\n".join(lines))


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("factors", help="list, import or export factor sets (also Qlib syntax)")
    inner = p.add_subparsers(dest="factors_command", required=True, metavar="ACTION")
    q = inner.add_parser("list", parents=[common], help="saved sets, mined zoos, built-in sets")
    q.set_defaults(func=cmd_list)
    q = inner.add_parser("import", parents=[common],
                         help="a text file, one formula per line (function form or Qlib)")
    q.add_argument("file")
    q.add_argument("--name", help="factor set name (default: the file name)")
    q.add_argument("--dataset", help="allow the extra feature columns of this dataset")
    q.add_argument("--overwrite", action="store_true", help="replace a set of the same name")
    q.set_defaults(func=cmd_import)
    q = inner.add_parser("export", parents=[common], help="write a factor set as a text file")
    q.add_argument("name", help="a saved set, a run id or a built-in set")
    q.add_argument("--out", required=True, help="text file to write")
    # checked by engine.combine.factor_files (its EXPORT_FORMATS): importing it here would
    # load torch for `alphaforge --help`
    q.add_argument("--format", default="formula",
                   help="formula (AlphaForge function form, the default) or qlib")
    q.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    q.set_defaults(func=cmd_export)

