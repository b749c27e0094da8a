"""The factor zoo: admission rules (§4.4 steps 4-5) and factor sets saved in a project.

Admission: candidates with fitness > 0, best first, enter when ``ic > ic_thresh`` and
``icir >= icir_thresh`` and the |correlation| of their daily factor-return series with every
member (those already in the zoo and those admitted earlier in the same pass) is at most
``corr_thresh``. The zoo holds at most ``capacity`` members; when it is full a better candidate
replaces the weakest member if it passes the correlation test against the others [ours: the
reference lets the zoo overflow and stops]. :func:`refilter` re-applies the rule to the whole
zoo (every 5th round, §4.4 step 5).

A *factor set* is what the rest of the app reads: ``factors/<name>.json`` with each formula and
its train / valid / test metrics, plus where it came from.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from engine.errors import StoreError
from engine.metrics.factor import series_correlation
from engine.mining.config import MiningConfig
from engine.mining.scorer import FormulaStats
from engine.store import atomic
from engine.store.project import Project, validate_name
from engine.store.records import utc_now

FACTOR_SET_SCHEMA = 1


@dataclass(frozen=True)
class AdmissionRule:
    ic_thresh: float = 0.03
    icir_thresh: float = 0.1
    corr_thresh: float = 0.7
    capacity: int = 100

    @classmethod
    def from_config(cls, config: MiningConfig) -> AdmissionRule:
        return cls(config.ic_thresh, config.icir_thresh, config.corr_thresh, config.zoo_size)

    def qualifies(self, stats: FormulaStats) -> bool:
        """Full-scored (never screened), positive fitness, IC and ICIR above the bars."""
        return (not stats.screened and stats.score > 0 and stats.ic > self.ic_thresh
                and stats.icir >= self.icir_thresh)


@dataclass(frozen=True, eq=False)
class Member:
    """A zoo factor: canonical formula, training statistics, training ``ret_t`` series
    ``[T_train]`` float32, and the round it entered."""

    formula: str
    stats: FormulaStats
    series: torch.Tensor = field(repr=False)
    round: int = 0


def _max_abs_corr(series: torch.Tensor, others: Sequence[Member]) -> float:
    if not others:
        return 0.0
    corr = series_correlation(series[None], torch.stack([m.series for m in others])).abs()
    corr = torch.nan_to_num(corr, nan=0.0)  # undefined correlation = not correlated
    return float(corr.max())


def _order(members: Sequence[Member]) -> list[Member]:
    """Best first; ties broken by formula text so the order never depends on arrival."""
    return sorted(members, key=lambda m: (-m.stats.score, m.formula))


def admit(zoo: Sequence[Member], candidates: Sequence[Member],
          rule: AdmissionRule) -> tuple[list[Member], list[str], list[str]]:
    """New zoo, formulas admitted, formulas evicted (replaced as the weakest)."""
    members = list(zoo)
    present = {m.formula for m in members}
    admitted: list[str] = []
    evicted: list[str] = []
    for cand in _order([c for c in candidates if rule.qualifies(c.stats)]):
        if cand.formula in present:
            continue
        if len(members) < rule.capacity:
            if _max_abs_corr(cand.series, members) <= rule.corr_thresh:
                members.append(cand)
                present.add(cand.formula)
                admitted.append(cand.formula)
            continue
        weakest = min(members, key=lambda m: (m.stats.score, m.formula))
        if cand.stats.score <= weakest.stats.score:
            break  # candidates come best first: no later one beats the weakest either
        others = [m for m in members if m is not weakest]
        if _max_abs_corr(cand.series, others) <= rule.corr_thresh:
            members = [*others, cand]
            present.discard(weakest.formula)
            present.add(cand.formula)
            admitted.append(cand.formula)
            evicted.append(weakest.formula)
    return members, admitted, evicted


def refilter(zoo: Sequence[Member], rule: AdmissionRule) -> list[Member]:
    """The whole zoo passed through the admission rule again, best first."""
    kept: list[Member] = []
    for member in _order(zoo):
        if len(kept) >= rule.capacity:
            break
        if rule.qualifies(member.stats) and _max_abs_corr(member.series, kept) <= \
                rule.corr_thresh:
            kept.append(member)
    return kept


def max_pairwise_corr(zoo: Sequence[Member]) -> float:
    """Largest |correlation| between two members' factor-return series (0 for < 2)."""
    if len(zoo) < 2:
        return 0.0
    s = torch.stack([m.series for m in zoo])
    corr = torch.nan_to_num(series_correlation(s, s).abs(), nan=0.0)
    corr.fill_diagonal_(0.0)
    return float(corr.max())


# --------------------------------------------------------------------------- factor sets


@dataclass(frozen=True)
class Factor:
    """One formula of a factor set with its metrics per segment
    (``{"train": {"ic": ..., "rank_ic": ..., "icir": ..., "rank_icir": ...}, "valid": ...}``)
    and its mining fitness."""

    formula: str
    fitness: float = math.nan
    metrics: Mapping[str, Mapping[str, float]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"formula": self.formula, "fitness": _json_num(self.fitness),
                "metrics": {seg: {k: _json_num(v) for k, v in vals.items()}
                            for seg, vals in self.metrics.items()}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Factor:
        metrics = {seg: {k: (math.nan if v is None else v) for k, v in vals.items()}
                   for seg, vals in dict(data.get("metrics", {})).items()}
        fit = data.get("fitness")
        return cls(formula=str(data["formula"]), fitness=math.nan if fit is None else fit,
                   metrics=metrics)


@dataclass(frozen=True)
class FactorSet:
    """A named list of formulas (a mined zoo, the classic set, a user's picks)."""

    name: str
    factors: tuple[Factor, ...]
    source: Mapping[str, Any] = field(default_factory=dict)
    created: str = field(default_factory=utc_now)
    schema_version: int = FACTOR_SET_SCHEMA

    @property
    def formulas(self) -> list[str]:
        return [f.formula for f in self.factors]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "created": self.created, "source": dict(self.source),
                "schema_version": self.schema_version,
                "factors": [f.to_dict() for f in self.factors]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FactorSet:
        return cls(name=str(data["name"]), created=str(data.get("created", "")),
                   source=dict(data.get("source", {})),
                   schema_version=int(data.get("schema_version", FACTOR_SET_SCHEMA)),
                   factors=tuple(Factor.from_dict(f) for f in data.get("factors", [])))


def _json_num(v: Any) -> Any:
    return None if isinstance(v, float) and not math.isfinite(v) else v


def factor_set_path(project: Project, name: str) -> Path:
    folder = project.root / "factors"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{validate_name(name, 'factor set name')}.json"


def save_factor_set(project: Project, factor_set: FactorSet) -> Path:
    """Write ``factors/<name>.json`` atomically (replacing a set of the same name)."""
    path = factor_set_path(project, factor_set.name)
    atomic.write_json(path, factor_set.to_dict())
    return path


def load_factor_set(project: Project, name: str) -> FactorSet:
    path = factor_set_path(project, name)
    if not path.exists():
        names = ", ".join(factor_set_names(project)) or "(none)"
        raise StoreError(f"no factor set '{name}' in project '{project.info.name}'; "
                         f"available: {names}")
    data = atomic.read_json(path)
    if not isinstance(data, dict) or "factors" not in data:
        raise StoreError(f"{path}: not a factor set file")
    if int(data.get("schema_version", 0)) > FACTOR_SET_SCHEMA:
        raise StoreError(f"{path}: written by a newer AlphaForge; update the application")
    try:
        return FactorSet.from_dict(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise StoreError(f"{path}: damaged factor set ({exc})") from None


def factor_set_names(project: Project) -> list[str]:
    folder = project.root / "factors"
    if not folder.exists():
        return []
    return sorted(p.stem for p in folder.glob("*.json") if not p.name.startswith("."))

