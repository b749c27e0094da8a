"""Error codes: backward compatible, carried with params, and every code has a message.

The English message stays what the CLI prints; the app renders ``errors.<code>`` (and
``validation.<code>`` for validation issues) in the user's language from the params.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest

from engine import i18n
from engine.data.io import RawTable, read_file
from engine.data.validate import check
from engine.errors import AlphaForgeError, ConfigError, DataError, FormulaError, StoreError
from engine.expr.parse import parse
from engine.mining.config import MiningConfig
from engine.store.accounts import AccountStore, AuthError
from engine.store.project import validate_name
from tests.conftest import REPO, make_market

ENGINE = REPO / "engine"
#: Calls whose positional argument at this index is a validation issue code.
ISSUE_CALLS = {"add": 1, "_warn": 1, "_warn_rows": 1, "_bad_cells": 1}


def _strings(node: ast.AST) -> Iterator[str]:
    """String constants of a code expression (``"a" if c else "b"`` gives both)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        yield node.value
    elif isinstance(node, ast.IfExp):
        yield from _strings(node.body)
        yield from _strings(node.orelse)


def _codes() -> tuple[dict[str, str], dict[str, str]]:
    """(error code -> where, issue code -> where) for every code written in engine/."""
    errors: dict[str, str] = {}
    issues: dict[str, str] = {}
    for path in sorted(ENGINE.rglob("*.py")):
        where = str(path.relative_to(REPO))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            for kw in node.keywords:
                if kw.arg == "code":
                    errors.update({c: f"{where}:{node.lineno}" for c in _strings(kw.value)})
            name = getattr(node.func, "id", getattr(node.func, "attr", None))
            if name == "Problem" and node.args:
                errors.update({c: f"{where}:{node.lineno}" for c in _strings(node.args[0])})
            index = ISSUE_CALLS.get(name or "")
            if index is not None and len(node.args) > index and where.startswith(
                    "engine/data/"):
                issues.update({c: f"{where}:{node.lineno}" for c in _strings(node.args[index])})
    return errors, issues


def test_the_scan_finds_the_codes() -> None:
    errors, issues = _codes()
    assert {"name_empty", "login_failed", "formula_arity", "not_utf8", "config_at_least",
            "bad_recovery_code"} <= set(errors)
    assert {"bad_date", "not_numeric", "not_boolean", "big_move", "split_suspected"} <= set(
        issues)


@pytest.mark.parametrize("lang", i18n.LANGUAGES)
def test_every_error_code_has_a_message(lang: str) -> None:
    errors, issues = _codes()
    messages = i18n.catalog(lang)
    assert {c: w for c, w in errors.items() if f"errors.{c}" not in messages} == {}
    assert {c: w for c, w in issues.items() if f"validation.{c}" not in messages} == {}


def test_errors_stay_backward_compatible() -> None:
    exc = DataError("plain message")
    assert str(exc) == "plain message" and exc.code is None and exc.params == {}
    assert exc.report is None
    assert StoreError("x").params == {} and isinstance(FormulaError("y"), AlphaForgeError)
    coded = ConfigError("english", code="config_at_least", params={"field": "top_k"})
    assert (coded.code, coded.params, str(coded)) == ("config_at_least", {"field": "top_k"},
                                                      "english")


def _raised(fn: object, *args: object, **kwargs: object) -> AlphaForgeError:
    with pytest.raises(AlphaForgeError) as info:
        fn(*args, **kwargs)  # type: ignore[operator]
    return info.value


def _check_rendering(exc: AlphaForgeError) -> None:
    """Both languages render the code with every parameter filled in."""
    assert exc.code is not None
    for lang in i18n.LANGUAGES:
        text = i18n.render("errors", exc.code, exc.params, lang)
        assert text is not None and "{" not in text, (lang, text)


def test_name_errors_carry_code_and_params() -> None:
    exc = _raised(validate_name, "a/b", "dataset name")
    assert exc.code == "name_bad_chars" and exc.params["name"] == "a/b"
    _check_rendering(exc)
    assert i18n.render("errors", exc.code, exc.params, "ko").startswith("데이터셋 이름 'a/b'")
    assert _raised(validate_name, "  ", "project name").code == "name_empty"


def test_formula_errors_carry_token_and_position() -> None:
    exc = _raised(parse, "ts_mean($close, 20) $open")
    assert exc.code == "formula_trailing"
    assert exc.params["position"] == 21 and exc.params["token"] == "$open"
    _check_rendering(exc)
    exc = _raised(parse, "Add($close, 1")
    assert exc.code == "formula_expected_separator"
    assert "수식의 끝" in (i18n.render("errors", exc.code, exc.params, "ko") or "")
    for text in ("", "foo($close)", "$clse", "ts_mean($close, -2)", "close", "$close + 1",
                 "Abs($close, 3)", "ts_mean($close, 2.5)"):
        _check_rendering(_raised(parse, text))


def test_file_errors_carry_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "prices.csv"
    bad.write_bytes("date,ticker,close\n2020-01-01,가,1\n".encode("cp949"))
    exc = _raised(read_file, bad)
    assert exc.code == "not_utf8" and exc.params["file"] == "prices.csv"
    _check_rendering(exc)
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("date,ticker,close\n2020-01-01,A,1,9\n")
    exc = _raised(read_file, ragged)
    assert exc.code == "csv_ragged" and exc.params["line"] == 2
    _check_rendering(exc)
    _check_rendering(_raised(read_file, tmp_path / "missing.csv"))


def test_account_errors_carry_codes(tmp_path: Path) -> None:
    from argon2 import PasswordHasher

    store = AccountStore(tmp_path / "a.db", hasher=PasswordHasher(time_cost=1, memory_cost=8,
                                                                  parallelism=1))
    code = store.sign_up("jiwoo", "long enough").recovery_code
    cases = [
        (lambda: store.sign_up("x", "long enough"), "bad_username"),
        (lambda: store.sign_up("minsu", "short"), "weak_password"),
        (lambda: store.sign_up("jiwoo", "long enough"), "username_taken"),
        (lambda: store.login("jiwoo", "wrong"), "login_failed"),
        (lambda: store.reset_password("jiwoo", "AAAA-BBBB-CCCC-DDDD", "new password"),
         "bad_recovery_code"),
    ]
    for call, want in cases:
        with pytest.raises(AuthError) as info:
            call()
        assert info.value.code == want
        _check_rendering(info.value)
    assert str(_raised(store.login, "jiwoo", "wrong")) == "wrong user name or password"
    store.reset_password("jiwoo", code, "new password")


def test_config_errors_carry_codes() -> None:
    exc = _raised(MiningConfig, train=("2017-01-01", "2017-12-31"),
                  valid=("2017-06-01", "2018-06-30"))
    assert exc.code == "config_ranges_overlap"
    assert i18n.render("errors", exc.code, exc.params, "ko").startswith("학습 기간")
    _check_rendering(exc)
    _check_rendering(_raised(MiningConfig, seed=-1))
    from engine.backtest.topk import TopKConfig
    from engine.combine.base import CombineConfig

    _check_rendering(_raised(TopKConfig, top_k=0))
    _check_rendering(_raised(CombineConfig, method="nope"))


def test_validation_issues_render_in_both_languages() -> None:
    """Every issue's params fill its template: English equals the engine's message."""
    frame = make_market(4, 60).with_columns(
        pl.when(pl.int_range(pl.len()) == 7).then(-1.0).otherwise(pl.col("close"))
        .alias("close")).cast({"date": pl.Utf8})
    raw = RawTable(frame.with_columns(pl.int_range(1, frame.height + 1).cast(pl.Utf8)
                                      .alias("_row")), "m.csv")
    report = check(raw).report
    issues = [*report.warnings, *report.notes]
    assert {"non_positive_price", "big_move", "vwap_derived"} <= {i.code for i in issues}
    for issue in issues:
        english = i18n.render("validation", issue.code, issue.params, "en")
        assert english == issue.message.split(". Suggestion: ")[0], issue.code
        korean = i18n.render("validation", issue.code, issue.params, "ko")
        assert korean is not None and "{" not in korean


def test_bad_values_render_in_korean() -> None:
    frame = make_market(3, 40).cast({c: pl.Utf8 for c in ("date", "close")}).with_columns(
        pl.when(pl.int_range(pl.len()) == 0).then(pl.lit("abc")).otherwise(pl.col("close"))
        .alias("close"))
    raw = RawTable(frame.with_columns(pl.int_range(1, frame.height + 1).cast(pl.Utf8)
                                      .alias("_row")), "bad.csv")
    with pytest.raises(DataError) as info:
        check(raw)
    issue = info.value.report.errors[0]  # type: ignore[attr-defined]
    assert issue.code == "not_numeric"
    assert i18n.render("validation", issue.code, issue.params, "en") == issue.message
    assert i18n.render("validation", issue.code, issue.params, "ko") == (
        "bad.csv: 열 'close': 값 1개가 숫자가 아닙니다 (행 1: 'abc')")
    assert info.value.code == "validation_failed"
