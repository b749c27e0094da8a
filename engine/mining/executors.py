"""Where a sweep's cells run: this process, a local process pool, or a Ray cluster.

Every executor maps :func:`engine.mining.sweep.run_cell` over cells and yields
``(cell, record)`` as cells finish; none writes a file. The panel travels once per worker
(the pool's initializer; Ray's object store), not once per cell. Cells run on one torch
thread each (``run_cell`` sets it), so a record does not depend on the executor.

Ray is optional (``pip install 'alphaforge-ui[cluster]'``): it is imported only when the
``ray`` executor is chosen, and the desktop bundle never needs it. Only the driver touches
the user's folders; what goes over the wire is the panel (values, dates, tickers,
universe), the sweep spec, the cell, and the record coming back.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engine.errors import ConfigError
from engine.plugins import ENV

if TYPE_CHECKING:  # the registry is read by the CLI's parser: no torch import at start-up
    from engine.data.panel import Panel
    from engine.mining.sweep import Cell, SweepSpec

Result = tuple["Cell", dict[str, Any]]
ShouldStop = Callable[[], bool]


def _run_cell(panel: Panel, spec: SweepSpec, cell: Cell) -> dict[str, Any]:
    from engine.mining import sweep

    return sweep.run_cell(panel, spec, cell)


def run_inline(panel: Panel, spec: SweepSpec, todo: Sequence[Cell],
               should_stop: ShouldStop | None = None) -> Iterator[Result]:
    """One cell after another in this process (``--workers 1``)."""
    for cell in todo:
        if should_stop is not None and should_stop():
            return
        yield cell, _run_cell(panel, spec, cell)


# ------------------------------------------------------------------ local pool
#: The pool worker process's panel, set once by the initializer (a worker holds one panel;
#: the driver process never writes it).
_PANEL: dict[str, Panel] = {}


def _init_worker(panel: Panel) -> None:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    _PANEL["panel"] = panel


def _pool_cell(spec: SweepSpec, cell: Cell) -> Result:
    return cell, _run_cell(_PANEL["panel"], spec, cell)


def run_pool(panel: Panel, spec: SweepSpec, todo: Sequence[Cell], workers: int,
             should_stop: ShouldStop | None = None) -> Iterator[Result]:
    """A pool of ``workers`` fresh processes (spawned: no state inherited from the app)."""
    if workers <= 1 or len(todo) <= 1:
        yield from run_inline(panel, spec, todo, should_stop)
        return
    ctx = mp.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(workers, len(todo)), mp_context=ctx,
                             initializer=_init_worker, initargs=(panel,)) as pool:
        pending: set[Future[Result]] = {pool.submit(_pool_cell, spec, c) for c in todo}
        try:
            while pending:
                done, pending = wait(pending, timeout=1.0, return_when=FIRST_COMPLETED)
                for fut in done:
                    yield fut.result()
                if should_stop is not None and should_stop():
                    break
        finally:
            for fut in pending:
                fut.cancel()


# ------------------------------------------------------------------ Ray
def run_ray(panel: Panel, spec: SweepSpec, todo: Sequence[Cell], workers: int,
            should_stop: ShouldStop | None = None, address: str | None = None
            ) -> Iterator[Result]:
    """Ray Core tasks, one CPU each, on the cluster at ``address`` (None: start or join a
    local one). The panel goes into the object store once."""
    try:
        import ray
    except ImportError as exc:
        raise ConfigError("the ray executor needs Ray: pip install 'alphaforge-ui[cluster]'",
                          code="config_ray_missing") from exc
    started = not ray.is_initialized()
    if started:
        ray.init(address=address, include_dashboard=False, log_to_driver=False,
                 configure_logging=False)
    try:
        from engine.mining.sweep import run_cell

        # a cell's worker loads the driver's plug-ins too (Ray workers do not share its env)
        options: dict[str, Any] = {"num_cpus": 1}
        if os.environ.get(ENV):
            options["runtime_env"] = {"env_vars": {ENV: os.environ[ENV]}}
        remote = ray.remote(**options)(run_cell)
        ref = ray.put(panel)
        limit = max(1, workers)
        queue = list(todo)
        running: dict[Any, Cell] = {}
        while queue or running:
            while queue and len(running) < limit:
                cell = queue.pop(0)
                running[remote.remote(ref, spec, cell)] = cell
            done, _ = ray.wait(list(running), num_returns=1, timeout=1.0)
            for obj in done:
                cell = running.pop(obj)
                yield cell, ray.get(obj)
            if should_stop is not None and should_stop():
                for obj in running:
                    ray.cancel(obj, force=True)
                return
    finally:
        if started:
            ray.shutdown()


@dataclass(frozen=True)
class ExecutorInfo:
    """A registered executor: its name, label key and whether it needs an extra."""

    name: str
    label_key: str
    extra: str | None = None


#: The executors, in the order the CLI and the app offer them.
EXECUTORS: Mapping[str, ExecutorInfo] = {
    "local": ExecutorInfo("local", "sweep.executor_local"),
    "ray": ExecutorInfo("ray", "sweep.executor_ray", extra="cluster"),
}


def execute(name: str, panel: Panel, spec: SweepSpec, todo: Sequence[Cell], *,
            workers: int | None = None, address: str | None = None,
            should_stop: ShouldStop | None = None) -> Iterator[Result]:
    """Run ``todo`` with the named executor (``workers`` default: the machine's cores)."""
    n = workers if workers is not None else (os.cpu_count() or 1)
    if name == "local":
        return run_pool(panel, spec, todo, n, should_stop)
    if name == "ray":
        return run_ray(panel, spec, todo, n, should_stop, address)
    raise ConfigError(f"unknown executor '{name}'; choose one of {', '.join(EXECUTORS)}",
                      code="config_unknown_choice",
                      params={"field": "executor", "value": name,
                              "choices": ", ".join(EXECUTORS)})
