"""Factor sets to and from text files: a researcher's own formulas in, a set out for Qlib.

Import reads one formula per line, in this project's function form or in Qlib's expression
syntax (each line on its own: :func:`engine.expr.qlib.read_formula` tells them apart), with
``#`` comments, blank lines and a Windows byte-order mark ignored. Every line is checked
before anything is saved: one bad line refuses the whole file, and the message lists each
bad line with its number and the parser's reason, so the file can be fixed in one go.
Formulas are stored in canonical function form (equivalent spellings are one factor).

Export writes the function form, or Qlib expressions (:func:`engine.expr.qlib.to_qlib`);
a formula Qlib cannot compute the same way is written as a ``#`` comment naming the reason,
so the file still loads in Qlib and nothing is silently changed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from engine.data.schema import BASE_FEATURES
from engine.errors import FormulaError, StoreError
from engine.expr.builtin_sets import BUILTIN_SETS
from engine.expr.parse import to_text
from engine.expr.qlib import read_formula, to_qlib
from engine.mining.zoo import Factor, FactorSet, factor_set_names, save_factor_set
from engine.store.project import Project

ExportFormat = Literal["formula", "qlib"]
EXPORT_FORMATS: tuple[str, ...] = ("formula", "qlib")
#: how many bad lines one error message lists
_SHOWN = 10


@dataclass(frozen=True)
class ParsedFile:
    """The factors of a file, the duplicates dropped (line numbers, 1-based) and the bad lines
    ``(line, text, reason)``."""

    factors: tuple[Factor, ...]
    duplicates: tuple[int, ...]
    errors: tuple[tuple[int, str, str], ...]


def parse_factor_text(text: str, features: Sequence[str] = BASE_FEATURES) -> ParsedFile:
    factors: list[Factor] = []
    seen: set[str] = set()
    duplicates: list[int] = []
    errors: list[tuple[int, str, str]] = []
    for number, raw in enumerate(text.removeprefix("\ufeff").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            formula = to_text(read_formula(line, features=features))
        except FormulaError as exc:
            errors.append((number, line, str(exc)))
            continue
        if formula in seen:
            duplicates.append(number)
            continue
        seen.add(formula)
        factors.append(Factor(formula=formula))
    return ParsedFile(tuple(factors), tuple(duplicates), tuple(errors))


def import_factor_set(project: Project, name: str, text: str, *, source: str = "",
                      features: Sequence[str] = BASE_FEATURES,
                      overwrite: bool = False) -> tuple[FactorSet, ParsedFile]:
    """Check every line of ``text`` and save the formulas as factor set ``name``; nothing is
    saved when a line is bad, the file holds no formula, or the name is taken."""
    where = source or "the formulas"
    # the app's message names the file, or "the formulas" in the reader's language
    where_param: str | dict[str, str] = source or {"term": "typed_formulas"}
    if name.lower() in BUILTIN_SETS:
        raise StoreError(f"'{name}' is a built-in factor set; choose another name",
                         code="factors_builtin_name", params={"name": name})
    if name in factor_set_names(project) and not overwrite:
        raise StoreError(f"factor set '{name}' already exists; choose another name or pass "
                         "--overwrite", code="factors_exists", params={"name": name})
    parsed = parse_factor_text(text, features)
    if parsed.errors:
        shown = "; ".join(f"line {n} ({t[:60]!r}): {m}" for n, t, m in parsed.errors[:_SHOWN])
        more = f"; and {len(parsed.errors) - _SHOWN} more" if len(parsed.errors) > _SHOWN else ""
        raise FormulaError(f"{where}: {len(parsed.errors)} line(s) are not formulas, nothing "
                           f"was saved: {shown}{more}", code="factors_bad_lines",
                           params={"file": where_param, "count": len(parsed.errors),
                                   "lines": shown})
    if not parsed.factors:
        raise FormulaError(f"{where}: no formula found (one per line, '#' for comments)",
                           code="factors_empty_file", params={"file": where_param})
    factor_set = FactorSet(name=name, factors=parsed.factors,
                           source={"kind": "import", "file": source})
    save_factor_set(project, factor_set)
    return factor_set, parsed


def factor_set_text(factor_set: FactorSet, fmt: ExportFormat = "formula") -> tuple[str, int]:
    """The set as a text file (one formula per line, a header comment) and how many formulas
    had to be written as comments (Qlib has no exact equivalent)."""
    if fmt not in EXPORT_FORMATS:
        raise StoreError(f"format must be one of {', '.join(EXPORT_FORMATS)}, got '{fmt}'")
    lines = [f"# factor set '{factor_set.name}' ({len(factor_set.factors)} formulas, "
             f"{'Qlib expressions' if fmt == 'qlib' else 'AlphaForge function form'})"]
    skipped = 0
    for factor in factor_set.factors:
        if fmt == "formula":
            lines.append(factor.formula)
            continue
        try:
            lines.append(to_qlib(read_formula(factor.formula)))
        except FormulaError as exc:
            skipped += 1
            lines.append(f"# {factor.formula}  -- not exported: {exc}")
    return "\n".join(lines) + "\n", skipped
