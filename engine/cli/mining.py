"""The `mine` command: start (or resume) a mining run and print its zoo."""

from __future__ import annotations

import argparse
import math
import sys
from typing import Any

from engine.cli.common import Output, open_project
from engine.device import DEVICES
from engine.expr.builtin_sets import BUILTIN_SETS
from engine.mining.presets import PRESETS
from engine.mining.strategies import miner_names


def _fmt(x: Any) -> str:
    return "   -   " if x is None or (isinstance(x, float) and not math.isfinite(x)) \
        else f"{x:>7.4f}"


def cmd_mine(args: argparse.Namespace) -> Output:
    from engine.mining.config import preset
    from engine.mining.worker import run_mining
    from engine.mining.zoo import load_factor_set

    project = open_project(args)
    show = (lambda e: print(_progress_line(e), file=sys.stderr)) if not args.json else None
    if args.resume:
        run_id = run_mining(project, resume=args.resume, progress_cb=show)
    else:
        overrides: dict[str, Any] = {
            "generator": args.generator, "fitness": args.fitness, "seed": args.seed,
            "device": args.device, "train": args.train, "valid": args.valid,
            "test": args.test,
        }
        if args.zoo_size is not None:
            overrides["zoo_size"] = args.zoo_size
        if args.epochs is not None:
            overrides["max_rounds"] = args.epochs
        if args.time_budget is not None:
            overrides["time_budget_s"] = args.time_budget
        if args.max_evaluations is not None:
            overrides["max_evaluations"] = args.max_evaluations
        if args.seed_set is not None:
            overrides["warmup_seed_set"] = args.seed_set
        config = preset(args.preset, **{k: v for k, v in overrides.items() if v is not None})
        dataset = args.dataset or _only_dataset(project)
        run_id = run_mining(project, config, dataset=dataset, progress_cb=show)
    record = project.run_record(run_id)
    if record.status != "done":
        return Output({"run_id": run_id, "status": record.status, "zoo": []},
                      f"run {run_id} stopped ({record.status}); its last checkpoint is kept: "
                      f"continue with `alphaforge mine --resume {run_id}`")
    factor_set = load_factor_set(project, run_id)
    rows = [{"formula": f.formula, "fitness": f.fitness, **{
        f"{seg}_{k}": v for seg, vals in f.metrics.items() for k, v in vals.items()}}
        for f in factor_set.factors]
    lines = [f"run {run_id}: {len(rows)} factor(s) in the zoo (saved as factor set '{run_id}')",
             f"{'trainIC':>7} {'trRkIC':>7} {'validIC':>7} {'vaRkIC':>7} {'vaICIR':>7}  formula"]
    planted = _planted(project, factor_set)
    for r in rows:
        match = planted.get(r["formula"]) if planted is not None else None
        if planted is not None:
            r["planted"] = None if match is None else {"signal": match.signal,
                                                       "corr": match.corr}
        lines.append(" ".join(_fmt(r.get(k)) for k in (
            "train_ic", "train_rank_ic", "valid_ic", "valid_rank_ic", "valid_icir"))
            + f"  {r['formula']}" + (f"  [planted: {match.text()}]" if match else ""))
    if planted is not None:
        found = sorted({m.signal for m in planted.values() if m is not None})
        lines.append(f"demo market: the zoo found {len(found)} of the planted signals"
                     + (f" ({', '.join(found)})" if found else ""))
    return Output({"run_id": run_id, "factor_set": run_id, "zoo": rows,
                   "source": dict(factor_set.source)}, "\n".join(lines))


def _planted(project, factor_set) -> dict[str, Any] | None:  # type: ignore[no-untyped-def]
    """On the demo market: the planted signal each zoo factor matches over the training days
    (engine.mining.planted); None on any other dataset."""
    from engine.mining.planted import planted_matches
    from engine.store.demo import is_demo

    dataset = factor_set.source.get("dataset")
    if not dataset or dataset not in project.dataset_names():
        return None
    if not is_demo(project.dataset_meta(dataset)):
        return None
    panel = project.load_panel(dataset)
    train = (factor_set.source.get("split") or {}).get("train")
    days = panel.date_mask(*train) if train else panel.date_mask(None, None)
    return planted_matches(panel, factor_set.formulas, days)


def _progress_line(event: dict[str, Any]) -> str:
    eta = event.get("eta_s")
    return (f"[{event.get('event')}] round {event.get('round')} evaluated "
            f"{event.get('evaluated')} zoo {event.get('zoo_size')} elapsed "
            f"{event.get('elapsed_s', 0):.0f}s" + (f" eta {eta:.0f}s" if eta else ""))


def _only_dataset(project) -> str:  # type: ignore[no-untyped-def]
    from engine.errors import ConfigError

    names = project.dataset_names()
    if len(names) == 1:
        return names[0]
    raise ConfigError(f"name the dataset with --dataset (the project holds {len(names)}: "
                      f"{', '.join(names) or 'none'})")


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("mine", parents=[common], help="mine alpha factors (AlphaForge)")
    p.add_argument("--dataset", help="dataset to mine on (default: the project's only one)")
    p.add_argument("--generator", choices=miner_names(), default="cnn",
                   help="generator model, or a baseline strategy (GP, random search)")
    p.add_argument("--fitness", default="ic",
                   help="evaluation function: ic, rankic, icir or rankicir")
    p.add_argument("--preset", choices=PRESETS.names(), default="laptop")
    p.add_argument("--epochs", type=int, help="rounds of the outer loop (budget)")
    p.add_argument("--zoo-size", type=int, help="factors to keep")
    p.add_argument("--time-budget", type=float, help="stop after this many seconds")
    p.add_argument("--max-evaluations", type=int, help="stop after scoring this many formulas")
    p.add_argument("--train", metavar="START:END", help="training dates (fitness)")
    p.add_argument("--valid", metavar="START:END", help="validation dates (reported)")
    p.add_argument("--test", metavar="START:END", help="test dates (reported)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--seed-set", choices=list(BUILTIN_SETS),
                   help="built-in factor set whose formulas (and their mutations) open the "
                        "warm-up (default: classic)")
    p.add_argument("--device", choices=DEVICES.names(), default="auto")
    p.add_argument("--resume", metavar="RUN", help="continue a cancelled or killed run")
    p.set_defaults(func=cmd_mine)
