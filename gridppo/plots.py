"""Figures of the grid and of what the agents do (matplotlib).

Every function returns its Figure and, where it draws one panel, takes an optional
Axes to draw into, so students can compose their own figures.
"""

from __future__ import annotations

import matplotlib

if matplotlib.get_backend().lower() == "agg" or not matplotlib.get_backend():
    matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from gridppo.simulate import DayRecord

__all__ = ["plot_day_overview"]


def plot_day_overview(record: DayRecord, nodes: list, day_column: int = 0) -> Figure:
    """One simulated day at a glance: price, producer and battery power, voltages, cost.

    ``record`` comes from :func:`gridppo.simulate.run_days` with ``record=True``;
    ``day_column`` picks which of its days to draw.
    """
    steps = record.price_eur_per_mwh.shape[0]
    hours = (np.arange(steps) + 0.5) * 24.0 / steps
    fig, axes = plt.subplots(4, 1, figsize=(9, 10), sharex=True, constrained_layout=True)
    ax = axes[0]
    ax.step(hours, record.price_eur_per_mwh[:, day_column], where="mid", color="black")
    ax.set_ylabel("price (EUR/MWh)")
    ax.set_title(f"Day {int(record.days[day_column])}")
    ax = axes[1]
    for node in nodes:
        if node.type_name in ("producer", "battery"):
            ax.plot(hours, record.injection_mw[node.name][:, day_column], label=node.name)
    ax.set_ylabel("injection (MW)")
    ax.legend(fontsize=7, ncol=3)
    ax = axes[2]
    vm = record.vm_pu[:, day_column]
    ax.fill_between(hours, vm.min(axis=1), vm.max(axis=1), alpha=0.3, label="bus range")
    ax.plot(hours, vm.mean(axis=1), label="mean")
    ax.set_ylabel("vm_pu")
    ax.legend(fontsize=7)
    ax = axes[3]
    ax.bar(hours, record.system_cost_eur[:, day_column], width=24.0 / steps * 0.8)
    ax.set_ylabel("system cost (EUR)")
    ax.set_xlabel("hour of day")
    return fig
