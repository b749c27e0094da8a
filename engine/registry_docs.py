"""The registries' tables in docs/developer-guide.md, rendered from the registries.

The docs test compares the guide's ``REGISTRIES`` section with :func:`reference_markdown`, so
the lists a developer reads are the lists the engine has (as the operator table of
docs/formula-language.md is rendered from :mod:`engine.expr.ops`).
"""

from __future__ import annotations

from engine.combine.methods import COMBINE_METHODS
from engine.data.sources import CONNECTORS
from engine.device import DEVICES
from engine.mining.generators import GENERATORS
from engine.mining.presets import PRESETS
from engine.mining.strategies import STRATEGIES
from engine.registry import Ref


def _ref(ref: Ref) -> str:
    return f"`{ref}`" if isinstance(ref, str) else f"`{ref.__module__}:{ref.__qualname__}`"


def reference_markdown() -> str:
    """Every registry as a Markdown table, under a heading of its own."""
    sections = [
        ("Generators (`engine.mining.generators.GENERATORS`)", GENERATORS.markdown_table({
            "implementation": lambda e: _ref(e.build),
            "formula length": lambda e: str(e.seq_len) if e.seq_len else "any `max_len`"})),
        ("Mining strategies (`engine.mining.strategies.STRATEGIES`)",
         STRATEGIES.markdown_table({"implementation": lambda e: _ref(e.build)})),
        ("Presets (`engine.mining.presets.PRESETS`)", PRESETS.markdown_table({
            "fields set": lambda e: ", ".join(f"`{k}`" for k in e.overrides if k != "preset")
            or "— (the defaults)"})),
        ("Devices (`engine.device.DEVICES`)", DEVICES.markdown_table()),
        ("Combination methods (`engine.combine.methods.COMBINE_METHODS`)",
         COMBINE_METHODS.markdown_table({
             "implementation": lambda e: _ref(e.fit),
             "weights": lambda e: "re-fitted daily" if e.refit_daily else "fixed on training"})),
        ("Data sources (`engine.data.sources.CONNECTORS`)", CONNECTORS.markdown_table({
            "schemes": lambda e: ", ".join(f"`{s}:`" for s in e.schemes),
            "form inputs": lambda e: ", ".join(f"{f.kind} → `{f.target}`" for f in e.fields)
            or "—"})),
    ]
    return "\n\n".join(f"#### {title}\n{table}" for title, table in sections)
