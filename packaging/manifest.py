"""What goes into the desktop bundle, kept apart from the PyInstaller spec so the tests can
read it without PyInstaller (``tests/test_packaging.py``).

PyInstaller follows ``import`` statements; everything it cannot see is listed here:

- files the app opens by path at run time: Streamlit runs ``alphaforge_app/app.py`` and the
  page scripts as files (``st.Page(path)``), the logo and fonts, the i18n catalogues, the
  glossaries, the Streamlit theme;
- modules imported by name only (Streamlit internals, kaleido and its browser driver, keyring
  back-ends found through entry points, our own page modules);
- package metadata read through ``importlib.metadata`` (Streamlit's version, run records'
  package versions, keyring's entry points);
- what to leave out: test and benchmark tools that happen to be installed in the venv.
"""

from __future__ import annotations

from pathlib import Path

APP_NAME = "AlphaForge-UI"
ENTRY = "launcher.py"
REPO = Path(__file__).resolve().parents[1]

#: Files the app reads from disk, as globs relative to the repository root; they keep their
#: relative place inside the bundle (``_internal/<path>``), where the code looks for them
#: relative to its own ``__file__``.
DATA_GLOBS: tuple[str, ...] = (
    "alphaforge_app/**/*.py",
    "alphaforge_app/static/*",
    "assets/**/*",
    "engine/i18n/*/*.toml",
    "docs/glossary.md",  # the Home page's tour opens the full glossary (engine/glossary.py)
    "docs/*/glossary.md",
    ".streamlit/config.toml",
)

#: Packages whose every submodule is bundled (imported by name, not by a visible import).
SUBMODULE_PACKAGES: tuple[str, ...] = (
    "engine", "alphaforge_app", "streamlit", "kaleido", "choreographer", "logistro",
    "keyring.backends",
)

#: Submodules of those never bundled: ones that run code on import (``kaleido.mocker`` parses
#: the command line, ``__main__`` modules run), Streamlit's test harness.
SKIP_SUBMODULES: tuple[str, ...] = ("kaleido.mocker", "streamlit.testing")


def keep_submodule(name: str) -> bool:
    """Filter for ``collect_submodules``: False for :data:`SKIP_SUBMODULES` and mains."""
    return not (name.endswith(".__main__")
                or any(name == s or name.startswith(s + ".") for s in SKIP_SUBMODULES))


#: Package data beyond what the hooks collect: Streamlit's web client (static/), and
#: choreographer's Chromium wrapper, which must exist as a plain ``.py`` file because
#: choreographer runs it with ``sys.executable`` (see launcher.py).
PACKAGE_DATA: dict[str, tuple[str, ...] | None] = {
    "streamlit": None,
    "choreographer": ("browsers/_unix_pipe_chromium_wrapper.py", "resources/*"),
}

#: Distributions whose metadata (``*.dist-info``) the app reads at run time.
METADATA: tuple[str, ...] = (
    "streamlit", "alphaforge-ui", "torch", "polars", "numpy", "pandas", "pyarrow", "plotly",
    "kaleido", "choreographer", "logistro", "duckdb", "sqlglot", "narwhals", "keyring",
    "reportlab", "babel", "platformdirs", "argon2-cffi",
)

#: Installed in the development venv, never needed by the app.
EXCLUDES: tuple[str, ...] = (
    "pytest", "_pytest", "pluggy", "hypothesis", "playwright", "ruff", "pypdf",
    "alphalens", "empyrical", "statsmodels", "qlib", "mlflow", "databricks",
    "sklearn", "matplotlib", "IPython", "jedi", "ipykernel", "jupyter_client", "notebook",
    "tkinter", "_tkinter", "tensorboard", "torch.utils.tensorboard", "PyInstaller",
    "tests", "benchmarks",
)


def data_files(root: Path = REPO) -> list[tuple[str, str]]:
    """``(source file, destination folder)`` pairs of :data:`DATA_GLOBS`, as PyInstaller's
    ``datas`` wants them; compiled caches are skipped."""
    pairs: list[tuple[str, str]] = []
    for pattern in DATA_GLOBS:
        for path in sorted(root.glob(pattern)):
            if path.is_file() and "__pycache__" not in path.parts:
                pairs.append((str(path), str(path.parent.relative_to(root))))
    return pairs
