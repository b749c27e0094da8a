"""Helpers shared by the benchmark scripts: machine description and RESULTS.md sections."""

from __future__ import annotations

import os
import platform
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "RESULTS.md"
US_FILE = REPO.parent / "shared" / "data" / "us_sp500_2013_2018.parquet"
CN_FILE = REPO.parent / "shared" / "data" / "cn_csi300_2010_2020.parquet"


def machine() -> str:
    """One line: CPU model, core count, Python version."""
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def write_section(heading: str, section: str) -> None:
    """Replace (or append) the '## heading' section of RESULTS.md, leaving the others alone."""
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    parts = text.split("\n## ")
    head, rest = parts[0], ["## " + p for p in parts[1:]]
    rest = [p for p in rest if not p.startswith(heading)] + [section]
    RESULTS.write_text(head.rstrip() + "\n\n" + "\n".join(p.rstrip() + "\n" for p in rest))
