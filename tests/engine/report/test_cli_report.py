"""`alphaforge report` writes the PDF (and on request HTML, data and alphalens zips)."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
from pypdf import PdfReader

from engine.cli import main
from engine.store.project import Project


def test_report_with_every_output(report_project: Project, tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r" / "report.pdf"
    argv = ["report", "--project", str(report_project.root), "--strategy", "classic-dynamic",
            "--out", str(out), "--html", str(tmp_path / "r.html"), "--data",
            str(tmp_path / "d.zip"), "--alphalens", str(tmp_path / "a.zip"), "--charts",
            "native", "--lang", "ko", "--author", "홍길동", "--json"]
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out)["result"]
    assert result["charts"] == "native" and result["lang"] == "ko"
    reader = PdfReader(out)
    assert len(reader.pages) == result["pages"] and "홍길동" in reader.pages[0].extract_text()
    assert (tmp_path / "r.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    with zipfile.ZipFile(tmp_path / "d.zip") as archive:
        assert {"equity.csv", "equity.parquet", "factors.csv", "strategy.json",
                "README.txt"} <= set(archive.namelist())
        provenance = json.loads(archive.read("strategy.json"))
        assert provenance["dataset"]["hash"] == report_project.dataset_meta("demo").content_hash
    with zipfile.ZipFile(tmp_path / "a.zip") as archive:
        assert "factor_data.parquet" in archive.namelist()


def test_comparison_goes_to_the_project_reports_folder(
        report_project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--project", str(report_project.root), "--strategy",
                 "classic-dynamic", "--compare", "classic-equal", "--charts", "native",
                 "--data", str(report_project.root / "reports" / "both.zip")]) == 0
    text = capsys.readouterr().out
    pdf = report_project.root / "reports" / "classic-dynamic-vs-classic-equal.pdf"
    assert str(pdf) in text and "charts: native" in text
    assert "Strategy comparison" in PdfReader(io.BytesIO(pdf.read_bytes())).pages[0].extract_text()
    with zipfile.ZipFile(report_project.root / "reports" / "both.zip") as archive:
        assert {"classic-dynamic/equity.csv", "classic-equal/equity.csv"} <= set(
            archive.namelist())


def test_unknown_strategy_is_refused(report_project: Project,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--project", str(report_project.root), "--strategy", "nope"]) == 2
    assert "no strategy 'nope'" in capsys.readouterr().err
