"""A sweep's report: the same outline in the PDF (native charts and, in English and Korean)
and the HTML report, from the CLI too: design, chart, results table, verdicts, significance."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from engine.cli import main
from engine.data.synthetic import generate
from engine.i18n import Translator
from engine.mining import sweep as S
from engine.mining.sweep_store import run_sweep
from engine.report.content import ChartsNote
from engine.report.html import build_sweep_html
from engine.report.pdf import render_sweep_pdf
from engine.report.sweep_report import gather_sweep, sweep_outline
from tests.engine.mining.conftest import make_project
from tests.engine.mining.test_sweep import FAST, MARKET


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, str]:
    project = make_project(tmp_path_factory.mktemp("sweep") / "p", generate(MARKET))
    spec: Any = S.SweepSpec(dataset="demo", methods=("gp", "random"), seeds=(0, 1),
                            test_years=(2017,), max_evaluations=90, overrides=FAST,
                            backtest={"top_k": 5, "drop_n": 1},
                            combine={"window": 120, "n_factors": 3})
    return project, run_sweep(project, spec, workers=1)


def _text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


@pytest.mark.parametrize(("lang", "words"), [
    ("en", ("Sweep report", "Design", "Test RankIC by method and year",
            "Paired verdicts on test RankIC", "deflated Sharpe ratio")),
    ("ko", ("스윕 보고서", "설계", "방법·연도별 테스트 RankIC", "짝지은 판정",
            "디플레이티드 샤프 비율", "윌콕슨 부호 순위 검정", "차이 없음")),
])
def test_pdf_has_every_section(swept: tuple[Any, str], lang: str, words: tuple[str, ...]
                               ) -> None:
    project, run_id = swept
    report = render_sweep_pdf(project, run_id, lang=lang, charts="native")
    text = _text(report.data)
    for word in words:
        assert word in text, word
    assert "gp" in text and "random" in text and run_id in text


def test_html_and_pdf_share_the_outline(swept: tuple[Any, str]) -> None:
    project, run_id = swept
    t = Translator("en")
    outline = sweep_outline(gather_sweep(project, run_id), t, ChartsNote("x", "y"))
    html = build_sweep_html(project, run_id).decode("utf-8")
    for heading in outline.headings:
        assert f'id="{heading.anchor}"' in html
    assert 'data-chart="sweep"' in html


def test_cli_writes_the_sweep_report(swept: tuple[Any, str], tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    project, run_id = swept
    out, page = tmp_path / "s.pdf", tmp_path / "s.html"
    assert main(["report", "--project", str(project.root), "--sweep", run_id, "--out", str(out),
                 "--html", str(page), "--charts", "native", "--lang", "en"]) == 0
    assert out.read_bytes()[:5] == b"%PDF-" and b"data-chart" in page.read_bytes()
    assert f"Report of sweep {run_id}" in capsys.readouterr().out
    assert main(["report", "--project", str(project.root), "--sweep", run_id,
                 "--alphalens", str(tmp_path / "a.zip")]) == 2
