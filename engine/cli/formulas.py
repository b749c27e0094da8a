"""Formula commands: check, eval."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from engine.cli.common import Output, open_project
from engine.errors import ConfigError, DataError

#: exit status of `eval` when some formulas failed to parse or evaluate
EXIT_SOME_FAILED = 1


def _tree_lines(node: Any, prefix: str = "") -> list[str]:
    """Indented drawing of a formula tree (display only)."""
    from engine.expr.parse import Call, to_text

    if not isinstance(node, Call):
        return [prefix + to_text(node)]
    lines = [prefix + node.op]
    for arg in node.args:
        lines += _tree_lines(arg, prefix + "  ")
    return lines


def cmd_check(args: argparse.Namespace) -> Output:
    from engine.data.schema import BASE_FEATURES
    from engine.expr.parse import to_rpn, to_text
    from engine.expr.qlib import read_formula

    features: tuple[str, ...] = BASE_FEATURES
    if args.dataset:
        features = open_project(args).dataset_meta(args.dataset).features
    tree = read_formula(args.formula, features=features)  # function form or Qlib syntax
    rpn = " ".join(t.text for t in to_rpn(tree))
    text = "\n".join([f"formula: {to_text(tree)}", f"RPN:     {rpn}", "tree:",
                      *_tree_lines(tree, "  ")])
    return Output({"formula": to_text(tree), "rpn": rpn.split(" ")}, text)


def cmd_eval(args: argparse.Namespace) -> Output:
    from engine.metrics.formulas import score_formulas

    formulas = list(args.formula or [])
    if args.file:
        from engine.data.safe_open import read_utf8

        # a regular file within the input budgets; a Windows Notepad BOM is dropped
        lines = read_utf8(Path(args.file)).splitlines()
        formulas += [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
    if not formulas:
        raise DataError("no formula given: pass one as an argument or --file FILE")
    project = open_project(args)
    panel = project.load_panel(args.dataset)
    scores = score_formulas(panel, formulas, start=args.start, end=args.end,
                            horizon=args.horizon, price=args.target_price)
    rows = scores.table.to_dicts()
    lines = [f"{scores.n_days} scored days; target {args.target_price}[t+{args.horizon + 1}] / "
             f"{args.target_price}[t+1] - 1",
             f"{'IC':>8}{'ICIR':>8}{'RankIC':>8}{'RkICIR':>8}{'cover':>7}  formula"]
    for r in rows:
        lines.append(f"{r['ic']:>8.4f}{r['icir']:>8.3f}{r['rank_ic']:>8.4f}{r['rank_icir']:>8.3f}"
                     f"{r['coverage']:>7.1%}  {r['formula']}")
    for line, text, message in scores.errors:
        lines.append(f"formula {line} ({text!r}): {message}")
    data = {"n_days": scores.n_days, "results": rows,
            "errors": [{"line": i, "formula": t, "error": m} for i, t, m in scores.errors]}
    # exit 1 when any formula failed (the good ones are still reported), as scripts expect
    return Output(data, "\n".join(lines), exit_code=EXIT_SOME_FAILED if scores.errors else 0)



def _day(option: str) -> Any:
    """argparse type: a calendar date, refused with the option's name (engine.dates)."""
    from engine.dates import parse_day

    def convert(text: str) -> str:
        try:
            return parse_day(text, option).isoformat()
        except ConfigError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return convert


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("check", parents=[common], help="parse a formula: tree, RPN or the error")
    p.add_argument("formula")
    p.add_argument("--dataset", help="allow the extra feature columns of this dataset")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("eval", parents=[common], help="IC / RankIC of formulas on a dataset")
    p.add_argument("formula", nargs="*", help="formula text(s)")
    p.add_argument("--dataset", required=True)
    p.add_argument("--file", help="a text file with one formula per line ('#' comments)")
    p.add_argument("--start", type=_day("--start"), help="first scored day (YYYY-MM-DD)")
    p.add_argument("--end", type=_day("--end"), help="last scored day (YYYY-MM-DD)")
    p.add_argument("--target-price", choices=["vwap", "close"], default="vwap")
    p.add_argument("--horizon", type=int, default=20)
    p.set_defaults(func=cmd_eval)

