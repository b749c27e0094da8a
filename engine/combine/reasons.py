"""Why the dynamic combiner kept or dropped a factor on a day, as a code with parameters.

The weights frame stores the code in ``reason`` and its numbers as JSON in ``reason_params``,
so the words are chosen when someone reads them (``combine.reason.<code>`` in the reader's
language) and not frozen in English when the strategy is built. Weights saved before codes, and a
plug-in method's own reasons, hold text with no parameters: they are shown as they are.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import polars as pl

from engine.i18n import Translator

PARAMS_COLUMN = "reason_params"

#: code -> the parameters its message needs (numbers; ``flipped`` adds a sentence).
CODES: dict[str, tuple[str, ...]] = {
    "not_scored": ("days", "min"),
    "fallback": ("rank_ic", "rank_icir"),
    "selected": ("rank_ic", "rank_icir", "rank", "count"),
    "beyond_top": ("rank_ic", "rank_icir", "rank", "count", "keep"),
    "few_days": ("days",),
    "below_rank_ic": ("rank_ic", "rank_ic_min"),
    "below_rank_icir": ("rank_icir", "rank_icir_min"),
    "below_both": ("rank_ic", "rank_ic_min", "rank_icir", "rank_icir_min"),
    # static combiners: the same reason on every day, with the training statistics
    "static_equal": ("ic", "rank_ic"),
    "static_icweighted": ("ic", "rank_ic"),
    "static_ols": ("days", "ic", "rank_ic"),
    "static_zero": ("ic", "rank_ic"),
}
#: Parameters shown as absolute values (the thresholds apply to |RankIC| and |RankICIR|).
_ABSOLUTE = {"below_rank_ic", "below_rank_icir", "below_both"}


def encode(code: str, **params: Any) -> str:
    """``params`` as the JSON of the ``reason_params`` column; a non-finite number is
    stored as null (shown as a dash), which strict JSON readers accept."""
    if code not in CODES:
        raise ValueError(f"unknown reason code {code!r}")
    clean = {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
             for k, v in params.items()}
    return json.dumps(clean, separators=(",", ":"), sort_keys=True)


def _shown(value: Any, t: Translator, absolute: bool) -> str:
    if isinstance(value, bool) or value is None:
        return t.number(None)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return t.number(abs(value) if absolute else value, 3)
    return str(value)


def reason_text(reason: str | None, params: str | None, t: Translator) -> str:
    """The reason in ``t``'s language; a reason without a code (saved before codes, or a
    static combiner's) is returned as it is."""
    if reason not in CODES or params is None:
        return reason or ""
    try:
        values: Mapping[str, Any] = json.loads(params)
    except ValueError:
        return reason
    if not isinstance(values, Mapping):
        return reason
    absolute = reason in _ABSOLUTE
    shown = {name: _shown(values.get(name), t, absolute) for name in CODES[reason]}
    text = t(f"combine.reason.{reason}", **shown)
    if values.get("flipped"):  # the static methods flip on the training IC, dynamic on RankIC
        text += t("combine.reason.flipped_ic" if reason.startswith("static_")
                  else "combine.reason.flipped")
    return text


def reason_texts(weights: pl.DataFrame, t: Translator) -> list[str]:
    """One shown reason per row of a weights frame (old frames without parameters too)."""
    reasons = weights.get_column("reason").to_list() if "reason" in weights.columns else (
        [""] * weights.height)
    params = weights.get_column(PARAMS_COLUMN).to_list() if (
        PARAMS_COLUMN in weights.columns) else [None] * weights.height
    return [reason_text(r, p, t) for r, p in zip(reasons, params, strict=True)]
