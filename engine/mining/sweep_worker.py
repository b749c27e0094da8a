"""Sweeps in a background process: start, cancel and resume a sweep from the app.

The process runs :func:`engine.mining.sweep_store.run_sweep` on the sweep's missing cells,
like ``alphaforge sweep --resume RUN``, with the files a mining worker uses (``worker.json``
with its pid, ``worker.log``, ``CANCEL``), so the app shows a killed sweep as "stopped" by the
same rule (:func:`engine.mining.worker.run_status`). A cancel is seen between cells: the cells
in flight finish and are kept, and a resume runs only the missing ones.

Process entry: ``python -m engine.mining.sweep_worker --project P --run RUN [--workers N]
[--executor local|ray] [--ray-address ADDR]``; in the frozen app
``AlphaForge-UI --worker sweep ...``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from dataclasses import replace

from engine.errors import AlphaForgeError, ConfigError
from engine.mining import sweep as S
from engine.mining import sweep_store, worker
from engine.plugins import load_plugins
from engine.store import atomic
from engine.store.project import Project
from engine.store.records import utc_now

WORKER_NAME = "sweep"


def sweep_command(project: Project, run_id: str, *, workers: int | None = None,
                  executor: str = "local", address: str | None = None) -> list[str]:
    """The command line of a sweep's background process (the app itself when frozen)."""
    entry = (["--worker", WORKER_NAME] if getattr(sys, "frozen", False)
             else ["-m", "engine.mining.sweep_worker"])
    cmd = [sys.executable, *entry, "--project", str(project.root), "--run", run_id,
           "--executor", executor]
    if workers:
        cmd += ["--workers", str(workers)]
    if address:
        cmd += ["--ray-address", address]
    return cmd


def start(project: Project, spec: S.SweepSpec, *, workers: int | None = None,
          executor: str = "local", address: str | None = None) -> str:
    """Create the sweep (every cell's split checked first) and run it in the background;
    returns its run id."""
    run_id = sweep_store.create_sweep(project, spec)
    worker.spawn(project, run_id, command=sweep_command(project, run_id, workers=workers,
                                                        executor=executor, address=address))
    return run_id


def resume(project: Project, run_id: str, *, workers: int | None = None,
           executor: str = "local", address: str | None = None) -> None:
    """Run the missing cells of a stopped, cancelled or failed sweep in the background."""
    sweep_store.sweep_spec(project, run_id)  # a ConfigError when it is not a sweep
    if project.run_record(run_id).status == "done":
        raise ConfigError(f"sweep {run_id} has already finished; nothing to resume")
    if worker.worker_pid(project, run_id) is not None:
        raise ConfigError(f"sweep {run_id} is still running")
    # 'running' now, not once the process has imported torch (seconds later): the page
    # follows a running sweep, and spawn writes the pid that keeps it from reading 'stopped'
    record = project.run_record(run_id)
    project.save_record(replace(record, status="running", ended=None, error=None))
    worker.spawn(project, run_id, command=sweep_command(project, run_id, workers=workers,
                                                        executor=executor, address=address))


def cancel(project: Project, run_id: str) -> None:
    """Ask a running sweep to stop after the cells in flight (they are kept)."""
    worker.cancel(project, run_id)


def status(project: Project, run_id: str) -> str:
    """The sweep's status as the app shows it ('stopped': running, but no process)."""
    return worker.run_status(project, run_id)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m engine.mining.sweep_worker",
                                     description="Run the missing cells of a sweep.")
    parser.add_argument("--project", required=True)
    parser.add_argument("--run", required=True)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--executor", default="local")
    parser.add_argument("--ray-address", default=None)
    args = parser.parse_args(argv)
    try:
        load_plugins()
        project = Project.open(args.project)
        folder = project.run_dir(args.run)
        (folder / worker.CANCEL_FILE).unlink(missing_ok=True)
        workers = args.workers or os.cpu_count() or 1
        atomic.write_json(folder / worker.PID_FILE, {
            "pid": os.getpid(), "started": utc_now(), "workers": workers,
            "executor": args.executor})
        try:
            sweep_store.run_sweep(project, resume=args.run, executor=args.executor,
                                  workers=workers, address=args.ray_address,
                                  should_stop=lambda: (folder / worker.CANCEL_FILE).exists())
        finally:
            (folder / worker.PID_FILE).unlink(missing_ok=True)
    except AlphaForgeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
