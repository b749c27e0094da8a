"""Re-run a mining run or a strategy from what it saved, and compare the results.

A run record holds the config, seed, dataset name and content hash; a strategy holds its
combination spec and backtest config. :func:`rerun_mining` / :func:`rerun_strategy` execute
them again into a new run id / strategy name and return a :class:`Comparison`: for each table
or metric, the largest absolute difference and how many values differ. On CPU, with the same
data, seed and torch thread count, a re-run is identical bit for bit; the comparison is how a
user (or a reviewer given a bundle, see ``engine.store.bundle``) checks it.

The thread count and device the original used are read from its ``started`` progress event,
because float reductions (and ``device="auto"``) can change results across machines.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
import polars as pl
import torch

from engine.backtest.topk import TopKConfig
from engine.combine.base import CombineConfig
from engine.combine.service import (
    StrategySpec,
    backtest_strategy,
    build_strategy,
    resolve_factor_set,
)
from engine.errors import ConfigError, StoreError
from engine.mining.config import MiningConfig
from engine.mining.session import ProgressCallback
from engine.mining.worker import RUN_KIND, ZOO_FILE, run_mining
from engine.mining.zoo import FactorSet, factor_set_names, load_factor_set
from engine.store import atomic
from engine.store.project import Project, read_progress
from engine.store.strategies import StrategyFiles, load_strategy

RerunKind = Literal["mine", "strategy"]
#: Strategy tables compared when both strategies hold them.
STRATEGY_TABLES = ("weights", "scores", "daily", "backtest_daily", "positions", "trades")


@dataclass(frozen=True)
class Difference:
    """One compared table column or metric.

    ``max_abs_diff``: largest absolute difference (0 when equal; ``inf`` where a value is
    missing on one side or a non-numeric value differs); ``n_different``: values differing by
    more than the tolerance, out of ``n_compared``.
    """

    table: str
    item: str
    max_abs_diff: float
    n_different: int
    n_compared: int
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        mad = self.max_abs_diff
        return {"table": self.table, "item": self.item,
                "max_abs_diff": mad if math.isfinite(mad) else None,
                "n_different": self.n_different, "n_compared": self.n_compared,
                "note": self.note}


@dataclass(frozen=True)
class Comparison:
    """The original against its re-run, one :class:`Difference` per table column / metric."""

    kind: RerunKind
    original: str
    rerun: str
    rows: tuple[Difference, ...]
    tolerance: float = 0.0
    notes: tuple[str, ...] = ()

    @property
    def identical(self) -> bool:
        return all(r.n_different == 0 for r in self.rows)

    @property
    def differences(self) -> tuple[Difference, ...]:
        return tuple(r for r in self.rows if r.n_different)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "original": self.original, "rerun": self.rerun,
                "identical": self.identical, "tolerance": self.tolerance,
                "notes": list(self.notes), "rows": [r.to_dict() for r in self.rows]}


# --------------------------------------------------------------------------- comparing


def _numeric_diff(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """|a - b| with NaN == NaN (0) and NaN vs a number (inf)."""
    a, b = a.astype(np.float64), b.astype(np.float64)
    na, nb = np.isnan(a), np.isnan(b)
    with np.errstate(invalid="ignore"):
        diff = np.abs(a - b)
    diff[na & nb] = 0.0
    diff[na ^ nb] = np.inf
    diff[np.isinf(a) & np.isinf(b) & (a == b)] = 0.0
    return diff


def _diff_row(table: str, item: str, diff: np.ndarray, tol: float, note: str = ""
              ) -> Difference:
    mad = float(diff.max()) if diff.size else 0.0
    return Difference(table, item, mad, int((diff > tol).sum()), int(diff.size), note)


def compare_values(table: str, item: str, a: Sequence[Any], b: Sequence[Any],
                   tol: float = 0.0) -> Difference:
    """Position-wise comparison of two equal-length sequences (numbers, or anything else)."""
    if len(a) != len(b):
        return Difference(table, item, math.inf, abs(len(a) - len(b)) or 1,
                          max(len(a), len(b)), f"{len(a)} vs {len(b)} values")

    def num(x: Any) -> bool:
        return x is None or (isinstance(x, (int, float, np.number)) and not isinstance(x, bool))

    if all(num(x) for x in (*a, *b)):
        arr_a = np.array([math.nan if x is None else x for x in a], dtype=np.float64)
        arr_b = np.array([math.nan if x is None else x for x in b], dtype=np.float64)
        return _diff_row(table, item, _numeric_diff(arr_a, arr_b), tol)
    diff = np.array([0.0 if x == y else math.inf for x, y in zip(a, b, strict=True)])
    return _diff_row(table, item, diff, tol)


def compare_tables(table: str, a: pl.DataFrame, b: pl.DataFrame, tol: float = 0.0
                   ) -> list[Difference]:
    """Column by column: numbers by absolute difference, other columns by equality."""
    if a.columns != b.columns:
        return [Difference(table, "columns", math.inf, 1, 1,
                           f"{', '.join(a.columns)} vs {', '.join(b.columns)}")]
    if a.height != b.height:
        return [Difference(table, "rows", math.inf, abs(a.height - b.height),
                           max(a.height, b.height), f"{a.height} vs {b.height} rows")]
    rows = []
    for col in a.columns:
        sa, sb = a.get_column(col), b.get_column(col)
        if sa.dtype.is_numeric() and sb.dtype.is_numeric():
            diff = _numeric_diff(sa.cast(pl.Float64).fill_null(math.nan).to_numpy(),
                                 sb.cast(pl.Float64).fill_null(math.nan).to_numpy())
        else:
            same = (sa == sb).fill_null(False) | (sa.is_null() & sb.is_null())
            diff = np.where(same.to_numpy(), 0.0, math.inf)
        rows.append(_diff_row(table, col, diff, tol))
    return rows


def _flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, Mapping):
        out: dict[str, Any] = {}
        for key in sorted(data):
            out.update(_flatten(data[key], f"{prefix}{key}."))
        return out
    if isinstance(data, (list, tuple)):
        return {prefix[:-1]: tuple(data)}
    return {prefix[:-1]: data}


def compare_mappings(table: str, a: Mapping[str, Any], b: Mapping[str, Any], tol: float = 0.0
                     ) -> list[Difference]:
    """Nested summaries (JSON-like) leaf by leaf; a key on one side only differs."""
    fa, fb = _flatten(a), _flatten(b)
    rows = []
    for key in sorted(set(fa) | set(fb)):
        if key not in fa or key not in fb:
            rows.append(Difference(table, key, math.inf, 1, 1,
                                   "only in the " + ("re-run" if key in fb else "original")))
            continue
        va, vb = fa[key], fb[key]
        if isinstance(va, tuple) or isinstance(vb, tuple):
            va, vb = (va if isinstance(va, tuple) else (va,)), (
                vb if isinstance(vb, tuple) else (vb,))
            rows.append(compare_values(table, key, va, vb, tol))
        else:
            rows.append(compare_values(table, key, [va], [vb], tol))
    return rows


def _factor_set_of_run(project: Project, run_id: str) -> FactorSet:
    if run_id in factor_set_names(project):
        return load_factor_set(project, run_id)
    zoo = project.run_dir(run_id) / ZOO_FILE
    if not zoo.exists():
        raise StoreError(f"run {run_id} has no zoo ({zoo} is missing)")
    return FactorSet.from_dict(atomic.read_json(zoo))


def compare_mining(project: Project, original: str, rerun: str, tol: float = 0.0
                   ) -> Comparison:
    """Two mining runs' zoos: the formulas in order, then fitness and every metric of each
    formula both zoos hold."""
    za, zb = _factor_set_of_run(project, original), _factor_set_of_run(project, rerun)
    fa, fb = za.formulas, zb.formulas
    same_pos = sum(x == y for x, y in zip(fa, fb, strict=False))
    n = max(len(fa), len(fb))
    only_a = [f for f in fa if f not in fb]
    only_b = [f for f in fb if f not in fa]
    note = "; ".join(part for part in (
        f"{len(fa)} vs {len(fb)} formulas" if len(fa) != len(fb) else "",
        f"only in the original: {only_a[0]}" + (f" (+{len(only_a) - 1})" if len(only_a) > 1
                                                 else "") if only_a else "",
        f"only in the re-run: {only_b[0]}" + (f" (+{len(only_b) - 1})" if len(only_b) > 1
                                               else "") if only_b else "",
    ) if part)
    rows = [Difference("zoo", "formulas", 0.0 if same_pos == n else math.inf, n - same_pos, n,
                       note)]
    by_b = {f.formula: f for f in zb.factors}
    common = [f for f in za.factors if f.formula in by_b]
    rows.append(compare_values("zoo", "fitness", [f.fitness for f in common],
                               [by_b[f.formula].fitness for f in common], tol))
    keys = sorted({(seg, k) for f in [*za.factors, *zb.factors]
                   for seg, vals in f.metrics.items() for k in vals})
    for seg, k in keys:
        rows.append(compare_values(
            "zoo", f"{seg}.{k}",
            [f.metrics.get(seg, {}).get(k) for f in common],
            [by_b[f.formula].metrics.get(seg, {}).get(k) for f in common], tol))
    return Comparison("mine", original, rerun, tuple(rows), tol)


def _table(strategy: StrategyFiles, stem: str) -> pl.DataFrame | None:
    return strategy.table(stem) if (strategy.path / f"{stem}.parquet").exists() else None


def compare_strategies(project: Project, original: str, rerun: str, tol: float = 0.0
                       ) -> Comparison:
    """Two strategies: formulas, combination summary, every table both hold (weights, scores,
    daily IC, backtest series, positions, trades) and the backtest summary."""
    sa, sb = load_strategy(project, original), load_strategy(project, rerun)
    rows = [compare_values("strategy", "formulas", list(sa.info.get("formulas", [])),
                           list(sb.info.get("formulas", [])), tol)]
    rows += compare_mappings("summary", sa.info.get("summary", {}), sb.info.get("summary", {}),
                             tol)
    for stem in STRATEGY_TABLES:
        ta, tb = _table(sa, stem), _table(sb, stem)
        if ta is None and tb is None:
            continue
        if ta is None or tb is None:
            rows.append(Difference(stem, "table", math.inf, 1, 1,
                                   "only in the " + ("re-run" if ta is None else "original")))
            continue
        rows += compare_tables(stem, ta, tb, tol)
    ba, bb = sa.backtest, sb.backtest
    if ba is not None or bb is not None:
        rows += compare_mappings("backtest", (ba or {}).get("summary", {}),
                                 (bb or {}).get("summary", {}), tol)
    return Comparison("strategy", original, rerun, tuple(rows), tol)


# --------------------------------------------------------------------------- re-running


def _check_dataset(project: Project, dataset: str | None, expected: str | None,
                   what: str) -> str:
    if not dataset:
        raise ConfigError(f"{what} names no dataset; it cannot be re-run")
    meta = project.dataset_meta(dataset)  # StoreError listing the datasets when absent
    if expected and meta.content_hash != expected:
        raise StoreError(
            f"dataset '{dataset}' of project '{project.info.name}' is not the data {what} was "
            f"computed on (content hash {meta.content_hash[:12]}, recorded "
            f"{expected[:12]}); import the original data (a bundle exported with "
            "--with-data) to re-run it")
    return dataset


def _started(project: Project, run_id: str) -> Mapping[str, Any]:
    return next((e for e in read_progress(project, run_id)
                 if e.get("event") in ("started", "resumed")), {})


def _speed_notes(project: Project, config: MiningConfig, run_ids: Sequence[str]) -> list[str]:
    """Why a re-run may legitimately differ: a time budget that cut a run short (the zoo then
    depends on the machine's speed) or a GPU (not bit-reproducible)."""
    notes = []
    budget = config.time_budget_s
    for run_id in run_ids:
        events = read_progress(project, run_id)
        elapsed = max((float(e.get("elapsed_s") or 0.0) for e in events), default=0.0)
        if budget is not None and elapsed >= budget:
            notes.append(f"run {run_id} reached its time budget ({budget:g} s): where it "
                         "stopped depends on the machine's speed, so its zoo can differ; "
                         "use a round or evaluation budget for reproducible runs")
    if config.device in ("cuda", "mps"):
        notes.append(f"mined on {config.device}: GPU runs are not bit-reproducible; compare "
                     "with --tolerance")
    return notes


@contextlib.contextmanager
def _threads(n: int | None) -> Iterator[None]:
    before = torch.get_num_threads()
    if n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def rerun_mining(project: Project, run_id: str, *, device: str | None = None,
                 tolerance: float = 0.0, progress_cb: ProgressCallback | None = None
                 ) -> Comparison:
    """Mine again from run ``run_id``'s saved config into a new run and compare the zoos.

    The re-run uses the recorded config, seed and dataset (whose content hash must match),
    the torch thread count of the original and, unless ``device`` is given, the device it
    actually ran on (so a CPU run is re-run on CPU even where a GPU is present).
    """
    record = project.run_record(run_id)
    if record.kind != RUN_KIND:
        raise ConfigError(f"run {run_id} is a '{record.kind}' run, not a mining run; "
                          "only mining runs and strategies can be re-run")
    if record.status != "done":
        raise ConfigError(f"run {run_id} is {record.status}, not finished: resume it "
                          f"(`alphaforge mine --resume {run_id}`) before re-running it")
    dataset = _check_dataset(project, record.dataset, record.dataset_hash, f"run {run_id}")
    config = MiningConfig.from_dict(record.config)
    started = _started(project, run_id)
    used = str(started.get("device", "")).split(":")[0]
    if device is not None:
        config = config.with_(device=device)
    elif config.device == "auto" and used in ("cpu", "cuda", "mps"):
        config = config.with_(device=used)
    threads = int(started["threads"]) if isinstance(started.get("threads"), int) else None
    with _threads(threads):
        new_id = run_mining(project, config, dataset=dataset, progress_cb=progress_cb)
    status = project.run_record(new_id).status
    if status != "done":
        raise ConfigError(f"the re-run {new_id} of run {run_id} stopped ({status}); nothing "
                          "to compare")
    comparison = compare_mining(project, run_id, new_id, tolerance)
    return replace(comparison, notes=tuple(_speed_notes(project, config, (run_id, new_id))))


def rerun_strategy(project: Project, name: str, *, new_name: str | None = None,
                   overwrite: bool = False, tolerance: float = 0.0) -> Comparison:
    """Combine (and backtest, when the original was backtested) again from strategy
    ``name``'s saved spec into ``new_name`` (default ``<name>-rerun``) and compare."""
    original = load_strategy(project, name)
    info = original.info
    target = new_name or f"{original.name}-rerun"
    if target == original.name:
        raise ConfigError(f"the re-run needs a name other than '{original.name}'")
    what = f"strategy '{original.name}'"
    dataset = _check_dataset(project, info.get("dataset"), info.get("dataset_hash"), what)
    try:
        source = str(info["factor_set"])
        test = tuple(info["test"])
        train = tuple(info["train"]) if info.get("train") else None
        config = CombineConfig.from_dict(info["config"])
    except (KeyError, TypeError) as exc:
        raise StoreError(f"{original.path / 'strategy.json'}: incomplete strategy description "
                         f"({exc!r}); it cannot be re-run") from None
    factor_set = resolve_factor_set(project, source)
    if list(info.get("formulas", factor_set.formulas)) != factor_set.formulas:
        raise ConfigError(f"factor set '{source}' changed since {what} was built (its "
                          "formulas differ); the strategy cannot be re-run from it")
    spec = StrategySpec(name=target, dataset=dataset, factor_set=source,
                        test=(test[0], test[1]),
                        train=(train[0], train[1]) if train else None, config=config)
    build_strategy(project, spec, overwrite=overwrite)
    backtest = original.backtest
    if backtest is not None and "config" in backtest:
        backtest_strategy(project, target, TopKConfig.from_dict(backtest["config"]),
                          rf=float(backtest.get("rf", 0.0)),
                          benchmark=backtest.get("benchmark"))
    return compare_strategies(project, original.name, target, tolerance)
