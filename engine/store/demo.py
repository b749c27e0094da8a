"""The built-in demo project: a synthetic market with planted signals, ready to mine."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from engine.data.io import ROW, RawTable
from engine.data.synthetic import SyntheticConfig, generate
from engine.data.validate import check
from engine.store.project import DatasetMeta, Project

DEMO_DATASET = "demo"


def ensure_demo(root: Path, config: SyntheticConfig | None = None, *, name: str | None = None,
                replace: bool = False) -> tuple[Project, DatasetMeta, bool]:
    """Create (or reuse) a project at ``root`` holding the demo dataset.

    Returns the project, the dataset's metadata and whether it was created now. The market
    goes through the same validation as a user's file, so the demo exercises the real path.
    """
    project = Project.create(root, name=name)
    if not replace and DEMO_DATASET in project.dataset_names():
        return project, project.dataset_meta(DEMO_DATASET), False
    config = config or SyntheticConfig()
    frame = generate(config)
    raw = RawTable(frame.with_columns(pl.int_range(1, frame.height + 1).cast(pl.Utf8).alias(ROW)),
                   source=f"synthetic market (seed {config.seed})")
    meta = project.save_dataset(DEMO_DATASET, check(raw), overwrite=True)
    record = project.new_run("demo", config.to_dict(), seed=config.seed, dataset=DEMO_DATASET)
    project.save_record(record.finished("done"))
    return project, meta, True
