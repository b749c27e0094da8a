"""What every command module shares: the Output record and project resolution.

Nothing heavy is imported at module level here or in the command modules' top level (the
project store reads panels with torch): ``alphaforge --help`` and argument errors answer in
a fraction of a second; each command imports what it needs when it runs.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.store.project import Project


@dataclass(frozen=True)
class Output:
    """What a command returns: data for ``--json``, text for people and the exit status
    (0; `rerun` returns 1 when the re-run differs)."""

    data: Any
    text: str
    exit_code: int = 0


def project_path(args: argparse.Namespace) -> Path:
    from engine.store.project import default_project_path

    return Path(args.project).expanduser() if args.project else default_project_path()


def open_project(args: argparse.Namespace) -> Project:
    from engine.store.project import Project

    return Project.open(project_path(args))
