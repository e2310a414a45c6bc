"""Training figures: learning curves per agent or type, PPO's health checks, validation KPIs.

Each reads a run's log directory or the metric rows a live trainer hands to its
callbacks (see :mod:`gridppo.viz.run_log`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib import colors as mcolors
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from gridppo.viz.run_log import agents_in, load_source, metric_prefix, type_of, x_axis
from gridppo.viz.style import (
    NODE_STYLE,
    SMALL_FONT_PT,
    color_cycle,
    count_axis,
    new_axes,
    node_style,
    percent_axis,
    short_number_axis,
)

# Above this many agents, a per-agent learning-curve legend names node types instead.
MAX_LEGEND_AGENTS = 40

__all__ = [
    "MAX_LEGEND_AGENTS",
    "DIAGNOSTIC_LABELS",
    "plot_training_curves",
    "plot_ppo_diagnostics",
    "plot_learning_curve",
    "plot_training_progress",
]

# What each PPO diagnostic tells you, keyed by the names in gridppo.agents.ppo.DIAGNOSTICS
# (tests/test_viz_training.py checks that every diagnostic has its label).
DIAGNOSTIC_LABELS = {
    "policy_loss": "policy loss: the clipped surrogate, negated\n(watch for sudden jumps)",
    "value_loss": "value loss: the critic's squared error\n(falls, then levels off)",
    "entropy": "entropy: how random the policy still is\n(falls slowly as it learns)",
    "approx_kl": "approx. KL: how far one update moved the policy\n(healthy: below ~0.02)",
    "clipfrac": "clip fraction: share of samples clipped\n(healthy: ~5-30 %)",
    "explained_variance": "explained variance of the value function\n(1 is perfect, 0 is useless)",
}
# The four panels of plot_ppo_diagnostics, in reading order.
HEALTH_CHECKS = ("approx_kl", "clipfrac", "entropy", "explained_variance")


def _type_handles(lines: Mapping[str, Any], types: Mapping[str, str]) -> list[Line2D]:
    """Legend entries for a big grid: no legend lists 150 agents, so each type's family
    of shades is named once, with its count."""
    counts: dict[str, int] = {}
    for name in lines:
        type_name = _type_or_blank(name, types)
        counts[type_name] = counts.get(type_name, 0) + 1
    return [
        Line2D([], [], color=NODE_STYLE[t]["color"] if t in NODE_STYLE else "grey",
               label=f"{t or 'other'} ({n} agents)")
        for t, n in counts.items()
    ]  # fmt: skip


def _type_or_blank(name: str, types: Mapping[str, str]) -> str:
    """The agent's node type, or "" when its name does not tell."""
    try:
        return type_of(name, types)
    except ValueError:
        return ""


def _agent_colors(agents: Sequence[str], types: Mapping[str, str]) -> dict[str, Any]:
    """A colour per agent: shades of its type's colour, so a type reads as a family."""
    colours: dict[str, Any] = {}
    by_type: dict[str, list[str]] = {}
    for name in agents:
        by_type.setdefault(_type_or_blank(name, types), []).append(name)
    cycle = color_cycle()
    for type_name, names in by_type.items():
        if type_name not in NODE_STYLE:
            # a type of one's own (or an unknown one): the agents get distinct colours
            for i, name in enumerate(names):
                colours[name] = cycle[(i + len(colours)) % len(cycle)]
            continue
        base = np.array(mcolors.to_rgb(NODE_STYLE[type_name]["color"]))
        for i, name in enumerate(names):
            # from the type's colour towards black, for the agents of one type
            shade = 1.0 - 0.55 * (i / max(len(names) - 1, 1)) if len(names) > 1 else 1.0
            colours[name] = tuple(base * shade)
    return colours


def _smooth(y: np.ndarray, window: int) -> np.ndarray:
    """Trailing moving average over ``window`` finite points (1 leaves ``y`` as is)."""
    if window <= 1:
        return y
    out = np.full_like(y, np.nan)
    finite = np.flatnonzero(np.isfinite(y))
    values = y[finite]
    csum = np.cumsum(np.insert(values, 0, 0.0))
    for j, idx in enumerate(finite):
        lo = max(0, j + 1 - window)
        out[idx] = (csum[j + 1] - csum[lo]) / (j + 1 - lo)
    return out


def _draw_metric(
    ax: Axes,
    data: Mapping[str, np.ndarray],
    types: Mapping[str, str],
    prefix: str,
    by: str,
    agents: Sequence[str] | None = None,
    window: int = 1,
) -> dict[str, Line2D]:
    """Draw ``prefix/NAME`` for every agent (or per-type mean and band); label -> line."""
    if by not in ("agent", "type"):
        raise ValueError(f"by: expected 'agent' or 'type', got {by!r}")
    x, xlabel = x_axis(data)
    names = agents_in(data, prefix, types)
    if agents is not None:
        missing = [a for a in agents if a not in names]
        if missing:
            raise KeyError(f"agents: no '{prefix}/...' column for {missing}")
        names = [a for a in names if a in agents]
    if not names:
        raise KeyError(f"no columns named '{prefix}/<agent>' in the metrics")
    lines: dict[str, Line2D] = {}
    if by == "agent":
        colours = _agent_colors(names, types)
        for name in names:
            y = _smooth(data[f"{prefix}/{name}"], window)
            ok = np.isfinite(y)
            (lines[name],) = ax.plot(x[ok], y[ok], color=colours[name], linewidth=1.4, label=name)
    else:
        groups: dict[str, list[str]] = {}
        for name in names:
            groups.setdefault(type_of(name, types), []).append(name)
        for type_name, members in groups.items():
            stack = np.stack([_smooth(data[f"{prefix}/{m}"], window) for m in members])
            ok = np.isfinite(stack).any(axis=0)
            if not ok.any():
                continue
            with np.errstate(all="ignore"):
                mean = np.nanmean(stack[:, ok], axis=0)
                low = np.nanmin(stack[:, ok], axis=0)
                high = np.nanmax(stack[:, ok], axis=0)
            colour = node_style(type_name)["color"]
            (lines[type_name],) = ax.plot(
                x[ok],
                mean,
                color=colour,
                linewidth=2,
                label=f"{type_name} (mean of {len(members)})",
            )
            if len(members) > 1:
                ax.fill_between(x[ok], low, high, color=colour, alpha=0.2, linewidth=0)
    ax.set_xlabel(xlabel)
    count_axis(ax.xaxis)
    ax.grid(alpha=0.3)
    return lines


def plot_training_curves(
    source: Any,
    by: str = "agent",
    metric: str = "reward",
    ax: Axes | None = None,
    agent_types: Mapping[str, str] | None = None,
    smooth: int = 1,
) -> Figure:
    """Learning curves: one line per agent (``by="agent"``) or per node type (``"type"``).

    ``source`` is a run's log directory (with ``metrics.csv`` and ``config.yaml``), or
    the metric rows themselves (a list of dicts, one per PPO update, as a live trainer
    passes them to its callbacks; or a pandas DataFrame) together with
    ``agent_types`` (agent name -> node type; without it a type is read off names
    like ``battery_3``).

    ``metric`` is ``"reward"`` (the column ``charts/episodic_return/NAME``: the
    agent's return over a day), one of the loss names (``policy_loss``,
    ``value_loss``, ``entropy``, ``approx_kl``, ``clipfrac``,
    ``explained_variance``: ``losses/<metric>/NAME``), or any column prefix. Per type
    the line is the mean over that type's agents, with the band from the lowest to
    the highest agent. ``smooth`` averages each line over that many updates.

    ``fig.gridppo`` holds ``lines`` (agent or type -> Line2D).
    """
    data, types = load_source(source, agent_types)
    prefix = metric_prefix(metric)
    fig, ax = new_axes(ax, figsize=(9.5, 5.0))
    if not data:  # a live plot before the first update
        ax.text(0.5, 0.5, "no updates yet", ha="center", va="center", transform=ax.transAxes)
        fig.gridppo = {"lines": {}}
        return fig
    lines = _draw_metric(ax, data, types, prefix, by, window=smooth)
    title = "return per day (EUR)" if prefix == "charts/episodic_return" else prefix
    if prefix == "charts/episodic_return":
        short_number_axis(ax.yaxis)
    ax.set_ylabel(title)
    ax.set_title(f"{title}, per {by}" + (f" ({smooth}-update average)" if smooth > 1 else ""))
    handles = _type_handles(lines, types) if len(lines) > MAX_LEGEND_AGENTS else None
    ax.legend(
        handles=handles,
        fontsize=SMALL_FONT_PT,
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        borderaxespad=0.0,
        # many agents: two columns, so the legend is not taller than the panel
        ncol=2 if len(lines) > 20 and handles is None else 1,
    )
    fig.gridppo = {"lines": lines}
    return fig


def plot_ppo_diagnostics(
    source: Any,
    agents: Sequence[str] | None = None,
    by: str = "agent",
    agent_types: Mapping[str, str] | None = None,
    axes: Sequence[Axes] | None = None,
) -> Figure:
    """PPO's health checks over the updates, in a 2x2 grid.

    Approximate KL divergence, clip fraction (in percent), policy entropy and the value
    function's explained variance, one line per agent (``agents`` picks some) or, with
    ``by="type"``, one per node type (mean with a min-max band). ``source`` and
    ``agent_types`` are as in :func:`plot_training_curves`; ``axes``: four Axes. Each
    panel has at most four ticks per axis, so that the labels stay apart.

    ``fig.gridppo`` holds ``lines`` (diagnostic -> label -> Line2D) and ``axes``.
    """
    data, types = load_source(source, agent_types)
    own_figure = axes is None
    if axes is None:
        fig, grid_axes = plt.subplots(
            2, 2, figsize=(9.5, 6.5), sharex=True, constrained_layout=True
        )
        axes = list(grid_axes.ravel())
    else:
        if len(axes) != 4:
            raise ValueError(f"axes: expected four Axes, got {len(axes)}")
        fig = axes[0].figure
    lines = {}
    for ax, metric in zip(axes, HEALTH_CHECKS, strict=True):
        lines[metric] = _draw_metric(ax, data, types, f"losses/{metric}", by, agents)
        ax.set_title(DIAGNOSTIC_LABELS[metric], fontsize=9)
        ax.yaxis.set_major_locator(MaxNLocator(nbins=4))
        ax.tick_params(labelsize=SMALL_FONT_PT)
    percent_axis(axes[1].yaxis, nbins=4)
    axes[0].axhline(0.02, color="black", linestyle=":", linewidth=1)
    axes[3].axhline(1.0, color="black", linestyle=":", linewidth=1)
    axes[3].axhline(0.0, color="#999999", linewidth=0.8)
    if own_figure:
        # shared x axis: the step count is written once, under the bottom row
        for ax in axes[:2]:
            ax.set_xlabel("")
        fig.align_ylabels(axes)
    handles = list(lines["approx_kl"].values())
    if by == "agent" and len(handles) > MAX_LEGEND_AGENTS:
        handles = _type_handles(lines["approx_kl"], types)
    fig.legend(
        handles=handles,
        loc="outside right upper" if own_figure else "upper right",
        fontsize=SMALL_FONT_PT,
    )
    fig.gridppo = {"lines": lines, "axes": list(axes)}
    return fig


def plot_learning_curve(
    eval_history: list[dict],
    baselines: dict[str, dict] | None = None,
    kpi: str = "system_cost_eur",
    ax: Axes | None = None,
) -> Figure:
    """One KPI on the validation days over training, beside the baselines' values.

    ``eval_history`` is :attr:`gridppo.training.trainer.Trainer.eval_history` (dicts
    with ``update`` and the KPIs); ``baselines`` maps a policy name to its KPI dict
    (e.g. ``{name: result.kpis for name, result in trainer.evaluate_baselines().items()}``).

    ``fig.gridppo`` holds ``ippo_line``.
    """
    fig, ax = new_axes(ax, figsize=(7, 4))
    updates = [e["update"] for e in eval_history]
    (ippo_line,) = ax.plot(
        updates, [e[kpi] for e in eval_history], "o-", color="tab:blue", label="IPPO"
    )
    styles = ("--", ":", "-.")
    values = [e[kpi] for e in eval_history]
    # A baseline far above the curve (random actions cost several times more) would
    # squash it flat: such a baseline is named in a note instead of drawn.
    ceiling = 2.0 * max(values) if values and max(values) > 0 else np.inf
    off_chart = []
    for i, (name, kpis) in enumerate((baselines or {}).items()):
        if kpis[kpi] > ceiling:
            off_chart.append(f"{name} {kpis[kpi]:,.0f}")
            continue
        ax.axhline(kpis[kpi], ls=styles[i % len(styles)], color="grey", label=name)
        ax.annotate(
            name,
            (1.0, kpis[kpi]),
            xycoords=("axes fraction", "data"),
            fontsize=SMALL_FONT_PT,
            ha="right",
            va="bottom",
            color="grey",
        )
    if off_chart:
        ax.set_title("off the chart: " + ", ".join(off_chart), fontsize=SMALL_FONT_PT)
    ax.set_xlabel("update")
    label = {"system_cost_eur": "system cost (EUR/day)"}.get(kpi, kpi.replace("_", " "))
    ax.set_ylabel(f"{label}, validation days")
    if kpi.endswith("_rate"):
        percent_axis(ax.yaxis)
    else:
        short_number_axis(ax.yaxis)
    ax.legend(fontsize=SMALL_FONT_PT)
    ax.grid(alpha=0.3)
    fig.gridppo = {"ippo_line": ippo_line}
    return fig


def _series(rows: Sequence[Mapping[str, float]], key: str) -> np.ndarray:
    """One metric over the updates (NaN where a row lacks it)."""
    return np.array([float(row.get(key, np.nan)) for row in rows], dtype=float)


def plot_training_progress(
    rows: Sequence[Mapping[str, float]],
    by: str = "agent",
    agent_types: Mapping[str, str] | None = None,
    baselines: Mapping[str, Mapping[str, float]] | None = None,
    max_loading_percent: float | None = None,
    fig: Figure | None = None,
) -> Figure:
    """A run so far, on one figure: learning curves on top, three grid KPIs beneath.

    Top: every agent's return per day (or the mean per node type with ``by="type"``),
    as :func:`plot_training_curves` draws it from the metric ``rows`` (one per update).
    Beneath, against environment steps: the system cost on the validation days (with
    each of ``baselines``, policy name -> KPI dict, as a grey line), the highest branch
    loading in percent (with ``max_loading_percent``, the limit, dotted red) and the
    buses outside the voltage band per step. ``fig``: a figure to draw on (a
    constrained-layout :class:`~matplotlib.figure.Figure`, e.g. one a widget renders
    off pyplot); by default a new one, 9.4 x 7 in.

    ``fig.gridppo`` holds ``lines`` (agent or type -> Line2D, the curves on top) and
    ``axes`` (``reward``, ``cost``, ``loading``, ``voltage``).
    """
    if fig is None:
        fig = plt.figure(figsize=(9.4, 7.0), layout="constrained")
    # two subfigures, so that the curves' legend takes width from the top panel only
    top, bottom = fig.subfigures(2, 1, height_ratios=[1.35, 1.0])
    ax_reward = top.add_subplot()
    ax_cost, ax_loading, ax_voltage = bottom.subplots(1, 3, sharex=True)
    curves = plot_training_curves(rows, by=by, ax=ax_reward, agent_types=agent_types)
    lines = curves.gridppo["lines"]
    ax_reward.set_title("return per day (EUR), per " + by, fontsize=10)
    x = _series(rows, "global_step")
    cost = _series(rows, "validation/system_cost_eur")
    done = np.isfinite(cost)
    ax_cost.plot(x[done], cost[done], "o-", color="#1f77b4", label="ippo")
    for (name, kpis), style in zip((baselines or {}).items(), ("--", ":", "-."), strict=False):
        ax_cost.axhline(kpis["system_cost_eur"], color="grey", linestyle=style, label=name)
    ax_cost.set_title("system cost on the\nvalidation days (EUR/day)", fontsize=9)
    if done.any() or baselines:
        ax_cost.legend(fontsize=SMALL_FONT_PT)
    ax_loading.plot(x, _series(rows, "grid/max_loading_percent"), color="#6a7b8c")
    if max_loading_percent is not None:
        ax_loading.axhline(max_loading_percent, color="#e31a1c", linestyle=":", linewidth=1)
    percent_axis(ax_loading.yaxis, xmax=100.0, nbins=4)
    ax_loading.set_title("highest branch loading\n(rollout mean)", fontsize=9)
    ax_voltage.plot(x, _series(rows, "grid/voltage_violations"), color="#2b83ba")
    ax_voltage.set_title("buses outside the\nvoltage band, per step", fontsize=9)
    for ax in (ax_cost, ax_voltage):
        ax.yaxis.set_major_locator(MaxNLocator(nbins=4))
    short_number_axis(ax_cost.yaxis)
    for ax in (ax_cost, ax_loading, ax_voltage):
        ax.set_xlabel("environment steps", fontsize=SMALL_FONT_PT)
        count_axis(ax.xaxis, nbins=3)
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=SMALL_FONT_PT)
    axes = {"reward": ax_reward, "cost": ax_cost, "loading": ax_loading, "voltage": ax_voltage}
    fig.gridppo = {"lines": lines, "axes": axes}
    return fig
