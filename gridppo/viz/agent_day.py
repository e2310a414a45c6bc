"""Days, hour by hour: one agent's day, the whole grid's day, a day against its optimum.

Every figure here takes a :class:`~gridppo.evaluation.simulate.DayRecord` (from
:func:`~gridppo.evaluation.simulate.run_days` with ``record=True``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from gridppo.evaluation.simulate import DayRecord
from gridppo.viz.style import LEGEND_ABOVE, SMALL_FONT_PT, color_cycle, node_style, step_hours

if TYPE_CHECKING:
    from gridppo.grid.node import Node

__all__ = ["plot_agent_day", "plot_day_overview", "plot_day_against_optimum", "MAX_NAMED_NODES"]

# plot_day_against_optimum names each node of a type in its legend up to this many;
# beyond, the type's nodes share its colour and the legend counts them.
MAX_NAMED_NODES = 10

# Names of the node types' own features in the agent-day plot.
_FEATURE_LABELS = {
    "soc": "state of charge",
    "demand_pu": "demand (p.u.)",
    "pv_pu": "available PV (p.u.)",
    "flex_remaining": "flexible energy still due (share)",
}

# Colours of the reward components in the agent-day plot; others cycle through tab10.
_COMPONENT_COLORS = {
    "energy_eur": "#4c72b0",
    "generation_cost_eur": "#8c564b",
    "shed_cost_eur": "#e377c2",
    "degradation_eur": "#bcbd22",
    "end_soc_eur": "#17becf",
    "loss_charge_eur": "#7f7f7f",
    "unmet_flex_eur": "#9467bd",
    "grid_penalty_eur": "#d62728",
}


def plot_agent_day(
    record: DayRecord,
    node: Node | str,
    day_column: int = 0,
    step: int | None = None,
    axes: Sequence[Axes] | None = None,
) -> Figure:
    """One agent's day, hour by hour, in three panels sharing the time axis.

    1. **What it decided**: its action(s) in [-1, 1] (see the node type's docstring
       for what they mean) and, on the right axis, the energy price.
    2. **What happened**: its net injection into the grid (MW, positive feeds the
       grid) and, on the right axis, its own state: a battery's state of charge, a
       business's available PV and flexible energy still needed, a consumer's demand.
    3. **What it earned**: its reward per step split into components (EUR), as
       stacked bars (gains up, costs down), with the total as black dots.

    ``record`` comes from :func:`~gridppo.evaluation.simulate.run_days` with
    ``record=True``; ``node`` is a :class:`~gridppo.grid.node.Node` (e.g.
    ``env.grid.node("battery_3")``) or a node name; ``day_column`` picks one of the
    recorded days. ``step`` shades that step in every panel (for a time slider).
    ``axes``: three Axes to draw into.

    ``fig.gridppo`` holds ``price_line``, ``action_lines`` (action name -> Line2D),
    ``injection_line``, ``feature_lines`` (feature -> Line2D), ``reward_bars``
    (component -> BarContainer), ``total_line``, ``step_markers`` and ``axes``.
    """
    name = node if isinstance(node, str) else node.name
    type_name = "" if isinstance(node, str) else node.type_name
    if name not in record.actions:
        raise KeyError(f"node: {name!r} is not in the record; agents: {list(record.actions)}")
    price = record.price_eur_per_mwh[:, day_column]
    steps = len(price)
    hours = step_hours(steps)
    dt_h = 24.0 / steps
    own_figure = axes is None
    if axes is None:
        fig, axes = plt.subplots(
            3,
            1,
            figsize=(9.5, 8.0),
            sharex=True,
            constrained_layout=True,
            height_ratios=[1, 1, 1.2],
        )
    else:
        if len(axes) != 3:
            raise ValueError(f"axes: expected three Axes, got {len(axes)}")
        fig = axes[0].figure
    ax_act, ax_phys, ax_rew = axes
    colour = node_style(type_name)["color"] if type_name else "#333333"

    # 1. actions and price
    actions = record.actions[name][:, day_column, :]
    action_names = list(getattr(node, "ACTIONS", ())) or [f"a{i}" for i in range(actions.shape[1])]
    action_lines = {}
    styles = ["-", "--", ":", "-."]
    for i, action_name in enumerate(action_names):
        (action_lines[action_name],) = ax_act.step(
            hours,
            actions[:, i],
            where="mid",
            color=colour,
            linestyle=styles[i % len(styles)],
            linewidth=2,
            label=f"action: {action_name}",
        )
    ax_act.axhline(0, color="#999999", linewidth=0.8)
    ax_act.set_ylim(-1.15, 1.15)
    ax_act.set_ylabel("action (-1 .. 1)")
    ax_price = ax_act.twinx()
    (price_line,) = ax_price.step(
        hours, price, where="mid", color="black", linewidth=1.2, alpha=0.7, label="price"
    )
    ax_price.set_ylabel("price (EUR/MWh)")
    ax_price.set_ylim(bottom=min(0.0, float(price.min())))
    handles = [*action_lines.values(), price_line]
    ax_act.legend(handles=handles, ncol=len(handles), **LEGEND_ABOVE)
    ax_act.set_title("What it decided", loc="left", fontsize=10)

    # 2. injection and the node's own state
    injection = record.injection_mw[name][:, day_column]
    (injection_line,) = ax_phys.step(
        hours, injection, where="mid", color=colour, linewidth=2, label="injection into grid"
    )
    ax_phys.axhline(0, color="#999999", linewidth=0.8)
    ax_phys.set_ylabel("injection (MW)\n+ feeds the grid")
    handles = [injection_line]
    feature_lines = {}
    features = list(getattr(node, "LOCAL_FEATURES", ()))
    local = record.local_features.get(name)
    shown = [f for f in features if f != "steps_left"]
    if shown and local is not None and local.shape[-1] == len(features):
        ax_state = ax_phys.twinx()
        feature_colors = ["#444444", "#b8860b", "#17becf"]
        params = getattr(node, "params", {})
        for i, feature in enumerate(shown):
            # recorded after each step: drawn at the step's end, from the day's start
            values = local[:, day_column, features.index(feature)]
            ends = hours + 0.5 * dt_h
            if feature == "soc" and "initial_soc" in params:
                values = np.concatenate([[params["initial_soc"]], values])
                ends = np.concatenate([[0.0], ends])
            label = _FEATURE_LABELS.get(feature, feature)
            (feature_lines[feature],) = ax_state.plot(
                ends,
                values,
                color=feature_colors[i % len(feature_colors)],
                linestyle="--",
                marker=".",
                linewidth=1.5,
                label=label,
            )
            handles.append(feature_lines[feature])
        if "soc" in shown:
            for key in ("min_soc", "max_soc"):
                if key in params:
                    ax_state.axhline(params[key], color="#444444", linewidth=0.8, linestyle=":")
            ax_state.set_ylabel("state of charge (0-1)")
        else:
            ax_state.set_ylabel("own state (per unit)")
        ax_state.set_ylim(-0.05, max(1.05, float(np.nanmax(local[:, day_column])) * 1.05))
    ax_phys.legend(handles=handles, ncol=len(handles), **LEGEND_ABOVE)
    ax_phys.set_title("What happened", loc="left", fontsize=10)

    # 3. reward components, stacked: gains upwards from zero, costs downwards.
    components = record.reward_components[name]
    width = 0.8 * dt_h
    up = np.zeros(steps)
    down = np.zeros(steps)
    reward_bars = {}
    cycle = color_cycle()
    for i, (component, series) in enumerate(components.items()):
        values = np.asarray(series)[:, day_column]
        base = np.where(values > 0, up, np.where(values < 0, down, 0.0))
        reward_bars[component] = ax_rew.bar(
            hours,
            values,
            width=width,
            bottom=base,
            color=_COMPONENT_COLORS.get(component, cycle[i % len(cycle)]),
            label=component.removesuffix("_eur").replace("_", " "),
        )
        up = up + np.clip(values, 0, None)
        down = down + np.clip(values, None, 0)
    total = up + down
    (total_line,) = ax_rew.plot(
        hours, total, linestyle="none", marker="o", color="black", markersize=4, label="total"
    )
    ax_rew.axhline(0, color="black", linewidth=0.8)
    ax_rew.margins(y=0.08)
    ax_rew.set_ylabel("reward (EUR per step)")
    # Up to nine entries: below the panel, in rows of five, so they never run off the figure.
    ax_rew.legend(
        ncol=min(len(components) + 1, 5),
        loc="upper center",
        bbox_to_anchor=(0.5, -0.28),
        fontsize=SMALL_FONT_PT,
        frameon=False,
    )
    ax_rew.set_title(
        f"What it earned: {total.sum():,.0f} EUR over the day", loc="left", fontsize=10
    )
    ax_rew.set_xlabel("hour of day")
    ax_rew.set_xlim(0, 24)
    ax_rew.set_xticks(np.arange(0, 25, 3))
    for ax in axes:
        ax.grid(alpha=0.3)

    step_markers = []
    if step is not None:
        for ax in axes:
            step_markers.append(
                ax.axvspan(step * dt_h, (step + 1) * dt_h, color="#ffd92f", alpha=0.35, zorder=0)
            )
    day = int(record.days[day_column]) if len(record.days) > day_column else day_column
    label = f"{name} ({type_name})" if type_name else name
    if own_figure:
        fig.suptitle(f"{label} on day {day}", fontsize=12)
    fig.gridppo = {
        "price_line": price_line,
        "action_lines": action_lines,
        "injection_line": injection_line,
        "feature_lines": feature_lines,
        "reward_bars": reward_bars,
        "total_line": total_line,
        "step_markers": step_markers,
        "axes": list(axes),
    }
    return fig


def plot_day_overview(record: DayRecord, nodes: list, day_column: int = 0) -> Figure:
    """One simulated day at a glance: price, injection per node type, voltages, cost.

    ``record`` comes from :func:`~gridppo.evaluation.simulate.run_days` with
    ``record=True``; ``nodes`` are the grid's nodes (``env.nodes``); ``day_column``
    picks which of the recorded days to draw. The second panel sums the net injection
    (MW, positive feeds the grid) of each node type, one line per type in that type's
    colour (:func:`~gridppo.viz.style.node_style`), so every type appears, a type of
    your own included.

    ``fig.gridppo`` holds ``axes`` (the four panels) and ``injection_lines`` (node type
    -> Line2D).
    """
    steps = record.price_eur_per_mwh.shape[0]
    hours = step_hours(steps)
    fig, axes = plt.subplots(4, 1, figsize=(9.5, 9.0), sharex=True, constrained_layout=True)
    ax = axes[0]
    ax.step(hours, record.price_eur_per_mwh[:, day_column], where="mid", color="black")
    ax.set_ylabel("price (EUR/MWh)")
    ax.set_title(f"Day {int(record.days[day_column])}")
    ax = axes[1]
    injection_lines = {}
    for type_name in dict.fromkeys(node.type_name for node in nodes):
        members = [node.name for node in nodes if node.type_name == type_name]
        total_mw = sum(record.injection_mw[name][:, day_column] for name in members)
        style = node_style(type_name)
        (injection_lines[type_name],) = ax.step(
            hours,
            total_mw,
            where="mid",
            color=style["color"],
            linewidth=1.8,
            label=f"{type_name} ({len(members)})",
        )
    ax.axhline(0, color="#999999", linewidth=0.8)
    ax.set_ylabel("injection per type (MW)\n+ feeds the grid")
    ax.legend(fontsize=SMALL_FONT_PT, ncol=min(len(injection_lines), 4))
    ax = axes[2]
    vm = record.vm_pu[:, day_column]
    ax.fill_between(hours, vm.min(axis=1), vm.max(axis=1), alpha=0.3, label="bus range")
    ax.plot(hours, vm.mean(axis=1), label="mean")
    ax.set_ylabel("bus voltage (p.u.)")
    ax.legend(fontsize=SMALL_FONT_PT)
    ax = axes[3]
    ax.bar(hours, record.system_cost_eur[:, day_column], width=24.0 / steps * 0.8)
    ax.set_ylabel("system cost (EUR)")
    ax.set_xlabel("hour of day")
    ax.set_xlim(0, 24)
    ax.set_xticks(np.arange(0, 25, 3))
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.gridppo = {"axes": list(axes), "injection_lines": injection_lines}
    return fig


def _type_series(record: DayRecord, node: Node, day_column: int) -> np.ndarray:
    """What the day-against-optimum figure draws for one node, per step."""
    dt_h = 24.0 / record.price_eur_per_mwh.shape[0]
    if node.type_name == "battery":
        return record.local_features[node.name][:, day_column, 0]
    if node.type_name == "consumer":
        price = max(node.params["shed_cost_eur_per_mwh"], 1e-9)
        return -record.reward_components[node.name]["shed_cost_eur"][:, day_column] / price / dt_h
    if node.type_name == "business":
        return record.local_features[node.name][:, day_column, 1]
    return record.injection_mw[node.name][:, day_column]


_TYPE_SERIES_LABEL = {
    "producer": "output (MW)",
    "battery": "state of charge",
    "consumer": "demand shed (MW)",
    "business": "flexible energy\nstill due (share)",
}


def plot_day_against_optimum(
    record: DayRecord,
    optimum: DayRecord,
    nodes: list,
    day_column: int = 0,
    label: str = "trained agents",
) -> Figure:
    """A policy's day laid over the day's optimum, node type by node type.

    ``record`` and ``optimum`` come from :func:`~gridppo.evaluation.simulate.run_days`
    with ``record=True`` on the same days (e.g. the trained agents and
    :class:`~gridppo.baselines.optimum.OptimumPolicy`); ``nodes`` are the grid's nodes. One panel
    per node type under the price: producers' output, batteries' state of charge,
    consumers' shed demand, businesses' flexible energy still due (other types: their
    injection). Solid lines are the policy, dashed lines the optimum, one colour per
    node (a type of more than :data:`MAX_NAMED_NODES` nodes, on a big grid: all in the
    type's colour, counted in the legend); ``label`` names the policy in the title.
    The optimum knows the whole day in advance; the agents see a few steps of price
    forecast. ``fig.gridppo["axes"]`` maps
    ``"price"`` and each type to its Axes.
    """
    if not np.array_equal(record.days, optimum.days):
        raise ValueError("plot_day_against_optimum: the two records ran different days")
    types = list(dict.fromkeys(node.type_name for node in nodes))
    steps = record.price_eur_per_mwh.shape[0]
    hours = step_hours(steps)
    fig, axes = plt.subplots(
        len(types) + 1, 1, figsize=(8, 2.0 * (len(types) + 1)), sharex=True, layout="constrained"
    )
    by_name = {"price": axes[0]}
    axes[0].step(hours, record.price_eur_per_mwh[:, day_column], where="mid", color="black")
    axes[0].set_ylabel("price\n(EUR/MWh)")
    cost = record.system_cost_eur[:, day_column].sum()
    best = optimum.system_cost_eur[:, day_column].sum()
    axes[0].set_title(
        f"Day {int(record.days[day_column])}: solid = {label} ({cost:,.0f} EUR),\n"
        f"dashed = the day's optimum, which knows the whole day ({best:,.0f} EUR)",
        fontsize=9,
    )
    for ax, type_name in zip(axes[1:], types, strict=True):
        members = [node for node in nodes if node.type_name == type_name]
        palette = plt.get_cmap("tab10")
        named = len(members) <= MAX_NAMED_NODES
        for i, node in enumerate(members):
            # On a big grid the nodes of a type are too many to tell apart: their lines
            # stay, in one colour, and the legend says how many there are.
            color = palette(i % 10) if named else node_style(type_name)["color"]
            width, alpha = (1.5, 0.8) if named else (0.8, 0.35)
            solid = _type_series(record, node, day_column)
            dashed = _type_series(optimum, node, day_column)
            ax.plot(hours, solid, color=color, lw=width, label=node.name if named else None)
            ax.plot(hours, dashed, "--", color=color, lw=width, alpha=alpha)
        if not named:
            ax.plot([], [], color=node_style(type_name)["color"], label=f"{len(members)} nodes")
        ax.set_ylabel(f"{type_name}\n{_TYPE_SERIES_LABEL.get(type_name, 'injection (MW)')}")
        ax.legend(fontsize=SMALL_FONT_PT, ncol=min(len(members), 5), loc="upper left")
        by_name[type_name] = ax
    axes[-1].set_xlabel("hour of day")
    axes[-1].set_xlim(0, 24)
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=SMALL_FONT_PT)
    fig.gridppo = {"axes": by_name}
    return fig
