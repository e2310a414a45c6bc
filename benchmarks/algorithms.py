"""Independent or centralised? IPPO, per-type sharing, MAPPO and IPPO-Lagrangian, compared.

Trains the four algorithms of :data:`gridppo.sweep.compare.ALGORITHMS` with every seed
on the same budget (the default configuration: 100 updates of 64 days x 24 steps, one
torch thread), one run after another so that training times are measured alone, with
:func:`gridppo.sweep.compare.run_comparison`, the function tutorial 07 runs. Each run's
``best.pt`` is chosen on the validation days and tested, with the day's optimum, on the
held-out test days of its seed: every algorithm of a seed meets the same days.

Reports per algorithm the test days' system cost, its excess over the optimum, the gap to
the optimum, the overload and voltage-violation rates, the unserved energy and the
training time (rollouts and updates), as means with 95 % Student-t intervals across
seeds; then each algorithm's difference from IPPO, paired by seed. Writes
``docs/algorithms.png`` and ends with one JSON line of all figures. No setting of any
algorithm was chosen on the test days (the Lagrangian's limits and step size were
chosen on seed 0's validation days; see docs/benchmarks.md).

    python benchmarks/algorithms.py                    # 3 seeds, about 5 minutes on 2 cores
    python benchmarks/algorithms.py --seeds 0 1 2 3 4 --folder runs/algorithms
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
from gridppo.sweep.compare import ALGORITHMS, COMPARISON_KPIS, run_comparison  # noqa: E402

PAIRED_KPIS = (
    "system_cost_eur",
    "overload_rate",
    "voltage_violation_rate",
    "unserved_energy_mwh",
    "train_time_s",
)


def main() -> None:
    """Run the comparison and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--docs", default="docs", help="where the figure goes")
    parser.add_argument(
        "--folder", default=None, help="keep the runs here (default: a temporary folder)"
    )
    parser.add_argument("--threads", type=int, default=1, help="train.torch_threads")
    args = parser.parse_args()
    docs = Path(args.docs)
    docs.mkdir(parents=True, exist_ok=True)
    overrides = {"train.torch_threads": args.threads, "train.tensorboard": False}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.folder or tmp)
        comparison = run_comparison(folder, args.seeds, tuple(ALGORITHMS), overrides)
        print()
        print(comparison.table())
        paired = {kpi: comparison.paired(kpi) for kpi in PAIRED_KPIS}
        print("\nDifference from IPPO, paired by seed (mean [95 % interval]):")
        for kpi, by_algorithm in paired.items():
            for name, (mean, low, high) in by_algorithm.items():
                print(f"  {kpi:24s} {name:22s} {mean:12,.4g}  [{low:,.4g}, {high:,.4g}]")
        fig = comparison.plot()
        fig.savefig(docs / "algorithms.png", dpi=110)
        print(f"\nwrote {docs / 'algorithms.png'}")
        figures = {
            "seeds": list(args.seeds),
            "algorithms": {
                row.label: {
                    kpi: {
                        "mean": round(row.ci[kpi][0], 6),
                        "ci95": [round(row.ci[kpi][1], 6), round(row.ci[kpi][2], 6)],
                        "per_seed": dict(
                            zip(map(str, row.seeds), map(float, row.values[kpi]), strict=True)
                        ),
                    }
                    for kpi in COMPARISON_KPIS
                }
                for row in comparison.summary.rows
            },
            "paired_vs_ippo": {
                kpi: {name: [round(v, 6) for v in ci] for name, ci in by.items()}
                for kpi, by in paired.items()
            },
        }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
