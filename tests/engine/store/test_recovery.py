"""A store that survives killed writes, refusing disks and edited files (#21 items 3, 10, 15).

- a kill between the two renames of a replace hides the old dataset in ``.tmp-old-*``: the next
  open puts it back (fault injected by killing a child process at that very rename);
- a second rename that fails is rolled back at once; stale ``.tmp-*`` folders are removed;
- a full disk, a read-only file system or a denied write is one line naming the path, in
  English and Korean, with the project byte-identical;
- a ``panel.parquet`` changed outside AlphaForge is refused by runs, evaluation and exports.
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest

from engine import i18n
from engine.data.io import ROW, RawTable
from engine.data.validate import check
from engine.errors import StoreError
from engine.store import atomic
from engine.store.project import Project
from tests.conftest import REPO, make_market, tree_digest


def _dataset(seed: int = 0):  # type: ignore[no-untyped-def]
    frame = make_market(seed=seed)
    raw = RawTable(frame.with_columns(pl.int_range(1, frame.height + 1).cast(pl.Utf8).alias(ROW)),
                   source="mem")
    return check(raw)


#: Replace a dataset in a child process that SIGKILLs itself at the swap's second rename
#: (the strace fault injection of the issue, without strace).
_KILLED_SWAP = """
import os, signal, sys
sys.path.insert(0, {repo!r})
from tests.engine.store.test_recovery import _dataset
from engine.store import atomic
from engine.store.project import Project
real = os.replace
def replace(src, dst):
    if os.path.basename(str(src)).startswith(".tmp-prices-"):
        os.kill(os.getpid(), signal.SIGKILL)
    real(src, dst)
atomic.os.replace = replace
Project.open({root!r}).save_dataset("prices", _dataset(seed=1), overwrite=True)
"""


def test_a_kill_between_the_renames_is_recovered_on_the_next_open(tmp_path: Path) -> None:
    project = Project.create(tmp_path / "p")
    project.save_dataset("prices", _dataset())
    before = tree_digest(project.dataset_dir("prices"))
    child = subprocess.run([sys.executable, "-c", _KILLED_SWAP.format(
        repo=str(REPO), root=str(project.root))], cwd=REPO, timeout=120)
    assert child.returncode == -9
    hidden = sorted(p.name for p in (project.root / "datasets").iterdir())
    assert hidden[0].startswith(".tmp-") and "prices" not in hidden  # what the user saw
    assert Project.open(project.root).dataset_names() == []  # within the swap's grace
    done = atomic.recover(project.root / "datasets", now=time.time() + atomic.SWAP_GRACE_S + 1)
    assert done == ["restored prices (an interrupted replace)"]
    assert tree_digest(project.dataset_dir("prices")) == before
    # the killed import's new folder goes once it is stale
    atomic.recover(project.root / "datasets", now=time.time() + atomic.TMP_GRACE_S + 1)
    assert [p.name for p in (project.root / "datasets").iterdir()] == ["prices"]


def test_open_restores_a_hidden_dataset_and_drops_stale_temporaries(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(atomic, "SWAP_GRACE_S", -1.0)  # the rename below is a second old
    project = Project.create(tmp_path / "p")
    project.save_dataset("prices", _dataset())
    datasets = project.root / "datasets"
    os.replace(datasets / "prices", datasets / ".tmp-old-prices-0123abcd")
    stale = datasets / ".tmp-other-89abcdef"
    stale.mkdir()
    (stale / "panel.parquet").write_bytes(b"x" * 1000)
    fresh = datasets / ".tmp-busy-00000000"  # a write in progress elsewhere: left alone
    fresh.mkdir()
    long_ago = time.time() - 2 * atomic.TMP_GRACE_S
    for path in (datasets / ".tmp-old-prices-0123abcd", stale):
        os.utime(path, (long_ago, long_ago))
    reopened = Project.open(project.root)
    assert reopened.dataset_names() == ["prices"]
    assert sorted(p.name for p in datasets.iterdir()) == [".tmp-busy-00000000", "prices"]


def test_a_failed_second_rename_puts_the_old_folder_back(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    project = Project.create(tmp_path / "p")
    project.save_dataset("prices", _dataset())
    before = tree_digest(project.root)
    real = os.replace

    def replace(src: object, dst: object) -> None:
        if Path(str(src)).name.startswith(".tmp-prices-"):
            raise OSError(errno.EIO, "Input/output error")
        real(src, dst)  # type: ignore[arg-type]

    monkeypatch.setattr(atomic.os, "replace", replace)
    with pytest.raises(StoreError, match="Input/output error; nothing was changed"):
        project.save_dataset("prices", _dataset(seed=1), overwrite=True)
    monkeypatch.undo()
    assert tree_digest(project.root) == before


@pytest.mark.parametrize(("number", "code", "words", "korean"), [
    (errno.ENOSPC, "write_disk_full", "the disk is full", "디스크가 가득"),
    (errno.EROFS, "write_read_only", "read-only", "읽기 전용"),
    (errno.EACCES, "write_denied", "permission denied", "권한"),
])
def test_a_refused_write_is_one_line_and_changes_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, number: int, code: str, words: str,
        korean: str) -> None:
    project = Project.create(tmp_path / "p")
    project.save_dataset("prices", _dataset())
    before = tree_digest(project.root)

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise OSError(number, os.strerror(number))

    for target, name in ((atomic, "create_tmp"), (Path, "mkdir")):
        with monkeypatch.context() as m:
            m.setattr(target, name, refuse)
            with pytest.raises(StoreError) as err:
                project.save_dataset("more", _dataset())
        assert err.value.code == code and words in str(err.value)
        assert "\n" not in str(err.value) and "nothing was changed" in str(err.value)
        assert korean in i18n.render("errors", code, err.value.params, "ko")
        assert tree_digest(project.root) == before


def test_a_full_disk_inside_a_parquet_write_is_named(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """polars reports the OS error inside its own exception type."""
    def full(self: pl.DataFrame, *_args: object, **_kwargs: object) -> None:
        raise pl.exceptions.ComputeError("failed to write: No space left on device "
                                         "(os error 28)")

    monkeypatch.setattr(pl.DataFrame, "write_parquet", full)
    with pytest.raises(StoreError, match="the disk is full"):
        atomic.write_parquet(tmp_path / "x.parquet", pl.DataFrame({"a": [1]}))
    assert list(tmp_path.iterdir()) == []


def test_a_dataset_changed_outside_alphaforge_is_refused(tmp_path: Path) -> None:
    project = Project.create(tmp_path / "p")
    project.save_dataset("prices", _dataset())
    project.load_panel("prices")  # fine before
    panel = project.dataset_dir("prices") / "panel.parquet"
    make_market(seed=5).write_parquet(panel)  # swapped for other data
    with pytest.raises(StoreError) as err:
        project.load_panel("prices")
    assert err.value.code == "dataset_changed" and "re-import" in str(err.value)
    assert "다시 가져오세요" in i18n.render("errors", err.value.code, err.value.params, "ko")


def test_project_files_get_the_users_usual_permissions(tmp_path: Path) -> None:
    """Not 0600 (what tempfile.mkstemp makes): a project folder shared with colleagues stays
    readable for them."""
    old = os.umask(0o022)
    try:
        project = Project.create(tmp_path / "p")
        project.save_dataset("prices", _dataset())
    finally:
        os.umask(old)
    for path in (project.root / "project.json",
                 project.dataset_dir("prices") / "panel.parquet"):
        assert path.stat().st_mode & 0o777 == 0o644, path
