"""docs/formula-language.md stays consistent with the operator registry and the classic set."""

from __future__ import annotations

import re
from pathlib import Path

from engine.expr import classic, ops

DOC = Path(__file__).resolve().parents[3] / "docs" / "formula-language.md"


def _section(name: str) -> str:
    text = DOC.read_text(encoding="utf-8")
    match = re.search(rf"<!-- BEGIN {name}[^>]*-->\n(.*?)\n<!-- END {name} -->", text, re.S)
    assert match, f"section {name} missing from {DOC.name}"
    return match.group(1)


def test_operator_table_is_generated_from_the_registry() -> None:
    assert _section("OPERATORS") == ops.reference_markdown(), (
        "regenerate the table with engine.expr.ops.reference_markdown()")


def test_classic_table_is_generated_from_the_set() -> None:
    assert _section("CLASSIC") == classic.reference_markdown(), (
        "regenerate the table with engine.expr.classic.reference_markdown()")


def test_every_operator_and_alias_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    for op in ops.REGISTRY.values():
        assert f"`{op.signature}`" in text
        for alias in op.aliases:
            assert f"`{alias}`" in text
    assert "51" in text and "inf" in text.lower()
