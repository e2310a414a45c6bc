"""Regenerate the figures the README shows: docs/grid_diagram.png and docs/agent_day.png.

Both come from the heuristic policy on the first test day:

- ``grid_diagram.png``: the one-line diagram after the step at the evening price peak,
  every node labelled with its action and its net injection into the grid;
- ``agent_day.png``: battery_3's whole day, with that step highlighted.

Run from the repository root::

    python scripts/make_readme_figures.py
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from gridppo.baselines.heuristic import HeuristicPolicy  # noqa: E402
from gridppo.env import BatchedGridEnv  # noqa: E402
from gridppo.evaluation.simulate import run_days  # noqa: E402
from gridppo.viz import plot_agent_day, plot_grid  # noqa: E402

DOCS = Path(__file__).resolve().parent.parent / "docs"
DPI = 100
BATTERY = "battery_3"


def main() -> None:
    """Simulate one test day and write both figures."""
    env = BatchedGridEnv(batch_size=1, mode="test", autoreset=False)
    day = int(env.grid.profiles.test_days[0])
    result = run_days(HeuristicPolicy(env), env, days=[day], record=True)
    record = result.record
    steps = env.steps_per_day
    hours_per_step = 24.0 / steps
    # The evening peak: the dearest step from 16:00 on.
    evening = np.arange(steps) * hours_per_step >= 16.0
    price = np.where(evening, record.price_eur_per_mwh[:, 0], -np.inf)
    step = int(np.argmax(price))
    start = step * hours_per_step
    clock = f"{int(start):02d}:{int(round(60 * (start % 1))):02d}"

    fig = plot_grid(
        env.grid,
        vm_pu=record.vm_pu[step, 0],
        loading_percent=record.loading_percent[step, 0],
        actions={name: a[step, 0] for name, a in record.actions.items()},
        flows_mw={name: p[step, 0] for name, p in record.injection_mw.items()},
        branch_p_mw=record.p_from_mw[step, 0],
        annotate=True,
    )
    fig.suptitle(
        f"IEEE 14-bus grid at {clock} on test day {day} (heuristic policy, price "
        f"{record.price_eur_per_mwh[step, 0]:.0f} EUR/MWh)\n"
        "each node: name, then its action a in [-1, 1] | net injection into the grid "
        "(MW, + feeds the grid); arrows: direction of active power",
        fontsize=10,
    )
    out = DOCS / "grid_diagram.png"
    DOCS.mkdir(exist_ok=True)
    fig.savefig(out, dpi=DPI)
    plt.close(fig)
    print(f"wrote {out} ({out.stat().st_size // 1024} KB)")

    fig = plot_agent_day(record, env.grid.node(BATTERY), step=step)
    out = DOCS / "agent_day.png"
    fig.savefig(out, dpi=DPI)
    plt.close(fig)
    print(f"wrote {out} ({out.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
