"""Factor quality metrics: daily IC / RankIC / factor return, their summaries, decay,
autocorrelation and turnover (ALPHAFORGE_SPEC §5); the miner's fitness (§3) is
:mod:`engine.metrics.fitness`.

Every function is batched: a factor is ``[T, N]`` or a stack ``[..., T, N]`` (typically
``[K, T, N]``, K factors) and broadcasts against a ``[T, N]`` target and an optional ``[T, N]``
bool universe ``mask``. Inputs are float (NaN = missing); non-finite values (NaN, ±inf) are
treated as missing and are never replaced by 0 (the reference does that and biases every
statistic toward zero: ALPHAFORGE_SPEC §8 #3). On each day only the stocks where the factor
*and* the target are finite and inside the universe are used; days with fewer than
``min_stocks`` such stocks give NaN.

Pearson and Spearman correlations are invariant to a per-day affine map of either side, so the
per-day z-scoring of §1 changes nothing here and is skipped; the fitness applies it where it
does matter (the factor-return slope).

Per-day sums run in float64 on bounded chunks of rows, so a stack of 100 factors x 2,500 days x
600 stocks never materialises more than a few tens of MB of temporaries at once. Daily series
come back as float64 ``[..., T]``. Ranks are the average ranks of
:func:`engine.expr.xsection.rank_average` (the tests check it), computed with numpy's
vectorised argsort on CPU (about 4x torch's sort there); the target is sorted once per day
however many factors are scored against it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl
import torch

from engine.data.target import shift_back
from engine.errors import ConfigError
from engine.expr.xsection import rank_pct

DEFAULT_MIN_STOCKS = 10
# Elements per chunk of the per-day computation: bounds the float64 temporaries (~32 MB each).
_CHUNK_ELEMENTS = 1 << 22
# A day's centred sum of squares below n * (this * |mean|)^2 is rounding noise: constant values.
_CONSTANT_RTOL = 1e-10
# Skip (row, day) pairs with too few stocks when they are more than this share of a block.
_SKIP_SHARE = 0.1
# Above this share of rows whose valid set differs from the target's, redo every row (no
# boolean gathers) instead of only those.
_REDO_ALL_SHARE = 0.25



# --------------------------------------------------------------------------------------------
# Validity and the blocked per-day kernel
#
# Every daily statistic here is built from the same per-(row, day) sums over the jointly valid
# stocks: count, centred sums of squares of each side and the centred cross product. The
# target side is the same for every factor row, so it is centred (and ranked) once per block
# of days and reused for each (factor, day) whose valid set equals the target's (the common
# case); the other rows are recomputed on their own valid set (ranks from the target's known
# sort order, without sorting again).


def _finite(x: torch.Tensor) -> torch.Tensor:
    """``isfinite`` in two passes instead of torch's four (NaN and inf both fail ``< inf``)."""
    return x.abs() < torch.inf


def joint_valid(
    factor: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """``[..., T, N]`` bool: factor and target finite (and inside ``mask``), broadcast."""
    valid = _finite(factor) & _finite(target)
    if mask is not None:
        valid = valid & mask.to(torch.bool)
    return valid


def _check_shapes(x: torch.Tensor, y: torch.Tensor, mask: torch.Tensor | None) -> torch.Size:
    shapes = [x.shape, y.shape] + ([mask.shape] if mask is not None else [])
    try:
        shape = torch.broadcast_shapes(*shapes)
    except RuntimeError as err:
        raise ConfigError(
            "factor, target and mask shapes do not broadcast: "
            + " vs ".join(str(tuple(s)) for s in shapes)
        ) from err
    if len(shape) < 2:
        raise ConfigError(
            f"factor metrics need [..., T days, N stocks] tensors, got {tuple(shape)}"
        )
    return shape


@dataclass(frozen=True, eq=False)
class _Ranked:
    """Average ranks over the valid cells (float32 ``[..., N]``, unspecified elsewhere), the
    sort order that produced them (int64 ``[..., N]``; invalid cells last) and whether each
    row has ties among its valid values (``[...]``)."""

    ranks: torch.Tensor
    order: torch.Tensor
    tied: torch.Tensor


def _ranks(x: torch.Tensor, valid: torch.Tensor) -> _Ranked:
    """Same ranks as :func:`engine.expr.xsection.rank_average` on ``where(valid, x, nan)``,
    ~3x faster on CPU: numpy's vectorised argsort (about 4x torch's there) and a scatter of
    positions; only rows that actually contain ties take the tie-averaging path, which reuses
    the sort."""
    n = x.shape[-1]
    key = torch.where(valid, x, torch.inf).reshape(-1, n)
    if key.device.type == "cpu":
        order = torch.from_numpy(np.argsort(key.numpy(), axis=-1))
    else:
        order = torch.argsort(key, dim=-1)
    sorted_key = key.gather(-1, order)
    # Equal neighbours are ties; the inf padding of invalid cells gives inf - inf = NaN, not 0.
    tied = (torch.diff(sorted_key, dim=-1) == 0).any(-1)
    positions = torch.arange(1, n + 1, dtype=torch.float32, device=x.device).expand(key.shape)
    ranks = torch.empty(key.shape, dtype=torch.float32, device=x.device)
    ranks.scatter_(-1, order, positions)
    if bool(tied.any()):
        ranks[tied] = _tie_average(sorted_key[tied], order[tied])
    lead = x.shape[:-1]
    return _Ranked(ranks.reshape(x.shape), order.reshape(x.shape), tied.reshape(lead))


def _tie_average(sorted_key: torch.Tensor, order: torch.Tensor) -> torch.Tensor:
    """Average ranks ``[R, N]`` (original order) of rows already sorted (``sorted_key``
    ascending, ``order`` the permutation): each run of equal keys gets the mean of its
    1-based positions, as in :func:`engine.expr.xsection.rank_average`."""
    n = sorted_key.shape[-1]
    pos = torch.arange(n, device=order.device).expand(order.shape)
    new_run = torch.ones_like(sorted_key, dtype=torch.bool)
    new_run[:, 1:] = sorted_key[:, 1:] != sorted_key[:, :-1]
    first = torch.cummax(torch.where(new_run, pos, 0), dim=-1).values
    run_end = torch.ones_like(new_run)
    run_end[:, :-1] = new_run[:, 1:]
    last = torch.cummin(torch.where(run_end, pos, n).flip(-1), dim=-1).values.flip(-1)
    average = (first + last).to(torch.float32) / 2.0 + 1.0
    return torch.empty_like(average).scatter_(-1, order, average)


def _subset_ranks(
    y: torch.Tensor, order: torch.Tensor, tied: torch.Tensor, valid: torch.Tensor
) -> torch.Tensor:
    """Ranks of ``y`` over ``valid``, a subset of the cells that gave the sort ``order``,
    without sorting again: on a row without ties the rank of a cell is the number of valid
    cells at or before it in that order. Rows with ``tied`` values are re-ranked."""
    running = valid.gather(-1, order).to(torch.float32).cumsum(-1)  # exact below 2^24
    ranks = torch.empty_like(running).scatter_(-1, order, running)
    if bool(tied.any()):
        ranks[tied] = _ranks(y[tied], valid[tied]).ranks
    return ranks


@dataclass(frozen=True, eq=False)
class _Centred:
    """One side of a daily correlation: values (or ranks) minus their mean over the valid
    stocks, 0 elsewhere ``[..., N]``; the float64 sum of squares ``[...]``; and whether the
    side is constant on that day."""

    values: torch.Tensor
    squares: torch.Tensor
    constant: torch.Tensor


def _centre_ranks(
    ranks: torch.Tensor, tied: torch.Tensor, valid: torch.Tensor, count: torch.Tensor
) -> _Centred:
    # Centred ranks are multiples of 1/2: float32 products are exact, float64 sums too,
    # so the Spearman coefficient is exact up to the final division. ``ranks`` is consumed
    # (centred in place: no new [rows, N] buffer).
    mid = ((count.to(torch.float32) + 1.0) / 2.0).unsqueeze(-1)
    centred = ranks.sub_(mid).mul_(valid)
    n = count.to(torch.float64)
    squares = n * (n * n - 1.0) / 12.0  # no ties: sum of (i - (n+1)/2)^2, i = 1..n
    if bool(tied.any()):
        squares[tied] = (centred[tied] * centred[tied]).sum(-1, dtype=torch.float64)
    return _Centred(centred, squares, squares <= 0)


def _centre_values(x: torch.Tensor, valid: torch.Tensor, count: torch.Tensor) -> _Centred:
    xd = torch.where(valid, x, 0.0).to(torch.float64)
    mean = xd.sum(-1, keepdim=True) / count.clamp(min=1).unsqueeze(-1)
    centred = torch.where(valid, xd - mean, 0.0)
    squares = (centred * centred).sum(-1)
    # Centring leaves ~eps * |mean| of noise per value: below that the day is constant.
    constant = squares <= count * (_CONSTANT_RTOL * mean.squeeze(-1)) ** 2
    return _Centred(centred, squares, constant)


def _centre(x: torch.Tensor, valid: torch.Tensor, count: torch.Tensor, ranks: bool) -> _Centred:
    if ranks:
        r = _ranks(x, valid)
        return _centre_ranks(r.ranks, r.tied, valid, count)
    return _centre_values(x, valid, count)


@dataclass(frozen=True, eq=False)
class _Side:
    """The target side of one block of days: ``values`` and ``valid`` ``[1 or rows, days, N]``
    and, when shared by every factor row (leading size 1), its :class:`_Centred` form over
    ``valid`` and, for ranks, its sort order."""

    values: torch.Tensor
    valid: torch.Tensor
    centred: _Centred | None
    ranked: _Ranked | None


def _prepare(y: torch.Tensor, mask: torch.Tensor | None, ranks: bool) -> _Side:
    valid = _finite(y)
    if mask is not None:
        valid = valid & mask
    if y.shape[0] != 1:
        return _Side(values=y, valid=valid, centred=None, ranked=None)
    count = valid.sum(-1)
    if not ranks:
        return _Side(y, valid, _centre_values(y, valid, count), None)
    ranked = _ranks(y, valid)
    return _Side(y, valid, _centre_ranks(ranked.ranks, ranked.tied, valid, count), ranked)


@dataclass(frozen=True, eq=False)
class _Moments:
    """Per (row, day) sums over the jointly valid stocks, float64 ``[rows, days]``."""

    count: torch.Tensor
    sxx: torch.Tensor
    syy: torch.Tensor
    sxy: torch.Tensor
    constant_x: torch.Tensor
    constant_y: torch.Tensor


def _moments(x: torch.Tensor, side: _Side, min_stocks: int, ranks: bool) -> _Moments:
    """Sums for a block ``x [rows, days, N]``. When many (row, day) pairs have fewer than
    ``min_stocks`` valid stocks (random formulas are often NaN on whole days), only the others
    are computed; the skipped ones come back flagged constant, i.e. NaN."""
    valid = _finite(x) & side.valid
    count = valid.sum(-1)
    enough = count >= min_stocks
    lead = count.shape
    if float(enough.float().mean()) >= 1.0 - _SKIP_SHARE:
        return _row_moments(x, valid, count, side, None, ranks)
    zeros = torch.zeros(lead, dtype=torch.float64, device=x.device)
    out = _Moments(count, zeros, zeros.clone(), zeros.clone(), ~enough, ~enough)
    if not bool(enough.any()):
        return out
    ri, di = enough.nonzero(as_tuple=True)
    sub_side = _Side(
        values=side.values[ri if side.values.shape[0] > 1 else 0, di],
        valid=side.valid[ri if side.valid.shape[0] > 1 else 0, di],
        centred=side.centred,
        ranked=side.ranked,
    )
    m = _row_moments(x[ri, di], valid[ri, di], count[ri, di], sub_side, di, ranks)
    for name in ("sxx", "syy", "sxy", "constant_x", "constant_y"):
        getattr(out, name)[ri, di] = getattr(m, name)
    return out


def _take(t: torch.Tensor, days: torch.Tensor | None, lead: torch.Size) -> torch.Tensor:
    """A shared ``[1, days, ...]`` tensor for the rows at hand: broadcast to ``lead`` (whole
    block) or gathered by each row's day (selected rows)."""
    return t.expand(*lead, *t.shape[2:]) if days is None else t[0, days]


def _row_moments(
    x: torch.Tensor,
    valid: torch.Tensor,
    count: torch.Tensor,
    side: _Side,
    days: torch.Tensor | None,
    ranks: bool,
) -> _Moments:
    """Sums over rows ``x [..., N]``; ``days`` maps each row to its day in the shared side
    (None: ``x`` is the whole ``[rows, days, N]`` block)."""
    lead = count.shape
    y = side.values.expand(x.shape)
    if ranks:
        rx = _ranks(x, valid)
        cx = _centre_ranks(rx.ranks, rx.tied, valid, count)
    else:
        cx = _centre_values(x, valid, count)
    shared = side.centred
    redo = None if shared is None else (valid != side.valid.expand(x.shape)).any(-1)
    if shared is None or float(redo.float().mean()) > _REDO_ALL_SHARE:
        # Each row on its own valid set (for ranks, from the target's sort order: no sort).
        if not ranks:
            cy = _centre_values(y, valid, count)
        elif side.ranked is None:
            cy = _centre(y, valid, count, ranks=True)
        else:
            order = _take(side.ranked.order, days, lead)
            tied = _take(side.ranked.tied, days, lead)
            cy = _centre_ranks(_subset_ranks(y, order, tied, valid), tied, valid, count)
        sxy = (cx.values * cy.values).sum(-1, dtype=torch.float64)
        return _Moments(count, cx.squares, cy.squares, sxy, cx.constant, cy.constant)
    # Rows whose valid set is the target's reuse its centred form (Σ cy = 0 there, so the
    # cross product needs no further centring); the few others are redone on their own set.
    sxy = (cx.values * _take(shared.values, days, lead)).sum(-1, dtype=torch.float64)
    syy = _take(shared.squares, days, lead).clone()
    constant_y = _take(shared.constant, days, lead).clone()
    if bool(redo.any()):
        vr, nr = valid[redo], count[redo]
        if ranks:
            assert side.ranked is not None
            order = _take(side.ranked.order, days, lead)[redo]
            tied = _take(side.ranked.tied, days, lead)[redo]
            cy = _centre_ranks(_subset_ranks(y[redo], order, tied, vr), tied, vr, nr)
        else:
            cy = _centre_values(y[redo], vr, nr)
        sxy[redo] = (cx.values[redo] * cy.values).sum(-1, dtype=torch.float64)
        syy[redo] = cy.squares
        constant_y[redo] = cy.constant
    return _Moments(count, cx.squares, syy, sxy, cx.constant, constant_y)


def _correlation(m: _Moments, min_stocks: int) -> torch.Tensor:
    r = m.sxy / torch.sqrt(m.sxx * m.syy)
    ok = (m.count >= min_stocks) & ~m.constant_x & ~m.constant_y
    return torch.where(ok, r.clamp(-1.0, 1.0), torch.nan)


def _pearson(x: torch.Tensor, side: _Side, min_stocks: int) -> torch.Tensor:
    return _correlation(_moments(x, side, min_stocks, ranks=False), min_stocks)


def _spearman(x: torch.Tensor, side: _Side, min_stocks: int) -> torch.Tensor:
    return _correlation(_moments(x, side, min_stocks, ranks=True), min_stocks)


def _slope(x: torch.Tensor, side: _Side, min_stocks: int) -> torch.Tensor:
    m = _moments(x, side, min_stocks, ranks=False)
    return torch.where((m.count >= min_stocks) & ~m.constant_x, m.sxy / m.sxx, torch.nan)


def _blocks(rows: int, t: int, n: int) -> tuple[int, int]:
    """(rows, days) per block: at most ~``_CHUNK_ELEMENTS`` cells, and many rows per block of
    days so that the shared target side is prepared once per block of days."""
    days = max(1, min(t, _CHUNK_ELEMENTS // max(n * min(rows, 32), 1)))
    return max(1, _CHUNK_ELEMENTS // max(days * n, 1)), days


def _per_day(
    kernel: Callable[[torch.Tensor, _Side, int], torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor,
    mask: torch.Tensor | None,
    min_stocks: int,
    ranks: bool,
) -> torch.Tensor:
    """Run ``kernel(x [rows, days, N], side, min_stocks) -> [rows, days]`` block by block and
    return ``[..., T]`` float64. A target (and mask) without leading dims, the usual
    ``[T, N]``, is shared by every factor row and prepared once per block of days."""
    shape = _check_shapes(x, y, mask)
    lead, (t, n) = shape[:-2], shape[-2:]
    xs = x.expand(shape).reshape(-1, t, n)
    shared = all(d == 1 for d in y.shape[:-2]) and (
        mask is None or all(d == 1 for d in mask.shape[:-2])
    )
    if shared:
        ys = y.reshape(y.shape[-2:]).expand(t, n).unsqueeze(0)
        ms = None if mask is None else mask.to(torch.bool).reshape(mask.shape[-2:])
        ms = None if ms is None else ms.expand(t, n).unsqueeze(0)
    else:
        ys = y.expand(shape).reshape(-1, t, n)
        ms = None if mask is None else mask.to(torch.bool).expand(shape).reshape(-1, t, n)
    rows = xs.shape[0]
    out = torch.empty(rows, t, dtype=torch.float64, device=xs.device)
    rows_per, days_per = _blocks(rows, t, n)
    for t0 in range(0, t, days_per):
        ts = slice(t0, t0 + days_per)
        if shared:
            side = _prepare(ys[:, ts], None if ms is None else ms[:, ts], ranks)
        for r0 in range(0, rows, rows_per):
            rs = slice(r0, r0 + rows_per)
            if not shared:
                side = _prepare(ys[rs, ts], None if ms is None else ms[rs, ts], ranks)
            out[rs, ts] = kernel(xs[rs, ts], side, min_stocks)
    return out.reshape(*lead, t)


# --------------------------------------------------------------------------------------------
# Daily series


def daily_ic(
    factor: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor | None = None,
    min_stocks: int = DEFAULT_MIN_STOCKS,
) -> torch.Tensor:
    """Daily Pearson IC, ``[..., T]`` float64 (NaN on days with too few valid stocks or a
    constant side). ``factor [..., T, N]``, ``target [T, N]``, ``mask [T, N]`` bool."""
    return _per_day(_pearson, factor, target, mask, min_stocks, ranks=False)


def daily_rank_ic(
    factor: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor | None = None,
    min_stocks: int = DEFAULT_MIN_STOCKS,
) -> torch.Tensor:
    """Daily Spearman RankIC (Pearson of average ranks over the day's jointly valid stocks),
    ``[..., T]`` float64."""
    return _per_day(_spearman, factor, target, mask, min_stocks, ranks=True)


def daily_factor_return(
    factor: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor | None = None,
    min_stocks: int = DEFAULT_MIN_STOCKS,
) -> torch.Tensor:
    """Daily slope of the cross-sectional regression of target on factor (cov / var of the
    factor over the jointly valid stocks), ``[..., T]`` float64, in target units per factor
    unit. Z-score both sides first (as :mod:`engine.metrics.fitness` does) to get the spec
    §3 ``ret_t``."""
    return _per_day(_slope, factor, target, mask, min_stocks, ranks=False)


# --------------------------------------------------------------------------------------------
# Summaries


@dataclass(frozen=True, eq=False)
class ICStats:
    """Summary of daily series over their finite days; every field is a float64 tensor of the
    series' leading shape ``[...]`` (0-d for a single series; ``float(stats.mean)`` works).

    mean, std (sample, ddof=1), ir = mean / std, t_stat = ir * sqrt(n_days),
    hit_rate = share of finite days with a value > 0, n_days = number of finite days (int64).
    """

    mean: torch.Tensor
    std: torch.Tensor
    ir: torch.Tensor
    t_stat: torch.Tensor
    hit_rate: torch.Tensor
    n_days: torch.Tensor

    def __getitem__(self, index: int | slice | torch.Tensor) -> ICStats:
        """The statistics of some series (indexing the leading shape)."""
        return ICStats(
            mean=self.mean[index],
            std=self.std[index],
            ir=self.ir[index],
            t_stat=self.t_stat[index],
            hit_rate=self.hit_rate[index],
            n_days=self.n_days[index],
        )

    def to_dict(self) -> dict[str, float]:
        """Plain floats of a single series (0-d fields), for records and display."""
        if self.mean.dim() != 0:
            raise ConfigError(f"to_dict needs one series; these stats have shape "
                              f"{tuple(self.mean.shape)} (index them first)")
        return {
            "mean": float(self.mean),
            "std": float(self.std),
            "ir": float(self.ir),
            "t_stat": float(self.t_stat),
            "hit_rate": float(self.hit_rate),
            "n_days": int(self.n_days),
        }


def summarize(series: torch.Tensor) -> ICStats:
    """:class:`ICStats` of daily series ``[..., T]`` (NaN days are skipped, not zeroed)."""
    s = series.to(torch.float64)
    finite = torch.isfinite(s)
    n = finite.sum(-1)
    nf = n.to(torch.float64)
    filled = torch.where(finite, s, 0.0)
    mean = torch.where(n > 0, filled.sum(-1) / nf.clamp(min=1), torch.nan)
    centred = torch.where(finite, s - mean.unsqueeze(-1), 0.0)
    var = (centred * centred).sum(-1) / (nf - 1).clamp(min=1)
    std = torch.where(n > 1, var.sqrt(), torch.nan)
    ir = torch.where(std > 0, mean / std, torch.nan)
    hits = (finite & (s > 0)).sum(-1).to(torch.float64)
    return ICStats(
        mean=mean,
        std=std,
        ir=ir,
        t_stat=ir * nf.sqrt(),
        hit_rate=torch.where(n > 0, hits / nf.clamp(min=1), torch.nan),
        n_days=n,
    )


def coverage(factor: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Share of (day, stock) cells inside the universe where the factor is finite,
    ``[...]`` float64 (all cells count when ``mask`` is None)."""
    finite = torch.isfinite(factor)
    if mask is None:
        return finite.sum((-2, -1)).to(torch.float64) / max(factor.shape[-2] * factor.shape[-1], 1)
    m = mask.to(torch.bool)
    inside = (finite & m).sum((-2, -1)).to(torch.float64)
    return inside / max(int(m.sum()), 1)


@dataclass(frozen=True, eq=False)
class FactorReport:
    """Per-factor quality of a stack of factors (leading shape ``[...]``, usually ``[K]``).

    ic, rank_ic: :class:`ICStats` of the daily IC / RankIC series (ICIR = ``ic.ir``,
    RankICIR = ``rank_ic.ir``, t-stats, hit rates); coverage ``[...]``; the daily series
    themselves ``[..., T]`` float64.
    """

    ic: ICStats
    rank_ic: ICStats
    coverage: torch.Tensor
    ic_series: torch.Tensor
    rank_ic_series: torch.Tensor

    def table(self, names: Sequence[str] | None = None) -> pl.DataFrame:
        """One row per factor (leading shape flattened), for display and export."""
        k = int(self.coverage.numel())
        labels = list(names) if names is not None else [f"factor_{i}" for i in range(k)]
        if len(labels) != k:
            raise ConfigError(f"got {len(labels)} names for {k} factors")

        def col(t: torch.Tensor) -> list[float]:
            return t.reshape(-1).tolist()

        return pl.DataFrame(
            {
                "factor": labels,
                "ic": col(self.ic.mean),
                "ic_std": col(self.ic.std),
                "icir": col(self.ic.ir),
                "ic_t": col(self.ic.t_stat),
                "ic_hit_rate": col(self.ic.hit_rate),
                "rank_ic": col(self.rank_ic.mean),
                "rank_ic_std": col(self.rank_ic.std),
                "rank_icir": col(self.rank_ic.ir),
                "rank_ic_t": col(self.rank_ic.t_stat),
                "rank_ic_hit_rate": col(self.rank_ic.hit_rate),
                "n_days": col(self.rank_ic.n_days),
                "coverage": col(self.coverage),
            }
        )


def evaluate_factors(
    factors: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor | None = None,
    min_stocks: int = DEFAULT_MIN_STOCKS,
) -> FactorReport:
    """IC, RankIC and coverage of ``factors [..., T, N]`` against ``target [T, N]``."""
    ic_series = daily_ic(factors, target, mask, min_stocks)
    rank_series = daily_rank_ic(factors, target, mask, min_stocks)
    return FactorReport(
        ic=summarize(ic_series),
        rank_ic=summarize(rank_series),
        coverage=coverage(factors, mask),
        ic_series=ic_series,
        rank_ic_series=rank_series,
    )


# --------------------------------------------------------------------------------------------
# Decay, autocorrelation, turnover


def forward_returns(price: torch.Tensor, horizon: int) -> torch.Tensor:
    """``[T, N]`` float64 ``p[t + h + 1] / p[t + 1] - 1`` (the target definition of
    :func:`engine.data.target.forward_return`, on a bare price tensor)."""
    if horizon < 1:
        raise ConfigError(f"horizon must be at least 1 day, got {horizon}")
    p = price.to(torch.float64)
    return shift_back(p, horizon + 1) / shift_back(p, 1) - 1.0


def ic_decay(
    factor: torch.Tensor,
    price: torch.Tensor,
    horizons: Sequence[int] = tuple(range(1, 21)),
    mask: torch.Tensor | None = None,
    min_stocks: int = DEFAULT_MIN_STOCKS,
    rank: bool = True,
) -> torch.Tensor:
    """Mean daily (Rank)IC against the forward return at each horizon, ``[..., H]`` float64.

    How fast the signal fades tells how often a strategy on it must rebalance.
    """
    if len(horizons) == 0:
        raise ConfigError("ic_decay needs at least one horizon")
    daily = daily_rank_ic if rank else daily_ic
    means = [
        summarize(daily(factor, forward_returns(price, h), mask, min_stocks)).mean
        for h in horizons
    ]
    return torch.stack(means, dim=-1)


def _lagged_mask(mask: torch.Tensor | None, lag: int) -> torch.Tensor | None:
    if mask is None:
        return None
    m = mask.to(torch.bool)
    return m[lag:] & m[:-lag]


def daily_autocorrelation(
    factor: torch.Tensor,
    lag: int = 1,
    mask: torch.Tensor | None = None,
    min_stocks: int = DEFAULT_MIN_STOCKS,
) -> torch.Tensor:
    """Per-day cross-sectional rank correlation of the factor at t with itself at t - lag,
    ``[..., T]`` float64 (NaN for the first ``lag`` days). High = a slow, cheap-to-trade signal."""
    if lag < 1:
        raise ConfigError(f"autocorrelation lag must be at least 1 day, got {lag}")
    t = factor.shape[-2]
    lead = factor.shape[:-2]
    out = torch.full((*lead, t), torch.nan, dtype=torch.float64, device=factor.device)
    if lag < t:
        out[..., lag:] = daily_rank_ic(
            factor[..., lag:, :], factor[..., :-lag, :], _lagged_mask(mask, lag), min_stocks
        )
    return out


def autocorrelation(
    factor: torch.Tensor,
    lag: int = 1,
    mask: torch.Tensor | None = None,
    min_stocks: int = DEFAULT_MIN_STOCKS,
) -> torch.Tensor:
    """Mean over days of :func:`daily_autocorrelation`, ``[...]`` float64."""
    return summarize(daily_autocorrelation(factor, lag, mask, min_stocks)).mean


def daily_turnover(
    factor: torch.Tensor,
    quantile: float = 0.2,
    mask: torch.Tensor | None = None,
    min_stocks: int = DEFAULT_MIN_STOCKS,
) -> torch.Tensor:
    """Share of the names in the top ``quantile`` of the factor on day t that were not in it on
    day t - 1, ``[..., T]`` float64 (NaN on day 0 and on days with < ``min_stocks`` valid names).

    Top quantile = percentile rank above ``1 - quantile`` among the day's valid names (the top
    quintile of alphalens for 0.2).
    """
    if not 0.0 < quantile < 1.0:
        raise ConfigError(f"turnover quantile must be in (0, 1), got {quantile}")
    valid = torch.isfinite(factor)
    if mask is not None:
        valid = valid & mask.to(torch.bool)
    pct = rank_pct(torch.where(valid, factor, torch.nan))
    top = valid & (pct > 1.0 - quantile)
    new = top[..., 1:, :] & ~top[..., :-1, :]
    n_top = top[..., 1:, :].sum(-1)
    enough = (valid[..., 1:, :].sum(-1) >= min_stocks) & (n_top > 0)
    share = new.sum(-1).to(torch.float64) / n_top.clamp(min=1).to(torch.float64)
    out = torch.full((*factor.shape[:-2], factor.shape[-2]), torch.nan, dtype=torch.float64,
                     device=factor.device)
    out[..., 1:] = torch.where(enough, share, torch.nan)
    return out


def turnover(
    factor: torch.Tensor,
    quantile: float = 0.2,
    mask: torch.Tensor | None = None,
    min_stocks: int = DEFAULT_MIN_STOCKS,
) -> torch.Tensor:
    """Mean over days of :func:`daily_turnover`, ``[...]`` float64."""
    return summarize(daily_turnover(factor, quantile, mask, min_stocks)).mean


# --------------------------------------------------------------------------------------------
# Diversity of factor-return series (spec §3 step 7; the fitness is in engine.metrics.fitness)


def series_correlation(a: torch.Tensor, b: torch.Tensor, min_days: int = 2) -> torch.Tensor:
    """Pearson correlation of every series of ``a [K, T]`` with every series of ``b [Z, T]``
    over the days where both are finite, ``[K, Z]`` float64 (NaN below ``min_days`` common
    days or with a constant side). Used for the diversity test against the zoo (§3 step 7)."""
    a64, b64 = a.to(torch.float64), b.to(torch.float64)
    ma, mb = torch.isfinite(a64).to(torch.float64), torch.isfinite(b64).to(torch.float64)
    a0, b0 = torch.nan_to_num(a64 * ma, nan=0.0), torch.nan_to_num(b64 * mb, nan=0.0)
    n = ma @ mb.T
    sa, sb = a0 @ mb.T, ma @ b0.T
    saa, sbb = (a0 * a0) @ mb.T, ma @ (b0 * b0).T
    sab = a0 @ b0.T
    cov = n * sab - sa * sb
    va = n * saa - sa * sa
    vb = n * sbb - sb * sb
    ok = (n >= min_days) & (va > 0) & (vb > 0)
    r = cov / torch.sqrt(va.clamp(min=0) * vb.clamp(min=0))
    return torch.where(ok, r.clamp(-1.0, 1.0), torch.nan)
