"""Vectorised grammar masks against a slow per-sequence reference (explicit stack + search)."""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest
import torch

from engine.expr import grammar as G
from engine.expr import ops as O
from engine.expr.ops import Vocabulary
from engine.expr.parse import encode, size, to_rpn

# --------------------------------------------------------------------------- slow reference
# Written from ALPHAFORGE_SPEC §2.3: a Python stack of element kinds, the spec's rules, and
# "can the formula still be finished in the remaining tokens" by exhaustive search.

F, C, W = "featured", "constant", "window"
KINDS = ("feature", "constant", "window", "unary", "binary", "rolling", "pair", "sep")


def kind_of(vocab: Vocabulary, index: int) -> str:
    tok = vocab.token(index)
    if tok.kind != "op":
        return tok.kind
    op = O.REGISTRY[str(tok.value)]
    return {"unary": "unary", "cs": "unary", "binary": "binary", "rolling": "rolling",
            "pair_rolling": "pair"}[op.kind]


def rule_ok(stack: tuple[str, ...], kind: str) -> bool:
    top = stack[-1] if stack else None
    if kind == "feature":
        return top != W
    if kind == "constant":
        return top in (None, F)
    if kind in ("window", "unary"):
        return top == F
    if kind == "binary":
        return len(stack) >= 2 and W not in stack[-2:] and F in stack[-2:]
    if kind == "rolling":
        return len(stack) >= 2 and top == W and stack[-2] == F
    if kind == "pair":
        return len(stack) >= 3 and top == W and stack[-2] == F and stack[-3] == F
    return stack == (F,)  # sep


def push(stack: tuple[str, ...], kind: str) -> tuple[str, ...]:
    if kind in ("feature", "constant", "window"):
        return (*stack, {"feature": F, "constant": C, "window": W}[kind])
    pops = {"unary": 1, "binary": 2, "rolling": 2, "pair": 3}[kind]
    return (*stack[: len(stack) - pops], F)


@cache
def completable(stack: tuple[str, ...], remaining: int, kinds: frozenset[str]) -> bool:
    if stack == (F,):
        return True
    if remaining == 0:
        return False
    return any(rule_ok(stack, k) and completable(push(stack, k), remaining - 1, kinds)
               for k in kinds if k != "sep")


def reference_mask(vocab: Vocabulary, stack: tuple[str, ...], length: int, done: bool,
                   max_len: int) -> list[bool]:
    kinds = frozenset(kind_of(vocab, i) for i in range(len(vocab)))
    out = []
    for i in range(len(vocab)):
        k = kind_of(vocab, i)
        if done:
            out.append(k == "sep")
        elif k == "sep":
            out.append(rule_ok(stack, k))
        else:
            out.append(rule_ok(stack, k) and length < max_len
                       and completable(push(stack, k), max_len - length - 1, kinds))
    return out


# --------------------------------------------------------------------------- vocabularies

NO_PAIR = Vocabulary(ops=tuple(op for op in O.preset_ops("alphaforge")
                               if op.kind != "pair_rolling"), preset="no-pair")
NO_CONST = Vocabulary(ops=O.preset_ops("default"), constants=(), preset="no-constants")
VOCABS = {
    "alphaforge": Vocabulary.from_preset("alphaforge"),
    "default": Vocabulary.from_preset("default", features=("close", "volume", "extra")),
    "no-pair": NO_PAIR,
    "no-constants": NO_CONST,
}


def random_walk(vocab: Vocabulary, batch: int, max_len: int, seed: int):
    """Follow the vectorised masks with random legal choices, checking every step against
    the reference; returns the action matrix."""
    rng = np.random.default_rng(seed)
    state = G.initial_state(vocab, batch, max_len=max_len)
    stacks: list[tuple[str, ...]] = [()] * batch
    lengths, done = [0] * batch, [False] * batch
    rows = []
    for _ in range(max_len + 1):
        mask = G.legal_mask(state)
        assert mask.shape == (batch, len(vocab)) and mask.dtype == torch.bool
        top = state.top_kinds().tolist()
        for b in range(batch):
            expected = reference_mask(vocab, stacks[b], lengths[b], done[b], max_len)
            assert mask[b].tolist() == expected, (stacks[b], lengths[b])
            names = {G.NONE: None, G.FEAT: F, G.CONST: C, G.WIN: W}
            padded = [None, None, None, *stacks[b]]
            assert [names[k] for k in top[b]] == [padded[-1], padded[-2], padded[-3]]
        legal = mask.numpy()
        assert legal.any(axis=1).all()
        actions = np.array([rng.choice(np.flatnonzero(row)) for row in legal])
        for b, a in enumerate(actions):
            k = kind_of(vocab, int(a))
            if k == "sep":
                done[b] = True
            elif not done[b]:
                stacks[b] = push(stacks[b], k)
                lengths[b] += 1
        state = G.step(state, torch.from_numpy(actions))
        assert state.length.tolist() == lengths and state.done.tolist() == done
        assert state.depth.tolist() == [len(s) for s in stacks]
        rows.append(actions)
    assert all(done)
    return np.stack(rows, axis=1)


@pytest.mark.parametrize("vocab_name", list(VOCABS))
@pytest.mark.parametrize("max_len", [1, 2, 3, 4, 7, 20])
def test_masks_match_reference_and_decode(vocab_name: str, max_len: int) -> None:
    vocab = VOCABS[vocab_name]
    actions = random_walk(vocab, batch=24, max_len=max_len, seed=max_len)
    for row, expr in zip(actions, G.decode_batch(actions, vocab), strict=True):
        assert size(expr) <= max_len
        n = size(expr)
        assert encode(expr, vocab) == row[:n].tolist()
        assert (row[n:] == vocab.sep_index).all()


def test_long_walks_reach_the_length_limit() -> None:
    """Uniform choices mostly run to the limit: exercises the completion rule near it."""
    actions = random_walk(VOCABS["alphaforge"], batch=48, max_len=20, seed=7)
    sizes = [size(e) for e in G.decode_batch(actions, VOCABS["alphaforge"])]
    assert max(sizes) == 20 and min(sizes) >= 1


def test_initial_mask() -> None:
    vocab = VOCABS["alphaforge"]
    mask = G.legal_mask(G.initial_state(vocab, 1))[0]
    legal = {vocab.token(i).text for i in range(len(vocab)) if mask[i]}
    assert legal == {f"${f}" for f in vocab.features} | {
        O.format_number(c) for c in vocab.constants}


def test_mask_logits_and_illegal_fill() -> None:
    vocab = VOCABS["alphaforge"]
    state = G.initial_state(vocab, 3)
    logits = torch.zeros(3, len(vocab))
    masked = G.mask_logits(logits, state)
    assert (masked[:, 0] == -1e8).all()  # Inv is illegal on an empty stack
    assert (masked[:, 23] == 0).all()  # $open is legal


def test_sample_random_is_valid_and_deterministic() -> None:
    vocab = VOCABS["default"]
    first = G.sample_random(vocab, 300, torch.Generator().manual_seed(5))
    again = G.sample_random(vocab, 300, torch.Generator().manual_seed(5))
    assert first == again
    assert all(1 <= size(e) <= 20 for e in first)
    names = {tok.text for e in first for tok in to_rpn(e) if tok.kind == "op"}
    assert len(names) >= 25  # nearly every operator shows up
    short = G.sample_random(vocab, 50, torch.Generator().manual_seed(1), max_len=5)
    assert all(size(e) <= 5 for e in short)


def test_max_len_bounds() -> None:
    with pytest.raises(ValueError, match="max_len"):
        G.initial_state(VOCABS["alphaforge"], 2, max_len=0)
    with pytest.raises(ValueError, match="max_len"):
        G.initial_state(VOCABS["alphaforge"], 2, max_len=G.MAX_SUPPORTED_LEN + 1)
    actions = random_walk(VOCABS["no-pair"], batch=4, max_len=40, seed=3)
    assert actions.shape == (4, 41)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_sampling_matches_masks() -> None:
    vocab = VOCABS["alphaforge"]
    gen = torch.Generator(device="cuda").manual_seed(0)
    actions = G.sample_actions(vocab, 512, gen)
    assert actions.device.type == "cuda"
    exprs = G.decode_batch(actions, vocab)
    assert all(size(e) <= 20 for e in exprs)
    state = G.initial_state(vocab, 512, device="cuda")
    for pos in range(actions.shape[1]):
        mask = G.legal_mask(state)
        assert mask.gather(1, actions[:, pos: pos + 1]).all()
        state = G.step(state, actions[:, pos])


@pytest.mark.parametrize("vocab_name", ["alphaforge", "no-pair"])
def test_masks_match_reference_on_every_reachable_state(vocab_name: str) -> None:
    """Exhaustive: every legal prefix of kinds up to 9 tokens, batched level by level."""
    vocab, max_len = VOCABS[vocab_name], 9
    kinds = frozenset(kind_of(vocab, i) for i in range(len(vocab)))
    representative = {}
    for i in range(len(vocab)):
        representative.setdefault(kind_of(vocab, i), i)
    level = [()]  # prefixes as tuples of kinds (SEP excluded)
    checked = 0
    for length in range(max_len + 1):
        state = G.initial_state(vocab, len(level), max_len=max_len)
        for pos in range(length):
            acts = torch.tensor([representative[p[pos]] for p in level])
            state = G.step(state, acts)
        mask = G.legal_mask(state).tolist()
        nxt = []
        for b, prefix in enumerate(level):
            stack: tuple[str, ...] = ()
            for k in prefix:
                stack = push(stack, k)
            assert mask[b] == reference_mask(vocab, stack, length, False, max_len), prefix
            checked += 1
            nxt += [(*prefix, k) for k in sorted(kinds - {"sep"})
                    if mask[b][representative[k]]]
        level = nxt
        if not level:
            break
    assert checked > 5000
