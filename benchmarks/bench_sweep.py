"""Benchmark: a sweep grid on the local process pool and on Ray vs one process, same run.

A 3 x 3 x 2 grid (cnn, gp, random x seeds 0-2 x test years 2017-2018, walk-forward, laptop
preset, each cell budgeted by formulas scored) on a synthetic market, run three times: one
process (the reference), the local pool and a throw-away local Ray head on 127.0.0.1, both
with ``--workers`` workers. It prints the wall times, the pool's speed-up over one process,
the Ray executor's overhead per cell against the pool (start-up included) and checks that
every executor gave every cell the same record (a cell's result must not depend on where it
ran).

    python benchmarks/bench_sweep.py [--quick] [--write] [--workers 2] [--max-evaluations 400]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import machine, write_section  # noqa: E402

from engine.data.panel import build  # noqa: E402
from engine.data.synthetic import SyntheticConfig, generate  # noqa: E402
from engine.mining import sweep  # noqa: E402
from engine.mining.executors import execute  # noqa: E402

HEADING = "## Sweeps (bench_sweep.py)"
def _timed(name: str, panel: Any, spec: sweep.SweepSpec, grid: list[sweep.Cell],
           workers: int, **kw: Any) -> tuple[float, dict[str, dict[str, Any]]]:
    t0 = time.perf_counter()
    out = {c.id: r for c, r in execute(name, panel, spec, grid, workers=workers, **kw)}
    wall = time.perf_counter() - t0
    print(f"  {name:<6} workers {workers}: {wall:7.1f} s", flush=True)
    return wall, out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 x 1 x 1 grid, tiny budget")
    parser.add_argument("--write", action="store_true", help="update benchmarks/RESULTS.md")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--max-evaluations", type=int, default=400)
    parser.add_argument("--skip-ray", action="store_true")
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    panel = build(generate(SyntheticConfig(n_tickers=60, n_days=1010, seed=3)))
    methods, seeds, years = ("cnn", "gp", "random"), (0, 1, 2), (2017, 2018)
    budget = args.max_evaluations
    if args.quick:
        methods, seeds, years, budget = ("gp", "random"), (0,), (2018,), 120
    spec = sweep.SweepSpec(dataset="bench", methods=methods, seeds=seeds, test_years=years,
                           preset="laptop", max_evaluations=budget)
    grid = sweep.cells(spec)
    print(f"{machine()}; {len(grid)} cells ({len(methods)} methods x {len(seeds)} seeds x "
          f"{len(years)} years), {budget} formulas per cell, synthetic 60 x 1010", flush=True)
    one_wall, one = _timed("local", panel, spec, grid, 1)
    pool_wall, pool = _timed("local", panel, spec, grid, args.workers)
    walls: dict[str, float] = {"one process": one_wall, "local pool": pool_wall}
    results = {"local pool": pool}
    ray_ok = False
    if not args.skip_ray:
        try:
            import ray
        except ImportError:
            print("  ray: not installed (pip install 'alphaforge-ui[cluster]'), skipped")
        else:
            t0 = time.perf_counter()
            ray.init(address="local", num_cpus=args.workers, include_dashboard=False,
                     log_to_driver=False, _node_ip_address="127.0.0.1",
                     configure_logging=False)
            start = time.perf_counter() - t0
            try:
                ray_wall, results["ray"] = _timed("ray", panel, spec, grid, args.workers)
            finally:
                ray.shutdown()
            walls["ray"] = ray_wall + start
            ray_ok = True
            print(f"  ray head start-up {start:.1f} s", flush=True)
    same = {name: all(sweep.same_result(one[c], got[c]) for c in one)
            for name, got in results.items()}
    cell_s = [float(r["wall_s"]) for r in one.values()]
    lines = [f"Machine: {machine()}; `python benchmarks/bench_sweep.py --workers "
             f"{args.workers}{' --write' if args.write else ''}`. Grid: {len(grid)} cells "
             f"({', '.join(methods)} x seeds {seeds[0]}-{seeds[-1]} x test years "
             f"{years[0]}-{years[-1]}), laptop preset, {budget} formulas scored per cell, "
             "walk-forward on a synthetic market (60 tickers x 1,010 days, 2015-2018); each "
             "cell mines, combines the zoo dynamically and backtests top-k.", "",
             "| executor | workers | wall (s) | speed-up vs one process | same records |",
             "|---|---|---|---|---|",
             f"| one process (reference) | 1 | {one_wall:.1f} | 1.00x | – |"]
    for name in results:
        w = args.workers
        lines.append(f"| {name} | {w} | {walls[name]:.1f} | {one_wall / walls[name]:.2f}x | "
                     f"{'yes' if same[name] else 'NO'} |")
    lines += ["", f"Cells in one process: {sum(cell_s):.1f} s in all, "
              f"{min(cell_s):.1f}-{max(cell_s):.1f} s each."]
    if ray_ok:
        extra = (walls["ray"] - walls["local pool"]) / len(grid)
        lines.append(f"Ray's overhead against the local pool: {extra:+.2f} s per cell "
                     "(start-up of the local head, the panel put once in the object store, "
                     "task dispatch), over the same cells and workers.")
    print("\n".join(lines))
    if args.write and not args.quick:
        write_section(HEADING, HEADING + "\n\n" + "\n".join(lines) + "\n")
        print(f"wrote '{HEADING}' in benchmarks/RESULTS.md")
    return 0 if all(same.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
