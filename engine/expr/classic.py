"""The "Classic" factor set: well-known hand-crafted factors written in the formula language.

They are the baseline a mined zoo has to beat (spec §10: miner vs GP vs random vs classic, same
data, same budget) and examples of the language for users. Every formula parses with the
default preset on the six base features. Signs follow the usual convention (a higher value is
expected to mean a higher future return); scoring uses |IC| anyway.

Alpha101 entries follow Kakushadze, "101 Formulaic Alphas" (2016), restricted to the ones that
fit the grammar (no ts_rank/decay_linear/indneutralize); ``rank`` becomes ``cs_rank``,
``delay`` ``Ref``, ``correlation`` ``ts_corr``, ``stddev`` ``ts_std``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from engine.data.schema import BASE_FEATURES
from engine.expr.parse import Expr, parse


@dataclass(frozen=True)
class ClassicFactor:
    formula: str
    description: str


def _f(formula: str, description: str) -> ClassicFactor:
    return ClassicFactor(formula=formula, description=description)


#: name -> factor, in display order.
CLASSIC: Mapping[str, ClassicFactor] = MappingProxyType({
    "mom_20": _f("ts_pctchange($close, 20)", "20-day price momentum (return over 20 days)"),
    "mom_60": _f("ts_pctchange($close, 60)", "60-day price momentum"),
    "mom_12_1": _f("Sub(Div(Ref($close, 21), Ref($close, 250)), 1)",
                   "12-1 month momentum: return from t−250 to t−21, skipping the last month"),
    "rev_5": _f("Mul(-1, ts_pctchange($close, 5))", "5-day reversal (minus the 5-day return)"),
    "lowvol_20": _f("Mul(-1, ts_std(ts_pctchange($close, 1), 20))",
                    "20-day low volatility (minus the std of daily returns)"),
    "ma_ratio_5_20": _f("Div(ts_mean($close, 5), ts_mean($close, 20))",
                        "5-day over 20-day moving average of the close"),
    "dist_high_20": _f("Div($close, ts_max($high, 20))", "close relative to the 20-day high"),
    "dist_low_20": _f("Div($close, ts_min($low, 20))", "close relative to the 20-day low"),
    "stoch_k_14": _f("Div(Sub($close, ts_min($low, 14)), Sub(ts_max($high, 14), ts_min($low, 14)))",
                     "stochastic %K: where the close sits in its 14-day high-low range"),
    "hl_range_20": _f("ts_mean(Div(Sub($high, $low), $close), 20)",
                      "20-day mean of the daily high-low range over the close"),
    "close_location": _f("Div(Sub(Sub($close, $low), Sub($high, $close)), Sub($high, $low))",
                         "close location value in the day's range, −1 at the low, +1 at the high"),
    "overnight_gap": _f("Sub(Div($open, Ref($close, 1)), 1)",
                        "overnight return: today's open over yesterday's close"),
    "intraday_ret": _f("Sub(Div($close, $open), 1)", "intraday return: close over open"),
    "vwap_dev": _f("Sub(Div($close, $vwap), 1)", "close relative to the day's vwap"),
    "volume_surge": _f("Div($volume, ts_mean($volume, 20))",
                       "volume relative to its 20-day mean"),
    "vol_price_corr_10": _f("Mul(-1, ts_corr($close, $volume, 10))",
                            "minus the 10-day correlation of close and volume"),
    "amihud_20": _f("ts_mean(Div(Abs(ts_pctchange($close, 1)), Mul($close, $volume)), 20)",
                    "Amihud illiquidity: mean |return| per traded dollar over 20 days"),
    "alpha101_003": _f("Mul(-1, ts_corr(cs_rank($open), cs_rank($volume), 10))",
                       "Alpha#3: −correlation(rank(open), rank(volume), 10)"),
    "alpha101_006": _f("Mul(-1, ts_corr($open, $volume, 10))",
                       "Alpha#6: −correlation(open, volume, 10)"),
    "alpha101_012": _f("Mul(Sign(ts_delta($volume, 1)), Mul(-1, ts_delta($close, 1)))",
                       "Alpha#12: sign(Δvolume) · (−Δclose)"),
    "alpha101_033": _f("cs_rank(Sub(Div($open, $close), 1))",
                       "Alpha#33: rank(−(1 − open/close))"),
    "alpha101_041": _f("Sub(Pow(Mul($high, $low), 0.5), $vwap)",
                       "Alpha#41: √(high · low) − vwap"),
    "alpha101_053": _f("Mul(-1, ts_delta(Div(Sub(Sub($close, $low), Sub($high, $close)), "
                       "Sub($close, $low)), 9))",
                       "Alpha#53: −9-day change of the close location ratio"),
    "alpha101_101": _f("Div(Sub($close, $open), Add(Sub($high, $low), 0.001))",
                       "Alpha#101: (close − open) / (high − low + 0.001)"),
})


def classic_exprs(features: tuple[str, ...] = BASE_FEATURES) -> dict[str, Expr]:
    """The classic set parsed for a dataset's features (all need only the base six)."""
    return {name: parse(f.formula, features=features) for name, f in CLASSIC.items()}


def reference_markdown() -> str:
    """The classic-factor table of docs/formula-language.md (checked by the docs test)."""
    lines = ["| name | formula | what it measures |", "|---|---|---|"]
    lines += [f"| `{name}` | `{f.formula}` | {f.description.replace('|', chr(92) + '|')} |"
              for name, f in CLASSIC.items()]
    return "\n".join(lines)
