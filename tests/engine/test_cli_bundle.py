"""`export-run`, `import-run` and `rerun` from the command line: a mined and backtested strategy
travels to a fresh project and re-runs identically; damaged, escaping or conflicting bundles are
refused with exit code 2 and leave the project untouched; a re-run that differs exits 1."""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
import torch

from engine.cli import main
from engine.data.synthetic import generate
from engine.mining import worker
from engine.store import atomic
from tests.conftest import tree_digest
from tests.engine.mining.conftest import SMALL, make_project, tiny


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _json(capsys: pytest.CaptureFixture[str]) -> dict:  # type: ignore[type-arg]
    return json.loads(capsys.readouterr().out)


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A strategy built on a tiny mining run, backtested and exported with its data."""
    root = tmp_path_factory.mktemp("src")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        project = make_project(root / "src", generate(SMALL))
        run_id = worker.run_mining(project, tiny(max_rounds=1, zoo_size=10, ic_thresh=0.02,
                                                 icir_thresh=0.1), dataset="demo")
        proj = ["--project", str(project.root)]
        assert main(["combine", *proj, "--run", run_id, "--test", "2015-10-01:", "--name",
                     "mega", "--window", "60"]) == 0
        assert main(["backtest", *proj, "--strategy", "mega", "--top-k", "10",
                     "--drop-n", "2"]) == 0
        bundle = root / "mega.zip"
        assert main(["export-run", *proj, "--strategy", "mega", "--with-data",
                     "--out", str(bundle)]) == 0
    finally:
        torch.set_num_threads(before)
    return bundle, run_id


def test_round_trip_into_a_fresh_project_reruns_identically(
        exported: tuple[Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bundle, run_id = exported
    capsys.readouterr()
    dst = tmp_path / "fresh"
    assert main(["import-run", str(bundle), "--project", str(dst), "--json"]) == 0
    result = _json(capsys)["result"]
    assert result["kind"] == "strategy" and result["name"] == "mega"
    assert set(result["written"]) == {"datasets/demo", f"runs/{run_id}",
                                      f"factors/{run_id}.json", "strategies/mega"}

    assert main(["rerun", run_id, "--project", str(dst)]) == 0
    out = capsys.readouterr().out
    assert f"run {run_id} -> re-run" in out and ": identical" in out
    assert main(["rerun", "--strategy", "mega", "--project", str(dst), "--json"]) == 0
    payload = _json(capsys)["result"]
    assert payload["identical"] and payload["rerun"] == "mega-rerun"
    assert {r["table"] for r in payload["rows"]} >= {"weights", "scores", "daily", "backtest"}

    # a difference: exit 1 and a table naming what differs
    path = dst / "strategies" / "mega" / "daily.parquet"
    daily = pl.read_parquet(path)
    atomic.write_parquet(path, daily.with_columns(pl.col("ic") * 2))
    assert main(["rerun", "--strategy", "mega", "--project", str(dst), "--overwrite"]) == 1
    out = capsys.readouterr().out
    assert "DIFFERENT in 1 of" in out and "daily.ic" in out and "max abs diff" in out


def test_refusals_exit_2_and_leave_the_project_unchanged(
        exported: tuple[Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bundle, run_id = exported
    dst = tmp_path / "dst"
    assert main(["import-run", str(bundle), "--project", str(dst)]) == 0
    capsys.readouterr()
    before = tree_digest(dst)

    # overwrite refused, then allowed
    assert main(["import-run", str(bundle), "--project", str(dst)]) == 2
    assert "strategy 'mega' already exists" in capsys.readouterr().err
    assert tree_digest(dst) == before

    # tampered: one byte of the scores changed
    tampered = tmp_path / "tampered.zip"
    name = "strategies/mega/strategy.json"
    with zipfile.ZipFile(bundle) as zin, zipfile.ZipFile(tampered, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            zout.writestr(info, data.replace(b'"mega"', b'"megA"') if info.filename == name
                          else data)
    assert main(["import-run", str(tampered), "--project", str(dst), "--rename", "x"]) == 2
    assert f"'{name}' does not match its checksum" in capsys.readouterr().err
    assert tree_digest(dst) == before

    # zip-slip: an entry listed in the manifest with the right hash, outside the project
    slip = tmp_path / "slip.zip"
    with zipfile.ZipFile(bundle) as zin, zipfile.ZipFile(slip, "w") as zout:
        manifest = json.loads(zin.read("manifest.json"))
        manifest["files"]["strategies/../../escape.txt"] = {
            "sha256": hashlib.sha256(b"x").hexdigest(), "size": 1}
        for info in zin.infolist():
            if info.filename != "manifest.json":
                zout.writestr(info, zin.read(info))
        zout.writestr("manifest.json", json.dumps(manifest))
        zout.writestr("strategies/../../escape.txt", b"x")
    assert main(["import-run", str(slip), "--project", str(dst), "--rename", "y"]) == 2
    assert "is not a path inside a project" in capsys.readouterr().err
    assert tree_digest(dst) == before and not (tmp_path / "escape.txt").exists()

    assert main(["import-run", str(bundle), "--project", str(dst), "--overwrite"]) == 0
    assert main(["export-run", run_id, "--strategy", "mega", "--project", str(dst),
                 "--out", str(tmp_path / "z.zip")]) == 2
    assert "not both" in capsys.readouterr().err
