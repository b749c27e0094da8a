"""Fast checks of the desktop bundle's recipe (the real build runs in packaging/smoke.sh):
every file the app opens by path is listed, nothing the app imports is excluded, the
metadata the app reads is copied."""

from __future__ import annotations

import ast
import importlib.util
import re
import subprocess
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import REPO

PACKAGING = REPO / "packaging"


def _manifest() -> ModuleType:
    # loaded by path: a top-level "packaging" is the PyPI package of that name
    spec = importlib.util.spec_from_file_location("af_manifest", PACKAGING / "manifest.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def manifest() -> ModuleType:
    return _manifest()


@pytest.fixture(scope="module")
def bundled(manifest: ModuleType) -> set[str]:
    """Repository-relative paths of the data files the bundle will hold."""
    return {str(Path(dest) / Path(src).name) for src, dest in manifest.data_files(REPO)}


def test_every_page_and_app_module_is_a_file_in_the_bundle(bundled: set[str]) -> None:
    app = (REPO / "alphaforge_app" / "app.py").read_text()
    pages = re.findall(r'PAGES / "([^"]+\.py)"', app)
    assert len(pages) >= 5
    assert {f"alphaforge_app/pages/{p}" for p in pages} <= bundled
    sources = {str(p.relative_to(REPO)) for p in (REPO / "alphaforge_app").rglob("*.py")
               if "__pycache__" not in p.parts}
    assert sources <= bundled


def test_assets_catalogues_and_theme_are_bundled(bundled: set[str]) -> None:
    assets = {str(p.relative_to(REPO)) for p in (REPO / "assets").rglob("*") if p.is_file()}
    assert "assets/logo.png" in assets and any(a.endswith(".ttf") for a in assets)
    assert assets <= bundled
    catalogues = {str(p.relative_to(REPO)) for p in (REPO / "engine" / "i18n").glob("*/*.toml")}
    assert catalogues and catalogues <= bundled
    assert ".streamlit/config.toml" in bundled
    assert {"docs/glossary.md", "docs/ko/glossary.md"} <= bundled


def _imported_top_levels() -> set[str]:
    names: set[str] = set()
    files = [*(REPO / "engine").rglob("*.py"), *(REPO / "alphaforge_app").rglob("*.py"),
             REPO / "launcher.py"]
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
    return names


def test_nothing_the_app_imports_is_excluded(manifest: ModuleType) -> None:
    excluded = {e.split(".")[0] for e in manifest.EXCLUDES if "." not in e}
    assert excluded & _imported_top_levels() == set()
    assert "torch" not in excluded and "streamlit" not in excluded


def test_metadata_the_app_reads_is_copied(manifest: ModuleType) -> None:
    from engine.store import records

    tracked = set(records._TRACKED_PACKAGES)
    assert tracked <= set(manifest.METADATA)
    assert "streamlit" in manifest.METADATA  # streamlit.version reads its own metadata


def test_chromium_wrapper_is_shipped_as_a_file(manifest: ModuleType) -> None:
    import choreographer

    import launcher

    includes = manifest.PACKAGE_DATA["choreographer"]
    root = Path(choreographer.__file__).parent
    matched = {p.name for pattern in includes for p in root.glob(pattern)}
    assert launcher.CHROMIUM_WRAPPER in matched


def test_submodule_filter(manifest: ModuleType) -> None:
    assert manifest.keep_submodule("engine.mining.worker")
    assert not manifest.keep_submodule("engine.cli.__main__")
    assert not manifest.keep_submodule("kaleido.mocker._args")
    assert not manifest.keep_submodule("streamlit.testing.v1")


def test_spec_uses_the_manifest() -> None:
    spec = (PACKAGING / "AlphaForge-UI.spec").read_text()
    ast.parse(spec)
    for name in ("data_files", "PACKAGE_DATA", "METADATA", "SUBMODULE_PACKAGES", "EXCLUDES",
                 "keep_submodule", "APP_NAME", "ENTRY"):
        assert f"manifest.{name}" in spec, name


def test_smoke_script_and_make_target() -> None:
    smoke = PACKAGING / "smoke.sh"
    assert smoke.stat().st_mode & 0o111, "packaging/smoke.sh must be executable"
    subprocess.run(["bash", "-n", str(smoke)], check=True)
    makefile = (REPO / "Makefile").read_text()
    assert re.search(r"^bundle:", makefile, re.MULTILINE)
    assert "packaging/AlphaForge-UI.spec" in makefile
    ignored = (REPO / ".gitignore").read_text().split()
    assert "dist/" in ignored and "build/" in ignored
