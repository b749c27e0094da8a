"""Mining runs as project runs: in-process, in a background process, cancel, resume.

Files of a run (``runs/<run_id>/``):
- ``config.json`` / ``record.json``: the :class:`MiningConfig` and the run record (seed,
  dataset and its content hash, package versions, status);
- ``progress.jsonl``: one structured event per line (see :meth:`Session.emit`);
- ``checkpoint.pt``: written atomically at the end of the warm-up and of every round: models,
  optimiser, RNG states (torch, numpy, python), zoo, counters and the formula cache;
- ``zoo.json``: the current zoo with its metrics, rewritten with every checkpoint;
- ``CANCEL``: created by :func:`cancel`; the worker stops at its next check (SIGTERM does the
  same). A cancelled, killed or crashed run keeps its last checkpoint and can be resumed;
  on CPU a resumed run ends with the same zoo as an uninterrupted one.

When the run ends its zoo is saved as the factor set ``factors/<run_id>.json``.

Process entry: ``python -m engine.mining.worker --project P --run RUN [--resume]``; in the
frozen app ``AlphaForge-UI --worker mine --project P --run RUN [--resume]``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from engine.errors import AlphaForgeError, ConfigError
from engine.mining import loop
from engine.mining.config import MiningConfig
from engine.mining.session import MiningCancelled, ProgressCallback, Session
from engine.mining.zoo import Factor, FactorSet, save_factor_set
from engine.plugins import load_plugins
from engine.process import pid_alive
from engine.store import atomic
from engine.store.project import Project, append_progress
from engine.store.records import RunRecord, utc_now

RUN_KIND = "mine"
CANCEL_FILE = "CANCEL"
CHECKPOINT_FILE = "checkpoint.pt"
ZOO_FILE = "zoo.json"
PID_FILE = "worker.json"
LOG_FILE = "worker.log"
EXIT_CANCELLED = 3


# --------------------------------------------------------------------------- helpers


def worker_pid(project: Project, run_id: str) -> int | None:
    """PID of the live worker process of a run, if any."""
    path = project.run_dir(run_id) / PID_FILE
    if not path.exists():
        return None
    try:
        pid = int(json.loads(path.read_text(encoding="utf-8"))["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return pid if pid_alive(pid) else None


def run_status(project: Project, run: str | RunRecord, *, alive: bool | None = None) -> str:
    """The status to show for a run: its record's, or 'stopped' when the record says
    running but no worker process is alive (the machine slept, the process was killed):
    such a run is resumable from its last checkpoint. ``alive`` is looked up when not given
    (only running records need it)."""
    record = project.run_record(run) if isinstance(run, str) else run
    if record.status != "running":
        return record.status
    if alive is None:
        alive = worker_pid(project, record.run_id) is not None
    return "running" if alive else "stopped"


def read_zoo(project: Project, run_id: str) -> FactorSet | None:
    """The run's current zoo (rewritten with every checkpoint), None before its first."""
    path = project.run_dir(run_id) / ZOO_FILE
    return FactorSet.from_dict(atomic.read_json(path)) if path.exists() else None


def cancel(project: Project, run_id: str) -> None:
    """Ask a run to stop: it finishes its current batch, keeps its last checkpoint and is
    marked 'cancelled' (resumable)."""
    atomic.write_text(project.run_dir(run_id) / CANCEL_FILE, utc_now() + "\n")


def has_checkpoint(project: Project, run_id: str) -> bool:
    return (project.run_dir(run_id) / CHECKPOINT_FILE).exists()


def create_run(project: Project, config: MiningConfig, dataset: str) -> str:
    """A new 'running' mining run (config.json + record.json); returns its id."""
    project.dataset_meta(dataset)  # StoreError naming the available datasets if absent
    record = project.new_run(RUN_KIND, config.to_dict(), seed=config.seed, dataset=dataset)
    return record.run_id


@contextlib.contextmanager
def _sigterm_sets(flag: dict[str, bool]) -> Iterator[None]:
    """While inside, SIGTERM asks the loop to stop instead of killing the process."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        flag["stop"] = True

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _factor_set(project: Project, run_id: str, session: Session,
                result: loop.MiningResult | None) -> FactorSet:
    record = project.run_record(run_id)
    reports = session.zoo_reports()
    factors = tuple(Factor(formula=m.formula, fitness=m.stats.score,
                           metrics=reports.get(m.formula, {})) for m in session.zoo)
    source: dict[str, Any] = {
        "kind": "mined", "run_id": run_id, "dataset": record.dataset,
        "dataset_hash": record.dataset_hash, "generator": session.config.generator,
        "fitness": session.config.fitness, "seed": session.config.seed,
        "split": session.split.to_dict(), "rounds": session.counters.rounds,
        "evaluated": session.counters.evaluated, "device": str(session.device),
    }
    if result is not None:
        source["stop_reason"] = result.stop_reason
    return FactorSet(name=run_id, factors=factors, source=source)


def _write_zoo(project: Project, run_id: str, session: Session) -> None:
    fs = _factor_set(project, run_id, session, None)
    atomic.write_json(project.run_dir(run_id) / ZOO_FILE, fs.to_dict())


# --------------------------------------------------------------------------- running


def run(project: Project, run_id: str, *, resume: bool = False,
        progress_cb: ProgressCallback | None = None) -> loop.MiningResult | None:
    """Mine run ``run_id`` in this process until it ends; None if it was cancelled.

    ``resume``: continue from the run's last checkpoint (from the start if it has none).
    """
    folder = project.run_dir(run_id)
    record = project.run_record(run_id)
    if record.kind != RUN_KIND:
        raise ConfigError(f"run {run_id} is a '{record.kind}' run, not a mining run")
    ckpt = folder / CHECKPOINT_FILE
    if resume:
        if record.status == "done":
            raise ConfigError(f"run {run_id} has already finished; nothing to resume")
        pid = worker_pid(project, run_id)
        if pid is not None and pid != os.getpid():
            raise ConfigError(f"run {run_id} is still running (process {pid}); cancel it "
                              "first")
    elif ckpt.exists():
        raise ConfigError(f"run {run_id} already has a checkpoint; resume it instead")
    config = MiningConfig.from_dict(record.config)
    if record.dataset is None:
        raise ConfigError(f"run {run_id} names no dataset")
    meta = project.dataset_meta(record.dataset)
    if record.dataset_hash and meta.content_hash != record.dataset_hash:
        raise ConfigError(f"dataset '{record.dataset}' changed since run {run_id} started "
                          "(content hash differs); start a new run")
    (folder / CANCEL_FILE).unlink(missing_ok=True)
    record = replace(record, status="running", ended=None, error=None)
    project.save_record(record)
    atomic.write_json(folder / PID_FILE, {"pid": os.getpid(), "started": utc_now()})

    def progress(event: dict[str, Any]) -> None:
        append_progress(project, run_id, event)
        if progress_cb is not None:
            progress_cb(event)

    flag = {"stop": False}

    def should_stop() -> bool:
        return flag["stop"] or (folder / CANCEL_FILE).exists()

    def checkpoint(state: dict[str, Any]) -> None:
        atomic.write_with(ckpt, lambda tmp: torch.save(state, tmp))
        _write_zoo(project, run_id, session)

    threads = torch.get_num_threads()
    try:
        with _sigterm_sets(flag):
            panel = project.load_panel(record.dataset)
            session = Session(panel, config, progress=progress, should_stop=should_stop)
            strategy = loop.make_strategy(session)
            resumed = resume and ckpt.exists()
            if resumed:
                state = torch.load(ckpt, map_location="cpu", weights_only=True)
                loop.restore(session, strategy, state)
                torch.set_num_threads(int(state.get("threads", threads)))
            session.emit("resumed" if resumed else "started", device=str(session.device),
                         threads=torch.get_num_threads(), split=session.split.to_dict(),
                         generator=config.generator, fitness=config.fitness,
                         n_actions=session.vocab.n_actions)
            result = loop.run(session, strategy, checkpoint=checkpoint)
    except (MiningCancelled, KeyboardInterrupt):
        progress({"event": "cancelled", "message": "the last checkpoint is kept; resume "
                  "continues from it"})
        project.save_record(record.finished("cancelled"))
        return None
    except AlphaForgeError as exc:
        project.save_record(record.finished("failed", error=str(exc)))
        raise
    except Exception as exc:
        project.save_record(record.finished("failed", error=f"{type(exc).__name__}: {exc}"))
        raise
    finally:
        (folder / PID_FILE).unlink(missing_ok=True)
        torch.set_num_threads(threads)
    save_factor_set(project, _factor_set(project, run_id, session, result))
    _write_zoo(project, run_id, session)
    project.save_record(record.finished("done"))
    return result


def run_mining(project: Project, config: MiningConfig | None = None, *,
               dataset: str | None = None, resume: str | None = None,
               progress_cb: ProgressCallback | None = None) -> str:
    """Blocking mining run in this process; returns the run id.

    New run: ``config`` and ``dataset`` are required. ``resume=RUN``: continue that run from
    its last checkpoint (its own config is used; ``config`` must be None or equal to it).
    The zoo ends up in ``factors/<run_id>.json`` (:func:`engine.mining.zoo.load_factor_set`).
    """
    if resume is not None:
        stored = MiningConfig.from_dict(project.run_record(resume).config)
        if config is not None and config != stored:
            raise ConfigError(f"run {resume} was started with a different config; resume it "
                              "without changing options")
        run(project, resume, resume=True, progress_cb=progress_cb)
        return resume
    if config is None or dataset is None:
        raise ConfigError("a new mining run needs a config and a dataset name")
    run_id = create_run(project, config, dataset)
    run(project, run_id, progress_cb=progress_cb)
    return run_id


# --------------------------------------------------------------------------- background


def worker_command(project: Project, run_id: str, *, resume: bool = False) -> list[str]:
    """The command line of a worker process. The worker uses this process's torch thread
    count, so a background run gives the zoo an in-process run would (float reductions
    depend on it).

    In the frozen desktop app (PyInstaller sets ``sys.frozen``) there is no Python
    interpreter to run ``-m``: ``sys.executable`` is the app itself, and ``launcher.py``
    dispatches ``--worker mine ARGS...`` to :func:`main`.
    """
    entry = (["--worker", RUN_KIND] if getattr(sys, "frozen", False)
             else ["-m", "engine.mining.worker"])
    cmd = [sys.executable, *entry, "--project", str(project.root), "--run", run_id,
           "--threads", str(torch.get_num_threads())]
    return [*cmd, "--resume"] if resume else cmd


def spawn(project: Project, run_id: str, *, resume: bool = False,
          command: Sequence[str] | None = None) -> subprocess.Popen[bytes]:
    """Start the worker process of an existing run, detached from this one (own session),
    logging to ``runs/<run_id>/worker.log``."""
    folder = project.run_dir(run_id)
    repo = Path(__file__).resolve().parents[2]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(repo), env.get("PYTHONPATH")) if p)
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see the Makefile: no busy-waiting threads
    with open(folder / LOG_FILE, "ab") as log:
        proc = subprocess.Popen(
            list(command) if command is not None else worker_command(project, run_id,
                                                                     resume=resume),
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=repo,
            env=env, start_new_session=True)
    # Written now, not only by the worker once its imports are done (seconds later): until
    # then the app would see a 'running' record without a live process and call it stopped.
    atomic.write_json(folder / PID_FILE, {"pid": proc.pid, "started": utc_now()})
    return proc


def start(project: Project, config: MiningConfig, *, dataset: str,
          command: Sequence[str] | None = None) -> str:
    """Create a mining run and start it in a background process; returns the run id."""
    run_id = create_run(project, config, dataset)
    spawn(project, run_id, command=command)
    return run_id


def resume_in_background(project: Project, run_id: str, *,
                         command: Sequence[str] | None = None) -> None:
    """Resume a cancelled / killed run in a background process."""
    record = project.run_record(run_id)
    if record.status == "done":
        raise ConfigError(f"run {run_id} has already finished; nothing to resume")
    if worker_pid(project, run_id) is not None:
        raise ConfigError(f"run {run_id} is still running")
    spawn(project, run_id, resume=True, command=command)


def main(argv: Sequence[str] | None = None, *,
         progress_cb: Callable[[dict[str, Any]], None] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m engine.mining.worker",
                                     description="Run one mining run of a project.")
    parser.add_argument("--project", required=True)
    parser.add_argument("--run", required=True)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch intra-op threads (default: torch's choice)")
    args = parser.parse_args(argv)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    try:
        load_plugins()  # the run may name a plug-in's generator or strategy
        project = Project.open(args.project)
        result = run(project, args.run, resume=args.resume, progress_cb=progress_cb)
    except AlphaForgeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0 if result is not None else EXIT_CANCELLED


if __name__ == "__main__":
    sys.exit(main())
