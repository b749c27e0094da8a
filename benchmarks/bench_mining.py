"""Benchmark of the miner: formulas scored per second, the laptop preset's wall time, and the
quality of the zoos of cnn / lstm / transformer / gp / random at an equal evaluation budget,
next to the Classic factor set.

Data: the shared US file (train 2013-02-08..2016-06-30, valid 2016-07-01..2016-12-31, test
2017); ``--quick`` uses a small synthetic market instead and writes nothing.

Zoo quality, per run: the mean over zoo members of the validation and test IC / RankIC, each
member's sign taken from its training IC (mining scores |IC|, so a member may be a negative
predictor), and the IC / RankIC of the equal-weight composite of the sign-adjusted, per-day
z-scored members. Runs at an equal budget stop after ``--budget`` distinct formulas (warm-up
included); their settings are the laptop preset scaled to the budget (see ``_budget_config``).

    python benchmarks/bench_mining.py --quick
    python benchmarks/bench_mining.py --write                          # full: 3 seeds x 5
    python benchmarks/bench_mining.py --seeds 1 --budget 800 --write   # what fits in ~15 min
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads (see the Makefile)
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import US_FILE, machine, write_section  # noqa: E402

from engine.data.panel import Panel, build  # noqa: E402
from engine.data.synthetic import SyntheticConfig, generate  # noqa: E402
from engine.data.target import forward_return  # noqa: E402
from engine.data.validate import load  # noqa: E402
from engine.expr.classic import CLASSIC  # noqa: E402
from engine.expr.evaluate import Evaluator  # noqa: E402
from engine.expr.grammar import sample_random  # noqa: E402
from engine.expr.xsection import zscore  # noqa: E402
from engine.metrics.factor import evaluate_factors  # noqa: E402
from engine.metrics.fitness import fitness  # noqa: E402
from engine.mining.config import DateRange, MiningConfig, preset  # noqa: E402
from engine.mining.loop import mine  # noqa: E402
from engine.mining.session import Session  # noqa: E402
from engine.mining.split import Split, resolve_split  # noqa: E402

METHODS = ("cnn", "lstm", "transformer", "gp", "random")
US_SPLIT = (DateRange("2013-02-08", "2016-06-30"), DateRange("2016-07-01", "2016-12-31"),
            DateRange("2017-01-01", "2017-12-31"))


def _us_panel() -> Panel:
    ds = load(str(US_FILE))
    return build(ds.frame, vwap_derived=ds.vwap_derived)


def _synthetic() -> tuple[Panel, tuple[DateRange, DateRange, DateRange]]:
    panel = build(generate(SyntheticConfig(n_tickers=100, n_days=500, seed=0,
                                           flip_fraction=1.0)))
    d = [str(x) for x in panel.dates]
    return panel, (DateRange(d[0], d[300]), DateRange(d[321], d[400]),
                   DateRange(d[421], d[-1]))


# --------------------------------------------------------------------------- throughput


def throughput(panel: Panel, cfg: MiningConfig, n: int) -> dict[str, float]:
    """Random grammar-valid formulas on the training days: evaluation, the fused scorer, and
    the general metrics' fitness on the same values (the reference)."""
    session = Session(panel, cfg)
    scorer = session.scorer
    exprs = sample_random(session.vocab, n, torch.Generator().manual_seed(123))
    t0 = time.perf_counter()
    values = [scorer.values(exprs[i:i + cfg.eval_batch])[0] for i in range(0, n, cfg.eval_batch)]
    t1 = time.perf_counter()
    for x in values:
        scorer.score_values(x)
    t2 = time.perf_counter()
    for x in values:
        fitness(x, scorer.target, scorer.universe, metric=cfg.fitness)
    t3 = time.perf_counter()
    return {"n": n, "eval_s": t1 - t0, "score_s": t2 - t1, "metrics_s": t3 - t2,
            "per_s": n / (t2 - t0), "speedup": (t3 - t2) / (t2 - t1)}


# --------------------------------------------------------------------------- zoo quality


def _segments(split: Split) -> dict[str, tuple[int, int]]:
    seg = {"valid": split.valid}
    if split.test is not None:
        seg["test"] = split.test
    return seg


def quality(panel: Panel, split: Split, formulas: Sequence[str]) -> dict[str, float]:
    """Sign-adjusted mean member IC / RankIC and composite IC / RankIC on valid and test."""
    out: dict[str, float] = {"n": len(formulas)}
    if not formulas:
        return out
    ev = Evaluator(panel, cache_bytes=256 << 20)
    target = forward_return(panel)
    mask = panel.universe
    values = torch.stack([ev.evaluate(f) for f in formulas])
    a, b = split.train
    train = evaluate_factors(values[:, a:b + 1 - 21], target[a:b + 1 - 21], mask[a:b + 1 - 21])
    sign = torch.where(train.ic.mean >= 0, 1.0, -1.0).to(torch.float32)
    comp = torch.nanmean(zscore(values) * sign[:, None, None], dim=0)
    for name, (s, e) in _segments(split).items():
        rep = evaluate_factors(values[:, s:e + 1], target[s:e + 1], mask[s:e + 1])
        out[f"{name}_ic"] = float((rep.ic.mean * sign).nanmean())
        out[f"{name}_rank_ic"] = float((rep.rank_ic.mean * sign).nanmean())
        crep = evaluate_factors(comp[s:e + 1], target[s:e + 1], mask[s:e + 1])
        out[f"{name}_comp_ic"] = float(crep.ic.mean)
        out[f"{name}_comp_rank_ic"] = float(crep.rank_ic.mean)
    return out


def _budget_config(base: MiningConfig, method: str, seed: int, budget: int) -> MiningConfig:
    return base.with_(generator=method, seed=seed, max_evaluations=budget,
                      warmup=budget // 5, new_per_round=max(1, budget // 10),
                      random_per_round=budget // 10, batch_size=64,
                      gp_population=max(10, budget // 10), max_rounds=None,
                      time_budget_s=None)


def compare(panel: Panel, base: MiningConfig, methods: Sequence[str], seeds: Sequence[int],
            budget: int) -> dict[str, list[dict[str, float]]]:
    split = resolve_split(panel, base)
    results: dict[str, list[dict[str, float]]] = {}
    for method in methods:
        for seed in seeds:
            cfg = _budget_config(base, method, seed, budget)
            t0 = time.perf_counter()
            res = mine(panel, cfg)
            wall = time.perf_counter() - t0
            q = quality(panel, split, [m.formula for m in res.zoo])
            q.update(wall_s=wall, evaluated=res.evaluated, rounds=res.rounds)
            results.setdefault(method, []).append(q)
            print(f"  {method:<11} seed {seed}: zoo {q['n']:>3}, {res.evaluated} formulas, "
                  f"{wall:6.1f} s, valid IC {q.get('valid_ic', math.nan):+.4f}, "
                  f"test IC {q.get('test_ic', math.nan):+.4f}", flush=True)
    return results


def laptop_run(panel: Panel, base: MiningConfig) -> dict[str, Any]:
    events: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    res = mine(panel, base, progress=events.append)
    wall = time.perf_counter() - t0
    warm = next((e["elapsed_s"] for e in events if e["event"] == "warmup"), math.nan)
    q = quality(panel, resolve_split(panel, base), [m.formula for m in res.zoo])
    return {"wall_s": wall, "warmup_s": warm, "rounds": res.rounds,
            "evaluated": res.evaluated, "zoo": len(res.zoo), "stop": res.stop_reason,
            "quality": q, "formulas": [m.formula for m in res.zoo]}


# --------------------------------------------------------------------------- report


def _fmt(values: Sequence[float], digits: int = 4) -> str:
    vals = [v for v in values if isinstance(v, float) and math.isfinite(v)]
    if not vals:
        return "–"
    if len(vals) == 1:
        return f"{vals[0]:+.{digits}f}"
    return f"{statistics.mean(vals):+.{digits}f} ± {statistics.stdev(vals):.{digits}f}"


def comparison_table(results: dict[str, list[dict[str, float]]],
                     classic: dict[str, float]) -> list[str]:
    lines = ["| method | runs | zoo size | formulas | wall (s) | valid IC | valid RankIC | "
             "test IC | test RankIC | composite test IC | composite test RankIC |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for method, runs in results.items():
        def col(key: str, runs: list[dict[str, float]] = runs) -> list[float]:
            return [float(r.get(key, math.nan)) for r in runs]

        lines.append(
            f"| {method} | {len(runs)} | {statistics.mean(col('n')):.1f} | "
            f"{statistics.mean(col('evaluated')):.0f} | {statistics.mean(col('wall_s')):.0f} | "
            f"{_fmt(col('valid_ic'))} | {_fmt(col('valid_rank_ic'))} | {_fmt(col('test_ic'))} | "
            f"{_fmt(col('test_rank_ic'))} | {_fmt(col('test_comp_ic'))} | "
            f"{_fmt(col('test_comp_rank_ic'))} |")
    c = classic
    lines.append(
        f"| Classic set | – | {c['n']:.0f} | – | – | {_fmt([c['valid_ic']])} | "
        f"{_fmt([c['valid_rank_ic']])} | {_fmt([c['test_ic']])} | {_fmt([c['test_rank_ic']])} "
        f"| {_fmt([c['test_comp_ic']])} | {_fmt([c['test_comp_rank_ic']])} |")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="small synthetic market, tiny budget, nothing written")
    parser.add_argument("--write", action="store_true", help="update benchmarks/RESULTS.md")
    parser.add_argument("--budget", type=int, default=3000,
                        help="distinct formulas per run in the comparison")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--skip-laptop", action="store_true")
    parser.add_argument("--throughput", type=int, default=256,
                        help="random formulas timed for the throughput figure")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch intra-op threads (1: the machine is shared)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]

    if args.quick or not US_FILE.exists():
        panel, (train, valid, test) = _synthetic()
        data = "synthetic 100 x 500 (demo strength)"
        budget, seeds, n_tp = min(args.budget, 300), list(range(min(args.seeds, 1))), 64
        base = preset("laptop", train=train, valid=valid, test=test, max_rounds=1,
                      warmup=150, batch_size=64, g_steps=8, new_per_round=200,
                      random_per_round=100, time_budget_s=60.0)
    else:
        panel = _us_panel()
        train, valid, test = US_SPLIT
        data = "shared US S&P 500, 505 tickers x 1,259 days"
        budget, seeds, n_tp = args.budget, list(range(args.seeds)), args.throughput
        base = preset("laptop", train=train, valid=valid, test=test)
    split = resolve_split(panel, base)
    print(f"{machine()}; torch threads {torch.get_num_threads()}; data: {data}")

    tp = throughput(panel, base, n_tp)
    print(f"throughput: {tp['per_s']:.1f} formulas/s ({tp['n']} random formulas: evaluate "
          f"{tp['eval_s']:.1f} s, fused score {tp['score_s']:.1f} s; metrics.fitness "
          f"{tp['metrics_s']:.1f} s = {tp['speedup']:.1f}x the fused scorer)", flush=True)
    lap = None
    if not args.skip_laptop:
        print("laptop preset, cnn, seed 0 ...", flush=True)
        lap = laptop_run(panel, base)
        print(f"  {lap['wall_s']:.0f} s (warm-up {lap['warmup_s']:.0f} s), {lap['rounds']} "
              f"round(s), {lap['evaluated']} formulas, zoo {lap['zoo']}, stop: {lap['stop']}; "
              f"valid IC {lap['quality'].get('valid_ic', math.nan):+.4f}, test IC "
              f"{lap['quality'].get('test_ic', math.nan):+.4f}", flush=True)
    print(f"comparison at {budget} formulas per run, seeds {seeds} ...", flush=True)
    results = compare(panel, base, methods, seeds, budget)
    classic = quality(panel, split, [f.formula for f in CLASSIC.values()])
    table = comparison_table(results, classic)
    print("\n".join(table))

    if args.write and not args.quick:
        section = _section(data, base, tp, lap, budget, seeds, methods, table)
        write_section("## Mining (bench_mining.py)", section)
        print("wrote the Mining section of benchmarks/RESULTS.md")
    return 0


def _section(data: str, base: MiningConfig, tp: dict[str, float], lap: dict[str, Any] | None,
             budget: int, seeds: list[int], methods: list[str], table: list[str]) -> str:
    lines = [
        "## Mining (bench_mining.py)", "",
        f"Machine: {machine()}, torch intra-op threads {torch.get_num_threads()} (the machine "
        "was shared with other jobs while this ran; figures are wall time). "
        f"Data: {data}; train {base.train}, valid {base.valid}, test {base.test}; target "
        "20-day vwap return; fitness |IC|.", "",
        f"**Throughput** ({tp['n']:.0f} random grammar-valid formulas, training days): "
        f"{tp['per_s']:.1f} formulas/s end to end (evaluation {tp['eval_s']:.1f} s, fused "
        f"scoring {tp['score_s']:.1f} s). The general `engine.metrics.factor.fitness` on the "
        f"same values takes {tp['metrics_s']:.1f} s, {tp['speedup']:.1f}x the miner's fused "
        "scorer. Evaluation (the formula kernels) is most of the cost.", "",
    ]
    if lap is not None:
        q = lap["quality"]
        lines += [
            f"**Laptop preset** (cnn, seed 0, time budget {base.time_budget_s:.0f} s checked "
            f"between generator steps and rounds): {lap['wall_s']:.0f} s wall (warm-up of "
            f"{base.warmup} formulas {lap['warmup_s']:.0f} s), {lap['rounds']} round(s), "
            f"{lap['evaluated']} formulas scored, zoo of {lap['zoo']} (stop: {lap['stop']}). "
            f"Mean sign-adjusted member IC: valid {q.get('valid_ic', math.nan):+.4f}, test "
            f"{q.get('test_ic', math.nan):+.4f}; composite test IC "
            f"{q.get('test_comp_ic', math.nan):+.4f}, RankIC "
            f"{q.get('test_comp_rank_ic', math.nan):+.4f}.", "",
        ]
    lines += [
        f"**Equal budget**: {budget} distinct formulas per run (warm-up included), seeds "
        f"{', '.join(map(str, seeds))}, laptop preset scaled to the budget (warm-up "
        f"{budget // 5}, {max(1, budget // 10)} new formulas a round, generator batch 64, GP "
        f"population {max(10, budget // 10)}). Member IC columns: mean over zoo members of the "
        "IC with each member's sign from its training IC; composite: equal-weight sum of the "
        "sign-adjusted z-scored members. mean ± std over seeds.", "",
        *table, "",
    ]
    full = (len(seeds) >= 3 and budget >= 3000 and set(methods) >= set(METHODS))
    if not full:
        lines += [
            "Not the full comparison (3 seeds x 5 methods at 3,000 formulas each, about an "
            "hour on this shared 2-core machine): run `python benchmarks/bench_mining.py "
            "--write` for it.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
