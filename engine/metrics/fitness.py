"""The fitness of candidate factors (ALPHAFORGE_SPEC §3): the one implementation.

The miner (:class:`engine.mining.scorer.TrainScorer`), ``alphaforge eval`` through
:func:`fitness`, and the benchmarks all score with :func:`daily_fitness`; the tests keep a
plain float64 re-computation (``tests/engine/metrics/fitness_reference.py``) to check it
against, for IC, RankIC and ICIR, on formulas whose values are huge, tiny, nearly constant or
mostly missing.

One fused pass per chunk of factors computes, per (factor, day), over the stocks where the
factor and the target are finite and inside the universe: the Pearson IC, and the factor
return ``ret_t`` = slope of the z-scored target on the z-scored factor, which is
``(std_x / std_y) * cov_xy / var_x`` with each side's std over its own finite values (as
``normalize_by_day`` z-scores) and the covariance over the jointly finite stocks.

Why it is exact enough for any float32 input (a mined formula can be ``close ** volume``, or
float32 rounding noise around 1.0, on a market whose prices reach 81,000):

- each (factor, day) row is first scaled by a power of two so that its largest |value| is in
  [1, 2): exact, and no square can overflow or underflow float32 for any spread above the
  constant threshold;
- means are float64 sums, rounded to float32 once; values minus that mean are then exact (or
  within one rounding of the value, Sterbenz), and the small offset of the rounded mean is
  removed exactly from the float64 sums of squares and products;
- products of centred values are float32 (relative error 6e-8 each) summed in float64, so a
  daily IC is within ~1e-7 of the float64 two-pass value, and always inside [-1, 1].

A day is *constant* for a side when its centred sum of squares is below
``n * (1e-10 * |mean|)^2`` (float64 rounding noise, as in :mod:`engine.metrics.factor`).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Literal

import torch

from engine.errors import ConfigError
from engine.metrics.factor import DEFAULT_MIN_STOCKS, _finite, daily_rank_ic, summarize

FitnessMetric = Literal["ic", "rank_ic", "icir", "rank_icir"]
FITNESS_METRICS: tuple[str, ...] = ("ic", "rank_ic", "icir", "rank_icir")

#: A day's centred sum of squares below n * (this * |mean|)^2 is rounding noise.
CONSTANT_RTOL = 1e-10
#: Own std at or below this is no dispersion (the z-score floor of
#: :func:`engine.expr.xsection.zscore`).
ZSCORE_EPS = 1e-12
#: Coverage and distinct-value shares of the gate (§3 step 6).
MIN_COVERAGE = 0.8
MIN_DISTINCT = 0.01
_RISK_FREE_DAILY = 0.03 / 252  # spec §3 step 4: the Sharpe of the factor return
# Cells per chunk of the fused pass: bounds the float32 buffers (~16 MB each).
_CHUNK_CELLS = 1 << 22
# A joint offset term above this share of its raw sum of squares is redone exactly.
_FAR = 0.5


def _clean(x: torch.Tensor) -> torch.Tensor:
    """Non-finite or negative -> 0 (spec §3 step 4)."""
    return torch.where(torch.isfinite(x) & (x > 0), x, 0.0)


def distinct_finite(rows: torch.Tensor) -> torch.Tensor:
    """Number of distinct finite values per row of ``[..., N]``."""
    s, _ = torch.sort(torch.where(_finite(rows), rows, torch.inf), dim=-1)
    change = torch.ones_like(s, dtype=torch.bool)
    change[..., 1:] = s[..., 1:] != s[..., :-1]
    return (change & _finite(s)).sum(-1)


@dataclass(frozen=True, eq=False)
class TargetSide:
    """The target of one scoring period, prepared once for any number of factors.

    ``values [T, N]`` float32: the target, NaN outside the universe or where missing;
    ``universe [T, N]`` bool; per day: ``count`` of finite values, own (population) ``std``
    (float64), ``ok`` (z-score defined), ``enough`` (``min_stocks`` values) and
    ``distinct`` values (the gate's reference); the target's own ``mean`` (float64) and
    ``columns [T, N, 3]`` float32: validity, the target centred on that mean (0 where
    missing) and its square, which one batched product sums against a factor's.
    """

    values: torch.Tensor
    valid: torch.Tensor
    universe: torch.Tensor
    count: torch.Tensor
    std: torch.Tensor
    ok: torch.Tensor
    enough: torch.Tensor
    distinct: torch.Tensor
    min_stocks: int
    mean: torch.Tensor
    columns: torch.Tensor

    @property
    def n_days(self) -> int:
        return int(self.values.shape[0])

    def days(self, a: int, b: int) -> TargetSide:
        """The side of days ``a .. b − 1`` (views, nothing recomputed: every field is per
        day or per cell)."""
        return dataclasses.replace(self, **{
            f.name: getattr(self, f.name)[a:b] for f in dataclasses.fields(self)
            if f.name != "min_stocks"})


def prepare_target(target: torch.Tensor, mask: torch.Tensor | None = None,
                   min_stocks: int = DEFAULT_MIN_STOCKS) -> TargetSide:
    """:class:`TargetSide` of a ``[T, N]`` target inside an optional ``[T, N]`` universe."""
    if target.dim() != 2:
        raise ConfigError(f"the fitness target must be [T days, N stocks], got "
                          f"{tuple(target.shape)}")
    universe = (torch.ones_like(target, dtype=torch.bool) if mask is None
                else mask.to(device=target.device, dtype=torch.bool).expand(target.shape))
    y = target.to(torch.float32)
    valid = _finite(y) & universe
    y = torch.where(valid, y, torch.nan)
    count = valid.sum(-1)
    yd = torch.where(valid, y, 0.0).to(torch.float64)
    mean = yd.sum(-1) / count.clamp(min=1)
    centred = torch.where(valid, yd - mean[:, None], 0.0)
    std = torch.sqrt((centred * centred).sum(-1) / count.clamp(min=1))
    c32 = centred.to(torch.float32)
    vf = valid.to(torch.float32)
    return TargetSide(values=y, valid=valid, universe=universe, count=count, std=std,
                      ok=(count >= 2) & (std > ZSCORE_EPS), enough=count >= min_stocks,
                      distinct=distinct_finite(y), min_stocks=min_stocks, mean=mean,
                      columns=torch.stack([vf, c32, c32 * c32], -1))


@dataclass(frozen=True, eq=False)
class DailyFitness:
    """Per-factor daily series of one scoring pass: ``ic`` and ``ret`` ``[K, T]`` float64
    (NaN where undefined) and the gate ``[K]`` bool."""

    ic: torch.Tensor
    ret: torch.Tensor
    gate: torch.Tensor


def daily_fitness(x: torch.Tensor, side: TargetSide, gate_day: int | None = None
                  ) -> DailyFitness:
    """Daily IC, ``ret_t`` and the gate of factors ``x [K, T, N]`` (the fused pass; ``x`` is
    not modified)."""
    if x.dim() != 3 or tuple(x.shape[1:]) != tuple(side.values.shape):
        raise ConfigError(f"factor values {tuple(x.shape)} do not match the target "
                          f"{tuple(side.values.shape)} (expected [K, T, N])")
    k, t, n = x.shape
    if k == 0:
        empty = torch.empty(0, t, dtype=torch.float64, device=x.device)
        return DailyFitness(empty, empty.clone(), torch.empty(0, dtype=torch.bool))
    per = max(1, min(k, _CHUNK_CELLS // max(t * n, 1)))
    work = _Workspace(per, t, n, x.device)
    parts = [_daily(x[s:s + per], side, gate_day, work) for s in range(0, k, per)]
    return DailyFitness(ic=torch.cat([p[0] for p in parts]),
                        ret=torch.cat([p[1] for p in parts]),
                        gate=torch.cat([p[2] for p in parts]))


class _Workspace:
    """Reused ``[per, T, N]`` float32 buffers of one :func:`daily_fitness` call: a fresh
    panel-sized allocation per operation costs more than the arithmetic (page faults)."""

    def __init__(self, per: int, t: int, n: int, device: torch.device) -> None:
        self.buffers = [torch.empty(per, t, n, device=device) for _ in range(4)]
        self.mask = torch.empty(per, t, n, dtype=torch.bool, device=device)

    def take(self, k: int) -> list[torch.Tensor]:
        return [b[:k] for b in self.buffers]


def _dots(a: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """``[K, T, J]`` float64: per (factor, day) the sums over stocks of ``a [K, T, N]`` times
    each of the day's ``J`` columns ``cols [T, N, J]``: one batched matrix product (float32
    products summed in float32, as a float32 ``sum`` would) instead of J products and sums."""
    return torch.bmm(a.transpose(0, 1), cols).transpose(0, 1).to(torch.float64)


def _daily(x: torch.Tensor, side: TargetSide, gate_day: int | None, work: _Workspace
           ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    c, c2, tmp, xvf = work.take(x.shape[0])
    # finite and in the universe, into reused buffers; counted as floats (exact below 2^24
    # stocks): fresh panel-sized temporaries and a bool sum cost more than the whole IC
    xv = torch.lt(torch.abs(x, out=tmp), torch.inf, out=work.mask[: x.shape[0]])
    xv &= side.universe
    xvf.copy_(xv)
    nxf = xvf.sum(-1)
    gate = _gate(x, xv, nxf.to(torch.int64), side, gate_day)
    c.copy_(x).nan_to_num_(nan=0.0, posinf=0.0, neginf=0.0).mul_(xvf)
    nx = nxf.to(torch.float64)
    nxc = nx.clamp(min=1)
    # exact power-of-two scaling: the row's largest |value| into [1, 2)
    top = torch.abs(c, out=tmp).amax(-1)
    exponent = torch.where(top > 0, torch.frexp(top).exponent - 1, 0).clamp(-120, 120)
    c.mul_(torch.pow(2.0, -exponent.to(torch.float32))[..., None])
    # centre on the float32-rounded own mean; the offset is removed from the float64 sums
    mean = c.sum(-1).to(torch.float64) / nxc
    c.sub_(mean.to(torch.float32)[..., None]).mul_(xvf)
    torch.mul(c, c, out=c2)
    s1, s2 = c.sum(-1).to(torch.float64), c2.sum(-1).to(torch.float64)
    sx = torch.sqrt((s2 - s1 * s1 / nxc).clamp(min=0.0) / nxc)  # own std (z-score scale)
    # joint sums over the stocks where the target is valid too (the target centred on its
    # own mean, 0 where missing)
    cols = side.columns  # [T, N, 3]: valid, centred, centred²
    cnt, sy_j, syy_j = _dots(xvf, cols).unbind(-1)
    cf = cnt.clamp(min=1)
    sx_j, sxy_j = _dots(c, cols[..., :2]).unbind(-1)
    sxx_j = _dots(c2, cols[..., :1])[..., 0]
    sxx = (sxx_j - sx_j * sx_j / cf).clamp(min=0.0)
    syy = (syy_j - sy_j * sy_j / cf).clamp(min=0.0)
    sxy = sxy_j - sx_j * sy_j / cf
    mx = mean + sx_j / cf  # joint means (scaled units), for the constant test
    my = side.mean + sy_j / cf
    # Where the joint mean sits far from the own one (a huge value outside the joint set),
    # the offset dominates the float32 sums: redo those (row, day) pairs exactly.
    enough = cnt >= side.min_stocks
    far = ((sx_j * sx_j / cf > _FAR * sxx_j) | (sy_j * sy_j / cf > _FAR * syy_j)) & enough
    if bool(far.any()):
        ri, di = far.nonzero(as_tuple=True)
        v = xv[ri, di] & side.valid[di]
        exact = _exact(c[ri, di], side.values[di], v)
        for out, value in zip((sxx, syy, sxy), exact, strict=True):
            out[ri, di] = value
    const_x = sxx <= cnt * (CONSTANT_RTOL * mx) ** 2
    const_y = syy <= cnt * (CONSTANT_RTOL * my) ** 2
    ic = torch.where(enough & ~const_x & ~const_y,
                     (sxy / torch.sqrt(sxx * syy)).clamp(-1.0, 1.0), torch.nan)
    sx_raw = sx * torch.pow(2.0, exponent.to(torch.float64))  # own std, original units
    z_ok = (nx >= 2) & (sx_raw > ZSCORE_EPS) & side.ok
    ret = torch.where(enough & ~const_x & z_ok, sx / side.std * sxy / sxx, torch.nan)
    return ic, ret, gate


def _exact(x: torch.Tensor, y: torch.Tensor, v: torch.Tensor
           ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Two-pass float64 centred sums sxx, syy, sxy over ``v`` of rows ``x, y [R, N]``."""
    n = v.sum(-1).clamp(min=1).to(torch.float64)
    xd = torch.where(v, x, 0.0).to(torch.float64)
    yd = torch.where(v, y, 0.0).to(torch.float64)
    xc = torch.where(v, xd - (xd.sum(-1) / n)[:, None], 0.0)
    yc = torch.where(v, yd - (yd.sum(-1) / n)[:, None], 0.0)
    return (xc * xc).sum(-1), (yc * yc).sum(-1), (xc * yc).sum(-1)


def _gate(x: torch.Tensor, xv: torch.Tensor, nx: torch.Tensor, side: TargetSide,
          day: int | None) -> torch.Tensor:
    """§3 step 6 [ours for ``day`` None]: on the first day where the target has
    ``min_stocks`` values and the factor has any (so a window's warm-up is not held against a
    formula; the reference hides it with 100 days of history), the factor needs 80% of the
    target's finite values and 1% of its distinct values. An int ``day`` uses that day."""
    k, t = nx.shape
    if day is None:
        usable = side.enough & (nx > 0)
        first = torch.where(usable.any(-1), usable.to(torch.int8).argmax(-1), 0)
    else:
        if not -t <= day < t:
            raise ConfigError(f"gate day {day} is outside the {t}-day panel")
        first = torch.full((k,), day % t, dtype=torch.long, device=x.device)
    rows = torch.arange(k, device=x.device)
    n_f = nx[rows, first]
    n_y = side.count[first]
    values = torch.where(xv[rows, first], x[rows, first], torch.nan)  # [k, N]
    ok = (n_y > 0) & (n_f >= MIN_COVERAGE * n_y)
    return ok & (distinct_finite(values) >= MIN_DISTINCT * side.distinct[first])


# --------------------------------------------------------------------------- summaries


@dataclass(frozen=True, eq=False)
class Fitness:
    """Scores of candidate factors (leading shape ``[K]``), spec §3.

    score: the chosen metric after the gate (0 where the gate fails, where the value is not
    finite or negative). ic_mean = |mean IC|, icir = ic_mean / std; rank_ic_mean / rank_icir
    the same for RankIC (None when the metric did not need ranks); ret_mean = |mean factor
    return| on z-scored sides, retir, sharpe = (ret_mean - 0.03/252) / std * sqrt(252); all
    cleaned (non-finite or negative -> 0). ``ic_series`` and ``ret_series`` ``[K, T]``: the
    daily series (``ret_series`` is what the diversity test correlates). passes_gate: §3
    step 6. usable: passes the gate and has a finite mean IC.
    """

    score: torch.Tensor
    ic_mean: torch.Tensor
    icir: torch.Tensor
    rank_ic_mean: torch.Tensor | None
    rank_icir: torch.Tensor | None
    ret_mean: torch.Tensor
    retir: torch.Tensor
    sharpe: torch.Tensor
    ic_series: torch.Tensor
    ret_series: torch.Tensor
    passes_gate: torch.Tensor
    usable: torch.Tensor


def summarize_fitness(x: torch.Tensor, side: TargetSide, daily: DailyFitness,
                      metric: str) -> Fitness:
    """:class:`Fitness` from a :func:`daily_fitness` pass (RankIC computed here when the
    metric needs it, by :func:`engine.metrics.factor.daily_rank_ic`)."""
    if metric not in FITNESS_METRICS:
        raise ConfigError(
            f"unknown fitness metric '{metric}'; choose one of {', '.join(FITNESS_METRICS)}")
    ic = summarize(daily.ic)
    ic_mean = ic.mean.abs()
    icir = ic_mean / ic.std
    rank_mean = rank_ir = None
    if metric in ("rank_ic", "rank_icir"):
        rank = summarize(daily_rank_ic(x, side.values, side.universe, side.min_stocks))
        rank_mean = _clean(rank.mean.abs())
        rank_ir = _clean(rank.mean.abs() / rank.std)
    ret = summarize(daily.ret)
    ret_mean = ret.mean.abs()
    sharpe = (ret_mean - _RISK_FREE_DAILY) / ret.std * math.sqrt(252)
    chosen = {"ic": ic_mean, "icir": icir, "rank_ic": rank_mean, "rank_icir": rank_ir}[metric]
    assert chosen is not None
    return Fitness(
        score=torch.where(daily.gate, _clean(chosen), 0.0),
        ic_mean=_clean(ic_mean), icir=_clean(icir),
        rank_ic_mean=rank_mean, rank_icir=rank_ir,
        ret_mean=_clean(ret_mean), retir=_clean(ret_mean / ret.std), sharpe=_clean(sharpe),
        ic_series=daily.ic, ret_series=daily.ret, passes_gate=daily.gate,
        usable=daily.gate & torch.isfinite(ic.mean),
    )


def fitness(factor: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None,
            metric: FitnessMetric = "ic", min_stocks: int = DEFAULT_MIN_STOCKS,
            gate_day: int | None = None) -> Fitness:
    """Spec §3 fitness of ``factor [T, N]`` or ``[K, T, N]`` against ``target [T, N]`` on the
    training slice (``mask``: the universe). The miner ranks by ``score``; the zoo's
    diversity test correlates ``ret_series``."""
    if metric not in FITNESS_METRICS:
        raise ConfigError(
            f"unknown fitness metric '{metric}'; choose one of {', '.join(FITNESS_METRICS)}")
    x = factor.unsqueeze(0) if factor.dim() == 2 else factor
    side = prepare_target(target, mask, min_stocks)
    fit = summarize_fitness(x, side, daily_fitness(x, side, gate_day), metric)
    if factor.dim() == 2:
        return Fitness(*(None if v is None else v[0] for v in _fields(fit)))
    return fit


def passes_gate(factor: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None,
                min_stocks: int = DEFAULT_MIN_STOCKS, day: int | None = None) -> torch.Tensor:
    """Spec §3 step 6 gate of ``factor [T, N]`` or ``[K, T, N]`` (see :func:`_gate`)."""
    x = factor.unsqueeze(0) if factor.dim() == 2 else factor
    side = prepare_target(target, mask, min_stocks)
    xv = _finite(x) & side.universe
    gate = _gate(x, xv, xv.sum(-1), side, day)
    return gate[0] if factor.dim() == 2 else gate


def _fields(fit: Fitness) -> list[torch.Tensor | None]:
    return [getattr(fit, f) for f in Fitness.__dataclass_fields__]
