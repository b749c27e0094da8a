"""The whole research loop from the command line: mine -> combine -> backtest, each saved."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.cli import main
from engine.data.synthetic import SyntheticConfig
from engine.store.demo import ensure_demo
from engine.store.project import Project


def _json(capsys: pytest.CaptureFixture[str]) -> dict:  # type: ignore[type-arg]
    return json.loads(capsys.readouterr().out)


def _pipeline(proj: str, capsys: pytest.CaptureFixture[str], extra: list[str],
              test: str | None) -> None:
    """Mine, combine the run's zoo (on ``test``, or by default after its validation range)
    and backtest, all from the command line."""
    assert main(["mine", "--project", proj, "--generator", "cnn", "--preset", "laptop",
                 "--seed", "0", "--json", *extra]) == 0
    mined = _json(capsys)["result"]
    run_id = mined["run_id"]
    project = Project.open(proj)
    assert project.run_record(run_id).status == "done"
    assert (project.root / "factors" / f"{run_id}.json").exists()
    if not mined["zoo"]:
        pytest.skip("the tiny budget admitted no factor on this data")
    days = ["--test", test] if test else []
    assert main(["combine", "--project", proj, "--run", run_id, *days, "--name", "mega",
                 "--json"]) == 0
    combined = _json(capsys)["result"]
    assert combined["factor_set"] == run_id and Path(combined["scores_file"]).exists()
    assert main(["backtest", "--project", proj, "--strategy", "mega", "--top-k", "10",
                 "--drop-n", "2", "--json"]) == 0
    assert Path(_json(capsys)["result"]["daily_file"]).exists()
    kinds = [r.kind for r in project.runs()]
    assert "mine" in kinds


def test_demo_market_pipeline(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    proj = str(tmp_path / "demo")
    ensure_demo(Path(proj), SyntheticConfig(n_tickers=50, n_days=420, seed=2))
    _pipeline(proj, capsys, ["--max-evaluations", "2600", "--zoo-size", "5"], None)


@pytest.mark.slow
def test_us_data_pipeline(us_file: Path, tmp_path: Path,
                          capsys: pytest.CaptureFixture[str]) -> None:
    proj = str(tmp_path / "us")
    assert main(["import", str(us_file), "--project", proj, "--name", "us"]) == 0
    capsys.readouterr()
    _pipeline(proj, capsys, ["--max-evaluations", "2600", "--zoo-size", "5",
                             "--train", "2013-02-08:2016-06-30",
                             "--valid", "2016-07-01:2016-12-31"], "2017-01-01:2017-12-31")
