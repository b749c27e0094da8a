"""Math-like rendering: the usual precedence, the fewest parentheses, plain names."""

from __future__ import annotations

import pytest

from engine.expr.mathtext import to_math
from engine.expr.parse import parse
from engine.expr.simplify import simplify


@pytest.mark.parametrize(("text", "want"), [
    ("Mul(-1, ts_corr($close, $volume, 10))", "-corr(close, volume, 10)"),
    ("Div(Sub($high, $low), $close)", "(high - low) / close"),
    ("Sub($close, Sub($open, $low))", "close - (open - low)"),
    ("Sub(Sub($close, $open), $low)", "close - open - low"),
    ("Div($close, Mul($open, $low))", "close / (open * low)"),
    ("Mul(Div($close, $open), $low)", "close / open * low"),
    ("Pow(Mul(-1, $close), 2)", "(-close)^2"),
    ("Pow($close, Pow($open, 2))", "close^open^2"),
    ("Pow(Pow($close, $open), 2)", "(close^open)^2"),
    ("Pow($close, -1)", "close^(-1)"),
    ("Add(-0.5, $close)", "close - 0.5"),
    ("Add(2, ts_mean($close, 20))", "mean(close, 20) + 2"),
    ("Inv(Add($close, $open))", "1 / (close + open)"),
    ("Greater($close, ts_max($open, 5))", "max(close, tsmax(open, 5))"),
    ("cs_rank(S_log1p($volume))", "rank(slog1p(volume))"),
    ("Mul(-1, Add($close, $open))", "-(close + open)"),
])
def test_rendering(text: str, want: str) -> None:
    assert to_math(parse(text)) == want


def test_the_issue_formula_reads_after_simplifying() -> None:
    f = parse("Pow($close, Mul(-1, Div(ts_min($close, 5), Sub(0.5, Mul(ts_max($open, 10), "
              "S_log1p(Sub(-10, Add($open, $high))))))))")
    assert to_math(simplify(f)) == (
        "close^(-(tsmin(close, 5) / (0.5 - slog1p(-10 - (high + open)) * tsmax(open, 10))))")
