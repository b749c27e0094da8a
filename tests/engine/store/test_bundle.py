"""Experiment bundles: export -> import round trips, manifest and hashes, and every way a bundle
can be refused (tampered, truncated, zip-slip, conflicts, missing data) leaving the project
exactly as it was."""

from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
from pathlib import Path

import polars as pl
import pytest

from engine.data.io import ROW, RawTable
from engine.data.validate import check
from engine.errors import StoreError
from engine.store import atomic
from engine.store.bundle import (
    MANIFEST,
    bundle_bytes,
    export_bundle,
    import_bundle,
    read_manifest,
)
from engine.store.project import Project
from engine.store.strategies import save_strategy
from tests.conftest import make_market, tree_digest


def _dataset(seed: int = 0):  # type: ignore[no-untyped-def]
    frame = make_market(seed=seed)
    raw = RawTable(frame.with_columns(pl.int_range(1, frame.height + 1).cast(pl.Utf8).alias(ROW)),
                   source="mem")
    return check(raw)


def _fake_run(project: Project, dataset: str = "prices") -> str:
    """A finished 'mine' run with the files a real one leaves (content is irrelevant here)."""
    record = project.new_run("mine", {"seed": 0, "generator": "cnn"}, seed=0, dataset=dataset)
    run_id = record.run_id
    folder = project.run_dir(run_id)
    zoo = {"name": run_id, "created": "x", "schema_version": 1,
           "source": {"kind": "mined", "run_id": run_id, "dataset": dataset},
           "factors": [{"formula": "Mean($close, 5)", "fitness": 0.1, "metrics": {}}]}
    atomic.write_json(folder / "zoo.json", zoo)
    atomic.write_json(project.root / "factors" / f"{run_id}.json", zoo)
    atomic.append_line(folder / "progress.jsonl", json.dumps({"event": "started"}))
    atomic.write_bytes(folder / "checkpoint.pt", b"\0" * 4096)
    atomic.write_bytes(folder / ".tmp-half.json", b"{")
    project.save_record(record.finished("done"))
    return run_id


@pytest.fixture
def source(tmp_path: Path) -> tuple[Project, str]:
    project = Project.create(tmp_path / "src")
    project.save_dataset("prices", _dataset())
    return project, _fake_run(project)


def _rewrite(src: Path, dst: Path, *, change: dict[str, bytes | None] | None = None,
             extra: dict[str, bytes] | None = None,
             manifest: dict | None = None) -> None:  # type: ignore[type-arg]
    """Copy a zip, replacing (or dropping, None) some entries and adding others."""
    change = change or {}
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            if info.filename == MANIFEST and manifest is not None:
                zout.writestr(MANIFEST, json.dumps(manifest))
            elif info.filename in change:
                if change[info.filename] is not None:
                    zout.writestr(info.filename, change[info.filename])  # type: ignore[arg-type]
            else:
                zout.writestr(info, zin.read(info))
        for name, data in (extra or {}).items():
            zout.writestr(name, data)


# --------------------------------------------------------------------------- round trips


def test_run_round_trip_manifest_and_files(source: tuple[Project, str], tmp_path: Path) -> None:
    project, run_id = source
    out = tmp_path / "run.zip"
    manifest = export_bundle(project, out, run_id=run_id)
    assert manifest.kind == "run" and manifest.name == run_id
    assert manifest.runs == (run_id,) and manifest.factor_sets == (run_id,)
    assert not manifest.with_data and manifest.datasets == ()
    meta = project.dataset_meta("prices")
    assert [(d.name, d.content_hash) for d in manifest.requires] == [("prices",
                                                                      meta.content_hash)]
    paths = {f.path for f in manifest.files}
    assert paths == {f"runs/{run_id}/{n}" for n in ("config.json", "record.json",
                                                    "progress.jsonl", "zoo.json")} | {
        f"factors/{run_id}.json"}  # no checkpoint, no temp file
    on_disk = json.loads(zipfile.ZipFile(out).read(MANIFEST))
    assert on_disk["app_version"] and on_disk["schema_version"] == 1
    assert on_disk["includes"]["runs"] == [run_id] and "torch" in on_disk["versions"]
    with zipfile.ZipFile(out) as zf:
        for f in manifest.files:
            assert hashlib.sha256(zf.read(f.path)).hexdigest() == f.sha256
    assert read_manifest(out) == manifest

    # a fresh project holding the same data (under another name: records are pointed at it)
    dst = Project.create(tmp_path / "dst")
    dst.save_dataset("other", _dataset())
    result = import_bundle(out, dst.root)
    assert result.name == run_id and result.dataset_renames == {"prices": "other"}
    assert dst.run_record(run_id).dataset == "other"
    assert json.loads((dst.root / "factors" / f"{run_id}.json").read_text())["source"][
        "dataset"] == "other"
    assert (dst.run_dir(run_id) / "progress.jsonl").read_bytes() == (
        project.run_dir(run_id) / "progress.jsonl").read_bytes()


def test_with_data_and_checkpoint_into_a_new_folder(source: tuple[Project, str],
                                                    tmp_path: Path) -> None:
    project, run_id = source
    data = bundle_bytes(project, run_id=run_id, with_data=True, with_checkpoint=True)
    manifest = read_manifest(data)
    assert manifest.datasets == ("prices",) and manifest.with_checkpoint
    assert f"runs/{run_id}/checkpoint.pt" in {f.path for f in manifest.files}
    result = import_bundle(io.BytesIO(data), tmp_path / "new" / "proj")
    target = Project.open(tmp_path / "new" / "proj")
    assert result.written[0] == "datasets/prices"
    assert target.dataset_meta("prices").content_hash == project.dataset_meta(
        "prices").content_hash
    assert target.run_record(run_id).status == "done"
    assert (target.run_dir(run_id) / "checkpoint.pt").stat().st_size == 4096
    assert not [p for p in target.root.rglob("*") if p.name.startswith(".tmp-")]


def test_strategy_bundle_brings_its_run_and_keeps_identical_items(
        source: tuple[Project, str], tmp_path: Path) -> None:
    project, run_id = source
    save_strategy(project, "mega", {"dataset": "prices", "factor_set": run_id,
                                    "dataset_hash": project.dataset_meta("prices").content_hash,
                                    "formulas": ["Mean($close, 5)"]},
                  {"scores": pl.DataFrame({"score": [1.0, 2.0]})})
    out = tmp_path / "s.zip"
    manifest = export_bundle(project, out, strategy="mega", with_data=True)
    assert manifest.kind == "strategy" and manifest.strategies == ("mega",)
    assert manifest.runs == (run_id,) and manifest.factor_sets == (run_id,)
    dst = tmp_path / "dst"
    first = import_bundle(out, dst)
    assert set(first.written) == {"datasets/prices", f"runs/{run_id}",
                                  f"factors/{run_id}.json", "strategies/mega"}
    # again under another name: the run, factor set and data are already there, identical
    second = import_bundle(out, dst, rename="mega2")
    assert second.written == ("strategies/mega2",)
    assert set(second.kept) == {"datasets/prices", f"runs/{run_id}", f"factors/{run_id}.json"}
    info = json.loads((dst / "strategies" / "mega2" / "strategy.json").read_text())
    assert info["name"] == "mega2"


def test_rename_a_run(source: tuple[Project, str], tmp_path: Path) -> None:
    project, run_id = source
    out = tmp_path / "run.zip"
    export_bundle(project, out, run_id=run_id)
    import_bundle(out, project.root, rename="my-copy")
    assert project.run_record("my-copy").run_id == "my-copy"
    zoo = json.loads((project.root / "factors" / "my-copy.json").read_text())
    assert zoo["name"] == "my-copy" and zoo["source"]["run_id"] == "my-copy"
    assert json.loads((project.run_dir("my-copy") / "zoo.json").read_text())["name"] == "my-copy"


# --------------------------------------------------------------------------- refusals


def test_conflicts_are_refused_unless_overwrite(source: tuple[Project, str],
                                                tmp_path: Path) -> None:
    project, run_id = source
    out = tmp_path / "run.zip"
    export_bundle(project, out, run_id=run_id, with_data=True)
    before = tree_digest(project.root)
    with pytest.raises(StoreError, match=f"run '{run_id}' already exists.*--rename"):
        import_bundle(out, project.root)
    assert tree_digest(project.root) == before
    (project.run_dir(run_id) / "extra.txt").write_text("local only")
    import_bundle(out, project.root, overwrite=True)
    assert not (project.run_dir(run_id) / "extra.txt").exists()

    other = Project.create(tmp_path / "other")
    other.save_dataset("prices", _dataset(seed=5))
    before = tree_digest(other.root)
    with pytest.raises(StoreError, match="dataset 'prices' already exists .* other data"):
        import_bundle(out, other.root)
    assert tree_digest(other.root) == before
    import_bundle(out, other.root, overwrite=True)
    assert other.dataset_meta("prices").content_hash == project.dataset_meta(
        "prices").content_hash


def test_missing_data_is_refused_and_nothing_is_created(source: tuple[Project, str],
                                                        tmp_path: Path) -> None:
    project, run_id = source
    out = tmp_path / "run.zip"
    export_bundle(project, out, run_id=run_id)
    with pytest.raises(StoreError, match="without its data .* no dataset 'prices'"):
        import_bundle(out, tmp_path / "fresh")
    assert not (tmp_path / "fresh").exists()
    other = Project.create(tmp_path / "other")
    other.save_dataset("prices", _dataset(seed=5))
    before = tree_digest(other.root)
    with pytest.raises(StoreError, match="holds other data.*--with-data"):
        import_bundle(out, other.root)
    assert tree_digest(other.root) == before


@pytest.mark.parametrize("damage", ["tampered", "truncated", "unlisted", "dropped", "bad-zoo",
                                    "no-manifest", "newer", "bad-meta"])
def test_damaged_bundles_name_the_file_and_write_nothing(
        source: tuple[Project, str], tmp_path: Path, damage: str) -> None:
    project, run_id = source
    good = tmp_path / "good.zip"
    manifest = export_bundle(project, good, run_id=run_id, with_data=True)
    bad = tmp_path / "bad.zip"
    record = f"runs/{run_id}/record.json"
    if damage == "tampered":
        data = zipfile.ZipFile(good).read(record).replace(b'"done"', b'"DONE"')
        _rewrite(good, bad, change={record: data})
        match = f"'{record}' does not match its checksum"
    elif damage == "truncated":
        raw = good.read_bytes()
        bad.write_bytes(raw[: len(raw) // 2])
        match = "damaged or truncated"
    elif damage == "unlisted":
        _rewrite(good, bad, extra={f"runs/{run_id}/evil.json": b"{}"})
        match = f"'runs/{run_id}/evil.json' is not listed"
    elif damage == "dropped":
        _rewrite(good, bad, change={record: None})
        match = f"'{record}' is listed .* but missing"
    elif damage == "no-manifest":
        _rewrite(good, bad, change={MANIFEST: None})
        match = "no manifest.json inside"
    elif damage == "bad-zoo":  # consistent checksums, but a formula that does not parse
        zoo_path = f"runs/{run_id}/zoo.json"
        zoo = json.loads(zipfile.ZipFile(good).read(zoo_path))
        zoo["factors"][0]["formula"] = "Add($close,"
        data = json.dumps(zoo).encode()
        doc = manifest.to_dict()
        doc["files"][zoo_path] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
        _rewrite(good, bad, change={zoo_path: data}, manifest=doc)
        match = f"{zoo_path}: factor 1 does not parse"
    elif damage == "newer":
        _rewrite(good, bad, manifest={**manifest.to_dict(), "schema_version": 99})
        match = "newer AlphaForge"
    else:  # a consistent manifest whose dataset meta lies about its panel
        meta_path = "datasets/prices/meta.json"
        meta = json.loads(zipfile.ZipFile(good).read(meta_path))
        data = json.dumps({**meta, "content_hash": "0" * 64}).encode()
        doc = manifest.to_dict()
        doc["files"][meta_path] = {"sha256": hashlib.sha256(data).hexdigest(),
                                   "size": len(data)}
        _rewrite(good, bad, change={meta_path: data}, manifest=doc)
        match = "does not describe its panel.parquet"
    dst = Project.create(tmp_path / "dst")
    before = tree_digest(dst.root)
    with pytest.raises(StoreError, match=match):
        import_bundle(bad, dst.root)
    assert tree_digest(dst.root) == before


@pytest.mark.parametrize("evil", ["../escape.txt", "runs/../../escape.txt", "/tmp/escape.txt",
                                  "runs\\..\\..\\escape.txt", "elsewhere/escape.txt",
                                  "runs/.hidden/x.json", "C:/escape.txt"])
def test_zip_slip_is_refused(source: tuple[Project, str], tmp_path: Path, evil: str) -> None:
    project, run_id = source
    good = tmp_path / "good.zip"
    manifest = export_bundle(project, good, run_id=run_id, with_data=True)
    payload = b"pwned"
    doc = manifest.to_dict()
    doc["files"][evil] = {"sha256": hashlib.sha256(payload).hexdigest(), "size": len(payload)}
    bad = tmp_path / "bad.zip"
    _rewrite(good, bad, extra={evil: payload}, manifest=doc)
    dst = tmp_path / "deep" / "dst"
    Project.create(dst)
    before = tree_digest(tmp_path / "deep")
    with pytest.raises(StoreError, match="is not a path inside a project"):
        import_bundle(bad, dst)
    assert tree_digest(tmp_path / "deep") == before
    assert not (tmp_path / "deep" / "escape.txt").exists()
    assert not (tmp_path / "escape.txt").exists()


def test_export_refusals(source: tuple[Project, str], tmp_path: Path) -> None:
    project, run_id = source
    with pytest.raises(StoreError, match="no run 'nope'"):
        export_bundle(project, tmp_path / "x.zip", run_id="nope")
    with pytest.raises(StoreError, match="exactly one"):
        export_bundle(project, tmp_path / "x.zip", run_id=run_id, strategy="s")
    with pytest.raises(StoreError, match="no strategy 'nope'"):
        export_bundle(project, tmp_path / "x.zip", strategy="nope")
    record = project.run_record(run_id)
    project.save_record(record.finished("running"))
    atomic.write_json(project.run_dir(run_id) / "worker.json", {"pid": os.getpid()})
    with pytest.raises(StoreError, match="still running"):
        export_bundle(project, tmp_path / "x.zip", run_id=run_id)
    (project.run_dir(run_id) / "worker.json").unlink()
    project.save_dataset("prices", _dataset(seed=5), overwrite=True)
    with pytest.raises(StoreError, match="dataset 'prices' changed"):
        export_bundle(project, tmp_path / "x.zip", run_id=run_id, with_data=True)
    assert not (tmp_path / "x.zip").exists()


def test_zip_bomb_is_refused_before_unpacking(source: tuple[Project, str], tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """An entry listed with its true hash but compressed ~1000:1, and a bundle that unpacks
    past the size budget, are refused with the limit and the variable that raises it."""
    from engine.limits import ENV_BUNDLE_MB, ENV_BUNDLE_RATIO

    project, run_id = source
    good = tmp_path / "good.zip"
    manifest = export_bundle(project, good, run_id=run_id, with_data=True)
    entry = f"runs/{run_id}/big.bin"
    payload = b"\0" * (8 << 20)
    doc = manifest.to_dict()
    doc["files"][entry] = {"sha256": hashlib.sha256(payload).hexdigest(), "size": len(payload)}
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(good) as zin, zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = json.dumps(doc).encode() if info.filename == MANIFEST else zin.read(info)
            zout.writestr(info.filename, data)
        zout.writestr(entry, payload)
    assert bomb.stat().st_size < 200_000
    dst = tmp_path / "dst"
    Project.create(dst)
    before = tree_digest(dst)
    with pytest.raises(StoreError, match=rf"big\.bin' is compressed [\d,]+:1, more than "
                                         rf"the limit of 200:1.*{ENV_BUNDLE_RATIO}="):
        import_bundle(bomb, dst)
    monkeypatch.setenv(ENV_BUNDLE_RATIO, "100000")
    monkeypatch.setenv(ENV_BUNDLE_MB, "4")
    with pytest.raises(StoreError, match=rf"unpacks to 9 MB, more than the limit of 4 MB.*"
                                         rf"{ENV_BUNDLE_MB}=9"):
        import_bundle(bomb, dst)
    assert tree_digest(dst) == before
    monkeypatch.setenv(ENV_BUNDLE_MB, "64")
    import_bundle(bomb, dst)  # within the raised limits it imports
    assert (dst / "runs" / run_id / "big.bin").stat().st_size == len(payload)
