"""Train / valid / test metrics of zoo members, for the run's record and display."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from engine.data.panel import Panel
from engine.data.target import forward_return
from engine.expr.evaluate import Evaluator
from engine.expr.parse import Expr
from engine.metrics.factor import evaluate_factors
from engine.mining.config import MiningConfig
from engine.mining.split import Split


class SegmentReporter:
    """IC / RankIC / ICIR / RankICIR of formulas on the train, valid and test segments, for the
    zoo's record and display (full target on valid/test; the purged one on train)."""

    def __init__(self, panel: Panel, split: Split, config: MiningConfig,
                 device: torch.device, cache_mb: int = 256) -> None:
        self.split = split
        self.min_stocks = config.min_stocks
        self.evaluator = Evaluator(panel, device=device, cache_bytes=cache_mb << 20)
        target = forward_return(panel, config.horizon, config.target_price).to(device)
        t0, t1 = split.train
        purge_from = t1 - config.horizon
        self.target = target.clone()
        self.target[max(t0, purge_from):t1 + 1] = torch.nan
        self.universe = panel.universe.to(device)

    def report(self, exprs: Sequence[Expr]) -> list[dict[str, dict[str, float]]]:
        out: list[dict[str, dict[str, float]]] = [{} for _ in exprs]
        if not exprs:
            return out
        values = torch.stack([self.evaluator.evaluate(e) for e in exprs])
        segments = {"train": self.split.train, "valid": self.split.valid}
        if self.split.test is not None:
            segments["test"] = self.split.test
        for name, (a, b) in segments.items():
            rep = evaluate_factors(values[:, a:b + 1], self.target[a:b + 1],
                                   self.universe[a:b + 1], self.min_stocks)
            for i in range(len(exprs)):
                out[i][name] = {
                    "ic": _num(rep.ic.mean[i]), "icir": _num(rep.ic.ir[i]),
                    "rank_ic": _num(rep.rank_ic.mean[i]), "rank_icir": _num(rep.rank_ic.ir[i]),
                    "n_days": int(rep.ic.n_days[i]),
                }
        return out


def _num(x: torch.Tensor) -> float:
    v = float(x)
    return v if math.isfinite(v) else math.nan
