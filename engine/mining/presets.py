"""Mining presets behind a registry: named sets of :class:`~engine.mining.config.MiningConfig`
field overrides.

``paper`` is the defaults (ALPHAFORGE_SPEC §4, §10); ``laptop`` is useful on a 2-core CPU in
minutes. ``alphaforge mine --preset``, the Mining page and config validation read
:data:`PRESETS`; a plug-in adds one with ``PRESETS.register(Preset(...))``. Light on purpose
(no torch), so ``alphaforge --help`` can list the choices.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from engine.registry import Registry

#: The laptop preset of ALPHAFORGE_SPEC §10 ([ours]): useful on a 2-core CPU in minutes.
LAPTOP: Mapping[str, Any] = MappingProxyType({
    "preset": "laptop",
    "batch_size": 64,
    "g_steps": 50,
    "g_patience": 20,
    "g_score_pair": False,
    "p_epochs": 30,
    "p_patience": 5,
    "p_cap": 5_000,
    "warmup": 2_000,
    "warmup_max_batches": 100,
    "new_per_round": 500,
    "new_max_batches": 40,
    "random_per_round": 250,
    "zoo_size": 20,
    "max_rounds": None,
    # a full zoo keeps improving (its weakest member replaced) until the budget is spent, so
    # every method gets the same budget and the ETA is the run's length
    "stop_when_full": False,
    "time_budget_s": 300.0,
    "gp_population": 500,
    "eval_cache_mb": 512,
})


@dataclass(frozen=True)
class Preset:
    """A named set of field overrides on top of the defaults (the paper's numbers)."""

    name: str
    label_key: str
    overrides: Mapping[str, Any]
    label: str = ""


#: The presets users pick from, in the order they are offered (laptop first: the default).
PRESETS: Registry[Preset] = Registry("preset", "preset", (
    Preset("laptop", "mining.preset_laptop", LAPTOP),
    Preset("paper", "mining.preset_paper", MappingProxyType({"preset": "paper"})),
))

#: The ``preset`` field of a run whose fields were set one by one (a sweep's overrides, a
#: config file): recorded, never offered as a choice.
CUSTOM_PRESET = "custom"
