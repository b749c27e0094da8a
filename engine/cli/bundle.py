"""Reproducible experiments: `export-run`, `import-run` and `rerun`.

`rerun` exits 0 when the re-run is identical to the original (within ``--tolerance``) and 1
when it is not, so scripts and CI can use it as a check.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from engine.cli.common import Output, open_project, project_path
from engine.device import DEVICES
from engine.errors import ConfigError

EXIT_DIFFERENT = 1


def _one_target(args: argparse.Namespace, command: str) -> tuple[str | None, str | None]:
    if (args.run is None) == (args.strategy is None):
        raise ConfigError(f"`alphaforge {command}` needs a run id or --strategy NAME (not both)")
    return args.run, args.strategy


def cmd_export(args: argparse.Namespace) -> Output:
    from engine.store.bundle import export_bundle

    run_id, strategy = _one_target(args, "export-run")
    out = Path(args.out).expanduser()
    project = open_project(args)
    manifest = export_bundle(project, out, run_id=run_id, strategy=strategy,
                             with_data=args.with_data, with_checkpoint=args.with_checkpoint,
                             overwrite=args.overwrite)
    size = out.stat().st_size
    parts = [f"{len(manifest.runs)} run(s)", f"{len(manifest.factor_sets)} factor set(s)",
             f"{len(manifest.strategies)} strategy(ies)", f"{len(manifest.datasets)} dataset(s)"]
    text = (f"{manifest.kind} '{manifest.name}' exported to {out} ({size / 1e6:.1f} MB, "
            f"{len(manifest.files)} files): {', '.join(parts)}")
    if manifest.requires and not manifest.with_data:
        text += "\n  without data: the importing project needs " + ", ".join(
            f"dataset '{d.name}' ({str(d.content_hash)[:12]})" for d in manifest.requires)
    return Output({"bundle": str(out), "size": size, "manifest": manifest.to_dict()}, text)


def cmd_import(args: argparse.Namespace) -> Output:
    from engine.store.bundle import import_bundle

    result = import_bundle(args.bundle, project_path(args), rename=args.rename,
                           overwrite=args.overwrite)
    lines = [f"imported {result.kind} '{result.name}' into {result.project}"]
    lines += [f"  wrote {item}" for item in result.written]
    lines += [f"  kept {item} (already identical)" for item in result.kept]
    lines += [f"  dataset '{a}' found in the project as '{b}'"
              for a, b in result.dataset_renames.items()]
    follow = (f"alphaforge rerun {result.name}" if result.kind == "run"
              else f"alphaforge rerun --strategy {result.name}")
    lines.append(f"  check it reproduces: {follow} --project {result.project}")
    return Output(result.to_dict(), "\n".join(lines))


def _fmt_diff(x: float) -> str:
    return "inf" if not math.isfinite(x) else f"{x:.3g}"


def cmd_rerun(args: argparse.Namespace) -> Output:
    from engine.cli.mining import _progress_line
    from engine.reproduce import rerun_mining, rerun_strategy

    run_id, strategy = _one_target(args, "rerun")
    project = open_project(args)
    if run_id is not None:
        show = (lambda e: print(_progress_line(e), file=sys.stderr)) if not args.json else None
        comparison = rerun_mining(project, run_id, device=args.device,
                                  tolerance=args.tolerance, progress_cb=show)
        what = f"run {comparison.original} -> re-run {comparison.rerun}"
    else:
        comparison = rerun_strategy(project, str(strategy), new_name=args.name,
                                    overwrite=args.overwrite, tolerance=args.tolerance)
        what = f"strategy '{comparison.original}' -> '{comparison.rerun}'"
    n = len(comparison.rows)
    notes = "".join(f"\n  note: {note}" for note in comparison.notes)
    if comparison.identical:
        tol = f" within {args.tolerance:g}" if args.tolerance else ""
        text = f"{what}: identical{tol} ({n} tables/metrics compared){notes}"
        return Output(comparison.to_dict(), text)
    diffs = comparison.differences
    width = max(len(f"{d.table}.{d.item}") for d in diffs)
    lines = [f"{what}: DIFFERENT in {len(diffs)} of {n} tables/metrics",
             f"{'table.item':<{width}}  {'max abs diff':>12}  {'differing':>15}  note"]
    lines += [f"{d.table + '.' + d.item:<{width}}  {_fmt_diff(d.max_abs_diff):>12}  "
              f"{f'{d.n_different}/{d.n_compared}':>15}  {d.note}".rstrip() for d in diffs]
    return Output(comparison.to_dict(), "\n".join(lines) + notes, exit_code=EXIT_DIFFERENT)


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("export-run", parents=[common],
                       help="write a mining run or a strategy (and its data) to a zip bundle")
    p.add_argument("run", nargs="?", help="mining run id")
    p.add_argument("--strategy", help="export this strategy (with its factor set / run)")
    p.add_argument("--out", required=True, help="bundle file to write (.zip)")
    p.add_argument("--with-data", action="store_true", help="include the dataset(s) used")
    p.add_argument("--with-checkpoint", action="store_true",
                   help="include the run's checkpoint (needed to resume, not to re-run)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("import-run", parents=[common],
                       help="verify a bundle and copy it into a project (created if absent)")
    p.add_argument("bundle", help="bundle file (.zip) written by export-run")
    p.add_argument("--rename", metavar="NEW", help="import the run / strategy under this name")
    p.add_argument("--overwrite", action="store_true",
                   help="replace runs, strategies, factor sets or datasets of the same name")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("rerun", parents=[common],
                       help="re-execute a mining run or strategy and diff the results "
                            "(exit 1 when they differ)")
    p.add_argument("run", nargs="?", help="mining run id")
    p.add_argument("--strategy", help="re-run this strategy (combination and backtest)")
    p.add_argument("--name", help="name of the re-run strategy (default: STRATEGY-rerun)")
    p.add_argument("--overwrite", action="store_true", help="replace an earlier re-run strategy")
    p.add_argument("--device", choices=DEVICES.names(),
                   help="mining device (default: the one the original run used)")
    p.add_argument("--tolerance", type=float, default=0.0,
                   help="largest absolute difference still counted as equal (default 0)")
    p.set_defaults(func=cmd_rerun)
