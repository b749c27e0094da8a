"""The demo market: a synthetic daily OHLCV panel with known, planted alpha signals.

The app opens on this data set (``alphaforge demo``) so that a first-time user sees the miner
find something real without importing anything. It must therefore look like a market (fat
tails, volatility clustering, market and sector co-movement, volume that follows volatility,
listings, delistings, gaps, a point-in-time universe) *and* hide a few formulaic signals whose
predictive power is known in advance (:data:`PLANTED_SIGNALS`), one of which changes sign
halfway through the sample (a regime change the dynamic combiner should track).

How the alpha is planted. Each planted signal is computed every day from data known at that
day's close, z-scored across stocks and clipped at +-3. A stock's expected return on day u is
its long-run idiosyncratic volatility times the average of the signed, strength-weighted
z-scores of the previous ``alpha_horizon`` days (u-1 ... u-L). The information in a signal
value is thus released evenly over the following ~20 days, which is what the 20-day forward
target ``vwap[t+21] / vwap[t+1] - 1`` measures. Simulation is sequential over days (the
signals depend on the path) but vectorised over tickers.

Everything is drawn from one ``numpy.random.Generator`` seeded by ``config.seed``, in a fixed
order, so the same config gives the same frame bit for bit.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from engine.data.schema import DATE, TICKER, UNIVERSE
from engine.errors import ConfigError

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class PlantedSignal:
    """A signal the synthetic market's returns load on, described as data.

    formula: the signal in the formula language (default preset, function-call syntax).
    sign_before / sign_after: +1 when higher formula values predict higher returns, -1 for
        lower, before and after the flip day (equal for signals that do not flip).
    rank_ic_before / rank_ic_after: (low, high) range of the mean daily RankIC of the formula
        against the 20-day vwap target over the days before / after the flip day, measured over
        several seeds at the default :class:`SyntheticConfig` (docs/synthetic-market.md).
    """

    name: str
    formula: str
    description: str
    sign_before: int
    sign_after: int
    rank_ic_before: tuple[float, float]
    rank_ic_after: tuple[float, float]

    @property
    def flips(self) -> bool:
        return self.sign_before != self.sign_after


PLANTED_SIGNALS: tuple[PlantedSignal, ...] = (
    PlantedSignal(
        name="reversal_5d",
        formula="Mul(-1, Sub(Div($close, Ref($close, 5)), 1))",
        description="short-term reversal: last week's losers outperform",
        sign_before=1,
        sign_after=1,
        rank_ic_before=(0.02, 0.065),
        rank_ic_after=(0.035, 0.085),
    ),
    PlantedSignal(
        name="low_vol_20d",
        formula="Mul(-1, ts_std(Sub(Div($close, Ref($close, 1)), 1), 20))",
        description="low volatility: calm stocks outperform",
        sign_before=1,
        sign_after=1,
        rank_ic_before=(0.015, 0.085),
        rank_ic_after=(0.015, 0.095),
    ),
    PlantedSignal(
        name="vol_price_corr_10d",
        formula="ts_corr($close, $volume, 10)",
        description="volume-price correlation: flips from positive to negative at the flip day",
        sign_before=1,
        sign_after=-1,
        rank_ic_before=(0.015, 0.065),
        rank_ic_after=(-0.095, -0.035),
    ),
)


@dataclass(frozen=True)
class SyntheticConfig:
    """Parameters of the demo market. Defaults give 300 stocks x 1,500 business days.

    Volatilities are daily, as fractions (0.01 = 1 %). Signal strengths are the expected daily
    return per unit z-score of the signal, in units of the stock's long-run idiosyncratic
    volatility, once the signal has been in force for ``alpha_horizon`` days; they are tuned so
    that each planted formula's mean RankIC against the 20-day vwap target is about 0.05.
    """

    n_tickers: int = 300
    n_days: int = 1500
    seed: int = 0
    start: str = "2015-01-02"
    n_sectors: int = 10
    # return process
    market_drift: float = 0.0003
    market_vol: float = 0.010
    sector_vol: float = 0.007
    idio_vol: float = 0.017
    t_dof: float = 5.0
    garch_alpha: float = 0.08
    garch_beta: float = 0.90
    # planted signals (order of PLANTED_SIGNALS)
    reversal_strength: float = 0.065
    low_vol_strength: float = 0.02
    vol_price_strength: float = 0.04
    alpha_horizon: int = 20
    flip_fraction: float = 0.5
    # data imperfections
    missing_rate: float = 0.001
    listing_fraction: float = 0.04
    delisting_fraction: float = 0.04
    universe_exclude_fraction: float = 0.10
    universe_lookback: int = 60
    universe_rebalance_days: int = 21

    def __post_init__(self) -> None:
        checks: list[tuple[bool, str]] = [
            (self.n_tickers >= 10, f"n_tickers must be at least 10, got {self.n_tickers}"),
            (self.n_days >= 50, f"n_days must be at least 50, got {self.n_days}"),
            (self.seed >= 0, f"seed must be non-negative, got {self.seed}"),
            (self.n_sectors >= 1, f"n_sectors must be at least 1, got {self.n_sectors}"),
            (self.t_dof > 2, f"t_dof must be above 2 (finite variance), got {self.t_dof}"),
            (
                self.garch_alpha >= 0
                and self.garch_beta >= 0
                and self.garch_alpha + self.garch_beta < 1,
                "garch_alpha and garch_beta must be non-negative with a sum below 1, got "
                f"{self.garch_alpha} and {self.garch_beta}",
            ),
            (self.alpha_horizon >= 1, f"alpha_horizon must be >= 1, got {self.alpha_horizon}"),
            (
                0.0 <= self.flip_fraction <= 1.0,
                f"flip_fraction must be in [0, 1], got {self.flip_fraction}",
            ),
            (
                0.0 <= self.missing_rate < 0.5,
                f"missing_rate must be in [0, 0.5), got {self.missing_rate}",
            ),
            (
                min(self.listing_fraction, self.delisting_fraction) >= 0.0
                and self.listing_fraction + self.delisting_fraction <= 0.5,
                "listing_fraction and delisting_fraction must be non-negative with a sum of "
                f"at most 0.5, got {self.listing_fraction} and {self.delisting_fraction}",
            ),
            (
                0.0 <= self.universe_exclude_fraction < 1.0,
                "universe_exclude_fraction must be in [0, 1), got "
                f"{self.universe_exclude_fraction}",
            ),
            (
                self.universe_lookback >= 1 and self.universe_rebalance_days >= 1,
                "universe_lookback and universe_rebalance_days must be >= 1",
            ),
        ]
        for vol_name in ("market_vol", "sector_vol", "idio_vol"):
            value = getattr(self, vol_name)
            checks.append((value >= 0, f"{vol_name} must be non-negative, got {value}"))
        for ok, message in checks:
            if not ok:
                raise ConfigError(f"synthetic market: {message}")
        try:
            start = dt.date.fromisoformat(self.start)
        except (TypeError, ValueError) as exc:
            raise ConfigError(
                f"synthetic market: start must be an ISO date like 2015-01-02, got {self.start!r}"
            ) from exc
        if start.weekday() >= 5:
            raise ConfigError(f"synthetic market: start {self.start} is not a business day")

    @property
    def flip_day(self) -> int:
        """Index of the first day whose signals use the post-flip signs."""
        return int(round(self.flip_fraction * self.n_days))

    def dates(self) -> np.ndarray:
        """``[n_days]`` numpy ``datetime64[D]`` business days from ``start`` (no holidays)."""
        return np.busday_offset(np.datetime64(self.start, "D"), np.arange(self.n_days))

    def flip_date(self) -> dt.date:
        """First date whose signal values carry the post-flip signs."""
        index = min(self.flip_day, self.n_days - 1)
        return self.dates()[index].astype(dt.date)

    def to_dict(self) -> dict[str, Any]:
        return {"schema_version": SCHEMA_VERSION, **dataclasses.asdict(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SyntheticConfig:
        version = data.get("schema_version", SCHEMA_VERSION)
        if version != SCHEMA_VERSION:
            raise ConfigError(
                f"synthetic market config has schema_version {version}; this version reads "
                f"{SCHEMA_VERSION}"
            )
        known = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(k for k in data if k not in known and k != "schema_version")
        if unknown:
            raise ConfigError(
                f"synthetic market config: unknown field(s) {', '.join(unknown)}; known: "
                + ", ".join(known)
            )
        kwargs: dict[str, Any] = {}
        for name, value in data.items():
            if name == "schema_version":
                continue
            expected = type(known[name].default)
            allowed = (int, float) if expected is float else (expected,)
            if isinstance(value, bool) or not isinstance(value, allowed):
                raise ConfigError(
                    f"synthetic market config: field {name} must be {expected.__name__}, "
                    f"got {value!r}"
                )
            kwargs[name] = float(value) if expected is float else value
        return cls(**kwargs)


@dataclass(frozen=True)
class _Stocks:
    """Per-stock constants, each ``[N]``."""

    sector: np.ndarray
    beta: np.ndarray
    sector_beta: np.ndarray
    idio_vol: np.ndarray
    price0: np.ndarray
    log_volume0: np.ndarray


@dataclass(frozen=True)
class _Paths:
    """Simulated full paths (every stock, every day), each ``[T, N]`` float64."""

    ret: np.ndarray  # close-to-close log return
    close: np.ndarray
    volume: np.ndarray
    var: np.ndarray  # conditional idiosyncratic variance (GARCH)


def _std_t(rng: np.random.Generator, dof: float, size: tuple[int, ...]) -> np.ndarray:
    """Student-t draws scaled to unit variance and clipped at +-8 (no absurd 30-sigma days)."""
    draws = rng.standard_t(dof, size=size) * math.sqrt((dof - 2.0) / dof)
    return np.clip(draws, -8.0, 8.0)


def _draw_stocks(rng: np.random.Generator, cfg: SyntheticConfig) -> _Stocks:
    n = cfg.n_tickers
    return _Stocks(
        sector=rng.integers(0, cfg.n_sectors, size=n),
        beta=np.clip(rng.normal(1.0, 0.25, n), 0.3, 2.0),
        sector_beta=np.clip(rng.normal(1.0, 0.25, n), 0.2, 2.0),
        idio_vol=np.clip(
            cfg.idio_vol * np.exp(rng.normal(0.0, 0.35, n)), 0.3 * cfg.idio_vol, 3.5 * cfg.idio_vol
        ),
        price0=np.exp(rng.normal(math.log(40.0), 0.8, n)),
        log_volume0=rng.normal(math.log(2e6), 0.8, n),
    )


def _zscore(x: np.ndarray) -> np.ndarray:
    """Cross-sectional z-score of ``[N]`` clipped at +-3; non-finite -> 0 (no signal)."""
    valid = np.isfinite(x)
    if valid.sum() < 2:
        return np.zeros_like(x)
    mean = x[valid].mean()
    std = x[valid].std()
    if not std > 0:
        return np.zeros_like(x)
    return np.where(valid, np.clip((x - mean) / std, -3.0, 3.0), 0.0)


def _signals(close: np.ndarray, volume: np.ndarray, t: int) -> tuple[np.ndarray, ...]:
    """Raw planted signals at day ``t`` (order of :data:`PLANTED_SIGNALS`), each ``[N]``.

    The same definitions as the formulas: ``ts_std`` with ddof=1, ``ts_corr`` Pearson over the
    window with a denominator of 1 when a centred sum of squares is below 1e-6.
    """
    n = close.shape[1]
    nan = np.full(n, np.nan)
    reversal = -(close[t] / close[t - 5] - 1.0) if t >= 5 else nan
    if t >= 20:
        window = close[t - 20 : t + 1]
        low_vol = -np.std(window[1:] / window[:-1] - 1.0, axis=0, ddof=1)
    else:
        low_vol = nan
    if t >= 9:
        c = close[t - 9 : t + 1]
        v = volume[t - 9 : t + 1]
        cc = c - c.mean(axis=0)
        vc = v - v.mean(axis=0)
        ssc = (cc * cc).sum(axis=0)
        ssv = (vc * vc).sum(axis=0)
        denom = np.sqrt(ssc * ssv)
        denom = np.where((ssc < 1e-6) | (ssv < 1e-6), 1.0, denom)
        vol_price = (cc * vc).sum(axis=0) / denom
    else:
        vol_price = nan
    return reversal, low_vol, vol_price


def _simulate(rng: np.random.Generator, cfg: SyntheticConfig, stocks: _Stocks) -> _Paths:
    """Sequential over days, vectorised over stocks: returns, GARCH variances, volume, and the
    planted signals feeding the next days' expected returns."""
    t_len, n = cfg.n_days, cfg.n_tickers
    n_sec = cfg.n_sectors
    eps = _std_t(rng, cfg.t_dof, (t_len, n))
    eps_mkt = _std_t(rng, cfg.t_dof, (t_len,))
    eps_sec = _std_t(rng, cfg.t_dof, (t_len, n_sec))
    vol_noise = rng.normal(0.0, 1.0, (t_len, n))

    a, b = cfg.garch_alpha, cfg.garch_beta
    var_bar = stocks.idio_vol**2
    omega = (1.0 - a - b) * var_bar
    omega_mkt = (1.0 - a - b) * cfg.market_vol**2
    omega_sec = (1.0 - a - b) * cfg.sector_vol**2
    strengths = np.array([cfg.reversal_strength, cfg.low_vol_strength, cfg.vol_price_strength])
    signs_before = np.array([s.sign_before for s in PLANTED_SIGNALS], dtype=float)
    signs_after = np.array([s.sign_after for s in PLANTED_SIGNALS], dtype=float)
    horizon = cfg.alpha_horizon
    mean_abs_eps = 0.8  # about E|eps| for the unit-variance t draws

    ret = np.empty((t_len, n))
    close = np.empty((t_len, n))
    volume = np.empty((t_len, n))
    var = np.empty((t_len, n))
    contrib = np.zeros((horizon, n))  # ring buffer of the last L days' signal contributions
    acc = np.zeros(n)  # sum of the ring buffer
    h, h_mkt, h_sec = var_bar.copy(), cfg.market_vol**2, np.full(n_sec, cfg.sector_vol**2)
    e_prev, m_prev, s_prev = np.zeros(n), 0.0, np.zeros(n_sec)
    log_close = np.log(stocks.price0)
    vol_state = np.zeros(n)
    for t in range(t_len):
        # GARCH(1,1), conditional vol capped at 3x its long-run level so that two fat-tailed
        # shocks in a row cannot compound into a 90 % day.
        h = np.minimum(omega + a * e_prev**2 + b * h, 9.0 * var_bar)
        h_mkt = min(omega_mkt + a * m_prev**2 + b * h_mkt, 9.0 * cfg.market_vol**2)
        h_sec = np.minimum(omega_sec + a * s_prev**2 + b * h_sec, 9.0 * cfg.sector_vol**2)
        e = np.sqrt(h) * eps[t]
        m = math.sqrt(h_mkt) * eps_mkt[t]
        s = np.sqrt(h_sec) * eps_sec[t]
        mu = stocks.idio_vol * acc / horizon
        # r is a log return without an Ito correction: with no planted alpha, every stock's
        # *median* 20-day return is the same whatever its vol, so ranks carry no unplanted
        # low-vol signal (the arithmetic mean then favours high vol; see the docs).
        r = cfg.market_drift + mu + stocks.beta * m + stocks.sector_beta * s[stocks.sector] + e
        log_close = log_close + r
        # Volume: persistent stock-specific noise, up with conditional vol and with |return|
        # (in units of today's vol, capped so that a crash day trades ~5x, not 1000x, normal).
        vol_state = 0.6 * vol_state + 0.3 * vol_noise[t]
        log_v = (
            stocks.log_volume0
            + np.log(np.sqrt(h) / stocks.idio_vol)
            + 0.3 * (np.minimum(np.abs(r) / np.sqrt(h), 6.0) - mean_abs_eps)
            + vol_state
        )
        ret[t], close[t], var[t] = r, np.exp(log_close), h
        volume[t] = np.maximum(np.round(np.exp(log_v)), 1.0)
        e_prev, m_prev, s_prev = e, m, s

        signs = signs_before if t < cfg.flip_day else signs_after
        z = np.stack([_zscore(x) for x in _signals(close, volume, t)])  # [3, N]
        today = (strengths * signs) @ z  # [N]
        slot = t % horizon
        acc += today - contrib[slot]
        contrib[slot] = today
    return _Paths(ret=ret, close=close, volume=volume, var=var)


def _ohlc(rng: np.random.Generator, paths: _Paths, price0: np.ndarray) -> tuple[np.ndarray, ...]:
    """Open, high, low, vwap ``[T, N]`` consistent with the closes.

    Part of each day's return happens overnight (open vs previous close); the high and low
    extend beyond the open-close range by a vol-scaled half-normal amount; vwap is a noisy
    geometric mix of open and close, clipped into [low, high].
    """
    shape = paths.close.shape
    sigma = np.sqrt(paths.var)
    prev_close = np.vstack([price0[None, :], paths.close[:-1]])
    overnight = 0.3 * paths.ret + 0.15 * sigma * rng.normal(0.0, 1.0, shape)
    open_ = prev_close * np.exp(overnight)
    high = np.maximum(open_, paths.close) * np.exp(0.4 * sigma * np.abs(rng.normal(0, 1, shape)))
    low = np.minimum(open_, paths.close) * np.exp(-0.4 * sigma * np.abs(rng.normal(0, 1, shape)))
    mix = rng.uniform(0.3, 0.7, shape)
    vwap = np.exp(
        mix * np.log(open_)
        + (1.0 - mix) * np.log(paths.close)
        + 0.1 * sigma * rng.normal(0.0, 1.0, shape)
    )
    return open_, high, low, np.clip(vwap, low, high)


def _lifetimes(rng: np.random.Generator, cfg: SyntheticConfig) -> tuple[np.ndarray, np.ndarray]:
    """First and last trading-day index of each stock, ``[N]`` int: a few list late, a few
    delist early (disjoint sets); everyone else spans the whole sample."""
    t_len, n = cfg.n_days, cfg.n_tickers

    def count(fraction: float) -> int:
        return max(1, int(round(fraction * n))) if fraction > 0 else 0

    n_list, n_delist = count(cfg.listing_fraction), count(cfg.delisting_fraction)
    chosen = rng.permutation(n)[: n_list + n_delist]
    first = np.zeros(n, dtype=np.int64)
    last = np.full(n, t_len - 1, dtype=np.int64)
    first[chosen[:n_list]] = rng.integers(int(0.05 * t_len), int(0.7 * t_len), n_list)
    last[chosen[n_list:]] = rng.integers(int(0.3 * t_len), int(0.95 * t_len), n_delist)
    return first, last


def _universe(
    cfg: SyntheticConfig, paths: _Paths, alive: np.ndarray, first: np.ndarray
) -> np.ndarray:
    """Point-in-time membership ``[T, N]`` bool, reconstituted every ``universe_rebalance_days``.

    On each rebalance day d, stocks alive at d are ranked by their trailing mean dollar volume
    (close x volume over the last ``universe_lookback`` days, only days since listing); the
    bottom ``universe_exclude_fraction`` and stocks listed fewer than ``universe_lookback``
    days ago (the initial stocks count as seasoned) are out until the next rebalance. The
    decision at d applies from d+1 (day 0 uses day 0), so it only uses past data.
    """
    t_len, n = alive.shape
    lookback, step = cfg.universe_lookback, cfg.universe_rebalance_days
    listed = np.arange(t_len)[:, None] >= first[None, :]
    dollar = np.where(listed, paths.close * paths.volume, 0.0)
    csum = np.vstack([np.zeros((1, n)), np.cumsum(dollar, axis=0)])
    ccount = np.vstack([np.zeros((1, n)), np.cumsum(listed, axis=0)])
    seasoned_from = np.where(first > 0, first + lookback, 0)
    member = np.zeros((t_len, n), dtype=bool)
    for d in range(0, t_len, step):
        lo = max(0, d + 1 - lookback)
        count = ccount[d + 1] - ccount[lo]
        avg = (csum[d + 1] - csum[lo]) / np.maximum(count, 1)
        eligible = alive[d] & (d >= seasoned_from)
        keep = np.zeros(n, dtype=bool)
        if eligible.any():
            cut = np.quantile(avg[eligible], cfg.universe_exclude_fraction)
            keep = eligible & (avg >= cut) if cfg.universe_exclude_fraction > 0 else eligible
        start = 0 if d == 0 else d + 1
        member[start : d + step + 1] = keep
    return member & alive


def ticker_names(n: int) -> list[str]:
    """``SYN0001`` ... (zero-padded to at least four digits), in sorted order."""
    width = max(4, len(str(n)))
    return [f"SYN{i:0{width}d}" for i in range(1, n + 1)]


def generate(config: SyntheticConfig | None = None) -> pl.DataFrame:
    """The demo market as a long canonical table, sorted by date then ticker.

    Columns: ``date`` (Date), ``ticker`` (Utf8), ``open``, ``high``, ``low``, ``close``,
    ``volume``, ``vwap`` (Float64; prices in currency units, volume in shares),
    ``in_universe`` (Boolean). Rows are absent before a listing, after a delisting and on rare
    random missing days. Deterministic in ``config`` (bit for bit).
    """
    cfg = config if config is not None else SyntheticConfig()
    rng = np.random.default_rng(cfg.seed)
    stocks = _draw_stocks(rng, cfg)
    paths = _simulate(rng, cfg, stocks)
    open_, high, low, vwap = _ohlc(rng, paths, stocks.price0)
    first, last = _lifetimes(rng, cfg)
    days = np.arange(cfg.n_days)[:, None]
    alive = (days >= first[None, :]) & (days <= last[None, :])
    present = alive & (rng.random(alive.shape) >= cfg.missing_rate)
    universe = _universe(cfg, paths, alive, first)

    flat = present.reshape(-1)
    t_idx, n_idx = np.divmod(np.flatnonzero(flat), cfg.n_tickers)
    dates = pl.Series(DATE, cfg.dates()).cast(pl.Date)
    tickers = pl.Series(TICKER, ticker_names(cfg.n_tickers), dtype=pl.Utf8)
    columns = {
        "open": open_,
        "high": high,
        "low": low,
        "close": paths.close,
        "volume": paths.volume,
        "vwap": vwap,
    }
    return pl.DataFrame(
        [
            dates.gather(t_idx),
            tickers.gather(n_idx),
            *(
                pl.Series(name, arr.reshape(-1)[flat], dtype=pl.Float64)
                for name, arr in columns.items()
            ),
            pl.Series(UNIVERSE, universe.reshape(-1)[flat], dtype=pl.Boolean),
        ]
    )
