"""Today's scoring path before the fitness rewrite (commit ccf3da6), kept as the reference of
``bench_mining.py``'s throughput figure: the fused float32 scorer that evaluates every formula
on every stock and day, with no gate prefix and no stock screen. Not used by the product.

(Its float32 means also made it give ``Pow($close, ...)`` on the CSI 300 file a training IC
of 0.45 where the metrics give 0.015; ``engine.metrics.fitness`` is the one implementation
now.)
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from benchmarks.reference_kernels import reference_kernels
from engine.data.panel import Panel
from engine.data.target import forward_return
from engine.errors import FormulaError
from engine.expr.evaluate import Evaluator
from engine.expr.parse import Expr
from engine.metrics.factor import daily_rank_ic, summarize
from engine.mining.config import MiningConfig
from engine.mining.scorer import FormulaStats, ScorerTally
from engine.mining.split import Split, sub_panel

# A day's centred sum of squares below n * (this * |mean|)^2 is float32 rounding noise.
_CONSTANT_RTOL = 1e-5
_ZSCORE_EPS = 1e-12
# Cells per chunk of the fused pass: bounds the float32 temporaries (~16 MB each).
_CHUNK_CELLS = 1 << 22


def _clean(x: torch.Tensor) -> torch.Tensor:
    return torch.where(torch.isfinite(x) & (x > 0), x, 0.0)


def _distinct(rows: torch.Tensor) -> torch.Tensor:
    """Number of distinct finite values per row of ``[..., N]``."""
    s, _ = torch.sort(torch.where(torch.isfinite(rows), rows, torch.inf), dim=-1)
    change = torch.ones_like(s, dtype=torch.bool)
    change[..., 1:] = s[..., 1:] != s[..., :-1]
    return (change & torch.isfinite(s)).sum(-1)


class ReferenceScorer:
    """Evaluates and scores formulas on the training days of one panel.

    ``score(exprs)`` -> (stats per formula, ``ret_t`` series ``[K, T_train]`` float32 CPU).
    """

    def __init__(self, panel: Panel, split: Split, config: MiningConfig,
                 device: torch.device) -> None:
        t0, t1 = split.train
        self.metric = config.fitness
        self.min_stocks = config.min_stocks
        self.batch = config.eval_batch
        self.t0, self.t1 = t0, t1
        self.device = device
        self.tally = ScorerTally()
        hist = sub_panel(panel, t1 + 1)
        self.evaluator = Evaluator(hist, device=device, cache_bytes=config.eval_cache_mb << 20)
        target = forward_return(panel, config.horizon, config.target_price)[t0:t1 + 1].clone()
        purge = max(0, (t1 - t0 + 1) - (config.horizon + 1))
        target[purge:] = torch.nan  # labels that would read past the training period
        self.universe = panel.universe[t0:t1 + 1].to(device)
        self.target = torch.where(self.universe, target.to(device), torch.nan)
        y, yv = self.target, torch.isfinite(self.target)
        ny = yv.sum(-1).clamp(min=1)
        my = torch.where(yv, y, 0.0).sum(-1) / ny
        dy = torch.where(yv, y - my[:, None], 0.0)
        self.y_valid = yv
        self.y_std = torch.sqrt((dy * dy).sum(-1) / ny)  # [T] own (population) std
        self.y_ok = (yv.sum(-1) >= 2) & (self.y_std > _ZSCORE_EPS)
        # gate (§3 step 6): per day, does the target have enough stocks, and how many finite
        # and distinct values it has
        self.y_count = yv.sum(-1)
        self.y_enough = self.y_count >= self.min_stocks
        self.y_distinct = _distinct(y)

    @property
    def n_days(self) -> int:
        return self.t1 - self.t0 + 1

    def values(self, exprs: Sequence[Expr]) -> tuple[torch.Tensor, list[bool]]:
        """``[K, T_train, N]`` float32 factor values (NaN rows where evaluation failed)."""
        out = torch.full((len(exprs), self.n_days, self.target.shape[1]), torch.nan,
                         device=self.device)
        ok = []
        for i, expr in enumerate(exprs):
            try:
                with reference_kernels():
                    out[i] = self.evaluator.evaluate(expr)[self.t0:]
                ok.append(True)
            except FormulaError:
                ok.append(False)
        return out, ok

    def score(self, exprs: Sequence[Expr], *, stages: bool = True
              ) -> tuple[list[FormulaStats], torch.Tensor]:
        import time

        stats: list[FormulaStats] = []
        series: list[torch.Tensor] = []
        for start in range(0, len(exprs), self.batch):
            a = time.perf_counter()
            x, _ = self.values(exprs[start:start + self.batch])
            b = time.perf_counter()
            s, r = self.score_values(x)
            self.tally.seconds["evaluate"] += b - a
            self.tally.seconds["score"] += time.perf_counter() - b
            self.tally.counts["full"] += x.shape[0]
            stats.extend(s)
            series.append(r)
        if not series:
            return [], torch.empty(0, self.n_days)
        return stats, torch.cat(series)

    def score_values(self, x: torch.Tensor) -> tuple[list[FormulaStats], torch.Tensor]:
        """Statistics of factor values ``x [K, T_train, N]`` (the fused pass)."""
        k, t, n = x.shape
        per = max(1, _CHUNK_CELLS // max(t * n, 1))
        ic_parts, ret_parts, gate_parts = [], [], []
        for s in range(0, k, per):
            ic, ret, gate = self._daily(x[s:s + per])
            ic_parts.append(ic)
            ret_parts.append(ret)
            gate_parts.append(gate)
        ic_series = torch.cat(ic_parts).to(torch.float64)
        ret_series = torch.cat(ret_parts)
        gate = torch.cat(gate_parts)
        ic = summarize(ic_series)
        ic_mean = ic.mean.abs()
        icir = ic_mean / ic.std
        rank_mean = rank_ir = torch.full_like(ic_mean, math.nan)
        if self.metric in ("rank_ic", "rank_icir"):
            rank = summarize(daily_rank_ic(x, self.target, self.universe, self.min_stocks))
            rank_mean = _clean(rank.mean.abs())
            rank_ir = _clean(rank.mean.abs() / rank.std)
        chosen = {"ic": ic_mean, "icir": icir, "rank_ic": rank_mean,
                  "rank_icir": rank_ir}[self.metric]
        score = torch.where(gate, _clean(chosen), 0.0)
        usable = gate & torch.isfinite(ic.mean)
        stats = [
            FormulaStats(score=float(score[i]), ic=float(_clean(ic_mean[i])),
                         icir=float(_clean(icir[i])), rank_ic=float(rank_mean[i]),
                         rank_icir=float(rank_ir[i]), usable=bool(usable[i]))
            for i in range(k)
        ]
        return stats, ret_series.to(torch.float32).cpu()

    def _daily(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Daily IC and ``ret_t`` of ``x [k, T, N]`` (each ``[k, T]`` float32) and the gate
        ``[k]`` bool."""
        y, yv = self.target, self.y_valid
        xv = torch.isfinite(x) & self.universe
        nx = xv.sum(-1)
        gate = self._gate(x, xv, nx)
        # Scale each day to max |x| = 1: IC and ret_t are scale-free, and float32 squares
        # of factor values near 1e-20 or 1e20 would underflow or overflow.
        top = torch.where(xv, x.abs(), 0.0).amax(-1)
        x = x / torch.where(top > 0, top, 1.0)[..., None]
        nxf = nx.clamp(min=1).to(x.dtype)
        mx = torch.where(xv, x, 0.0).sum(-1) / nxf
        dx = torch.where(xv, x - mx[..., None], 0.0)
        sx = torch.sqrt((dx * dx).sum(-1) / nxf)  # own std of the factor (z-score scale)
        del dx
        v = xv & yv
        cnt = v.sum(-1)
        cf = cnt.clamp(min=1).to(x.dtype)
        mxj = torch.where(v, x, 0.0).sum(-1) / cf
        myj = torch.where(v, y, 0.0).sum(-1) / cf
        xc = torch.where(v, x - mxj[..., None], 0.0)
        yc = torch.where(v, y - myj[..., None], 0.0)
        sxx = (xc * xc).sum(-1)
        syy = (yc * yc).sum(-1)
        sxy = (xc * yc).sum(-1)
        const_x = sxx <= cnt * (_CONSTANT_RTOL * mxj) ** 2
        const_y = syy <= cnt * (_CONSTANT_RTOL * myj) ** 2
        enough = cnt >= self.min_stocks
        ic = torch.where(enough & ~const_x & ~const_y,
                         (sxy / torch.sqrt(sxx * syy)).clamp(-1.0, 1.0), torch.nan)
        z_ok = (nx >= 2) & (sx > _ZSCORE_EPS) & self.y_ok
        ret = torch.where(enough & ~const_x & z_ok, sx / self.y_std * sxy / sxx, torch.nan)
        return ic, ret, gate

    def _gate(self, x: torch.Tensor, xv: torch.Tensor, nx: torch.Tensor) -> torch.Tensor:
        """§3 step 6 as :func:`engine.metrics.factor.passes_gate` with ``day=None``: on the
        first day where the target has ``min_stocks`` values and the factor has any, the
        factor needs 80% of the target's finite values and 1% of its distinct values."""
        usable = self.y_enough & (nx > 0)  # [k, T]
        first = torch.where(usable.any(-1), usable.to(torch.int8).argmax(-1), 0)  # [k]
        rows = torch.arange(x.shape[0], device=x.device)
        n_f = nx[rows, first]
        n_y = self.y_count[first]
        values = torch.where(xv[rows, first], x[rows, first], torch.nan)  # [k, N]
        ok = (n_y > 0) & (n_f >= 0.8 * n_y)
        return ok & (_distinct(values) >= 0.01 * self.y_distinct[first])
