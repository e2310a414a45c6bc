"""The ``gridppo`` command line: simulate, train, evaluate and sweep.

Errors in what the user gave (a bad config, a missing, corrupt or foreign checkpoint, a
bad profile CSV) print one line and exit with status 2, without a traceback. Training
that diverges (NaN or infinite values) prints one line and exits with status 1.

``gridppo train --resume checkpoints/RUN/last.pt`` continues a run where it stopped.
SIGTERM stops training cleanly after the update in progress (a second SIGTERM stops at
once); Ctrl-C stops at once. Either way ``last.pt`` keeps the last completed update,
and the command exits with status 143 (SIGTERM) or 130 (Ctrl-C).

``gridppo sweep`` (:mod:`gridppo.sweep`, on Ray Tune) run again with the same arguments
keeps the trials that finished and resumes the others from their ``last.pt``.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt

from gridppo.baselines.registry import BASELINES
from gridppo.config.fields import ConfigError
from gridppo.config.loader import load_config
from gridppo.evaluation.protocol import DEFAULT_BASELINES, evaluate_on_test_days
from gridppo.evaluation.simulate import kpi_table
from gridppo.grid.network import PowerGrid
from gridppo.sweep.runner import TUNE_DIR, RayMissingError, run_sweep
from gridppo.sweep.summary import SUMMARY_KPIS
from gridppo.training.checkpoints import CheckpointError
from gridppo.training.trained_policy import TrainedPolicy
from gridppo.training.trainer import Trainer, TrainingDivergedError
from gridppo.viz.agent_day import plot_day_overview
from gridppo.viz.training import plot_learning_curve

__all__ = ["main"]


def _test_day_count(args: argparse.Namespace, cfg: dict[str, Any]) -> int:
    """The number of test days ``--days`` asks for, checked against the config."""
    available = cfg["time"]["test_days"]
    if not 1 <= args.days <= available:
        raise ValueError(
            f"--days: must be between 1 and time.test_days ({available}), got {args.days}"
        )
    return args.days


_OPTIMUM_NOTE = (
    "The optimum knows the whole day in advance (perfect foresight); the agents see "
    "only a few steps of price forecast."
)


def _simulate(args: argparse.Namespace) -> int:

    cfg = load_config(args.config, args.set)
    n_days = _test_day_count(args, cfg)
    names = BASELINES if args.policy == "all" else (args.policy,)
    results = evaluate_on_test_days(cfg, baselines=names, n_days=n_days)
    result = results[names[0]]
    print(f"On {n_days} test day(s):")
    print(kpi_table(list(results.values())))
    if "optimum" in results:
        print(_OPTIMUM_NOTE)
    out = Path(args.plot)
    out.parent.mkdir(parents=True, exist_ok=True)

    fig = plot_day_overview(result.record, PowerGrid(cfg).nodes)
    fig.savefig(out, dpi=100)
    print(f"Plot of the first day ({result.policy}) written to {out}")
    return 0


class _Terminated(KeyboardInterrupt):
    """A second SIGTERM: stop at once, like Ctrl-C."""


def _resume_hint(trainer: Any) -> str:
    last = trainer.checkpoint_dir / "last.pt"
    if not last.is_file():
        return "no checkpoint was written yet"
    return f"continue with: gridppo train --resume {last}"


def _save_learning_curve(trainer: Trainer) -> Path:
    """The validation cost over training beside the baselines, as ``learning_curve.png``
    in the run's log folder; returns the path."""
    baselines = {name: result.kpis for name, result in trainer.baselines.items()}
    fig = plot_learning_curve(trainer.eval_history, baselines)
    path = trainer.log_dir / "learning_curve.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _train(args: argparse.Namespace) -> int:

    if args.resume and args.config:
        print("gridppo: --config: a resumed run keeps its checkpoint's config", file=sys.stderr)
        return 2
    if args.resume and args.run_name:
        print("gridppo: --run-name: a resumed run keeps its name", file=sys.stderr)
        return 2
    # SIGTERM (a scheduler, `kill`) asks for a clean stop after the update in progress.
    stopping: dict[str, Any] = {"trainer": None, "signal": None}

    def on_sigterm(signum: int, frame: Any) -> None:
        if stopping["trainer"] is None or stopping["signal"] is not None:
            raise _Terminated()
        stopping["signal"] = signum
        stopping["trainer"].request_stop()

    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, on_sigterm) if in_main_thread else None
    try:
        try:
            if args.resume:
                trainer = Trainer.resume(args.resume, args.set)
            else:
                trainer = Trainer.from_config(args.config, args.set, run_name=args.run_name)
                last = trainer.checkpoint_dir / "last.pt"
                if last.exists():
                    print(
                        f"gridppo: run '{trainer.run_name}' already has checkpoints ({last}); "
                        f"continue it with --resume {last}, or choose another --run-name",
                        file=sys.stderr,
                    )
                    return 2
        except _Terminated:
            print("gridppo: terminated before training started", file=sys.stderr)
            return 143
        stopping["trainer"] = trainer
        cfg = trainer.config["train"]
        where = f"; resuming at update {trainer.update}" if args.resume else ""
        print(
            f"Training {len(trainer.env.agents)} agents for {cfg['total_updates']} updates "
            f"({cfg['num_days']} days x {cfg['rollout_steps']} steps each); "
            f"run '{trainer.run_name}'{where}",
            flush=True,
        )
        try:
            summary = trainer.train(progress_bar=not args.quiet)
        except KeyboardInterrupt as err:
            code = 143 if isinstance(err, _Terminated) else 130
            print(
                f"gridppo: interrupted during update {trainer.update + 1}; last.pt holds update "
                f"{trainer.update}; {_resume_hint(trainer)}",
                file=sys.stderr,
            )
            return code
        if stopping["signal"] is not None and trainer.update < cfg["total_updates"]:
            print(
                f"gridppo: stopped by SIGTERM after update {trainer.update} of "
                f"{cfg['total_updates']}; {_resume_hint(trainer)}",
                file=sys.stderr,
            )
            return 143
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)
    curve = _save_learning_curve(trainer)
    print(
        f"Done: {summary['updates']} updates, {summary['global_step']:,} environment steps in "
        f"{summary['wall_time_s']:.1f} s ({summary['steps_per_s']:,.0f} steps/s while training)"
    )
    final = trainer.evaluate()
    print("\nValidation days (they choose best.pt; report test days instead):")
    print(kpi_table([final, *trainer.evaluate_baselines().values()]))
    print(f"\nLogs:        {trainer.log_dir}  (metrics.csv, TensorBoard, config.yaml)")
    print(f"Checkpoints: {trainer.checkpoint_dir}  (best.pt, last.pt)")
    print(f"Learning curve: {curve}")
    print(
        "Results on the held-out test days, against the day's optimum: "
        f"gridppo evaluate --checkpoint {trainer.checkpoint_dir / 'best.pt'}"
    )
    return 0


def _evaluate(args: argparse.Namespace) -> int:

    policy, cfg = TrainedPolicy.from_checkpoint(args.checkpoint)
    n_days = _test_day_count(args, cfg)
    baselines = DEFAULT_BASELINES + (("single_step_opf",) if args.with_opf else ())
    if args.with_opf:
        print(f"Solving the single-step AC-OPF for {n_days} day(s)...", flush=True)
    results = list(evaluate_on_test_days(cfg, [policy], baselines, n_days).values())
    print(f"Checkpoint {args.checkpoint} on {n_days} test day(s):")
    print(kpi_table(results))
    print(_OPTIMUM_NOTE)
    names = [r.policy for r in results]
    width = max(12, *(len(n) + 2 for n in names))
    for title, key in (
        ("Reward per agent", "agent_reward"),
        ("Reward per type (mean)", "type_reward"),
    ):
        print(f"\n{title} (EUR per day):")
        print("".ljust(20) + "".join(n.rjust(width) for n in names))
        for row in getattr(results[0], key):
            values = "".join(f"{getattr(r, key)[row]:,.0f}".rjust(width) for r in results)
            print(row.ljust(20) + values)
    return 0


def _sweep(args: argparse.Namespace) -> int:

    try:
        result = run_sweep(
            args.values,
            args.set,
            args.config,
            samples=args.samples,
            address=args.address,
            cpus_per_trial=args.cpus_per_trial,
            name=args.name,
            directory=args.dir,
            kpi=args.kpi,
        )
    except RayMissingError as err:
        print(f"gridppo: {err}", file=sys.stderr)
        return 2
    print(f"\nOn the held-out test days ({result.sweep_dir}):")
    print(result.summary.table())
    for what, path in result.files.items():
        print(f"Summary {what}: {path}")
    if result.failed:
        print(
            f"gridppo: {len(result.failed)} of {len(result.trials)} trials failed "
            f"({', '.join(result.failed)}); why: {result.sweep_dir}/{TUNE_DIR}/TRIAL/error.txt",
            file=sys.stderr,
        )
        return 1
    if result.unfinished:
        print(
            f"gridppo: {len(result.unfinished)} of {len(result.trials)} trials did not finish "
            f"({', '.join(result.unfinished)}); run the same command again to continue them",
            file=sys.stderr,
        )
        return 1
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser, with one sub-command per task."""
    parser = argparse.ArgumentParser(prog="gridppo", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--config", default=None, help="YAML config (default: gridppo/config/default.yaml)"
        )
        p.add_argument(
            "--set",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="override a config key, e.g. --set ppo.lr=1e-4 (repeatable)",
        )

    sim = sub.add_parser("simulate", help="run baseline policies on test days and print KPIs")
    common(sim)
    sim.add_argument(
        "--policy",
        choices=("heuristic", "random", "optimum", "single_step_opf", "all"),
        default="heuristic",
        help="the baseline to run, or all of them (default heuristic)",
    )
    sim.add_argument("--days", type=int, default=1, help="number of test days (default 1)")
    sim.add_argument("--plot", default="outputs/simulate_day.png", help="where to save the plot")
    sim.set_defaults(func=_simulate)

    train = sub.add_parser("train", help="train one PPO agent per node")
    common(train)
    train.add_argument("--run-name", default=None, help="name of the run (default: time-stamped)")
    train.add_argument(
        "--resume",
        default=None,
        metavar="CHECKPOINT",
        help="continue the run that wrote CHECKPOINT, e.g. checkpoints/RUN/last.pt; --set "
        "may then change only train.total_updates, eval_interval, checkpoint_interval "
        "and tensorboard",
    )
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.set_defaults(func=_train)

    ev = sub.add_parser("evaluate", help="compare a trained policy with the baselines")
    ev.add_argument(
        "--checkpoint", required=True, help="a checkpoint, e.g. checkpoints/RUN/best.pt"
    )
    ev.add_argument("--days", type=int, default=20, help="number of test days (default 20)")
    ev.add_argument(
        "--with-opf",
        action="store_true",
        help="also run the (slow) single-step AC-OPF, which dispatches producers only",
    )
    ev.set_defaults(func=_evaluate)

    sw = sub.add_parser("sweep", help="train every setting and seed on Ray Tune, test, summarise")
    common(sw)
    sw.add_argument(
        "--values",
        action="append",
        required=True,
        metavar="KEY=V1,V2",
        help="a config key and the values to try, e.g. --values ppo.lr=1e-3,3e-4 "
        "--values seed=0,1,2 (repeatable)",
    )
    sw.add_argument(
        "--samples",
        type=int,
        default=None,
        metavar="N",
        help="random search: N settings drawn from the values, each with every seed",
    )
    sw.add_argument(
        "--address", default=None, help="a Ray cluster: auto, HOST:6379 or ray://HOST:10001"
    )
    sw.add_argument("--cpus-per-trial", type=int, default=1, help="CPUs (torch threads) a trial")
    sw.add_argument("--name", default=None, help="the sweep's folder (default: the swept keys)")
    sw.add_argument("--dir", default="sweeps", help="where sweeps go; shared storage on a cluster")
    sw.add_argument("--kpi", choices=SUMMARY_KPIS, default="gap_to_optimum_percent", help="to plot")
    sw.set_defaults(func=_sweep)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``gridppo`` command."""

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as err:
        print(f"gridppo: config error: {err}", file=sys.stderr)
        return 2
    except CheckpointError as err:
        print(f"gridppo: {err}", file=sys.stderr)
        return 2
    except TrainingDivergedError as err:
        print(f"gridppo: {err}", file=sys.stderr)
        return 1
    except (FileNotFoundError, ValueError) as err:
        print(f"gridppo: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        print(f"gridppo: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("gridppo: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
