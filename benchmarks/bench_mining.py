"""Benchmark of the miner on a real market: formulas scored per second while mining (today's
scorer against the scoring path of commit ccf3da6, in the same run, with a breakdown), and
the equal-budget comparison of cnn / lstm / transformer / gp / random (laptop preset, the same
time budget each, warm-up included) by the dynamic Mega-Alpha of each zoo on the validation
and test years, next to the Classic set and the best classic single factor picked on the
validation year.

Data: the shared CN CSI 300 file (train 2011-2018, valid 2019, test 2020) by default, or the
US file (train 2013-02-08..2016-06-30, valid 2016H2, test 2017); ``--quick`` uses a small
synthetic market and writes nothing.

    python benchmarks/bench_mining.py --quick
    python benchmarks/bench_mining.py --write --jobs 2            # CN: about 50 minutes
    python benchmarks/bench_mining.py --data us --seeds 0 --time-budget 300 --write
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
import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import CN_FILE, US_FILE, machine, write_section  # noqa: E402
from reference_scorer import ReferenceScorer  # noqa: E402

from engine.data.panel import Panel, build  # noqa: E402
from engine.data.synthetic import SyntheticConfig, generate  # noqa: E402
from engine.data.target import forward_return  # noqa: E402
from engine.data.validate import load  # noqa: E402
from engine.expr.classic import CLASSIC  # noqa: E402
from engine.expr.evaluate import Evaluator  # noqa: E402
from engine.expr.xsection import zscore  # noqa: E402
from engine.metrics.factor import evaluate_factors, summarize  # noqa: E402
from engine.mining.config import DateRange, MiningConfig, preset  # noqa: E402
from engine.mining.loop import mine  # noqa: E402
from engine.mining.session import Session  # noqa: E402
from engine.mining.split import Split, resolve_split  # noqa: E402

METHODS = ("cnn", "lstm", "transformer", "gp", "random")
US_SPLIT = (DateRange("2013-02-08", "2016-06-30"), DateRange("2016-07-01", "2016-12-31"),
            DateRange("2017-01-01", "2017-12-31"))
CN_SPLIT = (DateRange("2011-01-01", "2018-12-31"), DateRange("2019-01-01", "2019-12-31"),
            DateRange("2020-01-01", "2020-12-31"))
#: Where the settings were chosen: the CN file's years before 2019 only (2018 as the test).
CN_SETTLE_SPLIT = (DateRange("2011-01-01", "2016-12-31"), DateRange("2017-01-01", "2017-12-31"),
                   DateRange("2018-01-01", "2018-12-31"))


def _cn_panel() -> Panel:
    ds = load(str(CN_FILE))
    return build(ds.frame, vwap_derived=ds.vwap_derived)


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


def mining_throughput(panel: Panel, base: MiningConfig, budget: int,
                      generator: str = "cnn") -> dict[str, dict[str, float]]:
    """Distinct formulas scored per second while mining (warm-up, then generator rounds until
    ``budget`` formulas), with today's scorer and with ``ReferenceScorer`` (the scoring path
    of commit ccf3da6) in the same run, and where the time went: evaluation (gate prefix,
    stock screen, full), scoring, predictor training, and the rest (generator sampling and
    training, masks, admission)."""
    import engine.mining.loop as loop_mod

    out: dict[str, dict[str, float]] = {}
    for name, scorer in (("reference", ReferenceScorer), ("today", None)):
        cfg = base.with_(generator=generator, seed=0, max_evaluations=budget, max_rounds=None,
                         time_budget_s=None, stop_when_full=False)
        spent = {"predictor": 0.0}
        original = loop_mod.train_predictor

        def timed(*args: Any, _orig: Any = original, _spent: dict[str, float] = spent,
                  **kwargs: Any) -> Any:
            a = time.perf_counter()
            try:
                return _orig(*args, **kwargs)
            finally:
                _spent["predictor"] += time.perf_counter() - a

        loop_mod.train_predictor = timed
        try:
            session = (Session(panel, cfg) if scorer is None
                       else Session(panel, cfg, scorer=scorer))
            t0 = time.perf_counter()
            res = loop_mod.run(session, loop_mod.make_strategy(session))
            wall = time.perf_counter() - t0
        finally:
            loop_mod.train_predictor = original
        tally = session.scorer.tally
        sec = tally.seconds
        evaluation = sec["gate"] + sec["screen"] + sec["evaluate"]
        out[name] = {
            "wall_s": wall, "evaluated": res.evaluated, "per_s": res.evaluated / wall,
            "rounds": res.rounds, "evaluation_s": evaluation, "scoring_s": sec["score"],
            "predictor_s": spent["predictor"],
            "generator_s": wall - evaluation - sec["score"] - spent["predictor"],
            **{f"n_{k}": float(v) for k, v in tally.counts.items()},
        }
        print(f"  {name:<9}: {res.evaluated} formulas in {wall:6.1f} s = "
              f"{res.evaluated / wall:5.1f}/s (evaluation {evaluation:.0f} s, scoring "
              f"{sec['score']:.0f} s, predictor {spent['predictor']:.0f} s; stages "
              f"{tally.counts})", flush=True)
    out["ratio"] = {"per_s": out["today"]["per_s"] / out["reference"]["per_s"]}
    print(f"  throughput ratio today / reference: {out['ratio']['per_s']:.2f}x", flush=True)
    return out


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


def mega_alpha(panel: Panel, split: Split, formulas: Sequence[str]) -> dict[str, float]:
    """IC / RankIC of the dynamic Mega-Alpha (default combination settings) of the formulas
    on the valid and test segments, scored day by day from the valid segment on."""
    from engine.combine.api import combine_panel
    from engine.combine.base import CombineConfig

    out: dict[str, float] = {}
    if not formulas:
        return out
    ev = Evaluator(panel, cache_bytes=256 << 20)
    values = torch.stack([ev.evaluate(f) for f in formulas])
    first = split.valid[0]
    res = combine_panel(panel, values, [f"f{i}" for i in range(len(formulas))],
                        score_days=first, config=CombineConfig(method="dynamic"))
    daily = res.daily
    dates = np.array(daily["date"].to_numpy(), dtype="datetime64[D]")
    for name, (s, e) in _segments(split).items():
        lo, hi = panel.dates[s], panel.dates[e]
        keep = (dates >= lo) & (dates <= hi)
        for col in ("ic", "rank_ic"):
            series = torch.tensor(daily[col].to_numpy()[keep], dtype=torch.float64)
            out[f"{name}_mega_{col}"] = float(summarize(series).mean)
    return out


def best_classic(panel: Panel, split: Split) -> dict[str, Any]:
    """The classic single factor with the best validation |RankIC|, its sign from there, and
    its test IC / RankIC."""
    names = list(CLASSIC)
    ev = Evaluator(panel, cache_bytes=256 << 20)
    values = torch.stack([ev.evaluate(CLASSIC[n].formula) for n in names])
    target, mask = forward_return(panel), panel.universe
    (vs, ve), seg = split.valid, _segments(split)
    valid = evaluate_factors(values[:, vs:ve + 1], target[vs:ve + 1], mask[vs:ve + 1])
    best = int(valid.rank_ic.mean.abs().argmax())
    sign = 1.0 if float(valid.rank_ic.mean[best]) >= 0 else -1.0
    out: dict[str, Any] = {"name": names[best], "sign": sign,
                           "valid_rank_ic": sign * float(valid.rank_ic.mean[best]),
                           "valid_ic": sign * float(valid.ic.mean[best])}
    if "test" in seg:
        ts, te = seg["test"]
        rep = evaluate_factors(values[best, ts:te + 1], target[ts:te + 1], mask[ts:te + 1])
        out["test_rank_ic"] = sign * float(rep.rank_ic.mean)
        out["test_ic"] = sign * float(rep.ic.mean)
    return out


def _panel_for(data: str) -> tuple[Panel, tuple[DateRange, DateRange, DateRange]]:
    if data == "cn":
        return _cn_panel(), CN_SPLIT
    if data == "cn-settle":
        return _cn_panel(), CN_SETTLE_SPLIT
    if data == "us":
        return _us_panel(), US_SPLIT
    return _synthetic()


def run_cell(data: str, method: str, seed: int, time_budget: float, threads: int,
             out_dir: str) -> dict[str, Any]:
    """One equal-budget run: the laptop preset with ``time_budget`` seconds (warm-up
    included), then the dynamic Mega-Alpha of its zoo; the record is saved as JSON in
    ``out_dir`` (a killed benchmark resumes with the cells it has)."""
    import json

    path = Path(out_dir) / f"{data}-{method}-{seed}-{int(time_budget)}.json"
    if path.exists():
        return json.loads(path.read_text())
    torch.set_num_threads(threads)
    panel, (train, valid, test) = _panel_for(data)
    cfg = preset("laptop", generator=method, seed=seed, train=train, valid=valid, test=test,
                 time_budget_s=time_budget)
    events: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    res = mine(panel, cfg, progress=events.append)
    wall = time.perf_counter() - t0
    split = resolve_split(panel, cfg)
    formulas = [m.formula for m in res.zoo]
    steps: dict[int, int] = {}
    for e in events:
        if e["event"] == "generator":
            steps[e["round"]] = steps.get(e["round"], 0) + 1
    etas = [(e["elapsed_s"], e["eta_s"]) for e in events if e.get("eta_s") is not None]
    eta_err = max((abs(wall - (a + b)) / wall for a, b in etas), default=math.nan)
    record = {"data": data, "method": method, "seed": seed, "time_budget": time_budget,
              "wall_s": wall, "evaluated": res.evaluated, "rounds": res.rounds,
              "steps": list(steps.values()), "zoo": len(formulas), "stop": res.stop_reason,
              "eta_max_error": eta_err, "formulas": formulas,
              **quality(panel, split, formulas), **mega_alpha(panel, split, formulas)}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=1))
    tmp.replace(path)
    print(f"  {data} {method:<11} seed {seed}: zoo {record['zoo']:>3}, {res.evaluated} "
          f"formulas, {wall:5.0f} s, rounds {res.rounds} (steps {record['steps']}), Mega-Alpha "
          f"valid RankIC {record.get('valid_mega_rank_ic', math.nan):+.4f}, test RankIC "
          f"{record.get('test_mega_rank_ic', math.nan):+.4f}", flush=True)
    return record


def equal_budget(data: str, cells: Sequence[tuple[str, int]], time_budget: float, jobs: int,
                 out_dir: str) -> dict[str, list[dict[str, Any]]]:
    """Run the cells ``(method, seed)``, ``jobs`` at a time (one torch thread each when
    several run side by side, so that every run gets the same share of the machine)."""
    from concurrent.futures import ProcessPoolExecutor

    threads = 1 if jobs > 1 else max(1, torch.get_num_threads())
    results: dict[str, list[dict[str, Any]]] = {}
    if jobs <= 1:
        records = [run_cell(data, m, s, time_budget, threads, out_dir) for m, s in cells]
    else:
        import multiprocessing

        # spawn, not fork: a forked child of a process that has run torch's OpenMP pool hangs
        with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = [pool.submit(run_cell, data, m, s, time_budget, threads, out_dir)
                       for m, s in cells]
            records = [f.result() for f in futures]
    for rec in records:
        results.setdefault(rec["method"], []).append(rec)
    return results


def mega_table(results: dict[str, list[dict[str, Any]]], classic: dict[str, float],
               best: dict[str, Any]) -> list[str]:
    """The equal-budget table: per method, mean ± std over seeds."""
    lines = ["| method | runs | zoo size | formulas scored | rounds | wall (s) | Mega-Alpha valid "
             "IC | valid RankIC | test IC | test RankIC |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for method, runs in results.items():
        def col(key: str, runs: list[dict[str, Any]] = runs) -> list[float]:
            return [float(r.get(key, math.nan)) for r in runs]

        lines.append(
            f"| {method} | {len(runs)} | {_fmt(col('zoo'), 1)} | "
            f"{statistics.mean(col('evaluated')):.0f} "
            f"| {statistics.mean(col('rounds')):.1f} | {statistics.mean(col('wall_s')):.0f} | "
            f"{_fmt(col('valid_mega_ic'))} | {_fmt(col('valid_mega_rank_ic'))} | "
            f"{_fmt(col('test_mega_ic'))} | {_fmt(col('test_mega_rank_ic'))} |")
    lines.append(
        f"| Classic set (dynamic) | – | {classic.get('n', 0):.0f} | – | – | – | "
        f"{_fmt([classic.get('valid_mega_ic', math.nan)])} | "
        f"{_fmt([classic.get('valid_mega_rank_ic', math.nan)])} | "
        f"{_fmt([classic.get('test_mega_ic', math.nan)])} | "
        f"{_fmt([classic.get('test_mega_rank_ic', math.nan)])} |")
    lines.append(
        f"| best classic single factor on valid (`{best['name']}`, sign {best['sign']:+.0f}) | – "
        f"| 1 | – | – | – | {_fmt([best.get('valid_ic', math.nan)])} | "
        f"{_fmt([best.get('valid_rank_ic', math.nan)])} | {_fmt([best.get('test_ic', math.nan)])} "
        f"| {_fmt([best.get('test_rank_ic', math.nan)])} |")
    return lines


# --------------------------------------------------------------------------- report


def _fmt(values: Sequence[float], digits: int = 4) -> str:
    vals = [v for v in values if isinstance(v, float) and math.isfinite(v)]
    if not vals:
        return "–"
    if len(vals) == 1:
        return f"{vals[0]:+.{digits}f}"
    return f"{statistics.mean(vals):+.{digits}f} ± {statistics.stdev(vals):.{digits}f}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="small synthetic market, tiny budgets, nothing written")
    parser.add_argument("--write", action="store_true", help="update benchmarks/RESULTS.md")
    parser.add_argument("--data", choices=("cn", "cn-settle", "us", "synthetic"), default="cn",
                        help="cn-settle: train 2011-2016, valid 2017, test 2018 (for choosing "
                        "settings without looking at 2019-2020)")
    parser.add_argument("--time-budget", type=float, default=600.0,
                        help="seconds per run in the equal-budget comparison (warm-up included)")
    parser.add_argument("--seeds", default="0,1,2", help="seeds of cnn and gp")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--jobs", type=int, default=1,
                        help="runs side by side (each then gets one torch thread)")
    parser.add_argument("--out-dir", default=str(Path("benchmarks") / ".mining_cells"),
                        help="per-run records (a killed benchmark resumes from them)")
    parser.add_argument("--throughput-budget", type=int, default=4000,
                        help="formulas per mining run in the throughput comparison (above the "
                        "warm-up of 2,000, so that generator rounds are measured too)")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--skip-compare", action="store_true")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    seeds = [int(x) for x in args.seeds.split(",") if x.strip()]
    data = "synthetic" if args.quick else args.data
    if data.startswith("cn") and not CN_FILE.exists() or data == "us" and not US_FILE.exists():
        print(f"{data} file not found under ../shared/data: using the synthetic market")
        data = "synthetic"
    panel, (train, valid, test) = _panel_for(data)
    budget_s = 60.0 if args.quick else args.time_budget
    base = preset("laptop", train=train, valid=valid, test=test, time_budget_s=budget_s)
    split = resolve_split(panel, base)
    label = {"cn": "shared CN CSI 300, 644 tickers x 2,674 days",
             "cn-settle": "shared CN CSI 300 up to 2018 (the settling split)",
             "us": "shared US S&P 500, 505 tickers x 1,259 days",
             "synthetic": "synthetic 100 x 500 (demo strength)"}[data]
    print(f"{machine()}; torch threads {torch.get_num_threads()}; data: {label}; train "
          f"{train}, valid {valid}, test {test}")

    tp = None
    if not args.skip_throughput:
        n = 300 if args.quick else args.throughput_budget
        print(f"throughput while mining (cnn, {n} formulas, laptop preset) ...", flush=True)
        tp = mining_throughput(panel, base, n)
    table: list[str] = []
    results: dict[str, list[dict[str, Any]]] = {}
    if not args.skip_compare:
        cells = [(m, s) for m in methods for s in (seeds if m in ("cnn", "gp") else seeds[:1])]
        if args.quick:
            cells = [(m, 0) for m in ("cnn", "gp")]
        print(f"equal budget: {budget_s:.0f} s per run, {len(cells)} runs, {args.jobs} at a "
              "time ...", flush=True)
        results = equal_budget(data, cells, budget_s, args.jobs,
                               args.out_dir if not args.quick else "/tmp/bench_mining_quick")
        classic = {"n": len(CLASSIC), **mega_alpha(panel, split,
                                                   [f.formula for f in CLASSIC.values()])}
        table = mega_table(results, classic, best_classic(panel, split))
        print("\n".join(table))
    if args.write and not args.quick:
        section = _section(data, label, base, tp, results, table, args)
        heading = "## Mining (bench_mining.py)" if data == "cn" else \
            f"## Mining, {data.upper()} file (bench_mining.py)"
        write_section(heading, section.replace("## Mining (bench_mining.py)", heading, 1))
        print(f"wrote '{heading}' in benchmarks/RESULTS.md")
    return 0


def _section(data: str, label: str, base: MiningConfig, tp: dict[str, Any] | None,
             results: dict[str, list[dict[str, Any]]], table: list[str],
             args: argparse.Namespace) -> str:
    lines = [
        "## Mining (bench_mining.py)", "",
        f"Machine: {machine()}; `python benchmarks/bench_mining.py --data {data} --write` "
        f"(jobs {args.jobs}: each run {'one torch thread' if args.jobs > 1 else 'the threads'}"
        "). "
        f"Data: {label}; train {base.train}, valid {base.valid}, test {base.test}; target "
        "20-day vwap return; fitness |IC|; laptop preset.", "",
    ]
    if tp is not None:
        ref, now = tp["reference"], tp["today"]

        def row(name: str, r: dict[str, float]) -> str:
            return (f"| {name} | {r['evaluated']:.0f} | {r['wall_s']:.0f} | {r['per_s']:.1f} | "
                    f"{r['evaluation_s']:.0f} | {r['scoring_s']:.0f} | {r['predictor_s']:.0f} | "
                    f"{r['generator_s']:.0f} | {r['n_gated_out']:.0f} / "
                    f"{r['n_screened_out']:.0f} / {r.get('n_narrowed_out', 0):.0f} / "
                    f"{r['n_full']:.0f} |")

        lines += [
            f"**Throughput while mining** (cnn, seed 0, warm-up then rounds until "
            f"{ref['evaluated']:.0f} distinct formulas; the same run with the scoring path of "
            "commit ccf3da6, `benchmarks/reference_scorer.py`): "
            f"**{tp['ratio']['per_s']:.2f}x** the formulas scored per second.", "",
            "| scorer | formulas | wall (s) | formulas/s | evaluation (s) | scoring (s) | "
            "predictor (s) | generator and rest (s) | gated out / screened out / narrowed "
            "out / full |",
            "|---|---|---|---|---|---|---|---|---|",
            row("reference (ccf3da6)", ref), row("today", now), "",
        ]
    if table:
        lines += [
            f"**Equal budget**: {base.time_budget_s:.0f} s per run, warm-up included (laptop "
            "preset), then the dynamic Mega-Alpha of the zoo (default combination settings, "
            "scored from the first validation day). mean ± std over seeds where there are "
            "several.", "", *table, "",
        ]
        for method, runs in results.items():
            steps = [r["steps"] for r in runs]
            etas = [r["eta_max_error"] for r in runs]
            lines.append(f"- {method}: generator steps per round {steps}; worst ETA error "
                         f"{max(etas) * 100:.0f}% of the wall time" if method not in
                         ("gp", "random") else f"- {method}: rounds "
                         f"{[r['rounds'] for r in runs]}; worst ETA error "
                         f"{max(etas) * 100:.0f}%")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
