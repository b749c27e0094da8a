"""The mining loop on small synthetic markets: every strategy runs, runs are reproducible,
budgets and the zoo's correlation limit hold, progress events carry what the UI shows, and
the miner finds the planted signals."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from engine.data.panel import Panel, build
from engine.data.synthetic import PLANTED_SIGNALS, SyntheticConfig, generate
from engine.expr.evaluate import Evaluator
from engine.metrics.factor import daily_ic, summarize
from engine.mining.config import DateRange, preset
from engine.mining.loop import MiningResult, mine
from engine.mining.session import MiningCancelled
from engine.mining.zoo import max_pairwise_corr
from tests.engine.mining.conftest import tiny

ROUND_FIELDS = {"event", "step", "round", "evaluated", "zoo_size", "elapsed_s", "eta_s",
                "proposed", "share_new", "share_valid", "best_fitness", "median_fitness"}


def _formulas(result: MiningResult) -> list[tuple[str, float]]:
    return [(m.formula, m.stats.score) for m in result.zoo]


@pytest.mark.parametrize("generator", ["cnn", "lstm", "gru", "transformer", "gp", "random"])
def test_every_strategy_mines_within_its_budget(small_panel: Panel, generator: str) -> None:
    events: list[dict[str, Any]] = []
    cfg = tiny(generator=generator, max_evaluations=400, zoo_size=5, ic_thresh=0.04,
               stop_when_full=False)  # the warm-up may fill the zoo: train a round anyway
    result = mine(small_panel, cfg, progress=events.append)
    assert result.evaluated <= 400
    assert 0 < len(result.zoo) <= 5
    assert max_pairwise_corr(list(result.zoo)) <= cfg.corr_thresh
    for m in result.zoo:
        assert m.stats.ic > cfg.ic_thresh and m.stats.icir >= cfg.icir_thresh
        assert set(result.reports[m.formula]) == {"train", "valid"}
    rounds = [e for e in events if e["event"] in ("round", "warmup")]
    assert rounds and all(set(e) >= ROUND_FIELDS for e in rounds)
    assert events[-1]["event"] == "done" and events[-1]["stop_reason"]
    if generator in ("cnn", "lstm", "gru", "transformer"):
        assert any(e["event"] == "predictor" for e in events)
        gen = [e for e in events if e["event"] == "generator"]
        assert gen and {"pred", "overlap", "latent", "total"} <= set(gen[0]["losses"]
                                                                       ["generator"])


def test_same_seed_same_zoo_and_another_seed_differs(small_panel: Panel) -> None:
    cfg = tiny(max_rounds=1, zoo_size=30)
    a, b = mine(small_panel, cfg), mine(small_panel, cfg)
    assert _formulas(a) == _formulas(b) and len(a.zoo) > 0
    for ma, mb in zip(a.zoo, b.zoo, strict=True):
        torch.testing.assert_close(ma.series, mb.series, rtol=0, atol=0, equal_nan=True)
    c = mine(small_panel, cfg.with_(seed=1))
    assert _formulas(c) != _formulas(a)


def test_fitness_choice_is_honoured(small_panel: Panel) -> None:
    """§8 #6: the scored metric is the one asked for."""
    result = mine(small_panel, tiny(generator="random", fitness="rankicir", max_rounds=1,
                                    warmup=100, zoo_size=4, ic_thresh=0.0, icir_thresh=0.0))
    for m in result.zoo:
        assert m.stats.score == pytest.approx(m.stats.rank_icir)
        assert m.stats.score != pytest.approx(m.stats.ic)


def test_a_full_zoo_stops_the_run(small_panel: Panel) -> None:
    result = mine(small_panel, tiny(generator="random", zoo_size=2, ic_thresh=0.0,
                                    icir_thresh=0.0, max_rounds=5))
    assert len(result.zoo) == 2 and result.stop_reason == "zoo full"


def test_a_time_budget_still_runs_one_round(small_panel: Panel) -> None:
    result = mine(small_panel, tiny(time_budget_s=1e-3, max_rounds=5, zoo_size=100))
    assert result.rounds == 1 and result.stop_reason == "time budget"


def test_cancel_raises_between_batches(small_panel: Panel) -> None:
    calls = {"n": 0}

    def stop() -> bool:
        calls["n"] += 1
        return calls["n"] > 3

    with pytest.raises(MiningCancelled):
        mine(small_panel, tiny(), should_stop=stop)


# --------------------------------------------------------------------------- quality


def _planted_check(panel: Panel, result: MiningResult, valid: tuple[int, int]
                   ) -> list[tuple[float, float]]:
    """Per zoo member: (sign-consistent validation IC, max |corr| with a planted signal)."""
    ev = Evaluator(panel)
    a, b = valid
    planted = torch.stack([ev.evaluate(s.formula) for s in PLANTED_SIGNALS])[:, a:b + 1]
    out = []
    for m in result.zoo:
        rep = result.reports[m.formula]
        sign = 1.0 if rep["train"]["ic"] > 0 else -1.0
        x = ev.evaluate(m.formula)[a:b + 1]
        corr = summarize(daily_ic(planted, x, panel.universe[a:b + 1])).mean.abs().max()
        out.append((sign * rep["valid"]["ic"], float(corr)))
    return out


def _strong_market() -> tuple[Panel, DateRange, DateRange, tuple[int, int]]:
    k = 4.0  # planted strengths x4: a 100-stock market is otherwise too noisy for a test
    cfg = SyntheticConfig(n_tickers=100, n_days=500, seed=0, flip_fraction=1.0,
                          reversal_strength=0.065 * k, low_vol_strength=0.02 * k,
                          vol_price_strength=0.04 * k)
    panel = build(generate(cfg))
    d = [str(x) for x in panel.dates]
    return panel, DateRange(d[0], d[325]), DateRange(d[346], d[-1]), (346, len(d) - 1)


def test_the_laptop_miner_finds_the_planted_signals() -> None:
    panel, train, valid, idx = _strong_market()
    cfg = preset("laptop", seed=0, train=train, valid=valid, batch_size=64, warmup=400,
                 warmup_max_batches=30, g_steps=20, g_patience=4, p_epochs=20,
                 new_per_round=200, new_max_batches=10, random_per_round=100, max_rounds=1,
                 time_budget_s=None, zoo_size=10)
    result = mine(panel, cfg)
    checks = _planted_check(panel, result, idx)
    assert len(checks) >= 3
    assert max(v for v, _ in checks) > 0.1  # clearly positive out of sample
    # a mined factor that tracks a planted signal closely and works out of sample
    assert any(v > 0.05 and c > 0.5 for v, c in checks), checks
    assert sum(v > 0 for v, _ in checks) >= len(checks) // 2


@pytest.mark.slow
def test_the_laptop_miner_on_the_demo_strength_market() -> None:
    """Demo-strength signals (300 stocks): mined factors work out of sample and track them."""
    cfg = SyntheticConfig(n_tickers=300, n_days=800, seed=0, flip_fraction=1.0)
    panel = build(generate(cfg))
    d = [str(x) for x in panel.dates]
    mcfg = preset("laptop", seed=0, train=DateRange(d[0], d[550]),
                  valid=DateRange(d[571], d[-1]), max_evaluations=4000, max_rounds=2,
                  time_budget_s=None)
    result = mine(panel, mcfg)
    checks = _planted_check(panel, result, (571, len(d) - 1))
    assert checks and max(v for v, _ in checks) > 0.02
    assert any(v > 0.01 and c > 0.3 for v, c in checks), checks


def test_generator_loss_terms() -> None:
    from engine.mining.loop import generator_loss

    cfg = tiny()
    onehot = torch.nn.functional.one_hot(torch.arange(20) % 5, 51).float()[None].repeat(4, 1, 1)
    latent = torch.rand(4, 256, generator=torch.Generator().manual_seed(0))
    pred = torch.tensor([1.0, 2.0, 3.0, 4.0])
    total, parts = generator_loss(pred, latent, latent, onehot, onehot, cfg)
    assert parts["pred"] == -2.5
    assert parts["overlap"] == pytest.approx(0.6)  # identical formulas: overlap 1 - 0.4
    assert parts["latent"] == pytest.approx(0.6, abs=1e-5)  # identical latents: cos 1 - 0.4
    assert float(total) == pytest.approx(-2.5 + 10 * 0.6 + 10 * 0.6, abs=1e-4)
    other = torch.nn.functional.one_hot((torch.arange(20) + 1) % 5, 51).float()[None]
    _, parts = generator_loss(pred, latent, latent.flip(0), onehot, other.repeat(4, 1, 1), cfg)
    assert parts["overlap"] == 0.0


def test_warmup_seeds_the_classic_factors_and_admits_from_the_warmup(small_panel: Panel) -> None:
    from engine.expr.classic import CLASSIC
    from engine.mining.loop import NeuralMiner
    from engine.mining.session import Session

    cfg = tiny(warmup_seeds=4, warmup_admit=True, warmup=200)
    session = Session(small_panel, cfg)
    miner = NeuralMiner(session)
    seeds = miner.seed_formulas(session)
    from engine.mining.loop import _encodable

    classic = {session.key(e) for e in (_encodable(session, f.formula) for f in CLASSIC.values())
               if e is not None}
    assert 10 <= len(seeds) <= cfg.warmup // 2 and len(set(seeds) & classic) >= 5
    assert all(row.shape == (cfg.max_len,) for row in seeds.values())
    candidates = miner.warmup(Session(small_panel, cfg))
    assert candidates and len(candidates) <= cfg.warmup
    result = mine(small_panel, cfg.with_(max_rounds=1))
    assert any(m.round == -1 for m in result.zoo)  # admitted from the warm-up


def test_the_warmup_can_start_from_alpha158(small_panel: Panel) -> None:
    from engine.errors import ConfigError
    from engine.expr.builtin_sets import builtin_set
    from engine.mining.loop import NeuralMiner, _encodable
    from engine.mining.session import Session

    cfg = tiny(warmup_seeds=2, warmup=400, warmup_seed_set="alpha158")
    session = Session(small_panel, cfg)
    seeds = NeuralMiner(session).seed_formulas(session)
    alpha158 = {session.key(e) for e in (_encodable(session, f)
                                         for f in builtin_set("alpha158").formulas)
                if e is not None}
    assert len(alpha158) >= 20 and len(set(seeds) & alpha158) >= 10
    with pytest.raises(ConfigError, match="seed factor set 'alpha999'"):
        tiny(warmup_seed_set="alpha999")
