"""The ``gridppo`` command line: simulate, train and evaluate.

Errors in what the user gave (a bad config, a missing file) print one line and exit
with status 2, without a traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["main"]


def _simulate(args: argparse.Namespace) -> int:
    from gridppo.config import load_config
    from gridppo.env import BatchedGridEnv
    from gridppo.plots import plot_day_overview
    from gridppo.policies import make_baseline
    from gridppo.simulate import kpi_table, run_days

    cfg = load_config(args.config, args.set)
    days = cfg["time"]["train_days"] + __import__("numpy").arange(
        min(args.days, cfg["time"]["eval_days"])
    )
    env = BatchedGridEnv(cfg, batch_size=len(days), mode="eval", autoreset=False)
    policy = make_baseline(args.policy, env, seed=cfg["seed"])
    result = run_days(policy, env, days=days, record=True)
    print(f"Policy '{args.policy}' on {len(days)} evaluation day(s) (means per day):")
    print(kpi_table([result]))
    out = Path(args.plot)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig = plot_day_overview(result.record, env.nodes)
    fig.savefig(out, dpi=100)
    print(f"Plot of the first day written to {out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser, with one sub-command per task."""
    parser = argparse.ArgumentParser(prog="gridppo", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--config", default=None, help="YAML config (default: configs/default.yaml)")
        p.add_argument(
            "--set",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="override a config key, e.g. --set ppo.lr=1e-4 (repeatable)",
        )

    sim = sub.add_parser("simulate", help="run baseline policies for some days and print KPIs")
    common(sim)
    sim.add_argument("--policy", choices=("heuristic", "random", "opf"), default="heuristic")
    sim.add_argument("--days", type=int, default=1, help="number of evaluation days (default 1)")
    sim.add_argument("--plot", default="outputs/simulate_day.png", help="where to save the plot")
    sim.set_defaults(func=_simulate)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``gridppo`` command."""
    from gridppo.config import ConfigError

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as err:
        print(f"gridppo: config error: {err}", file=sys.stderr)
        return 2
    except (FileNotFoundError, ValueError) as err:
        print(f"gridppo: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("gridppo: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
