"""Policies side by side: the evaluation KPIs of several policies, one panel per KPI."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from gridppo.evaluation.simulate import EvalResult
from gridppo.viz.style import MAX_FIGURE_WIDTH_IN, SMALL_FONT_PT, color_cycle, percent_axis

__all__ = ["KPI_LABELS", "kpi_axis", "percent_scale", "plot_kpi_comparison"]

# Colours of the policies; others cycle through matplotlib's colours.
_POLICY_COLORS = {
    "ippo": "#1f77b4",
    "heuristic": "#ff7f0e",
    "random": "#7f7f7f",
    "optimum": "#2ca02c",
    "single_step_opf": "#8c8c3c",
}

# Panel titles: what the KPI is, and which way is better.
KPI_LABELS = {
    "system_cost_eur": "system cost (EUR/day)\nlower is better",
    "team_reward": "team reward (EUR/day)\nhigher is better",
    "voltage_violation_rate": "steps with a voltage violation\nlower is better",
    "overload_rate": "steps with an overloaded branch\nlower is better",
    "worst_loading_percent": "worst branch loading\nlower is better",
    "unserved_energy_mwh": "unserved energy (MWh/day)\nlower is better",
    "losses_mwh": "grid losses (MWh/day)\nlower is better",
    "failed_days": "failed days (blackouts)\nlower is better",
    "gap_to_optimum_percent": "gap to the day's optimum\nlower is better",
    "excess_over_optimum_eur": "system cost above the optimum\n(EUR/day), lower is better",
    "train_time_s": "training time (s)\nlower is better",
}
# At most this many panels side by side; more KPIs wrap onto further rows.
_PANELS_PER_ROW = 3


def kpi_axis(axis: Axes, key: str, slant: bool = False) -> None:
    """Format ``axis``'s y axis for the KPI ``key`` (percent for rates and percentages,
    plain numbers with at most five 1-2-5 ticks otherwise); ``slant`` tilts the x tick
    labels, for more names than fit side by side."""
    scale = percent_scale(key)
    if scale is not None:
        percent_axis(axis.yaxis, xmax=scale)
    else:
        axis.yaxis.set_major_locator(MaxNLocator(nbins=5, steps=[1, 2, 5, 10]))
        axis.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.6g}"))
    axis.tick_params(labelsize=SMALL_FONT_PT)
    if slant:
        for label in axis.get_xticklabels():
            label.set(rotation=30, ha="right", rotation_mode="anchor")


def percent_scale(key: str) -> float | None:
    """What 100 % is for a KPI drawn in percent (1 for a rate), None if not a percentage."""
    if key.endswith("_rate"):
        return 1.0
    if key.endswith("_percent"):
        return 100.0
    return None


def _format_kpi(key: str, value: float) -> str:
    """A bar's label: rates and percentages in percent, large numbers with separators."""
    scale = percent_scale(key)
    if scale is not None:
        return f"{100 * value / scale:.1f}%"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def plot_kpi_comparison(
    results: Sequence[EvalResult] | Mapping[str, Mapping[str, float]],
    kpis: Sequence[str] = ("system_cost_eur", "voltage_violation_rate", "overload_rate"),
    ax: Axes | Sequence[Axes] | None = None,
) -> Figure:
    """Evaluation KPIs of several policies: one panel per KPI, one bar per policy.

    ``results`` is a list of :class:`~gridppo.evaluation.simulate.EvalResult` (from
    :func:`~gridppo.evaluation.simulate.run_days`; the bar is named by
    ``result.policy``, e.g. ``ippo``, ``heuristic``, ``random``, ``optimum``) or a dict
    policy name -> KPI dict. Each bar carries its value; rates (shares of steps) and
    ``*_percent`` KPIs are labelled in percent. ``ax``: one Axes (for a single KPI) or
    one Axes per KPI. A new figure has at most three panels in a row.

    ``fig.gridppo`` holds ``bars`` (KPI -> BarContainer, bars in policy order) and
    ``policies``.
    """
    if isinstance(results, Mapping):
        table = {str(k): dict(v) for k, v in results.items()}
    else:
        table = {}
        for r in results:  # two results of one policy are told apart by a number
            name, n = r.policy, 2
            while name in table:
                name, n = f"{r.policy} ({n})", n + 1
            table[name] = r.kpis
    policies = list(table)
    kpis = list(kpis)
    if ax is None:
        cols = min(len(kpis), _PANELS_PER_ROW)
        rows = math.ceil(len(kpis) / cols)
        width = min(MAX_FIGURE_WIDTH_IN, 3.1 * cols + 0.4)
        fig, axs = plt.subplots(
            rows, cols, figsize=(width, 3.6 * rows), constrained_layout=True, squeeze=False
        )
        for spare in axs.ravel()[len(kpis) :]:
            spare.set_visible(False)
        axes = list(axs.ravel()[: len(kpis)])
    else:
        axes = [ax] if isinstance(ax, Axes) else list(ax)
        if len(axes) != len(kpis):
            raise ValueError(f"ax: expected {len(kpis)} Axes (one per KPI), got {len(axes)}")
        fig = axes[0].figure
    cycle = color_cycle()
    colours = [_POLICY_COLORS.get(p, cycle[(i + 4) % len(cycle)]) for i, p in enumerate(policies)]
    bars = {}
    for axis, key in zip(axes, kpis, strict=True):
        missing = [p for p in policies if key not in table[p]]
        if missing:
            raise KeyError(f"kpis: {key!r} missing for policies {missing}")
        values = [float(table[p][key]) for p in policies]
        bars[key] = axis.bar(policies, values, color=colours, edgecolor="black", linewidth=0.6)
        axis.bar_label(
            bars[key], labels=[_format_kpi(key, v) for v in values], fontsize=SMALL_FONT_PT
        )
        axis.set_title(KPI_LABELS.get(key, key), fontsize=10)
        axis.axhline(0, color="black", linewidth=0.8)
        axis.margins(y=0.15)
        if not any(values):  # all at zero: a scale of 0 to 1 (1 %), not a sliver around 0
            axis.set_ylim(0.0, 0.01 * (percent_scale(key) or 100.0))
        axis.grid(axis="y", alpha=0.3)
        kpi_axis(axis, key, slant=len(policies) > 4)
    fig.gridppo = {"bars": bars, "policies": policies}
    return fig
