"""Plug-ins: modules outside the engine that register generators, strategies, combination
methods, connectors or presets.

A plug-in is one module whose import registers its entries (``GENERATORS.register(...)``
and the like, see :mod:`engine.registry`). It is found two ways, both read at start-up by the
CLI, the app, the mining worker and a sweep's cells (each may run in a process of its own):

- the environment variable ``ALPHAFORGE_PLUGINS``: module names, comma-separated (a module
  on ``PYTHONPATH``; handy for one's own research code);
- the entry-point group ``alphaforge_ui.plugins`` of an installed package (``[project.
  entry-points."alphaforge_ui.plugins"] name = "package.module"`` in its pyproject).

A plug-in that fails to import stops the program with an error naming it, rather than a run
that silently lacks the method the user asked for.
"""

from __future__ import annotations

import importlib
import os
from importlib.metadata import entry_points

from engine.errors import ConfigError

ENV = "ALPHAFORGE_PLUGINS"
GROUP = "alphaforge_ui.plugins"


def plugin_modules() -> tuple[str, ...]:
    """The plug-in modules named by the environment and by installed packages, in that
    order, each once."""
    named = [m.strip() for m in os.environ.get(ENV, "").split(",") if m.strip()]
    named += [ep.value.split(":", 1)[0] for ep in entry_points(group=GROUP)]
    return tuple(dict.fromkeys(named))


def load_plugins() -> tuple[str, ...]:
    """Import every plug-in module (Python imports each once, so calling again is free)."""
    modules = plugin_modules()
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception as exc:  # noqa: BLE001 - any failure of a plug-in is reported as such
            raise ConfigError(f"plug-in '{name}' could not be loaded: {exc}",
                              code="plugin_failed",
                              params={"name": name, "error": str(exc)}) from exc
    return modules
