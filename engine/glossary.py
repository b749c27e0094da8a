"""The words a newcomer meets first: the home page's tour and the full glossary behind it.

The tour explains a few terms in a sentence or two each; their names and texts are messages
(``home.term_<id>``, ``home.def_<id>``) so both languages stay complete, and :data:`TOUR_TERMS`
is the one list of which terms the tour shows, in the order it shows them. The full glossary
is the user guide's (``docs/glossary.md``, ``docs/ko/glossary.md``): the app shows that file
rather than a copy of it, because a browser on this offline app cannot follow a link into the
docs folder.
"""

from __future__ import annotations

import re
from pathlib import Path

from engine.i18n import normalize

#: Ids of the terms the tour explains, in the order a newcomer meets them in the workflow.
TOUR_TERMS: tuple[str, ...] = (
    "ic", "rankic", "icir", "zoo", "mega_alpha", "sharpe", "max_drawdown", "turnover",
)

_DOCS = Path(__file__).resolve().parents[1] / "docs"
#: The line of links to the other languages' copy at the top of a translated doc: inside the
#: app the language is the sidebar's, and the link would lead nowhere.
_LANGUAGE_BAR = re.compile(r"^\[[^\]]+\]\([^)]*\.md\) · \S+$")


def glossary_path(lang: str) -> Path:
    """Where the glossary of ``lang`` lives (English at the top of docs/, others below)."""
    lang = normalize(lang)
    return _DOCS / "glossary.md" if lang == "en" else _DOCS / lang / "glossary.md"


def glossary_markdown(lang: str) -> str | None:
    """The full glossary in ``lang`` as Markdown, without its title (the app gives its own)
    and without the language bar; None when the file is absent (a bundle built without
    docs), so the app leaves the link out instead of showing an error."""
    path = glossary_path(lang)
    if not path.is_file():
        return None
    lines = path.read_text(encoding="utf-8").splitlines()
    kept = [line for line in lines
            if not line.startswith("# ") and not _LANGUAGE_BAR.match(line.strip())]
    return "\n".join(kept).strip()
