"""Vectorised grammar masks for building formulas token by token (ALPHAFORGE_SPEC §2.3).

The miner generates a batch of RPN sequences left to right; at each position it needs the set
of legal next actions for every sequence. The reference walks a Python stack per sequence
(spec §8 #9); here each sequence is summarised by a few integers and every step is a handful
of tensor operations on the whole batch — on CPU or CUDA, no Python loop over the batch.

Per-sequence state (all ``[B]`` tensors):
- ``depth``: number of stack elements;
- ``const_bits``: bit i set when stack element i (0 = bottom) is constant-only. The kinds of
  the top three elements (featured / constant / window) are read from it; the whole stack is
  kept because a pair-rolling reduction pops three elements and exposes deeper ones;
- ``top_window``: the top element is a window (windows only ever sit on top: the next token
  must consume them);
- ``length``: tokens used (SEP excluded); ``done``: SEP emitted.

Rules (spec §2.3, [ref: alphagen/data/tree.py]) plus the [ours] completion rule: a token is
legal only if the formula can still be completed within ``max_len`` tokens, so every sequence
built by following the masks decodes to a valid formula. The fewest tokens that complete a
stack of k elements: k − 1 binary operators; 2 for a lone constant (feature + binary); and,
with a window on top, one less when a pair-rolling operator can consume two featured series.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import torch

from engine.expr.ops import Vocabulary
from engine.expr.parse import Expr, decode

# action kinds
FEATURE, CONSTANT, WINDOW, UNARY, BINARY, ROLLING, PAIR, SEP = range(8)
# stack element kinds (as returned by top_kinds)
NONE, FEAT, CONST, WIN = range(4)

_OP_KIND = {"unary": UNARY, "cs": UNARY, "binary": BINARY, "rolling": ROLLING,
            "pair_rolling": PAIR}
_TOKEN_KIND = {"feature": FEATURE, "constant": CONSTANT, "window": WINDOW, "sep": SEP}
#: Change of stack depth per action kind.
_DEPTH_DELTA = (1, 1, 1, 0, -1, -1, -2, 0)
#: Longest formula the 63-bit constant mask supports.
MAX_SUPPORTED_LEN = 62


def action_kinds(vocab: Vocabulary) -> tuple[int, ...]:
    """Grammar kind code of every action of the vocabulary, in action order."""
    codes = []
    for tok in vocab.tokens:
        if tok.kind == "op":
            op = vocab.operator(str(tok.value))
            assert op is not None
            codes.append(_OP_KIND[op.kind])
        else:
            codes.append(_TOKEN_KIND[tok.kind])
    return tuple(codes)


@dataclass(frozen=True, eq=False)
class GrammarState:
    """Builder state of a batch of partial RPN sequences (see module docstring)."""

    depth: torch.Tensor  # [B] int64
    const_bits: torch.Tensor  # [B] int64
    top_window: torch.Tensor  # [B] bool
    length: torch.Tensor  # [B] int64
    done: torch.Tensor  # [B] bool
    action_kind: torch.Tensor  # [n_actions] int64, shared by the batch
    max_len: int
    has_pair: bool

    @property
    def batch_size(self) -> int:
        return int(self.depth.shape[0])

    @property
    def device(self) -> torch.device:
        return self.depth.device

    def element_kind(self, offset: int) -> torch.Tensor:
        """``[B]`` kind (NONE/FEAT/CONST/WIN) of the element ``offset`` below the top."""
        pos = self.depth - 1 - offset
        bit = torch.bitwise_right_shift(self.const_bits, pos.clamp(min=0)) & 1
        kind = torch.where(bit.bool(), CONST, FEAT)
        if offset == 0:
            kind = torch.where(self.top_window, WIN, kind)
        return torch.where(pos >= 0, kind, NONE)

    def top_kinds(self) -> torch.Tensor:
        """``[B, 3]`` kinds of the top three stack elements (column 0 = top)."""
        return torch.stack([self.element_kind(i) for i in range(3)], dim=1)


def initial_state(vocab: Vocabulary, batch: int, *, max_len: int = 20,
                  device: torch.device | str | None = None) -> GrammarState:
    """Empty stacks for ``batch`` sequences of at most ``max_len`` tokens (SEP excluded)."""
    if not 1 <= max_len <= MAX_SUPPORTED_LEN:
        raise ValueError(f"max_len must be in 1..{MAX_SUPPORTED_LEN}, got {max_len}")
    zeros = torch.zeros(batch, dtype=torch.int64, device=device)
    return GrammarState(
        depth=zeros,
        const_bits=zeros.clone(),
        top_window=zeros.bool(),
        length=zeros.clone(),
        done=zeros.bool(),
        action_kind=torch.tensor(action_kinds(vocab), dtype=torch.int64, device=device),
        max_len=max_len,
        has_pair=any(op.kind == "pair_rolling" for op in vocab.ops),
    )


def kind_mask(state: GrammarState) -> torch.Tensor:
    """``[B, 8]`` bool: which action kinds are legal next (rules + completion rule)."""
    k = state.depth
    t0, t1, t2 = (state.element_kind(i) for i in range(3))
    f0, f1, f2 = t0 == FEAT, t1 == FEAT, t2 == FEAT
    w0 = t0 == WIN
    rem = state.max_len - state.length  # tokens still allowed before SEP
    pair_next = (k >= 2) & f0 & f1 if state.has_pair else torch.zeros_like(f0)
    # each kind: grammar rule & (1 + fewest tokens to finish afterwards <= rem)
    feature = ~w0 & (k + 1 <= rem)
    constant = torch.where(k == 0, rem >= 3, f0 & (k + 1 <= rem))
    window = f0 & (torch.where(pair_next, k, k + 1) <= rem)
    unary = f0 & (k <= rem)
    binary = (k >= 2) & ~w0 & (t1 != WIN) & (f0 | f1) & (k - 1 <= rem)
    rolling = (k >= 2) & w0 & f1 & (k - 1 <= rem)
    pair = (k >= 3) & w0 & f1 & f2 & (k - 2 <= rem)
    open_ = ~state.done
    sep = ((k == 1) & f0) | state.done
    kinds = torch.stack([feature, constant, window, unary, binary, rolling, pair], dim=1)
    return torch.cat([kinds & open_[:, None], sep[:, None]], dim=1)


def legal_mask(state: GrammarState) -> torch.Tensor:
    """``[B, n_actions]`` bool: the legal next actions of every sequence."""
    return kind_mask(state).index_select(1, state.action_kind)


def step(state: GrammarState, actions: torch.Tensor) -> GrammarState:
    """Advance every sequence by one action (``[B]`` int). Finished sequences stay as they are.

    Actions are assumed legal (take them from :func:`legal_mask`); illegal ones give a
    meaningless state rather than an error, to keep this a few tensor operations.
    """
    kind = state.action_kind[actions]
    active = ~state.done & (kind != SEP)
    delta = torch.tensor(_DEPTH_DELTA, dtype=torch.int64, device=state.device)[kind]
    depth = state.depth + torch.where(active, delta, 0)
    top = (depth - 1).clamp(min=0)
    one = torch.ones_like(top)
    bits = state.const_bits & (torch.bitwise_left_shift(one, top) - 1)  # clear top and above
    bits = bits | torch.where(kind == CONSTANT, torch.bitwise_left_shift(one, top), 0)
    return replace(
        state,
        depth=depth,
        const_bits=torch.where(active, bits, state.const_bits),
        top_window=torch.where(active, kind == WINDOW, state.top_window),
        length=state.length + active.long(),
        done=state.done | (kind == SEP),
    )


def mask_logits(logits: torch.Tensor, state: GrammarState, fill: float = -1e8) -> torch.Tensor:
    """Set illegal actions' logits (``[B, n_actions]``) to ``fill`` (the reference uses −1e8)."""
    return logits.masked_fill(~legal_mask(state), fill)


def decode_batch(actions: torch.Tensor | Sequence[Sequence[int]],
                 vocab: Vocabulary) -> list[Expr]:
    """Trees of a ``[B, L]`` batch of action sequences (each read up to its first SEP)."""
    rows = actions.tolist() if isinstance(actions, torch.Tensor) else actions
    return [decode(row, vocab) for row in rows]


def sample_actions(vocab: Vocabulary, n: int, generator: torch.Generator,
                   max_len: int = 20) -> torch.Tensor:
    """``[n, max_len + 1]`` random legal action sequences (uniform over legal tokens).

    Runs on the generator's device; every row ends with SEP (padding after it is SEP too).
    """
    device = generator.device
    state = initial_state(vocab, n, max_len=max_len, device=device)
    steps = []
    for _ in range(max_len + 1):
        scores = torch.rand(n, vocab.n_actions, generator=generator, device=device)
        actions = scores.masked_fill(~legal_mask(state), -1.0).argmax(dim=1)
        steps.append(actions)
        state = step(state, actions)
    return torch.stack(steps, dim=1)


def sample_random(vocab: Vocabulary, n: int, generator: torch.Generator,
                  max_len: int = 20) -> list[Expr]:
    """``n`` random valid formulas (masked random logits; duplicates possible)."""
    return decode_batch(sample_actions(vocab, n, generator, max_len=max_len), vocab)
