"""Tree -> tensor: evaluate formulas on a whole panel at once, with a sub-expression cache.

Each operator runs once on the full ``[T, N]`` history (days before a window is complete come
out NaN, which is equivalent to the reference's 100-day head, spec §1). Results are float32,
NaN = missing; ±inf becomes NaN after every operator. Cross-sectional operators see only the
day's universe (values outside it are NaN before ranking).

Formulas mined together share sub-trees (``ts_std($close, 20)`` appears in hundreds of them),
so every featured sub-tree's result is kept in a byte-bounded LRU cache keyed by its canonical
text (as Qlib's expression cache). The cache belongs to one panel on one device; it is not
thread-safe — use one evaluator per worker.

Besides the LRU, each evaluator keeps every feature it has read as a contiguous ``[T, N]``
tensor with ±inf already mapped to NaN (read out of the strided ``[T, N, F]`` panel once, not
on every cache miss), and the universe as an additive NaN mask for the cross-sectional
operators. Both are at most F + 1 panel-sized tensors, never handed out.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from engine.data.panel import Panel
from engine.errors import FormulaError
from engine.expr.parse import Call, Constant, Expr, Feature, Node, Window, parse, to_text, validate

#: Default cache budget: about 200 panel-sized tensors of 500 stocks x 2,500 days.
DEFAULT_CACHE_BYTES = 1 << 30

_NAN = float("nan")


@dataclass(frozen=True)
class CacheInfo:
    """Counters of the sub-expression cache (``hits``/``misses`` count sub-tree lookups)."""

    hits: int
    misses: int
    entries: int
    bytes: int
    max_bytes: int


class _LRU:
    """Byte-bounded least-recently-used store of tensors."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.items: OrderedDict[str, torch.Tensor] = OrderedDict()
        self.bytes = 0
        self.hits = 0
        self.misses = 0

    def get(self, key: str) -> torch.Tensor | None:
        found = self.items.get(key)
        if found is None:
            self.misses += 1
            return None
        self.hits += 1
        self.items.move_to_end(key)
        return found

    def put(self, key: str, value: torch.Tensor) -> bool:
        """Store ``value``; False when it is too large to keep (nothing else changes)."""
        size = value.element_size() * value.nelement()
        if size > self.max_bytes:
            return False
        if key in self.items:
            return True
        while self.bytes + size > self.max_bytes:
            _, old = self.items.popitem(last=False)
            self.bytes -= old.element_size() * old.nelement()
        self.items[key] = value
        self.bytes += size
        return True

    def clear(self) -> None:
        self.items.clear()
        self.bytes = 0


class Evaluator:
    """Evaluates formulas on one panel (CPU or CUDA).

    ``evaluate`` returns a fresh ``[T, N]`` float32 tensor (NaN = missing) that the caller may
    modify; cached intermediates are never handed out.
    """

    def __init__(self, panel: Panel, device: torch.device | str | None = None,
                 cache_bytes: int = DEFAULT_CACHE_BYTES) -> None:
        if device is not None and torch.device(device) != panel.device:
            panel = panel.to(device)
        self.panel = panel
        self.device = panel.device
        self._cache = _LRU(cache_bytes)
        self._features: dict[str, torch.Tensor] = {}  # name -> clean contiguous [T, N]
        self._outside: torch.Tensor | None = None  # [T, N] float: 0 in universe, NaN outside

    # ------------------------------------------------------------------ public

    def evaluate(self, expr: Expr | str) -> torch.Tensor:
        """``[T, N]`` float32 factor values of one formula (text or tree)."""
        tree = self._check(expr)
        value, shared = self._eval_shared(tree)
        return value.clone() if shared else value

    def evaluate_many(self, exprs: Sequence[Expr | str]) -> torch.Tensor:
        """``[K, T, N]`` float32 values of K formulas (shared sub-trees computed once)."""
        t, n = self.panel.n_days, self.panel.n_tickers
        out = torch.empty((len(exprs), t, n), dtype=torch.float32, device=self.device)
        for i, expr in enumerate(exprs):
            out[i] = self._eval(self._check(expr))
        return out

    def cache_info(self) -> CacheInfo:
        c = self._cache
        return CacheInfo(hits=c.hits, misses=c.misses, entries=len(c.items), bytes=c.bytes,
                         max_bytes=c.max_bytes)

    def clear_cache(self) -> None:
        self._cache.clear()

    # ------------------------------------------------------------------ internals

    def _check(self, expr: Expr | str) -> Expr:
        """Parse text / validate trees against the panel's features (FormulaError if bad)."""
        if isinstance(expr, str):
            return parse(expr, features=self.panel.features, preset=None)
        if not isinstance(expr, Feature | Constant | Call):
            raise FormulaError(f"cannot evaluate {expr!r}: not a formula")
        return validate(expr, features=self.panel.features)

    def _eval(self, node: Node) -> torch.Tensor:
        return self._eval_shared(node)[0]

    def _eval_shared(self, node: Node) -> tuple[torch.Tensor, bool]:
        """The node's value and whether it is shared (cached or a feature: never modify it)."""
        if isinstance(node, Constant):
            return torch.tensor(node.value, dtype=torch.float32, device=self.device), False
        if isinstance(node, Window):
            raise FormulaError(f"a window ({node.value}) cannot be evaluated on its own")
        key = to_text(node)
        cached = self._cache.get(key)
        if cached is not None:
            return cached, True
        if isinstance(node, Feature):
            value, shared = self._feature(node.name), True
        else:
            value = self._call(node)
            shared = False
        return value, self._cache.put(key, value) or shared

    def _feature(self, name: str) -> torch.Tensor:
        """``[T, N]`` contiguous feature with ±inf as NaN, read out of the panel once."""
        value = self._features.get(name)
        if value is None:
            raw = self.panel.feature(name)  # strided view of [T, N, F]
            # nan_to_num writes a dense copy in one pass (no isfinite mask).
            value = torch.nan_to_num(raw, nan=_NAN, posinf=_NAN, neginf=_NAN).contiguous()
            self._features[name] = value
        return value

    def _universe_mask(self) -> torch.Tensor:
        """``[T, N]`` float32: 0 inside the day's universe, NaN outside (x + mask masks x)."""
        if self._outside is None:
            inside = self.panel.universe.to(device=self.device, dtype=torch.bool)
            self._outside = torch.zeros(inside.shape, dtype=torch.float32,
                                        device=self.device).masked_fill_(~inside, _NAN)
        return self._outside

    def _call(self, node: Call) -> torch.Tensor:
        op = node.operator
        series = [self._eval(a) for a in node.args[: op.n_series]]
        if op.kind == "cs":
            # x + 0 is x (−0.0 becomes +0.0, which ranks and z-scores the same); x + NaN is NaN.
            return op.apply(series[0] + self._universe_mask())
        params = [a.value for a in node.args[op.n_series: op.n_series + op.n_params]
                  if isinstance(a, Constant)]  # plain floats: part of the formula, not data
        if op.takes_window:
            window = node.args[-1]
            assert isinstance(window, Window)
            return op.apply(*series, *params, window.value)
        return op.apply(*series)


def evaluate(panel: Panel, expr: Expr | str) -> torch.Tensor:
    """One-off evaluation without keeping a cache (see :class:`Evaluator` for many)."""
    return Evaluator(panel, cache_bytes=0).evaluate(expr)

