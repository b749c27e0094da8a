"""The home page guides a newcomer: the "Next step" box follows ``next_step``, the step cards
tick off what the project holds, the tour is open until the project has a strategy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from engine import i18n
from engine.data.synthetic import SyntheticConfig
from engine.glossary import TOUR_TERMS
from engine.store.demo import ensure_demo
from engine.store.next_step import next_step
from engine.store.project import Project
from engine.store.settings import AppSettings, save_settings
from tests.conftest import REPO

APP = str(REPO / "alphaforge_app" / "app.py")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ALPHAFORGE_HOME", str(tmp_path))
    save_settings(tmp_path, AppSettings(mode="single", language="en"))
    return tmp_path


def _run() -> AppTest:
    at = AppTest.from_file(APP)
    at.run(timeout=60)
    assert not at.exception, at.exception
    return at


def _box(at: AppTest) -> list[str]:
    """Texts of the "Next step" box, in order."""
    box = next(b for b in at.get("flex_container") if b.proto.flex_container.border
               and any(s.value == "Next step" for s in b.subheader))
    return [m.value for m in box.markdown]


def _links(at: AppTest) -> list[tuple[str, str]]:
    return [(p.proto.label, p.proto.page) for p in at.get("page_link")]


def _tour(at: AppTest):  # type: ignore[no-untyped-def]
    return next(e for e in at.expander if e.label.startswith("New here?"))


def test_no_project_points_at_data(home: Path) -> None:
    at = _run()
    assert _box(at)[:2] == ["**Bring in price data**",
                            i18n.translate("home.reason_no_project", "en")]
    assert _links(at)[0][0] == "Open Data"
    assert _links(at)[0][1] == "data"  # the Data page's URL path
    assert _tour(at).proto.expanded


def test_demo_points_at_mining_and_ticks_off_data(home: Path) -> None:
    project, _, _ = ensure_demo(home / "projects" / "demo",
                                SyntheticConfig(n_tickers=12, n_days=80))
    assert next_step(project).key == "mining"
    at = _run()
    assert _box(at)[0] == "**Mine alpha factors**"
    assert _links(at)[0] == ("Open Factor mining", "mining")
    badges = [m.value for m in at.markdown if "badge[" in m.value]
    assert len(badges) == 2 and "✓ Done" in badges[0] and "→ Next step" in badges[1]
    tour = _tour(at)
    assert tour.proto.expanded
    shown = "\n".join(m.value for m in tour.markdown)
    for term in TOUR_TERMS:
        assert i18n.translate(f"home.def_{term}", "en") in shown


def test_a_strategy_points_at_reports_and_folds_the_tour(home: Path) -> None:
    project = Project.create(home / "projects" / "p", name="p")
    ensure_demo(project.root, SyntheticConfig(n_tickers=12, n_days=80))
    folder = project.root / "strategies" / "s"
    folder.mkdir(parents=True)
    (folder / "strategy.json").write_text(json.dumps({"name": "s"}), encoding="utf-8")
    at = _run()
    assert _box(at)[0] == "**Read, compare and share your results**"
    assert not _tour(at).proto.expanded


def test_glossary_opens_in_a_dialog(home: Path) -> None:
    at = _run()
    next(b for b in at.button if b.label == "Open the full glossary").click()
    at.run(timeout=60)
    assert any("**Sharpe ratio**" in m.value for m in at.markdown)



def test_project_box_follows_a_project_opened_elsewhere(home: Path) -> None:
    """The demo button (or a sidebar form) opens a project while the project box still
    remembers the previous one; the box must follow, not switch straight back."""
    Project.create(home / "projects" / "fresh", name="fresh")
    demo, _, _ = ensure_demo(home / "projects" / "demo", SyntheticConfig(n_tickers=12, n_days=80))
    at = AppTest.from_file(APP)
    at.session_state["af_project_path"] = str(demo.root)  # what the demo button sets
    at.session_state["project_select"] = "fresh"  # the box's memory of the last pick
    at.run(timeout=60)
    assert not at.exception, at.exception
    assert at.selectbox(key="project_select").value == "demo"
    assert _box(at)[0] == "**Mine alpha factors**"
    at.selectbox(key="project_select").select("fresh")
    at.run(timeout=60)
    assert _box(at)[0] == "**Bring in price data**"
