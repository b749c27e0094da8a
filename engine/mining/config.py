"""Mining configuration: one frozen dataclass with the paper's numbers and a laptop preset.

Every number of ALPHAFORGE_SPEC §4 and §10 is a field, so a run record (``config.json``) says
exactly what was run and ``from_dict(to_dict(c)) == c``. ``MiningConfig()`` is the paper preset;
:func:`preset` gives ``paper`` or ``laptop`` with overrides. Dates are ISO strings; ranges are
inclusive. Checks that need the data (does a range hold any trading day?) happen in
:func:`engine.mining.split.resolve_split`; everything else is checked here, with messages
that name the field at fault.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any

from engine.device import DEVICES
from engine.errors import ConfigError
from engine.expr.builtin_sets import BUILTIN_SETS
from engine.expr.ops import PRESETS as OPERATOR_PRESETS
from engine.metrics.fitness import FITNESS_METRICS
from engine.mining.generators import GENERATORS
from engine.mining.presets import CUSTOM_PRESET, PRESETS
from engine.mining.strategies import check_miner, is_neural

SCHEMA_VERSION = 1


# The UI and CLI spell the fitness choices without underscores.
_FITNESS_ALIASES = {
    "ic": "ic", "rankic": "rank_ic", "rank_ic": "rank_ic", "icir": "icir",
    "rankicir": "rank_icir", "rank_icir": "rank_icir",
}


def normalise_fitness(name: str) -> str:
    """``RankIC`` / ``rankic`` / ``rank_ic`` -> ``rank_ic`` (the metrics module's spelling)."""
    key = str(name).strip().lower().replace("-", "_")
    if key not in _FITNESS_ALIASES:
        raise ConfigError(
            f"unknown fitness '{name}'; choose one of ic, rankic, icir, rankicir",
            code="config_unknown_choice",
            params={"field": "fitness", "value": str(name),
                    "choices": "ic, rankic, icir, rankicir"},
        )
    return _FITNESS_ALIASES[key]


@dataclass(frozen=True)
class DateRange:
    """Inclusive range of calendar dates, ISO strings (``2016-07-01``)."""

    start: str
    end: str

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            value = getattr(self, name)
            try:
                parsed = dt.date.fromisoformat(str(value))
            except ValueError:
                raise ConfigError(
                    f"date range {self.start}..{self.end}: {name} '{value}' is not an ISO "
                    "date like 2016-07-01", code="date_not_iso",
                    params={"range": f"{self.start}..{self.end}", "value": str(value)},
                ) from None
            object.__setattr__(self, name, parsed.isoformat())
        if self.start > self.end:
            raise ConfigError(
                f"date range {self.start}..{self.end} is empty: the start is after the end",
                code="date_range_empty", params={"range": f"{self.start}..{self.end}"},
            )

    @classmethod
    def parse(cls, text: str) -> DateRange:
        """``START:END`` or ``START..END`` (the CLI's spelling)."""
        sep = ".." if ".." in text else ":"
        parts = [p.strip() for p in str(text).split(sep)]
        if len(parts) != 2 or not all(parts):
            raise ConfigError(f"date range '{text}' must look like 2013-02-08:2016-06-30",
                              code="date_range_format", params={"text": str(text)})
        return cls(parts[0], parts[1])

    def overlaps(self, other: DateRange) -> bool:
        return self.start <= other.end and other.start <= self.end

    def __str__(self) -> str:
        return f"{self.start}..{self.end}"

    def to_list(self) -> list[str]:
        return [self.start, self.end]


def _range(value: Any, name: str) -> DateRange | None:
    if value is None or isinstance(value, DateRange):
        return value
    if isinstance(value, str):
        return DateRange.parse(value)
    if isinstance(value, list | tuple) and len(value) == 2:
        return DateRange(str(value[0]), str(value[1]))
    raise ConfigError(f"{name} must be a [start, end] pair of ISO dates, got {value!r}",
                      code="date_range_pair", params={"field": name, "got": repr(value)})


@dataclass(frozen=True)
class MiningConfig:
    """Everything a mining run depends on besides the data. Defaults = the paper (§10).

    Date ranges: ``train`` is scored for fitness; ``valid`` (and ``test``, optional) are only
    reported. None lets the run use :func:`engine.mining.split.suggest_split` (70/15/15 by
    time with an h+1-day gap). Budgets: the loop stops when the zoo is full
    (``stop_when_full``) or when any of ``max_rounds``, ``time_budget_s``,
    ``max_evaluations`` (distinct formulas scored, warm-up included) runs out.
    """

    preset: str = "paper"
    generator: str = "cnn"
    fitness: str = "ic"
    train: DateRange | None = None
    valid: DateRange | None = None
    test: DateRange | None = None
    seed: int = 0
    device: str = "auto"
    operators: str = "alphaforge"
    # target and scoring (§1, §3)
    horizon: int = 20
    target_price: str = "vwap"
    min_stocks: int = 10
    # networks (§4.1)
    max_len: int = 20
    noise_dim: int = 100
    batch_size: int = 256
    gumbel_tau: float = 1.0
    # generator training (§4.3)
    g_steps: int = 200
    g_patience: int = 10
    g_lr: float = 1e-3
    g_score_pair: bool = True  # score both samples of a step (spec §4.3), or the first only
    w_pred: float = 1.0
    w_overlap: float = 10.0
    w_latent: float = 10.0
    overlap_thresh: float = 0.4
    latent_thresh: float = 0.4
    # predictor training (§4.2)
    p_epochs: int = 100
    p_patience: int = 10
    p_batch: int = 64
    p_lr: float = 1e-3
    p_cap: int = 20_000
    p_current_weight: float = 2.0
    p_valid_share: float = 0.2
    # outer loop (§4.4)
    warmup: int = 10_000
    # [ours] mutations of each classic factor among the warm-up's first formulas (-1: no
    # classic seeds at all); warm-up formulas are admission candidates (§4.4: only the
    # predictor's data)
    warmup_seeds: int = 8
    # [ours] the built-in factor set the seeds come from (engine.expr.builtin_sets: classic,
    # alpha158); only its formulas that the vocabulary writes within max_len tokens are used
    warmup_seed_set: str = "classic"
    warmup_admit: bool = True
    warmup_max_batches: int = 200
    new_per_round: int = 1_000
    new_max_batches: int = 100
    random_per_round: int = 1_000
    zoo_size: int = 100
    ic_thresh: float = 0.03
    icir_thresh: float = 0.1
    corr_thresh: float = 0.7
    refilter_every: int = 5
    refilter_phase: int = 2
    stop_when_full: bool = True
    max_rounds: int | None = None
    time_budget_s: float | None = None
    # how a time budget is divided [ours] (Session.begin_phase): the warm-up may take
    # warmup_time_share of it; each round an equal share of the rest (over max_rounds, or
    # time_rounds rounds), of which its generator training g_time_share
    warmup_time_share: float = 0.2
    time_rounds: int = 3
    g_time_share: float = 0.75
    max_evaluations: int | None = None
    # baselines
    gp_population: int = 1_000
    gp_tournament: int = 7
    gp_crossover: float = 0.7
    gp_subtree_mutation: float = 0.15
    gp_point_mutation: float = 0.1
    # scoring stages [ours] (engine.mining.scorer): the screen evaluates every
    # round(1 / screen_share)-th stock (0 = off); formulas whose screened |IC| is below
    # screen_ratio * ic_thresh keep the screened statistics (never admitted)
    screen_share: float = 0.25
    screen_ratio: float = 0.5
    # engineering
    eval_batch: int = 32
    eval_cache_mb: int = 1024
    schema_version: int = field(default=SCHEMA_VERSION)

    def __post_init__(self) -> None:
        object.__setattr__(self, "fitness", normalise_fitness(self.fitness))
        object.__setattr__(self, "generator", str(self.generator).strip().lower())
        object.__setattr__(self, "device", str(self.device).strip().lower())
        for name in ("train", "valid", "test"):
            object.__setattr__(self, name, _range(getattr(self, name), name))
        self._check()

    # ------------------------------------------------------------------ checks
    def _check(self) -> None:
        def choice(name: str, what: str, value: str, choices: Sequence[str]) -> None:
            if value not in choices:
                raise ConfigError(f"unknown {what} '{value}'; choose one of {', '.join(choices)}",
                                  code="config_unknown_choice",
                                  params={"field": name, "value": value,
                                          "choices": ", ".join(choices)})

        check_miner(self.generator)
        DEVICES.check(self.device)
        if self.preset != CUSTOM_PRESET:
            PRESETS.check(self.preset)
        choice("operators", "operator set", self.operators, tuple(OPERATOR_PRESETS))
        choice("warmup_seed_set", "seed factor set", self.warmup_seed_set, tuple(BUILTIN_SETS))
        if self.target_price not in ("vwap", "close"):
            raise ConfigError(f"target_price must be 'vwap' or 'close', got "
                              f"'{self.target_price}'", code="config_unknown_choice",
                              params={"field": "target_price", "value": self.target_price,
                                      "choices": "vwap, close"})
        assert self.fitness in FITNESS_METRICS
        self._check_ranges()
        positive = ("horizon", "min_stocks", "max_len", "noise_dim", "batch_size", "g_steps",
                    "g_patience", "p_epochs", "p_patience", "p_batch", "p_cap",
                    "warmup_max_batches", "new_max_batches", "zoo_size", "refilter_every",
                    "time_rounds",
                    "gp_population", "gp_tournament", "eval_batch")
        for name in positive:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} must be a whole number >= 1, got {value!r}",
                                  code="config_whole_min",
                                  params={"field": name, "min": 1, "got": repr(value)})
        for name in ("warmup", "new_per_round", "random_per_round", "eval_cache_mb"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigError(f"{name} must be a whole number >= 0, got {value!r}",
                                  code="config_whole_min",
                                  params={"field": name, "min": 0, "got": repr(value)})
        if is_neural(self.generator) and self.new_per_round < 1:
            raise ConfigError("new_per_round must be >= 1 for a neural generator",
                              code="config_neural_new_per_round")
        if not 2 <= self.max_len <= 60:
            raise ConfigError(f"max_len must be in 2..60 tokens, got {self.max_len}",
                              code="config_max_len", params={"got": self.max_len})
        fixed = GENERATORS.get(self.generator).seq_len if is_neural(self.generator) else None
        if fixed is not None and self.max_len != fixed:
            others = ", ".join(g.name for g in GENERATORS.entries() if g.seq_len is None)
            raise ConfigError(f"the {self.generator} generator produces exactly {fixed} "
                              f"positions; max_len {self.max_len} needs one of {others}",
                              code="config_fixed_len",
                              params={"generator": self.generator, "len": fixed,
                                      "got": self.max_len, "others": others})
        for name in ("max_rounds", "max_evaluations"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                      or value < 1):
                raise ConfigError(f"{name} must be None or a whole number >= 1, got {value!r}",
                                  code="config_optional_whole",
                                  params={"field": name, "got": repr(value)})
        if self.time_budget_s is not None and not self.time_budget_s > 0:
            raise ConfigError(f"time_budget_s must be None or > 0 seconds, got "
                              f"{self.time_budget_s!r}", code="config_time_budget",
                              params={"got": repr(self.time_budget_s)})
        if not self.stop_when_full and self.max_rounds is None and self.time_budget_s is None \
                and self.max_evaluations is None:
            raise ConfigError("stop_when_full=False needs a budget: set max_rounds, "
                              "time_budget_s or max_evaluations", code="config_needs_budget")
        for name in ("ic_thresh", "icir_thresh"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0, got {getattr(self, name)}",
                                  code="config_non_negative",
                                  params={"field": name, "got": getattr(self, name)})
        for name in ("corr_thresh", "overlap_thresh", "latent_thresh"):
            if not 0 < getattr(self, name) <= 1:
                raise ConfigError(f"{name} must be in (0, 1], got {getattr(self, name)}",
                                  code="config_interval",
                                  params={"field": name, "interval": "(0, 1]",
                                          "got": getattr(self, name)})
        for name in ("warmup_time_share", "g_time_share"):
            if not 0 < getattr(self, name) <= 1:
                raise ConfigError(f"{name} must be in (0, 1], got {getattr(self, name)}",
                                  code="config_interval",
                                  params={"field": name, "interval": "(0, 1]",
                                          "got": getattr(self, name)})
        if not 0 <= self.screen_share < 1:
            raise ConfigError(f"screen_share must be in [0, 1), got {self.screen_share}",
                              code="config_interval",
                              params={"field": "screen_share", "interval": "[0, 1)",
                                      "got": self.screen_share})
        if not 0 <= self.screen_ratio <= 1:
            raise ConfigError(f"screen_ratio must be in [0, 1], got {self.screen_ratio}",
                              code="config_interval",
                              params={"field": "screen_ratio", "interval": "[0, 1]",
                                      "got": self.screen_ratio})
        if not 0 < self.p_valid_share < 1:
            raise ConfigError(f"p_valid_share must be in (0, 1), got {self.p_valid_share}",
                              code="config_interval",
                              params={"field": "p_valid_share", "interval": "(0, 1)",
                                      "got": self.p_valid_share})
        probs = (self.gp_crossover, self.gp_subtree_mutation, self.gp_point_mutation)
        if min(probs) < 0 or sum(probs) > 1 + 1e-9:
            raise ConfigError("gp_crossover, gp_subtree_mutation and gp_point_mutation must be "
                              f"non-negative with a sum of at most 1, got {probs}",
                              code="config_gp_probabilities", params={"got": str(probs)})
        for name in ("g_lr", "p_lr", "gumbel_tau", "p_current_weight"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name} must be > 0, got {getattr(self, name)}",
                                  code="config_positive",
                                  params={"field": name, "got": getattr(self, name)})
        if not 0 <= self.refilter_phase < self.refilter_every:
            raise ConfigError(f"refilter_phase must be in 0..refilter_every-1, got "
                              f"{self.refilter_phase}", code="config_refilter_phase",
                              params={"got": self.refilter_phase})
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ConfigError(f"seed must be a whole number >= 0, got {self.seed!r}",
                              code="config_whole_min",
                              params={"field": "seed", "min": 0, "got": repr(self.seed)})

    def _check_ranges(self) -> None:
        given = [(n, getattr(self, n)) for n in ("train", "valid", "test")]
        present = [(n, r) for n, r in given if r is not None]
        if self.train is None and (self.valid is not None or self.test is not None):
            raise ConfigError("set the train range too when giving valid/test ranges "
                              "(or leave all three empty for the suggested split)",
                              code="config_train_missing")
        if self.train is not None and self.valid is None:
            raise ConfigError(f"train range {self.train} needs a valid range as well",
                              code="config_valid_missing", params={"train": str(self.train)})
        for i, (a, ra) in enumerate(present):
            for b, rb in present[i + 1:]:
                if ra.overlaps(rb):
                    raise ConfigError(f"the {a} range {ra} overlaps the {b} range {rb}; "
                                      "segments must not share days",
                                      code="config_ranges_overlap",
                                      params={"a": {"term": a}, "range_a": str(ra),
                                              "b": {"term": b}, "range_b": str(rb)})
        if self.train is not None and self.valid is not None and self.valid.start < \
                self.train.start:
            raise ConfigError(f"the valid range {self.valid} must come after the train range "
                              f"{self.train}", code="config_ranges_order",
                              params={"later": {"term": "valid"}, "later_range": str(self.valid),
                                      "earlier": {"term": "train"},
                                      "earlier_range": str(self.train)})
        if self.test is not None and self.valid is not None and self.test.start < \
                self.valid.start:
            raise ConfigError(f"the test range {self.test} must come after the valid range "
                              f"{self.valid}", code="config_ranges_order",
                              params={"later": {"term": "test"}, "later_range": str(self.test),
                                      "earlier": {"term": "valid"},
                                      "earlier_range": str(self.valid)})

    # ------------------------------------------------------------------ derived
    @property
    def is_neural(self) -> bool:
        return is_neural(self.generator)

    def with_(self, **changes: Any) -> MiningConfig:
        """A copy with some fields changed (re-checked)."""
        return replace(self, **changes)

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        for name in ("train", "valid", "test"):
            value = getattr(self, name)
            data[name] = value.to_list() if value is not None else None
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MiningConfig:
        version = data.get("schema_version", SCHEMA_VERSION)
        if not isinstance(version, int) or version > SCHEMA_VERSION:
            raise ConfigError(f"mining config has schema_version {version}; this version "
                              f"reads up to {SCHEMA_VERSION}; update the application")
        known = {f.name for f in fields(cls)}
        unknown = sorted(k for k in data if k not in known)
        if unknown:
            raise ConfigError(f"mining config: unknown field(s) {', '.join(unknown)}")
        floats = {f.name for f in fields(cls) if f.type in ("float", "float | None")}
        kwargs = {k: (float(v) if k in floats and isinstance(v, int) and not isinstance(v, bool)
                      else v) for k, v in data.items()}
        return cls(**kwargs)


#: The laptop preset of ALPHAFORGE_SPEC §10 ([ours]): useful on a 2-core CPU in minutes.
def preset(name: str = "paper", **overrides: Any) -> MiningConfig:
    """The named preset (``paper`` = the defaults, ``laptop``, a plug-in's), with field
    overrides."""
    entry = PRESETS.get(str(name).strip().lower())
    return MiningConfig(**{"preset": entry.name, **entry.overrides, **overrides})
