"""`alphaforge` command line: each command parses arguments, calls engine functions, prints.

Every command accepts ``--json`` for machine-readable output. Errors a user can act on
(bad data, bad names, bad formulas) print one clear message and exit with code 2; they never
print a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

from engine.cli import (
    app,
    bundle,
    data,
    factors,
    formulas,
    mining,
    report,
    sources,
    strategy,
    sweep,
)
from engine.cli.common import Output
from engine.errors import AlphaForgeError, DataError
from engine.plugins import load_plugins

EXIT_OK = 0
EXIT_USER_ERROR = 2

Command = Callable[[argparse.Namespace], Output]
#: Command modules, each with ``register(sub, common)``; a new area adds one line here.
MODULES = (data, sources, formulas, factors, mining, sweep, strategy, report, bundle, app)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="alphaforge",
        description="Mine, combine and backtest formulaic alpha factors (AlphaForge), offline.",
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--project", help="project folder (default: the demo project under "
                                          "$ALPHAFORGE_HOME or the user data folder)")
    common.add_argument("--json", action="store_true", help="machine-readable output")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in MODULES:
        module.register(sub, common)
    return parser


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def main(argv: Sequence[str] | None = None) -> int:
    try:
        load_plugins()  # before the parser: a plug-in's names are valid choices
    except AlphaForgeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        out = args.func(args)
    except AlphaForgeError as exc:
        if args.json:
            payload: dict[str, Any] = {"ok": False, "error": str(exc)}
            report = getattr(exc, "report", None) if isinstance(exc, DataError) else None
            if report is not None and hasattr(report, "to_dict"):
                payload["report"] = report.to_dict()
            _print_json(payload)
        else:
            print(f"error: {exc}", file=sys.stderr)
            report = getattr(exc, "report", None)
            if report is not None and hasattr(report, "summary"):
                print(report.summary(), file=sys.stderr)
        return EXIT_USER_ERROR
    except OSError as exc:  # the last guard: a file the system refused, in one line
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"error: {where}{exc.strerror or exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    if args.json:
        _print_json({"ok": True, "result": out.data})
    else:
        print(out.text)
    return out.exit_code

