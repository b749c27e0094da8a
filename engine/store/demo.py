"""The built-in demo project: a synthetic market with planted signals, ready to mine."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from engine.data.io import ROW, RawTable
from engine.data.synthetic import SyntheticConfig, generate
from engine.data.validate import check
from engine.store.project import DatasetMeta, Project

DEMO_DATASET = "demo"
#: How the demo's dataset is described (``DatasetMeta.source``): what tells a page that a
#: dataset is the demo market, whose planted signals it can name.
DEMO_SOURCE = "synthetic market"
#: Where the demo market's volume-price signal changes sign: 40 trading days into the default
#: test period of 1,500 days (the 70/15/15 split puts it from day 1,280). A miner trained on the
#: default range then finds the signal with its first sign, and the dynamic combiner is seen
#: turning its weight around inside the test period. At the generator's own default (0.5) the
#: flip lies in the training range, where the signal averages out and no miner finds it.
DEMO_FLIP_FRACTION = 0.88


def demo_config(**overrides: Any) -> SyntheticConfig:
    """The demo market's configuration: the generator's defaults with the flip moved into
    the default test period (:data:`DEMO_FLIP_FRACTION`); ``overrides`` replace fields."""
    return SyntheticConfig(**{"flip_fraction": DEMO_FLIP_FRACTION, **overrides})


def is_demo(meta: DatasetMeta) -> bool:
    """Whether a dataset was written by :func:`ensure_demo` (its planted signals are known)."""
    return meta.source.startswith(DEMO_SOURCE + " (")


def ensure_demo(root: Path, config: SyntheticConfig | None = None, *, name: str | None = None,
                replace: bool = False) -> tuple[Project, DatasetMeta, bool]:
    """Create (or reuse) a project at ``root`` holding the demo dataset.

    Returns the project, the dataset's metadata and whether it was created now. The market
    goes through the same validation as a user's file, so the demo exercises the real path.
    """
    project = Project.create(root, name=name)
    if not replace and DEMO_DATASET in project.dataset_names():
        return project, project.dataset_meta(DEMO_DATASET), False
    config = config or demo_config()
    frame = generate(config)
    raw = RawTable(frame.with_columns(pl.int_range(1, frame.height + 1).cast(pl.Utf8).alias(ROW)),
                   source=f"{DEMO_SOURCE} (seed {config.seed})")
    meta = project.save_dataset(DEMO_DATASET, check(raw), overwrite=True)
    record = project.new_run("demo", config.to_dict(), seed=config.seed, dataset=DEMO_DATASET)
    project.save_record(record.finished("done"))
    return project, meta, True
