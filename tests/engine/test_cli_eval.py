"""`alphaforge eval --file` on 50 formulas over the shared US data, in one process, checked
against an independent pandas computation (pandas operators + pandas daily correlations)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from engine.cli import main
from engine.expr.classic import CLASSIC
from engine.expr.grammar import sample_random
from engine.expr.ops import Vocabulary
from engine.expr.parse import Call, Constant, Feature, Window, parse, to_text
from engine.store.project import Project
from tests.engine.expr import pandas_reference as ref


def _pandas_eval(node, wide: dict[str, pd.DataFrame], universe: pd.DataFrame):  # type: ignore[no-untyped-def]
    """Evaluate a formula tree with the plain pandas reference operators."""
    if isinstance(node, Feature):
        return wide[node.name]
    if isinstance(node, Constant):
        return float(node.value)
    assert isinstance(node, Call)
    op = node.operator
    series = [_pandas_eval(a, wide, universe) for a in node.args[: op.n_series]]
    if op.kind == "cs":
        return ref.cross_section(op.name, series[0], universe)
    if op.takes_window:
        window = node.args[-1]
        assert isinstance(window, Window)
        fn = ref.rolling if op.kind == "rolling" else ref.pair_rolling
        return ref.finish(fn(op.name, *series, window.value))
    fn = ref.unary if op.kind == "unary" else ref.binary
    out = fn(op.name, *series)
    return ref.finish(out) if isinstance(out, pd.DataFrame) else out


def _daily_ic(factor: pd.DataFrame, target: pd.DataFrame, rank: bool) -> float:
    both = factor.notna() & target.notna()
    f, t = factor.where(both), target.where(both)
    if rank:
        f, t = f.rank(axis=1), t.rank(axis=1)
    ic = f.corrwith(t, axis=1)
    ic[both.sum(axis=1) < 10] = np.nan
    return float(ic.mean())


@pytest.mark.slow
def test_eval_file_50_formulas_matches_pandas(us_file: Path, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    proj = tmp_path / "us"
    assert main(["import", str(us_file), "--project", str(proj), "--name", "us"]) == 0
    vocab = Vocabulary.from_preset("default", features=("open", "close", "high", "low",
                                                        "volume", "vwap"))
    random = [to_text(e) for e in sample_random(vocab, 26, torch.Generator().manual_seed(7))]
    formulas = [c.formula for c in CLASSIC.values()] + random
    assert len(formulas) == 50
    file = tmp_path / "formulas.txt"
    file.write_text("# 24 classic + 26 random formulas\n" + "\n".join(formulas) + "\n")
    capsys.readouterr()
    assert main(["eval", "--project", str(proj), "--dataset", "us", "--file", str(file),
                 "--target-price", "close", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)["result"]
    assert not result["errors"] and len(result["results"]) == 50

    frame = Project.open(proj).load_frame("us")
    wide = {c: frame.pivot(on="ticker", index="date", values=c).sort("date").to_pandas()
            .set_index("date").astype("float64") for c in ("open", "close", "high", "low",
                                                          "volume", "vwap")}
    universe = wide["close"].notna()
    close = wide["close"]
    target = close.shift(-21) / close.shift(-1) - 1
    for row in result["results"]:
        values = _pandas_eval(parse(row["formula"], preset=None), wide, universe)
        if not isinstance(values, pd.DataFrame):
            continue
        values = values.where(universe)
        for key, rank in (("ic", False), ("rank_ic", True)):
            expected = _daily_ic(values, target.where(universe), rank)
            if np.isnan(expected):
                assert row[key] is None or np.isnan(row[key])
            else:
                assert row[key] == pytest.approx(expected, abs=2e-3), (row["formula"], key)
