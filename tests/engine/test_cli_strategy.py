"""`combine` and `backtest` from the command line, on a small demo market and the US file."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl
import pytest

from engine.cli import main
from engine.data.synthetic import SyntheticConfig
from engine.store.demo import ensure_demo


def _json(capsys: pytest.CaptureFixture[str]) -> dict:  # type: ignore[type-arg]
    return json.loads(capsys.readouterr().out)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("demo") / "p"
    ensure_demo(root, SyntheticConfig(n_tickers=60, n_days=500, seed=3))
    return root


def test_combine_then_backtest_classic(demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["combine", "--project", str(demo), "--factors", "classic", "--test",
                 "2016-06-01:", "--json"]) == 0
    out = _json(capsys)["result"]
    assert out["strategy"] == "classic-dynamic" and out["factor_set"] == "classic"
    assert out["summary"]["n_days"] > 100
    scores = pl.read_parquet(out["scores_file"])
    assert scores.columns == ["date", "ticker", "score"]
    assert scores.get_column("date").min() >= dt.date(2016, 6, 1)
    weights = pl.read_parquet(out["weights_file"])
    assert {"date", "factor", "coef", "active", "reason"} <= set(weights.columns)

    assert main(["backtest", "--project", str(demo), "--strategy", "classic-dynamic",
                 "--top-k", "10", "--drop-n", "2", "--json"]) == 0
    bt = _json(capsys)["result"]
    daily = pl.read_parquet(bt["daily_file"])
    assert daily.height == bt["summary"]["n_days"]
    assert "conventions" in bt["summary"]
    assert (daily["net"] - (daily["gross"] - daily["cost"])).abs().max() < 1e-12

    # static baseline with an explicit training range, text output
    assert main(["combine", "--project", str(demo), "--factors", "classic", "--method",
                 "static", "--train", "2015-01-01:2016-03-31", "--test", "2016-06-01:",
                 "--window", "inf"]) == 0
    assert "Strategy 'classic-static'" in capsys.readouterr().out


@pytest.mark.parametrize(("argv", "message"), [
    (["combine", "--factors", "classic", "--test", "2030-01-01:2030-12-31"],
     "holds no trading day"),
    (["combine", "--factors", "classic", "--test", "yesterday"], "must look like START:END"),
    (["combine", "--factors", "nope", "--test", "2016-01-01:"], "no factor set 'nope'"),
    (["combine", "--test", "2016-01-01:"], "give the factors to combine"),
    (["combine", "--factors", "classic", "--test", "2016-01-01:", "--window", "ten"],
     "--window must be a whole number"),
    (["backtest", "--strategy", "missing"], "no strategy 'missing'"),
    (["backtest", "--strategy", "classic-dynamic", "--drop-n", "60"], "drop_n must be"),
])
def test_bad_requests_are_refused(demo: Path, argv: list[str], message: str,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*argv, "--project", str(demo)]) == 2
    assert message in capsys.readouterr().err


def test_test_days_default_to_the_datasets_split(demo: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """Without --test the strategy is scored on the dataset's suggested test range, as the
    Combine page opens on; it used to be an error."""
    assert main(["combine", "--factors", "classic", "--name", "defaulted",
                 "--project", str(demo)]) == 0
    out = capsys.readouterr().out
    assert "Strategy 'defaulted'" in out and "test days" in out


def test_real_data_combine_backtest(us_file: Path, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    proj = str(tmp_path / "us")
    assert main(["import", str(us_file), "--project", proj, "--name", "us"]) == 0
    capsys.readouterr()
    assert main(["combine", "--project", proj, "--factors", "classic", "--test",
                 "2017-01-01:2017-12-31", "--target-price", "close", "--name", "us-dyn",
                 "--json"]) == 0
    s = _json(capsys)["result"]["summary"]
    assert s["rank_ic"] < 0.06  # weak large-cap signals: a big positive IC would mean leakage
    assert main(["backtest", "--project", proj, "--strategy", "us-dyn", "--json"]) == 0
    assert _json(capsys)["result"]["summary"]["n_days"] > 200


def test_a_runs_test_days_default_to_after_its_validation_range() -> None:
    from engine.combine.service import default_test_range
    from engine.mining.zoo import FactorSet

    run = FactorSet("r", (), source={"split": {"train": ["2011-01-04", "2018-12-28"],
                                               "valid": ["2019-01-02", "2019-12-31"]}})
    assert default_test_range(run) == ("2020-01-01", None)
    assert default_test_range(FactorSet("classic", ())) is None


def test_alpha158_is_a_builtin_factor_set(demo: Path, capsys: pytest.CaptureFixture[str]
                                          ) -> None:
    """Qlib's Alpha158 is offered and combined like the classic set (#20 item 2)."""
    from engine.combine.service import available_factor_sets, resolve_factor_set
    from engine.expr.builtin_sets import BUILTIN_SETS
    from engine.store.project import Project

    project = Project.open(demo)
    assert set(BUILTIN_SETS) <= set(available_factor_sets(project))
    assert len(resolve_factor_set(project, "alpha158").formulas) == 158
    assert main(["combine", "--project", str(demo), "--factors", "alpha158", "--method",
                 "equal", "--test", "2016-06-01:", "--json"]) == 0
    out = _json(capsys)["result"]
    assert out["factor_set"] == "alpha158" and out["summary"]["n_days"] > 100
