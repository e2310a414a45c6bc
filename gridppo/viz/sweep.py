"""A sweep's result: one test KPI per setting, the mean across seeds with its interval.

:func:`plot_sweep` takes plain data (setting label -> the KPI of each seed), so it
draws any such table; :meth:`gridppo.sweep.summary.SweepSummary.plot` feeds it a
finished sweep.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from gridppo.evaluation.simulate import mean_ci
from gridppo.viz.kpis import KPI_LABELS, kpi_axis
from gridppo.viz.style import (
    LEGEND_ABOVE,
    MAX_FIGURE_WIDTH_IN,
    SMALL_FONT_PT,
    color_cycle,
    new_axes,
)

__all__ = ["plot_sweep", "plot_sweep_panels"]


def plot_sweep(
    values: Mapping[str, Sequence[float]],
    kpi: str = "gap_to_optimum_percent",
    ax: Axes | None = None,
    confidence: float = 0.95,
) -> Figure:
    """One KPI of a sweep per setting: the mean across seeds as a point with its
    ``confidence`` interval (Student t, :func:`~gridppo.evaluation.simulate.mean_ci`)
    as error bars, and every seed's own value as a small grey dot beside it.

    ``values`` maps a setting's label (``ppo.lr=0.001``; keys separated by commas
    are drawn one under the other) to the KPI of each of its seeds, in the KPI's units
    (rates as shares of steps, drawn in percent, like ``*_percent`` KPIs).

    ``fig.gridppo`` holds ``settings`` (the labels, left to right), ``means``,
    ``lows`` and ``highs`` (the interval), ``errorbar`` and ``seeds`` (one scatter of
    the seeds' values per setting).
    """
    if not values:
        raise ValueError("values: no settings to plot")
    settings = list(values)
    per_seed = [np.asarray(values[s], dtype=float) for s in settings]
    empty = [s for s, v in zip(settings, per_seed, strict=True) if v.size == 0]
    if empty:
        raise ValueError(f"values: no value for setting {empty[0]!r}")
    stats = np.array([mean_ci(v, confidence) for v in per_seed])
    means, lows, highs = stats[:, 0], stats[:, 1], stats[:, 2]
    width = min(MAX_FIGURE_WIDTH_IN, 2.5 + 1.1 * len(settings))
    fig, ax = new_axes(ax, figsize=(width, 3.8))
    x = np.arange(len(settings), dtype=float)
    colour = color_cycle()[0]
    dots = []
    for i, seeds in enumerate(per_seed):
        # The seeds sit just right of the mean, spread a little so equal values show.
        offsets = 0.12 + 0.05 * (np.arange(seeds.size) - (seeds.size - 1) / 2) / max(seeds.size, 1)
        dots.append(
            ax.scatter(
                x[i] + offsets,
                seeds,
                s=16,
                color="#7f7f7f",
                zorder=2,
                label="one seed" if i == 0 else None,
            )
        )
    bars = ax.errorbar(
        x,
        means,
        yerr=[means - lows, highs - means],
        fmt="o",
        color=colour,
        capsize=5,
        markersize=6,
        zorder=3,
        label=f"mean and {100 * confidence:.0f} % interval across seeds",
    )
    ax.set_xticks(x, [s.replace(",", "\n") for s in settings])
    ax.set_xlim(-0.5, len(settings) - 0.5)
    ax.set_ylabel(KPI_LABELS.get(kpi, kpi), fontsize=SMALL_FONT_PT + 1)
    ax.grid(axis="y", alpha=0.3)
    kpi_axis(ax, kpi, slant=len(settings) > 6)
    ax.legend(ncol=2, **LEGEND_ABOVE)
    fig.gridppo = {
        "settings": settings,
        "means": means,
        "lows": lows,
        "highs": highs,
        "errorbar": bars,
        "seeds": dots,
    }
    return fig


def plot_sweep_panels(
    values: Mapping[str, Mapping[str, Sequence[float]]],
    confidence: float = 0.95,
    columns: int = 2,
) -> Figure:
    """Several KPIs of one sweep side by side: ``values`` maps a KPI to what
    :func:`plot_sweep` takes (setting label -> the KPI of each seed); one panel each,
    ``columns`` to a row, one legend above the first. ``fig.gridppo["panels"]`` maps
    each KPI to its panel's ``fig.gridppo`` record."""
    if not values:
        raise ValueError("values: no KPI to plot")
    columns = max(1, min(columns, len(values)))
    rows = -(-len(values) // columns)
    fig, axes = plt.subplots(
        rows, columns, figsize=(MAX_FIGURE_WIDTH_IN, 3.4 * rows), squeeze=False,
        constrained_layout=True,
    )  # fmt: skip
    panels = {}
    for i, (kpi, per_setting) in enumerate(values.items()):
        ax = axes.flat[i]
        panels[kpi] = plot_sweep(per_setting, kpi, ax=ax, confidence=confidence).gridppo
        if i > 0:
            ax.get_legend().remove()
    for ax in list(axes.flat)[len(values) :]:
        ax.set_visible(False)
    fig.gridppo = {"panels": panels}
    return fig
