"""Mining config: presets, serialisation, and bad configs rejected with clear messages."""

from __future__ import annotations

import json

import pytest

from engine.data.panel import Panel
from engine.errors import ConfigError
from engine.mining.config import DateRange, MiningConfig, normalise_fitness, preset
from engine.mining.presets import LAPTOP
from engine.mining.split import resolve_split, suggest_split


def test_paper_defaults_match_the_spec() -> None:
    c = MiningConfig()
    assert (c.max_len, c.noise_dim, c.batch_size) == (20, 100, 256)
    assert (c.g_steps, c.g_patience, c.g_lr) == (200, 10, 1e-3)
    assert (c.p_epochs, c.p_patience, c.p_batch, c.p_lr, c.p_cap) == (100, 10, 64, 1e-3, 20_000)
    assert (c.warmup, c.new_per_round, c.random_per_round, c.zoo_size) == (10_000, 1_000,
                                                                          1_000, 100)
    assert (c.ic_thresh, c.icir_thresh, c.corr_thresh) == (0.03, 0.1, 0.7)
    assert (c.w_pred, c.w_overlap, c.w_latent, c.overlap_thresh, c.latent_thresh) == (
        1.0, 10.0, 10.0, 0.4, 0.4)
    assert c.p_current_weight == 2.0 and c.generator == "cnn" and c.fitness == "ic"


def test_laptop_preset_matches_the_docs_table() -> None:
    # The spec's laptop table with a smaller generator batch and a longer patience, so that a
    # 10-minute run on a real market trains three rounds of 20+ generator steps (docs/mining.md).
    c = preset("laptop")
    assert (c.batch_size, c.g_steps, c.g_patience, c.p_epochs, c.p_patience, c.p_cap) == (
        64, 50, 20, 30, 5, 5_000)
    # the time budget is split into time_rounds rounds for a neural generator; GP and random
    # search go on generation after generation until it is spent
    assert (c.max_rounds, c.time_rounds, c.random_per_round, c.warmup_time_share) == (
        None, 3, 250, 0.2)
    assert (c.warmup, c.new_per_round, c.zoo_size) == (2_000, 500, 20)
    assert c.time_budget_s is not None
    assert preset("laptop", zoo_size=7).zoo_size == 7
    assert set(LAPTOP) <= set(MiningConfig.__dataclass_fields__)


def test_round_trip_through_json() -> None:
    c = preset("laptop", generator="transformer", fitness="RankICIR", seed=3,
               train=DateRange("2013-02-08", "2016-06-30"),
               valid=DateRange("2016-07-01", "2016-12-31"),
               test=DateRange("2017-01-01", "2017-12-31"))
    again = MiningConfig.from_dict(json.loads(json.dumps(c.to_dict())))
    assert again == c and again.fitness == "rank_icir"


@pytest.mark.parametrize("name,expected", [("ic", "ic"), ("rankic", "rank_ic"),
                                           ("RankIC", "rank_ic"), ("icir", "icir"),
                                           ("rankicir", "rank_icir"), ("rank_icir", "rank_icir")])
def test_fitness_spellings(name: str, expected: str) -> None:
    assert normalise_fitness(name) == expected


@pytest.mark.parametrize("kwargs,message", [
    ({"generator": "gan"}, "unknown generator 'gan'; choose one of cnn, lstm, gru, transformer"),
    ({"fitness": "sharpe"}, "unknown fitness 'sharpe'"),
    ({"device": "tpu"}, "unknown device 'tpu'"),
    ({"train": ["2016-01-01", "2015-01-01"], "valid": ["2016-02-01", "2016-03-01"]},
     "is empty: the start is after the end"),
    ({"train": ["2015-01-01", "2016-01-31"], "valid": ["2016-01-15", "2016-06-30"]},
     "the train range 2015-01-01..2016-01-31 overlaps the valid range"),
    ({"train": ["2015-01-01", "2015-12-31"], "valid": ["2016-01-01", "2016-06-30"],
      "test": ["2016-06-01", "2016-12-31"]}, "the valid range 2016-01-01..2016-06-30 overlaps"),
    ({"train": ["2016-01-01", "2016-12-31"], "valid": ["2015-01-01", "2015-06-30"]},
     "must come after the train range"),
    ({"train": ["2015-01-01", "2015-12-31"]}, "needs a valid range"),
    ({"train": ["2015-13-01", "2015-12-31"], "valid": ["2016-01-01", "2016-02-01"]},
     "'2015-13-01' is not an ISO date"),
    ({"generator": "lstm", "max_len": 1}, "max_len must be in 2..60"),
    ({"max_len": 25}, "the cnn generator produces exactly 20 positions"),
    ({"zoo_size": 0}, "zoo_size must be a whole number >= 1"),
    ({"corr_thresh": 1.5}, "corr_thresh must be in (0, 1]"),
    ({"stop_when_full": False}, "stop_when_full=False needs a budget"),
    ({"gp_crossover": 0.9, "gp_subtree_mutation": 0.2}, "sum of at most 1"),
    ({"seed": -1}, "seed must be a whole number >= 0"),
    ({"operators": "fancy"}, "unknown operator set 'fancy'"),
])
def test_bad_configs_are_rejected_with_clear_messages(kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        MiningConfig(**kwargs)
    assert message in str(err.value)


def test_unknown_fields_and_newer_schema_are_rejected() -> None:
    with pytest.raises(ConfigError, match="unknown field"):
        MiningConfig.from_dict({"generatr": "cnn"})
    with pytest.raises(ConfigError, match="update the application"):
        MiningConfig.from_dict({"schema_version": 99})
    with pytest.raises(ConfigError, match="unknown preset 'desktop'"):
        preset("desktop")


def test_date_range_parsing() -> None:
    assert DateRange.parse("2013-02-08:2016-06-30") == DateRange("2013-02-08", "2016-06-30")
    assert DateRange.parse("2013-02-08..2016-06-30").end == "2016-06-30"
    with pytest.raises(ConfigError, match="must look like"):
        DateRange.parse("2013-02-08")


def test_ranges_without_trading_days_are_rejected(small_panel: Panel) -> None:
    cfg = MiningConfig(train=["2015-01-02", "2015-09-30"], valid=["2019-01-01", "2019-06-30"])
    with pytest.raises(ConfigError, match=r"the valid range 2019-01-01..2019-06-30 holds 0 "
                                          r"trading day\(s\) of this dataset"):
        resolve_split(small_panel, cfg)
    short = MiningConfig(train=["2015-01-02", "2015-01-20"], valid=["2015-03-01", "2015-06-30"])
    with pytest.raises(ConfigError, match="the train range .* it needs at least 41"):
        resolve_split(small_panel, short)


def test_suggested_split_has_gaps_and_no_overlap(small_panel: Panel) -> None:
    train, valid, test = suggest_split(small_panel, horizon=20)
    split = resolve_split(small_panel, MiningConfig())
    (a0, a1), (b0, b1), (c0, c1) = split.train, split.valid, split.test  # type: ignore[misc]
    assert a0 == 0 and c1 == small_panel.n_days - 1
    assert b0 - a1 == 22 and c0 - b1 == 22  # 21 days between segments
    assert not train.overlaps(valid) and not valid.overlaps(test)
