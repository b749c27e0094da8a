"""The gate, Home and Data pages in Korean: every label translated, no raw key, no English
message left; the language switch and the per-person memory of the choice."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from engine import i18n
from engine.data.synthetic import SyntheticConfig
from engine.store.accounts import AccountStore
from engine.store.demo import ensure_demo
from engine.store.settings import AppSettings, load_language, load_settings, save_settings
from tests.conftest import REPO

APP = str(REPO / "alphaforge_app" / "app.py")
HANGUL = re.compile(r"[\uac00-\ud7a3]")
#: Texts that are the same in both languages (brand, technical words, data).
SAME_IN_BOTH = {"AlphaForge", "URL"}
#: Areas whose messages these pages show (English values must not appear in Korean).
AREAS = ("app", "auth", "sidebar", "home", "data", "sources", "imports", "errors",
         "validation", "common")
#: Element types whose ``label`` a person reads, and those whose ``value`` is text.
LABELLED = {"button", "metric", "tab", "expander", "selectbox", "multiselect", "text_input",
            "text_area", "checkbox", "radio", "number_input", "file_uploader"}
TEXT = {"title", "header", "subheader", "markdown", "caption", "info", "warning", "error",
        "success", "text"}


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ALPHAFORGE_HOME", str(tmp_path))
    for var in ("LC_ALL", "LC_MESSAGES", "LANGUAGE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("LANG", "en_US.UTF-8")  # the system says English
    return tmp_path


def _run(at: AppTest) -> AppTest:
    at.run(timeout=60)
    assert not at.exception, at.exception
    return at


def _korean(**state: Any) -> AppTest:
    at = AppTest.from_file(APP)
    at.session_state["af_lang"] = "ko"
    for key, value in state.items():
        at.session_state[key] = value
    return _run(at)


def _walk(node: Any) -> Iterator[Any]:
    yield node
    children = getattr(node, "children", None)
    if isinstance(children, dict):
        for child in children.values():
            yield from _walk(child)


def _shown(at: AppTest) -> tuple[list[str], list[str]]:
    """(labels and headings a person reads, every text shown) of the current run."""
    labels: list[str] = []
    texts: list[str] = []
    for node in _walk(at._tree):
        kind = getattr(node, "type", None)
        if kind in LABELLED and isinstance(getattr(node, "label", None), str):
            labels.append(node.label)
        elif kind in TEXT and isinstance(node.value, str):
            texts.append(node.value)
            if kind in {"title", "header", "subheader"}:
                labels.append(node.value)
        elif kind == "page_link":
            labels.append(node.proto.label)
        elif kind == "plotly_chart":
            layout = json.loads(node.proto.spec)["layout"]
            for part in (layout.get("title"), layout.get("yaxis", {}).get("title")):
                if part:
                    labels.append(part["text"] if isinstance(part, dict) else part)
    return labels, labels + texts


def _english_messages() -> list[str]:
    """English messages of the pages' areas that differ from their Korean text."""
    en, ko = i18n.catalog("en"), i18n.catalog("ko")
    out = []
    for key, text in en.items():
        static = re.split(r"\{[^}]*\}", text)
        longest = max(static, key=len).strip(" .:,;()'")
        if key.split(".")[0] in AREAS and text != ko[key] and " " in longest:
            out.append(longest)
    return out


def _assert_all_korean(at: AppTest) -> None:
    labels, texts = _shown(at)
    assert labels, "nothing rendered"
    keys = [k for k in i18n.catalog("en") if k.split(".")[0] in AREAS]
    raw = [(k, t) for t in texts for k in keys if k in t]
    assert raw == [], f"raw message keys shown: {raw}"
    english = [label for label in labels if not HANGUL.search(label)
               and label not in SAME_IN_BOTH and re.search(r"[A-Za-z]{3}", label)]
    assert english == [], f"labels left in English: {english}"
    leaks = [(m, t) for t in texts for m in _english_messages() if m in t]
    assert leaks == [], f"English messages in the Korean page: {leaks}"


def test_first_start_in_korean_remembers_the_choice(home: Path) -> None:
    at = _korean()
    assert at.title[0].value == "AlphaForge에 오신 것을 환영합니다"
    assert at.selectbox(key="af_lang_switch").value == "ko"
    _assert_all_korean(at)
    at.button[0].click()  # "나 혼자 — 로그인 없이"
    _run(at)
    assert load_settings(home) == AppSettings(mode="single", language="ko")
    assert any(b.label == "데모 시장으로 시작하기" for b in at.button)


def test_login_gate_in_korean_and_the_language_follows_the_user(home: Path) -> None:
    save_settings(home, AppSettings(mode="accounts"))
    store = AccountStore(home / "accounts.db")
    user = store.sign_up("jiwoo", "right password").user
    at = _korean()
    assert [t.label for t in at.tabs] == ["로그인", "회원 가입", "비밀번호 찾기"]
    _assert_all_korean(at)
    at.text_input(key="login_name").input("jiwoo")
    at.text_input(key="login_password").input("wrong password")
    at.button[0].click()
    _run(at)
    assert [e.value for e in at.error] == ["사용자 이름이나 비밀번호가 틀렸습니다"]
    at.text_input(key="login_password").input("right password")
    at.button[0].click()
    _run(at)
    assert any(m.value == "**jiwoo** 님으로 로그인됨" for m in at.sidebar.markdown)
    assert load_language(home, user) == "ko"  # chosen on the login page, now remembered
    _assert_all_korean(at)

    fresh = _run(AppTest.from_file(APP))  # a new browser session: the system says English
    assert fresh.tabs[0].label == "Log in"
    fresh.text_input(key="login_name").input("jiwoo")
    fresh.text_input(key="login_password").input("right password")
    fresh.button[0].click()
    _run(fresh)
    assert any(m.value == "**jiwoo** 님으로 로그인됨" for m in fresh.sidebar.markdown)


def test_sidebar_switch_changes_and_remembers_the_language(home: Path) -> None:
    save_settings(home, AppSettings(mode="single"))
    at = _run(AppTest.from_file(APP))
    assert any("No project yet" in i.value for i in at.info)
    at.selectbox(key="af_lang_switch").select("ko")
    _run(at)
    assert any("아직 프로젝트가 없습니다" in i.value for i in at.info)
    assert load_settings(home).language == "ko"
    again = _run(AppTest.from_file(APP))  # a new session reads the stored choice
    assert again.selectbox(key="af_lang_switch").value == "ko"
    assert any("아직 프로젝트가 없습니다" in i.value for i in again.info)


def test_home_in_korean(home: Path) -> None:
    save_settings(home, AppSettings(mode="single"))
    at = _korean()
    _assert_all_korean(at)
    ensure_demo(home / "projects" / "demo", SyntheticConfig(n_tickers=12, n_days=80))
    at = _korean()
    assert {m.label for m in at.metric} == {"데이터셋", "실행", "전략"}
    links = [p.proto.label for p in at.get("page_link")]
    assert links[0] == "팩터 마이닝 열기", "the next step comes first"
    assert links[1] == "1. 데이터"
    assert any("✓ 완료" in m.value for m in at.markdown), "the data step is ticked off"
    _assert_all_korean(at)


def test_data_page_in_korean(home: Path) -> None:
    save_settings(home, AppSettings(mode="single"))
    ensure_demo(home / "projects" / "demo", SyntheticConfig(n_tickers=20, n_days=120))
    at = _korean()
    at.switch_page("pages/data.py")
    _run(at)
    assert at.title[0].value == "데이터"
    assert {m.label for m in at.metric} == {"종목", "거래일", "커버리지", "경고"}
    assert [t.label for t in at.tabs] == ["미리 보기", "통계", "커버리지", "가격", "검증 보고서",
                                          "관리"]
    assert at.warning and all(HANGUL.search(w.value) for w in at.warning)
    _assert_all_korean(at)


def test_data_page_errors_in_korean(home: Path) -> None:
    save_settings(home, AppSettings(mode="single"))
    ensure_demo(home / "projects" / "demo", SyntheticConfig(n_tickers=12, n_days=80))
    at = _korean()
    at.switch_page("pages/data.py")
    _run(at)
    form_input = next(t for t in at.text_input if t.label == "새 이름")
    form_input.input("a/b")
    next(b for b in at.button if b.label == "이름 바꾸기").click()
    _run(at)
    assert [e.value for e in at.error] == ["데이터셋 이름 'a/b'에는 / \\ : * ? \" < > | 와 '..'를 "
                                           "쓸 수 없고, '.'로 시작할 수 없습니다"]
