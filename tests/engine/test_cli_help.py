"""`alphaforge --help` answers without importing torch, polars or streamlit (it took 3 s when
the command modules imported the project store at their top)."""

from __future__ import annotations

import subprocess
import sys


def test_help_does_not_import_heavy_libraries() -> None:
    code = ("import sys, contextlib, io\n"
            "from engine.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    try:\n"
            "        main(['--help'])\n"
            "    except SystemExit:\n"
            "        pass\n"
            "heavy = [m for m in ('torch', 'polars', 'streamlit') if m in sys.modules]\n"
            "assert not heavy, heavy\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
