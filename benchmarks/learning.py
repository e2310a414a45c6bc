"""Does IPPO learn? Train the default configuration with several seeds and compare.

For each seed: train the default configuration (``configs/default.yaml``), then
evaluate on the held-out evaluation days the trained policy (deterministic actions),
the heuristic, random actions and the AC-OPF reference. Prints, per seed, the wall
time, environment steps per second during training and the KPI table; checks the
targets; writes a learning-curve PNG; and ends with one JSON line of all figures.

Targets (every seed): IPPO's system cost < heuristic's < random's; IPPO's
voltage-violation rate <= the heuristic's; training <= 180 s on a 2-core CPU and
>= 5,000 environment steps per second end to end.

    python benchmarks/learning.py                 # 3 seeds, with the OPF (~6 min)
    python benchmarks/learning.py --seeds 0 --no-opf
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from gridppo.plots import plot_learning_curve  # noqa: E402
from gridppo.policies import OPFPolicy  # noqa: E402
from gridppo.simulate import kpi_table, run_days  # noqa: E402
from gridppo.trainer import Trainer  # noqa: E402

KPIS = ("system_cost_eur", "team_reward", "voltage_violation_rate", "overload_rate")


def run_seed(seed: int, with_opf: bool, root: Path) -> tuple[dict, Trainer]:
    """Train one seed and evaluate it beside the baselines."""
    start = time.perf_counter()
    trainer = Trainer.from_config(None, {"seed": seed}, run_name=f"seed{seed}", root=root)
    build_s = time.perf_counter() - start
    summary = trainer.train(progress_bar=False)
    train_wall_s = time.perf_counter() - start
    results = [trainer.evaluate(), *trainer.evaluate_baselines().values()]
    opf_s = None
    if with_opf:
        t0 = time.perf_counter()
        results.append(run_days(OPFPolicy(trainer.validation_env), trainer.validation_env))
        opf_s = time.perf_counter() - t0
    print(
        f"\n=== seed {seed}: trained in {train_wall_s:.1f} s (setup {build_s:.1f} s), "
        f"{summary['steps_per_s']:,.0f} env steps/s while training ==="
    )
    print(kpi_table(results))
    figures = {
        "seed": seed,
        "wall_time_s": round(train_wall_s, 2),
        "steps_per_s": round(summary["steps_per_s"]),
        "env_steps": summary["global_step"],
        "opf_eval_s": None if opf_s is None else round(opf_s, 1),
        "kpis": {r.policy: {k: round(r.kpis[k], 4) for k in KPIS} for r in results},
    }
    return figures, trainer


def check_targets(figures: dict) -> dict[str, bool]:
    """The learning targets for one seed."""
    k = figures["kpis"]
    return {
        "ippo_beats_heuristic": k["ippo"]["system_cost_eur"] < k["heuristic"]["system_cost_eur"],
        "heuristic_beats_random": k["heuristic"]["system_cost_eur"]
        < k["random"]["system_cost_eur"],
        "ippo_voltage_no_worse": k["ippo"]["voltage_violation_rate"]
        <= k["heuristic"]["voltage_violation_rate"],
        "train_under_180s": figures["wall_time_s"] <= 180,
        "at_least_5000_steps_per_s": figures["steps_per_s"] >= 5000,
    }


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--no-opf", action="store_true", help="skip the AC-OPF reference")
    parser.add_argument("--plot", default="docs/learning_curve.png")
    args = parser.parse_args()
    all_figures, trainers = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            figures, trainer = run_seed(seed, not args.no_opf, Path(tmp))
            figures["targets"] = check_targets(figures)
            all_figures.append(figures)
            trainers.append(trainer)
    fig, ax = plt.subplots(figsize=(7, 4), constrained_layout=True)
    first = trainers[0]
    plot_learning_curve(
        first.eval_history, {k: v.kpis for k, v in first.evaluate_baselines().items()}, ax=ax
    )
    ax.lines[0].set_label(f"IPPO seed {args.seeds[0]}")
    for seed, trainer in zip(args.seeds[1:], trainers[1:], strict=True):
        ax.plot(
            [e["update"] for e in trainer.eval_history],
            [e["system_cost_eur"] for e in trainer.eval_history],
            "o-",
            alpha=0.7,
            label=f"IPPO seed {seed}",
        )
    ax.set_title("System cost on the evaluation days (lower is better)")
    ax.legend(fontsize=8)
    Path(args.plot).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.plot, dpi=100)
    print(f"\nLearning curve written to {args.plot}")
    print("\nTargets per seed:")
    for f in all_figures:
        print(f"  seed {f['seed']}: " + ", ".join(f"{k}={v}" for k, v in f["targets"].items()))
    print(
        json.dumps(
            {
                "seeds": all_figures,
                "all_targets_met": all(all(f["targets"].values()) for f in all_figures),
            }
        )
    )


if __name__ == "__main__":
    main()
