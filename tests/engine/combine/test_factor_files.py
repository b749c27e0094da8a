"""Factor sets from and to text files: function form and Qlib lines, every bad line named and
nothing saved, Qlib export that round-trips Alpha158 and comments what Qlib cannot compute."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.cli import main
from engine.combine.factor_files import factor_set_text, import_factor_set, parse_factor_text
from engine.combine.service import resolve_factor_set
from engine.errors import FormulaError, StoreError
from engine.expr.builtin_sets import builtin_set
from engine.store.project import Project
from tests.conftest import tree_digest


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return Project.create(tmp_path / "p")


def test_mixed_file_is_canonical_and_deduplicated() -> None:
    text = "\ufeff# mine\n\nMean($close, 5)/Mean($close, 20)\nts_mean($close, 5)\n" \
           "ts_mean($close,5)\n-1 * Corr($close, $volume, 10)\n"
    parsed = parse_factor_text(text)
    assert [f.formula for f in parsed.factors] == [
        "Div(ts_mean($close, 5), ts_mean($close, 20))", "ts_mean($close, 5)",
        "Mul(-1, ts_corr_nan($close, $volume, 10))"]
    assert parsed.duplicates == (5,) and parsed.errors == ()


def test_a_bad_line_saves_nothing_and_names_every_bad_line(project: Project) -> None:
    before = tree_digest(project.root)
    with pytest.raises(FormulaError) as exc:
        import_factor_set(project, "mine", "ts_mean($close, 5)\nSkew($close, 5)\nFoo(\n",
                          source="f.txt")
    message = str(exc.value)
    assert "f.txt: 2 line(s)" in message and "line 2 ('Skew($close, 5)')" in message
    assert "Skew is not supported" in message and "line 3 ('Foo(')" in message
    assert tree_digest(project.root) == before
    with pytest.raises(FormulaError, match="no formula found"):
        import_factor_set(project, "mine", "# only a comment\n")
    with pytest.raises(StoreError, match="built-in factor set"):
        import_factor_set(project, "Alpha158", "ts_mean($close, 5)\n")


def test_existing_set_needs_overwrite(project: Project) -> None:
    import_factor_set(project, "mine", "ts_mean($close, 5)\n")
    with pytest.raises(StoreError, match="already exists"):
        import_factor_set(project, "mine", "ts_mean($close, 10)\n")
    got, _ = import_factor_set(project, "mine", "ts_mean($close, 10)\n", overwrite=True)
    assert resolve_factor_set(project, "mine").formulas == got.formulas == [
        "ts_mean($close, 10)"]


def test_alpha158_exports_as_qlib_and_reads_back_to_the_same_trees() -> None:
    alpha = builtin_set("alpha158")
    assert alpha is not None
    text, skipped = factor_set_text(alpha, "qlib")
    assert skipped == 0
    back = parse_factor_text(text)
    assert back.errors == () and [f.formula for f in back.factors] == alpha.formulas


def test_formulas_without_a_qlib_equivalent_become_comments() -> None:
    classic = builtin_set("classic")
    assert classic is not None
    text, skipped = factor_set_text(classic, "qlib")
    comments = [ln for ln in text.splitlines()[1:] if ln.startswith("#")]
    assert skipped == len(comments) > 0
    assert all("no exact Qlib equivalent" in c for c in comments)
    assert len(parse_factor_text(text).factors) == len(classic.factors) - skipped


def test_cli_import_list_export(project: Project, tmp_path: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    proj = ["--project", str(project.root)]
    src = tmp_path / "my factors.txt"
    src.write_text("Mean($close, 5)/Mean($close, 20)\nts_corr($close, $volume, 10)\n")
    assert main(["factors", "import", str(src), *proj, "--name", "mine"]) == 0
    assert "factor set 'mine': 2 formulas" in capsys.readouterr().out
    assert main(["factors", "list", *proj, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["result"]
    assert {"name": "mine", "formulas": 2} in rows and rows[-1]["name"] == "alpha158"
    out = tmp_path / "mine.qlib.txt"
    assert main(["factors", "export", "mine", *proj, "--format", "qlib", "--out",
                 str(out)]) == 0
    assert "1 formula(s) have no exact Qlib equivalent" in capsys.readouterr().out
    assert out.read_text().splitlines()[1] == "Mean($close, 5)/Mean($close, 20)"
    assert main(["factors", "export", "mine", *proj, "--out", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err
