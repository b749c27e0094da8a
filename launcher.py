"""Desktop entry point: starts the local AlphaForge server.

Until the Streamlit app lands this opens (creating if needed) the demo project and prints its
summary, so `make run` already shows something useful.
"""

from __future__ import annotations

import sys

from engine.cli import main

if __name__ == "__main__":
    sys.exit(main(["demo", "--if-missing", *sys.argv[1:]]))
