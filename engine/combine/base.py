"""What every combination method shares: its config, its prepared inputs and its result.

A combination turns K factor stacks ``[K, T, N]`` into one Mega-Alpha score ``[T, N]``
(ALPHAFORGE_SPEC §6). The dynamic method and the static baselines (equal weight, static OLS,
IC-weighted) all start from the same prepared inputs (per-day z-scored factors with a validity
mask, the raw target restricted to the universe, the factors' daily IC / RankIC series) and
return the same :class:`CombinationResult`, so the UI, the CLI and the backtest never care
which method produced a score.

Leakage rule shared by every method: a target value ``y[d]`` is realised at day ``d + h + 1``
(``p[d+h+1] / p[d+1] - 1``), so a score for day ``t`` may only use days ``d < t - (h + 1)``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import polars as pl
import torch

from engine.combine.methods import COMBINE_METHODS
from engine.errors import ConfigError
from engine.expr.xsection import zscore
from engine.metrics.factor import daily_ic, daily_rank_ic, summarize

SCHEMA_VERSION = 1
_C = TypeVar("_C")
PRICES: tuple[str, ...] = ("vwap", "close")
# Days of the Gram computation handled at once: bounds the float64 [days, N, K+1] temporary.
_GRAM_CHUNK_ELEMENTS = 1 << 23


@dataclass(frozen=True)
class CombineConfig:
    """How to combine a factor set into a Mega-Alpha (ALPHAFORGE_SPEC §6, §10).

    method: "dynamic" (re-select and re-fit every day), "equal" (equal weight of sign-aligned
        factors), "static" (pooled OLS fitted once on the training days, AlphaGen-style) or
        "icweighted" (weights proportional to the training mean IC).
    window: look-back length in days for the dynamic method; None = from the start of the
        sample (the reference's ``inf``).
    n_factors: at most this many factors are active on a day (top by |RankICIR|).
    rank_ic_threshold / rank_icir_threshold: a factor qualifies on a day when its look-back
        |mean RankIC| and |RankICIR| are strictly above these.
    horizon: h of the target ``p[t+h+1] / p[t+1] - 1``; the look-back stops ``h + 1`` days
        before the scored day so that every target used was realised.
    price: the target's price ("vwap" or "close"), used when the target is built from a panel.
    min_stocks: days with fewer valid stocks give no IC (ALPHAFORGE_SPEC §5).
    min_lookback_days: **[ours]** a day is scored only when its look-back holds at least this
        many days with a realised target (at least ``min_stocks`` stocks); earlier days are NaN.
    """

    method: str = "dynamic"
    window: int | None = 250
    n_factors: int = 10
    rank_ic_threshold: float = 0.02
    rank_icir_threshold: float = 0.2
    horizon: int = 20
    price: str = "vwap"
    min_stocks: int = 10
    min_lookback_days: int = 20

    def __post_init__(self) -> None:
        def need(ok: bool, message: str, *, code: str, **params: Any) -> None:
            if not ok:
                raise ConfigError(f"combination config: {message}", code=code, params=params)

        def at_least(name: str, low: int, message: str) -> None:
            value = getattr(self, name)
            need(value is None or value >= low, message, code="config_at_least", field=name,
                 min=low, got=value)

        COMBINE_METHODS.check(self.method)
        at_least("window", 1,
                 f"window must be at least 1 day (or None for all history), got {self.window}")
        at_least("n_factors", 1, f"n_factors must be at least 1, got {self.n_factors}")
        at_least("rank_ic_threshold", 0,
                 f"rank_ic_threshold must be non-negative, got {self.rank_ic_threshold}")
        at_least("rank_icir_threshold", 0,
                 f"rank_icir_threshold must be non-negative, got {self.rank_icir_threshold}")
        at_least("horizon", 1, f"horizon must be at least 1 day, got {self.horizon}")
        need(self.price in PRICES,
             f"target price must be one of {', '.join(PRICES)}, got '{self.price}'",
             code="config_unknown_choice", field="price", value=self.price,
             choices=", ".join(PRICES))
        at_least("min_stocks", 2, f"min_stocks must be at least 2, got {self.min_stocks}")
        at_least("min_lookback_days", 2,
                 f"min_lookback_days must be at least 2, got {self.min_lookback_days}")

    @property
    def gap(self) -> int:
        """Days between the end of the look-back and the scored day: h + 1."""
        return self.horizon + 1

    def to_dict(self) -> dict[str, Any]:
        return {"schema_version": SCHEMA_VERSION, **dataclasses.asdict(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CombineConfig:
        return config_from_dict(cls, data, "combination config", SCHEMA_VERSION)


def config_from_dict(cls: type[_C], data: Mapping[str, Any], what: str, version: int) -> _C:
    """Rebuild a flat frozen config dataclass from ``to_dict()`` output, checking the schema
    version, unknown keys and each value's type against the field's default (an int field
    takes an int, a float field an int or a float, an optional int None too)."""
    got = data.get("schema_version", version)
    if got != version:
        raise ConfigError(f"{what} has schema_version {got}; this version reads {version}")
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(k for k in data if k not in fields and k != "schema_version")
    if unknown:
        raise ConfigError(f"{what}: unknown field(s) {', '.join(unknown)}; known: "
                          + ", ".join(sorted(fields)))
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        if name == "schema_version":
            continue
        default = fields[name].default
        if value is None and (default is None or "None" in str(fields[name].type)):
            kwargs[name] = value
            continue
        kind = type(default) if default is not None else int
        allowed: tuple[type, ...] = (int, float) if kind is float else (kind,)
        if isinstance(value, bool) or not isinstance(value, allowed):
            expected = {float: "a number", int: "an integer", str: "text"}.get(kind, kind.__name__)
            raise ConfigError(f"{what}: {name} must be {expected}, got {value!r}")
        kwargs[name] = float(value) if kind is float else value
    return cls(**kwargs)


@dataclass(frozen=True, eq=False)
class Prepared:
    """Inputs in the form every method uses.

    z: ``[K, T, N]`` float32 per-day z-scored factors inside the universe, NaN = missing.
    valid: ``[K, T, N]`` bool, ``isfinite(z)`` (kept because scoring fills NaN with 0).
    y: ``[T, N]`` float64 raw target inside the universe, NaN = missing.
    universe: ``[T, N]`` bool.
    ic, rank_ic: ``[K, T]`` float64 daily IC / RankIC of each factor (NaN on thin days).
    realised: ``[T]`` bool, days whose target has at least ``min_stocks`` finite values.
    """

    z: torch.Tensor
    valid: torch.Tensor
    y: torch.Tensor
    universe: torch.Tensor
    ic: torch.Tensor
    rank_ic: torch.Tensor
    realised: torch.Tensor
    names: tuple[str, ...]
    dates: np.ndarray

    @property
    def n_factors(self) -> int:
        return int(self.z.shape[0])

    @property
    def n_days(self) -> int:
        return int(self.z.shape[1])


def prepare(
    factors: torch.Tensor,
    target: torch.Tensor,
    names: Sequence[str],
    dates: np.ndarray,
    universe: torch.Tensor | None,
    min_stocks: int,
) -> Prepared:
    """Check shapes, z-score the factors per day inside the universe, score each factor's
    daily IC / RankIC once (every later window statistic is a prefix-sum lookup)."""
    if factors.dim() != 3:
        raise ConfigError(f"factors must be [K factors, T days, N stocks], got shape "
                          f"{tuple(factors.shape)}")
    k, t, n = factors.shape
    if k == 0:
        raise ConfigError("the factor set is empty: nothing to combine",
                          code="combine_no_factors")
    if tuple(target.shape) != (t, n):
        raise ConfigError(f"target shape {tuple(target.shape)} does not match the factors' "
                          f"[T, N] = {(t, n)}")
    if len(names) != k or len(set(names)) != k:
        raise ConfigError(f"need {k} distinct factor names, got {len(names)} "
                          f"({len(set(names))} distinct)")
    if len(dates) != t:
        raise ConfigError(f"got {len(dates)} dates for {t} days of factor values")
    uni = (torch.ones(t, n, dtype=torch.bool) if universe is None
           else universe.to(torch.bool).cpu())
    if tuple(uni.shape) != (t, n):
        raise ConfigError(f"universe shape {tuple(uni.shape)} does not match [T, N] = {(t, n)}")
    raw = factors.detach().cpu().to(torch.float32)
    z = zscore(torch.where(uni, raw, torch.nan))
    y = target.detach().cpu().to(torch.float64)
    y = torch.where(uni & torch.isfinite(y), y, torch.nan)
    return Prepared(
        z=z,
        valid=torch.isfinite(z),
        y=y,
        universe=uni,
        ic=daily_ic(z, y, uni, min_stocks),
        rank_ic=daily_rank_ic(z, y, uni, min_stocks),
        realised=torch.isfinite(y).sum(-1) >= min_stocks,
        names=tuple(str(x) for x in names),
        dates=np.asarray(dates).astype("datetime64[D]"),
    )


def resolve_days(
    days: np.ndarray | torch.Tensor | int | None, n_days: int, what: str
) -> np.ndarray:
    """``[T]`` bool from a bool mask, a start index (that day to the end) or None (all)."""
    if days is None:
        return np.ones(n_days, dtype=bool)
    if isinstance(days, (int, np.integer)) and not isinstance(days, bool):
        if not 0 <= int(days) < n_days:
            raise ConfigError(f"{what} start index {days} is outside the {n_days}-day panel")
        mask = np.zeros(n_days, dtype=bool)
        mask[int(days):] = True
        return mask
    arr = days.cpu().numpy() if isinstance(days, torch.Tensor) else np.asarray(days)
    if arr.dtype != bool or arr.shape != (n_days,):
        raise ConfigError(f"{what} must be a [T] = [{n_days}] bool mask or a start index, got "
                          f"dtype {arr.dtype} shape {arr.shape}")
    if not arr.any():
        raise ConfigError(f"{what} selects no day")
    return arr.copy()


def design_sums(
    prep: Prepared, days: np.ndarray | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-day normal-equation contributions of the pooled regression, float64.

    Rows of day d are its stocks with a finite target; columns are ``[1, z_1 .. z_K]`` with
    missing factor values set to 0 (the day's mean after z-scoring). Returns ``G [D, K+1, K+1]``
    (``X_d' X_d``) and ``b [D, K+1]`` (``X_d' y_d``) for the days in ``days`` (all when None).
    Cost T·N·K² once, as batched matrix products in bounded chunks.
    """
    idx = np.arange(prep.n_days) if days is None else np.flatnonzero(days)
    k = prep.n_factors
    n = prep.z.shape[2]
    gram = torch.empty(len(idx), k + 1, k + 1, dtype=torch.float64)
    rhs = torch.empty(len(idx), k + 1, dtype=torch.float64)
    step = max(1, _GRAM_CHUNK_ELEMENTS // max(n * (k + 1), 1))
    for c0 in range(0, len(idx), step):
        sel = torch.from_numpy(idx[c0:c0 + step])
        rows = torch.isfinite(prep.y[sel])  # [d, N]
        x = torch.empty(len(sel), n, k + 1, dtype=torch.float64)
        x[..., 0] = 1.0
        x[..., 1:] = torch.nan_to_num(prep.z[:, sel].permute(1, 2, 0).to(torch.float64), nan=0.0)
        x = x * rows.unsqueeze(-1)
        yv = torch.where(rows, prep.y[sel], 0.0)
        gram[c0:c0 + len(sel)] = torch.bmm(x.transpose(1, 2), x)
        rhs[c0:c0 + len(sel)] = torch.bmm(x.transpose(1, 2), yv.unsqueeze(-1)).squeeze(-1)
    return gram, rhs


def solve_subsets(
    gram: torch.Tensor, rhs: torch.Tensor, subsets: torch.Tensor
) -> torch.Tensor:
    """Least squares on a subset of columns for many days at once.

    gram ``[D, K+1, K+1]``, rhs ``[D, K+1]``, subsets ``[D, K+1]`` bool (column 0 = intercept).
    Each day's used rows/columns are gathered into a compact ``[m, m]`` system (m = the largest
    subset size, so the solve costs O(k³), not O(K³)); padding slots get an identity row and
    column and a zero right-hand side, which decouples them (their solution is exactly 0).
    Columns are scaled to unit diagonal first, and ``gelsd`` gives exactly collinear factors a
    finite minimum-norm answer instead of an error. A column that is all zero on the rows gets
    weight 0. Returns ``[D, K+1]`` float64 (0 outside the subsets).
    """
    d = gram.shape[0]
    diag = torch.diagonal(gram, dim1=-2, dim2=-1)
    subsets = subsets & (diag > 0)  # a column with no non-zero value cannot carry a weight
    out = torch.zeros_like(rhs)
    m = int(subsets.sum(-1).max()) if d else 0
    if m == 0:
        return out
    # Used column indices first (stable), padding after: idx [D, m], pad [D, m] bool.
    order = torch.argsort((~subsets).to(torch.int8), dim=-1, stable=True)[:, :m]
    pad = ~torch.gather(subsets, 1, order)
    rows = torch.arange(d).view(d, 1, 1)
    a = gram[rows, order.unsqueeze(-1), order.unsqueeze(-2)]  # [D, m, m]
    b = torch.gather(rhs, 1, order)
    keep = (~pad).to(torch.float64)
    eye = torch.eye(m, dtype=torch.float64).expand(d, m, m)
    a = a * keep.unsqueeze(-1) * keep.unsqueeze(-2) + eye * (1.0 - keep).unsqueeze(-1)
    b = b * keep
    # Scale columns so the intercept (count of rows) and factor columns are comparable.
    scale = torch.sqrt(torch.diagonal(a, dim1=-2, dim2=-1))
    a_s = a / scale.unsqueeze(-1) / scale.unsqueeze(-2)
    sol = torch.linalg.lstsq(a_s, (b / scale).unsqueeze(-1), driver="gelsd").solution
    sol = sol.squeeze(-1) / scale * keep
    out.scatter_(1, order, sol)  # padding slots write 0 onto an unused column
    return out


def apply_weights(
    prep: Prepared, days: np.ndarray, coef: torch.Tensor, intercept: torch.Tensor
) -> torch.Tensor:
    """Mega-Alpha ``[T, N]`` float32: ``intercept + Σ coef_k z_k`` on ``days`` (NaN z -> 0).

    coef ``[D, K]`` and intercept ``[D]`` float64 for the D selected days. NaN outside those
    days, outside the universe, and where none of the day's active factors has a value (the
    validity mask: a stock without any information gets no score rather than the intercept).
    """
    t, n = prep.y.shape
    out = torch.full((t, n), torch.nan, dtype=torch.float32)
    idx = torch.from_numpy(np.flatnonzero(days))
    k = prep.n_factors
    step = max(1, _GRAM_CHUNK_ELEMENTS // max(k * n, 1))
    for c0 in range(0, len(idx), step):  # bounded [K, days, N] temporaries
        sel = idx[c0:c0 + step]
        z0 = torch.nan_to_num(prep.z[:, sel].to(torch.float64), nan=0.0)  # [K, d, N]
        c = coef[c0:c0 + step]
        score = intercept[c0:c0 + step].unsqueeze(-1) + torch.einsum("dk,kdn->dn", c, z0)
        active = (c != 0).to(torch.float32)
        informed = torch.einsum("dk,kdn->dn", active, prep.valid[:, sel].to(torch.float32)) > 0
        ok = informed & prep.universe[sel]
        out[sel] = torch.where(ok, score, torch.nan).to(torch.float32)
    return out


@dataclass(frozen=True, eq=False)
class CombinationResult:
    """A Mega-Alpha and how it was made.

    score: ``[T, N]`` float32, NaN outside the scored days, outside the universe and where no
        active factor has a value.
    scored: ``[T]`` bool, the days a score was asked for (some may still be NaN when their
        look-back is too short: see ``weights.reason``).
    weights: one row per (scored date, factor): date, factor, active, flipped (sign of a
        negative factor flipped for selection), coef (on the z-scored factor as given, 0 when
        inactive), intercept, ic / icir / rank_ic / rank_icir (look-back or training
        statistics that drove the choice), rank (1 = best, null when inactive), reason.
    daily: one row per scored date: date, ic, rank_ic (of the Mega-Alpha against the target),
        n_active (factors with a non-zero weight).
    """

    config: CombineConfig
    names: tuple[str, ...]
    dates: np.ndarray
    score: torch.Tensor
    scored: np.ndarray
    weights: pl.DataFrame
    daily: pl.DataFrame

    def summary(self) -> dict[str, float]:
        """IC, ICIR, RankIC, RankICIR of the Mega-Alpha over the scored days (NaN days skipped)."""
        ic = summarize(torch.tensor(self.daily["ic"].to_numpy(), dtype=torch.float64))
        ric = summarize(torch.tensor(self.daily["rank_ic"].to_numpy(), dtype=torch.float64))
        return {
            "ic": float(ic.mean), "icir": float(ic.ir),
            "rank_ic": float(ric.mean), "rank_icir": float(ric.ir),
            "n_days": int(ric.n_days),
        }

    def scores_long(self, tickers: Sequence[str]) -> pl.DataFrame:
        """The finite scores as a long table (date, ticker, score), for saving."""
        if len(tickers) != self.score.shape[1]:
            raise ConfigError(f"got {len(tickers)} tickers for {self.score.shape[1]} columns")
        s = self.score.numpy()
        t_idx, n_idx = np.nonzero(np.isfinite(s))
        return pl.DataFrame({
            "date": pl.Series(self.dates[t_idx]).cast(pl.Date),
            "ticker": pl.Series(list(tickers), dtype=pl.Utf8).gather(n_idx),
            "score": s[t_idx, n_idx].astype(np.float64),
        })


def mega_daily(prep: Prepared, score: torch.Tensor, days: np.ndarray, coef: torch.Tensor,
               min_stocks: int) -> pl.DataFrame:
    """The Mega-Alpha's daily IC / RankIC on the scored days (the reported quality series)."""
    idx = np.flatnonzero(days)
    sel = torch.from_numpy(idx)
    ic = daily_ic(score[sel], prep.y[sel], prep.universe[sel], min_stocks)
    ric = daily_rank_ic(score[sel], prep.y[sel], prep.universe[sel], min_stocks)
    return pl.DataFrame({
        "date": pl.Series(prep.dates[idx]).cast(pl.Date),
        "ic": ic.numpy(),
        "rank_ic": ric.numpy(),
        "n_active": (coef != 0).sum(-1).numpy().astype(np.int32),
    })


def weights_frame(
    prep: Prepared,
    days: np.ndarray,
    columns: Mapping[str, np.ndarray],
    reasons: list[str],
) -> pl.DataFrame:
    """Long weights history from ``[D, K]`` arrays (row-major: date, then factor)."""
    idx = np.flatnonzero(days)
    k = prep.n_factors
    dates = np.repeat(prep.dates[idx], k)
    frame = {
        "date": pl.Series(dates).cast(pl.Date),
        "factor": pl.Series(list(prep.names) * len(idx), dtype=pl.Utf8),
    }
    for name, arr in columns.items():
        frame[name] = np.asarray(arr).reshape(-1)
    out = pl.DataFrame(frame).with_columns(pl.Series("reason", reasons, dtype=pl.Utf8))
    if "rank" in out.columns:
        out = out.with_columns(
            pl.when(pl.col("rank") > 0).then(pl.col("rank")).otherwise(None).cast(pl.Int32)
            .alias("rank")
        )
    return out


def fmt(x: float) -> str:
    """Numbers in reason strings: 3 decimals, 'n/a' when not finite."""
    return f"{x:.3f}" if math.isfinite(x) else "n/a"
