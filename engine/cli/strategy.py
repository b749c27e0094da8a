"""Strategy commands: combine (factor set -> Mega-Alpha) and backtest (strategy -> portfolio)."""

from __future__ import annotations

import argparse
import dataclasses
import math

from engine.cli.common import Output, open_project
from engine.combine.methods import COMBINE_METHODS
from engine.errors import ConfigError
from engine.expr.builtin_sets import BUILTIN_SETS


def _default_dataset(project, factor_set_name: str) -> str:  # type: ignore[no-untyped-def]
    from engine.combine.service import resolve_factor_set

    dataset = resolve_factor_set(project, factor_set_name).source.get("dataset")
    if dataset:
        return str(dataset)
    names = project.dataset_names()
    if len(names) == 1:
        return names[0]
    raise ConfigError("name the dataset with --dataset (the project holds "
                      f"{len(names)} datasets: {', '.join(names) or 'none'})")


def _window(text: str) -> int | None:
    """'inf' (all history) or a whole number of days."""
    if text.strip().lower() == "inf":
        return None
    try:
        return int(text)
    except ValueError:
        raise ConfigError(f"--window must be a whole number of days or 'inf', got '{text}'"
                          ) from None


def _pct(x: float | None) -> str:
    return "-" if x is None or (isinstance(x, float) and not math.isfinite(x)) else f"{x:.2%}"


def cmd_combine(args: argparse.Namespace) -> Output:
    from engine.combine.base import CombineConfig
    from engine.combine.service import (
        StrategySpec,
        build_strategy,
        combine_config,
        parse_range,
        resolve_factor_set,
        suggested_test_range,
    )

    project = open_project(args)
    source = args.run or args.factors
    if not source:
        raise ConfigError("give the factors to combine: --run RUN_ID or --factors SET "
                          "(a saved factor set, or 'classic')")
    dataset = args.dataset or _default_dataset(project, source)
    test = parse_range(args.test, "--test")
    if test is None:  # as the Combine page: after the run's validation range, else the
        # test range of the dataset's default split (a built-in or imported set)
        start, end = suggested_test_range(project, dataset, resolve_factor_set(project, source),
                                          args.horizon or CombineConfig.horizon)
        test = (str(start), str(end))
    config = combine_config(args.method, n_factors=args.n_factors, horizon=args.horizon,
                            price=args.target_price)
    if args.window is not None:
        config = dataclasses.replace(config, window=_window(args.window))
    name = args.name or f"{source}-{args.method}"
    spec = StrategySpec(name=name, dataset=dataset,
                        factor_set=source, test=test, train=parse_range(args.train, "--train"),
                        config=config)
    result, info = build_strategy(project, spec, overwrite=args.overwrite)
    s = info["summary"]
    path = project.root / "strategies" / name
    text = (f"Strategy '{name}' ({args.method}, {len(info['formulas'])} factors from "
            f"'{info['factor_set']}') on {s['n_days']} test days\n"
            f"  Mega-Alpha IC {s['ic']:.4f} (ICIR {s['icir']:.3f}), RankIC {s['rank_ic']:.4f} "
            f"(RankICIR {s['rank_icir']:.3f})\n  saved in {path}")
    return Output({"strategy": name, "path": str(path), **info,
                   "scores_file": str(path / "scores.parquet"),
                   "weights_file": str(path / "weights.parquet")}, text)


def cmd_backtest(args: argparse.Namespace) -> Output:
    from engine.backtest.topk import TopKConfig
    from engine.combine.service import backtest_strategy

    project = open_project(args)
    config = TopKConfig(top_k=args.top_k, drop_n=args.drop_n, rebalance=args.rebalance,
                        trade_at=args.trade_at, buy_bps=args.buy_bps, sell_bps=args.sell_bps)
    _, info = backtest_strategy(project, args.strategy, config, rf=args.rf,
                                benchmark=args.benchmark)
    s = info["summary"]
    path = project.root / "strategies" / args.strategy
    dd = s.get("drawdown") or {}
    text = "\n".join([
        f"Backtest of '{args.strategy}': top {args.top_k} / drop {args.drop_n}, trade at "
        f"{args.trade_at} (t+1), costs {args.buy_bps:g}/{args.sell_bps:g} bps, "
        f"{s['start']} .. {s['end']} ({s['n_days']} days)",
        f"  cumulative {_pct(s['cumulative_return'])}, annual {_pct(s['annual_return'])}, "
        f"volatility {_pct(s['annual_volatility'])}, Sharpe {s['sharpe']:.2f}",
        f"  max drawdown {_pct(s['max_drawdown'])} ({dd.get('peak_date')} .. "
        f"{dd.get('trough_date')}), turnover {_pct(s.get('turnover'))} a day",
        f"  excess vs benchmark ({info['benchmark']}) {_pct(s.get('excess_return'))} a year, "
        "information ratio "
        f"{s.get('information_ratio') or float('nan'):.2f}",
        f"  daily series: {path / 'backtest_daily.parquet'}",
    ])
    return Output({"strategy": args.strategy, **info,
                   "daily_file": str(path / "backtest_daily.parquet"),
                   "positions_file": str(path / "positions.parquet"),
                   "trades_file": str(path / "trades.parquet")}, text)


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("combine", parents=[common],
                       help="combine factors into a Mega-Alpha strategy")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--run", help="a mining run id (its zoo)")
    src.add_argument("--factors",
                     help="a saved factor set, or a built-in one: " + ", ".join(BUILTIN_SETS))
    p.add_argument("--method", choices=COMBINE_METHODS.names(), default="dynamic")
    p.add_argument("--test", metavar="START:END",
                   help="days to score (default for --run: from the day after the run's "
                        "validation range to the end of the data; for other sets: the test "
                        "range of the dataset's default 70/15/15 split)")
    p.add_argument("--train", metavar="START:END",
                   help="training days of the static methods (default: all days before --test)")
    p.add_argument("--dataset", help="dataset (default: the one the factors were mined on)")
    p.add_argument("--name", help="strategy name (default: SOURCE-METHOD)")
    p.add_argument("--window", help="look-back days of the dynamic method (default 250; 'inf')")
    p.add_argument("--n-factors", type=int, help="factors active per day (default 10)")
    p.add_argument("--horizon", type=int, help="target horizon in days (default 20)")
    p.add_argument("--target-price", choices=["vwap", "close"], help="target price (default vwap)")
    p.add_argument("--overwrite", action="store_true", help="replace a strategy of that name")
    p.set_defaults(func=cmd_combine)

    p = sub.add_parser("backtest", parents=[common], help="top-k / drop-n backtest of a strategy")
    p.add_argument("--strategy", required=True)
    p.add_argument("--top-k", type=int, default=50)
    p.add_argument("--drop-n", type=int, default=5)
    p.add_argument("--buy-bps", type=float, default=5.0)
    p.add_argument("--sell-bps", type=float, default=15.0)
    p.add_argument("--rebalance", type=int, default=1, help="rebalance every N days")
    p.add_argument("--trade-at", choices=["open", "close", "vwap"], default="open")
    p.add_argument("--rf", type=float, default=0.0, help="annual risk-free rate for Sharpe")
    p.add_argument("--benchmark", metavar="TICKER",
                   help="a ticker of the dataset as benchmark (default: equal-weight universe)")
    p.set_defaults(func=cmd_backtest)
