"""CLI commands end to end on small data: demo, import, datasets, inspect, runs, --json."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.cli import main
from tests.conftest import REPO, make_market


def _json(capsys: pytest.CaptureFixture[str]) -> dict:  # type: ignore[type-arg]
    return json.loads(capsys.readouterr().out)


def test_demo_then_listing_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    proj = str(tmp_path / "demo")
    assert main(["demo", "--project", proj, "--tickers", "20", "--days", "120", "--json"]) == 0
    out = _json(capsys)["result"]
    assert out["created"] and out["dataset"]["n_tickers"] <= 20
    assert main(["demo", "--project", proj, "--if-missing", "--json"]) == 0
    assert _json(capsys)["result"]["created"] is False
    assert main(["datasets", "--project", proj, "--json"]) == 0
    assert [d["name"] for d in _json(capsys)["result"]] == ["demo"]
    assert main(["inspect", "demo", "--project", proj, "--json"]) == 0
    stats = _json(capsys)["result"]["stats"]
    assert {c["column"] for c in stats["columns"]} >= {"open", "close", "volume", "vwap"}
    assert 0 < stats["coverage"] <= 1
    assert main(["runs", "--project", proj]) == 0
    assert "demo" in capsys.readouterr().out


def test_import_text_output_and_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "prices.parquet"
    make_market().write_parquet(path)
    proj = str(tmp_path / "p")
    assert main(["import", str(path), "--project", proj]) == 0
    text = capsys.readouterr().out
    assert "Imported 'prices'" in text and "vwap" in text
    assert main(["import", str(path), "--project", proj]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["inspect", "nope", "--project", proj]) == 2
    assert "no dataset 'nope'" in capsys.readouterr().err
    assert main(["datasets", "--project", str(tmp_path / "none")]) == 2


def test_alphaforge_env_home(tmp_path: Path) -> None:
    env = {**os.environ, "ALPHAFORGE_HOME": str(tmp_path / "home")}
    res = subprocess.run([sys.executable, "-m", "engine.cli", "demo", "--tickers", "15",
                          "--days", "100", "--json"], cwd=REPO, env=env, capture_output=True,
                         text=True, check=True)
    assert json.loads(res.stdout)["result"]["project"] == str(tmp_path / "home/projects/demo")


def test_real_file_import_json(us_file: Path, tmp_path: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["import", str(us_file), "--project", str(tmp_path / "p"), "--json"]) == 0
    result = _json(capsys)["result"]
    assert result["dataset"]["n_tickers"] == 505
    assert any("LNT +101%" in w for w in result["warnings"])


def test_check_and_eval_read_qlib_syntax(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    """``check`` and ``eval --file`` take Qlib expressions as well as the function form; an
    operator without an equivalent is named (#20 item 2)."""
    assert main(["check", "($close-Ref($close, 1))/Std($close, 20)", "--json"]) == 0
    assert _json(capsys)["result"]["formula"] == (
        "Div(Sub($close, Ref($close, 1)), ts_std($close, 20))")
    assert main(["check", "Skew($close, 20)"]) == 2
    assert "Qlib operator Skew is not supported" in capsys.readouterr().err
    proj = str(tmp_path / "demo")
    assert main(["demo", "--project", proj, "--tickers", "20", "--days", "200"]) == 0
    file = tmp_path / "f.txt"
    file.write_text("Mean($close, 5)/$close\nts_mean($close, 5)\n")
    capsys.readouterr()
    assert main(["eval", "--project", proj, "--dataset", "demo", "--file", str(file),
                 "--json"]) == 0
    rows = _json(capsys)["result"]["results"]
    assert [r["formula"] for r in rows] == ["Div(ts_mean($close, 5), $close)",
                                            "ts_mean($close, 5)"]
