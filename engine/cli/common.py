"""What every command module shares: the Output record and project resolution."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.store.project import Project, default_project_path


@dataclass(frozen=True)
class Output:
    """What a command returns: data for ``--json``, text for people and the exit status
    (0; `rerun` returns 1 when the re-run differs)."""

    data: Any
    text: str
    exit_code: int = 0


def project_path(args: argparse.Namespace) -> Path:
    return Path(args.project).expanduser() if args.project else default_project_path()


def open_project(args: argparse.Namespace) -> Project:
    return Project.open(project_path(args))
