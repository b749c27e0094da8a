"""Mining, Combine & backtest and Reports pages in Korean: every label, chart title and message
translated (the same checks as the shell pages in test_pages_ko.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from engine.backtest.topk import TopKConfig
from engine.combine.service import StrategySpec, backtest_strategy, build_strategy, combine_config
from engine.data.synthetic import SyntheticConfig
from engine.mining.config import preset
from engine.mining.worker import run_mining
from engine.store.demo import ensure_demo
from engine.store.settings import AppSettings, save_settings
from tests.alphaforge_app import test_pages_ko as ko
from tests.alphaforge_app.test_pages_ko import APP, HANGUL, _run

AREAS = (*ko.AREAS, "mining", "combine", "reports", "figures")


@pytest.fixture(scope="module")
def project_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo project with a finished mining run and two backtested strategies."""
    root = tmp_path_factory.mktemp("ko") / "demo"
    project, _, _ = ensure_demo(root, SyntheticConfig(n_tickers=40, n_days=400, seed=2))
    run_mining(project, preset("laptop", max_evaluations=2300, zoo_size=3), dataset="demo")
    for method in ("dynamic", "equal"):
        spec = StrategySpec(name=f"s-{method}", dataset="demo", factor_set="classic",
                            test=("2016-01-01", None), train=None,
                            config=combine_config(method))
        build_strategy(project, spec)
        backtest_strategy(project, spec.name, TopKConfig(top_k=10, drop_n=2))
    return root


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, project_dir: Path) -> Path:
    monkeypatch.setenv("ALPHAFORGE_HOME", str(tmp_path))
    monkeypatch.setattr(ko, "AREAS", AREAS)
    # metric names kept in English in both languages (docs/ko/glossary.md)
    monkeypatch.setattr(ko, "SAME_IN_BOTH", {*ko.SAME_IN_BOTH, "IC", "ICIR", "RankIC",
                                             "RankICIR"})
    save_settings(tmp_path, AppSettings(mode="single", language="ko"))
    shutil.copytree(project_dir, tmp_path / "projects" / "demo")
    return tmp_path


def _page(name: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["af_lang"] = "ko"
    _run(at)
    at.switch_page(f"pages/{name}.py")
    return _run(at)


def test_mining_page_in_korean(home: Path) -> None:
    at = _page("mining")
    assert at.title[0].value == "팩터 마이닝"
    assert any(m.label == "상태" and m.value == "완료" for m in at.metric)
    assert any(HANGUL.search(s.value) for s in at.subheader)  # "팩터 풀 (3개 팩터)"
    ko._assert_all_korean(at)


def test_combine_page_in_korean(home: Path) -> None:
    at = _page("combine")
    assert [t.label for t in at.tabs] == ["전략 만들기", "가중치와 IC", "백테스트"]
    assert any(m.label == "샤프 지수" for m in at.metric)
    ko._assert_all_korean(at)


def test_reports_page_in_korean(home: Path) -> None:
    at = _page("reports")
    assert [t.label for t in at.tabs] == ["전략 보고서", "전략 비교", "다운로드"]
    assert any(m.label == "메가 알파 IC" for m in at.metric)
    assert any(h.value == "운일까요?" for h in at.subheader)
    ko._assert_all_korean(at)
