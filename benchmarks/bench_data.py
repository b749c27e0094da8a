"""Benchmark: import + panel build, against a plain pandas pivot measured in the same run.

Each measurement runs in a fresh subprocess so that its peak memory (max RSS) is its own.
Prints a table with ratios and, with ``--write``, replaces the "Data layer" section of
``benchmarks/RESULTS.md``.

    python benchmarks/bench_data.py [--quick] [--write]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, US_FILE, machine, write_section  # noqa: E402

FIELDS = ["open", "high", "low", "close", "volume"]


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker(kind: str, path: str) -> dict[str, float]:
    """Run one measurement in this process; return seconds and memory figures."""
    if kind == "engine":
        from engine.data.panel import build
        from engine.data.validate import load

        base = _rss_mb()
        t0 = time.perf_counter()
        dataset = load(path)
        t1 = time.perf_counter()
        panel = build(dataset.frame, vwap_derived=dataset.vwap_derived)
        t2 = time.perf_counter()
        shape = tuple(panel.values.shape)
        return {"import_s": t1 - t0, "build_s": t2 - t1, "total_s": t2 - t0,
                "peak_mb": _rss_mb(), "delta_mb": _rss_mb() - base, "shape": list(shape)}
    if kind == "pandas":
        import numpy as np
        import pandas as pd

        base = _rss_mb()
        t0 = time.perf_counter()
        frame = pd.read_parquet(path)
        t1 = time.perf_counter()
        wide = frame.pivot(index="date", columns="ticker", values=FIELDS)
        cube = np.stack([wide[f].to_numpy(dtype=np.float32) for f in FIELDS], axis=-1)
        t2 = time.perf_counter()
        return {"import_s": t1 - t0, "build_s": t2 - t1, "total_s": t2 - t0,
                "peak_mb": _rss_mb(), "delta_mb": _rss_mb() - base, "shape": list(cube.shape)}
    raise SystemExit(f"unknown worker {kind}")


def _run(kind: str, path: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--worker", kind, str(path)],
        check=True, capture_output=True, text=True, cwd=REPO,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _synthetic(tmp: Path, n_tickers: int, n_days: int) -> Path:
    sys.path.insert(0, str(REPO))
    from engine.data.synthetic import SyntheticConfig, generate

    path = tmp / f"synthetic_{n_tickers}x{n_days}.parquet"
    generate(SyntheticConfig(n_tickers=n_tickers, n_days=n_days, seed=0)).write_parquet(path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="small synthetic market only")
    parser.add_argument("--write", action="store_true", help="update benchmarks/RESULTS.md")
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        sys.path.insert(0, str(REPO))
        print(json.dumps(worker(*args.worker)))
        return

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        cases = [("synthetic 50 x 300", _synthetic(Path(tmp), 50, 300))] if args.quick else [
            ("synthetic 500 x 2,500", _synthetic(Path(tmp), 500, 2500))]
        if US_FILE.exists() and not args.quick:
            cases.append(("shared US 505 x 1,259", US_FILE))
        for label, path in cases:
            eng = _run("engine", path)
            ref = _run("pandas", path)
            rows.append((label, eng, ref))

    lines = [
        "| data | engine import+validate (s) | engine panel build (s) | pandas read (s) "
        "| pandas pivot (s) | build speed-up vs pivot | engine peak RSS (MB) "
        "| pandas peak RSS (MB) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for label, eng, ref in rows:
        lines.append(
            f"| {label} | {eng['import_s']:.2f} | {eng['build_s']:.3f} | {ref['import_s']:.2f} "
            f"| {ref['build_s']:.3f} | {ref['build_s'] / eng['build_s']:.1f}x "
            f"| {eng['peak_mb']:.0f} | {ref['peak_mb']:.0f} |"
        )
    table = "\n".join(lines)
    print(table)
    if args.write and not args.quick:
        section = (
            "## Data layer (bench_data.py)\n\n"
            f"Machine: {machine()}. "
            "Each cell is one run in a fresh process; peak RSS includes the interpreter and "
            "imported libraries (torch alone is ~300 MB). The engine's import also validates "
            "(all checks of `engine/data/validate.py`) and derives vwap; the pandas reference "
            "only reads and pivots.\n\n" + table + "\n"
        )
        write_section("## Data layer", section)


if __name__ == "__main__":
    main()
