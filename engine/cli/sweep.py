"""The `sweep` command: methods x seeds x test years, walk-forward, on a pool or Ray, with
paired verdicts and significance (engine.mining.sweep)."""

from __future__ import annotations

import argparse
import math
import sys
from typing import Any

from engine.cli.common import Output, open_project


def _ints(text: str, what: str) -> tuple[int, ...]:
    """``0-4`` or ``0,2,5`` (or both: ``0-2,7``)."""
    from engine.errors import ConfigError

    out: list[int] = []
    try:
        for part in (p.strip() for p in text.split(",") if p.strip()):
            if "-" in part[1:]:
                lo, hi = part.split("-", 1)
                out += range(int(lo), int(hi) + 1)
            else:
                out.append(int(part))
    except ValueError:
        raise ConfigError(f"--{what} '{text}': give numbers like 0-4 or 0,2,5") from None
    if not out:
        raise ConfigError(f"--{what} is empty")
    return tuple(out)


def _f(x: Any, digits: int = 4) -> str:
    return "-" if not isinstance(x, int | float) or not math.isfinite(x) else f"{x:+.{digits}f}"


def cmd_sweep(args: argparse.Namespace) -> Output:
    from engine.cli.mining import _only_dataset
    from engine.errors import ConfigError
    from engine.mining import sweep as S
    from engine.mining import sweep_store

    project = open_project(args)

    def show(event: dict[str, Any]) -> None:
        if not args.json and event.get("event") == "cell":
            eta = event.get("eta_s") or 0.0
            print(f"[cell {event['done']}/{event['total']}] {event['cell']} "
                  f"({event['executor']}; about {eta / 60:.1f} min left)", file=sys.stderr)

    if args.resume:
        run_id = sweep_store.run_sweep(project, resume=args.resume, executor=args.executor,
                                       workers=args.workers, address=args.ray_address,
                                       progress=show)
    else:
        if not args.test_years:
            raise ConfigError("name the test years with --test-years, e.g. 2019-2020")
        spec = S.SweepSpec(
            dataset=args.dataset or _only_dataset(project),
            methods=tuple(m.strip() for m in args.generators.split(",") if m.strip()),
            seeds=_ints(args.seeds, "seeds"), test_years=_ints(args.test_years, "test-years"),
            preset=args.preset, max_evaluations=args.max_evaluations)
        run_id = sweep_store.run_sweep(project, spec, executor=args.executor,
                                       workers=args.workers, address=args.ray_address,
                                       progress=show)
    record = project.run_record(run_id)
    if record.status != "done":
        return Output({"run_id": run_id, "status": record.status},
                      f"sweep {run_id} stopped ({record.status}); its finished cells are kept: "
                      f"continue with `alphaforge sweep --resume {run_id}`")
    summary = sweep_store.write_summary(project, run_id)
    return Output({"run_id": run_id, **summary}, _text(run_id, summary))


def _text(run_id: str, summary: dict[str, Any]) -> str:
    lines = [f"sweep {run_id}: {summary['cells']} cells (mean ± std over seeds)",
             f"{'method':<12} {'year':>5} {'cells':>5} {'zoo':>5} {'test IC':>16} "
             f"{'test RankIC':>16} {'excess/yr':>16} {'Sharpe':>14}"]
    for row in summary["table"]:
        def ms(key: str, row: dict[str, Any] = row) -> str:
            return f"{_f(row[f'{key}_mean'])} ± {_f(row[f'{key}_std'])}"
        lines.append(f"{row['method']:<12} {row['year']:>5} {row['cells']:>5} "
                     f"{row['zoo_size']:>5.1f} {ms('test_ic'):>16} {ms('test_rank_ic'):>16} "
                     f"{ms('excess_return'):>16} {ms('sharpe'):>14}")
    if summary["verdicts"]:
        lines.append("paired verdicts on test RankIC "
                     f"({summary['verdicts'][0]['test']}, alpha 0.05):")
        for v in summary["verdicts"]:
            p = v["p_value"]
            lines.append(f"  {v['a']} vs {v['b']}: {v['verdict']} (mean diff "
                         f"{_f(v['mean_diff'])}, {v['wins']}/{v['n']} cells better, p "
                         f"{'-' if not math.isfinite(p) else f'{p:.3f}'})")
    sig = summary.get("significance") or {}
    if sig:
        d = sig["deflated_sharpe"]
        lines.append(f"best cell {sig['best_cell']}: daily Sharpe {_f(d['sharpe'])}, deflated "
                     f"Sharpe ratio {_f(d['dsr'], 3)} ({d['n_trials']} trials; bar "
                     f"{_f(d['benchmark'])} per day)")
        if "best_factor" in sig:
            b = sig["best_factor"]
            lines.append(f"  its best factor's test IC t {_f(b['t'], 2)}: adjusted for "
                         f"{b['tests']} formulas tried, t {_f(b['t_bonferroni'], 2)} "
                         f"(Bonferroni) / {_f(b['t_bhy'], 2)} (BHY)")
    return "\n".join(lines)


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    from engine.mining.executors import EXECUTORS

    p = sub.add_parser("sweep", parents=[common],
                       help="methods x seeds x test years, walk-forward, with significance")
    p.add_argument("--generators", default="cnn,gp,random",
                   help="methods: generators, gp, random, classic (comma-separated)")
    p.add_argument("--seeds", default="0-2", help="seeds, e.g. 0-4 or 0,2,5")
    p.add_argument("--test-years", default=None, help="test years, e.g. 2019-2020 (train up "
                   "to Y-2, validate on Y-1)")
    p.add_argument("--preset", default="laptop")
    p.add_argument("--max-evaluations", type=int, default=3000,
                   help="formulas scored per cell (a budget that does not depend on speed)")
    p.add_argument("--dataset", default=None)
    p.add_argument("--executor", choices=tuple(EXECUTORS), default="local")
    p.add_argument("--workers", type=int, default=None, help="cells at a time (default: "
                   "the cores; Ray: CPUs to use)")
    p.add_argument("--ray-address", default=None, help="a Ray cluster (ray start --head "
                   "prints it); default: a local one")
    p.add_argument("--resume", default=None, metavar="RUN", help="run the missing cells of a "
                   "killed sweep")
    p.set_defaults(func=cmd_sweep)
