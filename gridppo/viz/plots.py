"""Figures of the grid and of what the agents do (matplotlib).

Each figure is a function that returns its :class:`~matplotlib.figure.Figure`:

- :func:`plot_grid`: the one-line diagram of the 14-bus grid, coloured by bus voltage
  and branch loading, with every agent drawn at its bus;
- :func:`plot_agent_day`: one agent's day: its actions next to the price, what it
  injected into the grid, and its reward split into components;
- :func:`plot_training_curves` and :func:`plot_ppo_diagnostics`: learning curves and
  PPO's health checks (KL, clip fraction, entropy, explained variance), read from a
  run's ``metrics.csv`` or from the rows a live trainer hands to its callbacks;
- :func:`plot_kpi_comparison`: the evaluation KPIs of several policies side by side;
- :func:`plot_day_overview`: one simulated day of the whole grid at a glance;
- :func:`plot_day_against_optimum`: a policy's day laid over the day's optimum, node
  type by node type.

A function that draws a single panel takes ``ax=`` to draw into an existing Axes, so
figures can be composed; one that draws several panels takes ``axes=`` (a sequence).
Each figure keeps references to what it drew in ``fig.gridppo`` (a dict, documented in
each function), so a test or a widget can check or update the artists afterwards.

In a notebook, write ``fig = plot_grid(grid)`` rather than a bare ``plot_grid(grid)``
as a cell's last line, or Jupyter shows the figure twice.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib.pyplot as plt
import numpy as np
import yaml
from matplotlib import colors as mcolors
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from gridppo.evaluation.simulate import DayRecord, EvalResult

if TYPE_CHECKING:
    from gridppo.grid.network import PowerGrid
    from gridppo.grid.nodes import Node

__all__ = [
    "plot_learning_curve",
    "IEEE14_LAYOUT",
    "NODE_STYLE",
    "OVERLOAD_COLOR",
    "plot_grid",
    "plot_agent_day",
    "read_metrics",
    "read_agent_types",
    "plot_training_curves",
    "plot_ppo_diagnostics",
    "plot_kpi_comparison",
    "plot_day_overview",
    "plot_day_against_optimum",
]

# -- the look: layout, markers and colours -------------------------------------------

# Bus positions (x, y) of the one-line diagram, keyed by pandapower bus index. They
# follow the textbook drawing of the IEEE 14-bus system, whose buses are numbered
# 1..14: pandapower bus ``i`` is textbook bus ``i + 1``. Bus 0 (textbook 1, the slack,
# where the upstream grid connects) is on the left, the 135 kV ring 0-1-2-3-4 at the
# bottom, the lower-voltage part (buses 5-13) above it, behind the transformers
# 4-5, 3-6 and 3-8. Units are arbitrary; only the proportions matter.
IEEE14_LAYOUT: dict[int, tuple[float, float]] = {
    0: (0.0, 4.0),
    1: (1.0, 0.0),
    2: (10.0, 0.0),
    3: (8.5, 4.0),
    4: (3.0, 4.0),
    5: (3.0, 7.5),
    6: (10.5, 6.5),
    7: (12.5, 6.5),
    8: (8.5, 9.0),
    9: (6.6, 9.6),
    10: (4.8, 9.0),
    11: (1.0, 12.0),
    12: (4.2, 12.5),
    13: (9.5, 12.0),
}

# Marker, colour and legend label of each node type. A type not listed here (a student's
# new type) is drawn as a grey star.
NODE_STYLE: dict[str, dict[str, str]] = {
    "producer": {"marker": "^", "color": "#e66101", "label": "producer (power plant)"},
    "consumer": {"marker": "v", "color": "#2b83ba", "label": "consumer (load)"},
    "battery": {"marker": "s", "color": "#1a9641", "label": "battery (storage)"},
    "business": {"marker": "D", "color": "#7b3294", "label": "business (load + PV)"},
}
_BUS_SIZE = 520  # area of a bus circle, points^2
_OTHER_STYLE = {"marker": "*", "color": "#636363", "label": "other"}

# Branches loaded above ``grid.max_loading_percent`` are drawn in this colour; below
# the limit the colour runs from light grey (idle) to dark slate (at the limit).
OVERLOAD_COLOR = "#e31a1c"
_LOADING_CMAP = mcolors.LinearSegmentedColormap.from_list(
    "gridppo_loading", ["#d9d9d9", "#6a7b8c", "#1c2833"]
).with_extremes(over=OVERLOAD_COLOR)
# Bus voltage: blue below nominal, white at the middle of the band, red above.
_VOLTAGE_CMAP = plt.get_cmap("coolwarm")

# Panel legends sit above the panel, on the right, level with its title.
_LEGEND_ABOVE = {
    "loc": "lower right",
    "bbox_to_anchor": (1.0, 1.0),
    "fontsize": 8,
    "frameon": False,
    "borderaxespad": 0.1,
}

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

# Colours of the policies in KPI comparisons; others cycle through tab10.
_POLICY_COLORS = {
    "ippo": "#1f77b4",
    "heuristic": "#ff7f0e",
    "random": "#7f7f7f",
    "optimum": "#2ca02c",
    "single_step_opf": "#8c8c3c",
}

_KPI_LABELS = {
    "system_cost_eur": "system cost (EUR/day)\nlower is better",
    "team_reward": "team reward (EUR/day)\nhigher is better",
    "voltage_violation_rate": "steps with a voltage violation\nlower is better",
    "overload_rate": "steps with an overloaded branch\nlower is better",
    "worst_loading_percent": "worst branch loading (%)\nlower is better",
    "unserved_energy_mwh": "unserved energy (MWh/day)\nlower is better",
    "losses_mwh": "grid losses (MWh/day)\nlower is better",
    "failed_days": "failed days (blackouts)\nlower is better",
    "gap_to_optimum_percent": "gap to the day's optimum (%)\nlower is better",
}

# What each PPO diagnostic tells you, used as panel titles.
_DIAGNOSTICS = {
    "approx_kl": "approx. KL: how far one update moved the policy\n(healthy: below ~0.02)",
    "clipfrac": "clip fraction: share of samples clipped\n(healthy: ~0.05-0.3)",
    "entropy": "entropy: how random the policy still is\n(falls slowly as it learns)",
    "explained_variance": "explained variance of the value function\n(1 is perfect, 0 is useless)",
}
# The same names as gridppo.ppo.DIAGNOSTICS, kept here so that plotting never imports
# PyTorch (tests/test_plots.py checks that the two agree).
_LOSS_METRICS = (
    "policy_loss",
    "value_loss",
    "entropy",
    "approx_kl",
    "clipfrac",
    "explained_variance",
)


def _style(type_name: str) -> dict[str, str]:
    return NODE_STYLE.get(type_name, _OTHER_STYLE)


def _hours(steps: int) -> np.ndarray:
    """Mid-step hour of each of ``steps`` steps of a day."""
    return (np.arange(steps) + 0.5) * 24.0 / steps


def _new_axes(ax: Axes | None, figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    if ax is not None:
        return ax.figure, ax
    fig, ax = plt.subplots(figsize=figsize, constrained_layout=True)
    return fig, ax


def _one_row(values: Any, length: int, what: str) -> np.ndarray:
    """``values`` as a flat float array of ``length``; accepts [length] or [1, length]."""
    arr = np.asarray(values, dtype=float)
    if arr.ndim == 2 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.shape != (length,):
        raise ValueError(
            f"{what}: expected {length} values (or shape [1, {length}]), got {arr.shape}"
        )
    return arr


# -- the one-line diagram --------------------------------------------------------------


def _bus_positions(grid: PowerGrid, layout: str | Mapping[int, tuple[float, float]]) -> np.ndarray:
    """Bus coordinates [n_bus, 2] from a layout name or a dict bus -> (x, y)."""
    n_bus = grid.n_bus
    if isinstance(layout, Mapping):
        return np.array([layout[b] for b in range(n_bus)], dtype=float)
    if layout == "textbook":
        if n_bus == len(IEEE14_LAYOUT):
            return np.array([IEEE14_LAYOUT[b] for b in range(n_bus)], dtype=float)
        layout = "geo"  # not the 14-bus grid: fall back on the net's own coordinates
    if layout != "geo":
        raise ValueError(f"layout: expected 'textbook', 'geo' or a dict, got {layout!r}")
    geo = grid.net.bus["geo"] if "geo" in grid.net.bus else None
    if geo is None or geo.isna().any():
        raise ValueError("layout='geo': the net has no bus geodata; pass a dict bus -> (x, y)")
    coords = [json.loads(g)["coordinates"] if isinstance(g, str) else g["coordinates"] for g in geo]
    return np.array(coords, dtype=float)


def _label_rect(
    marker: np.ndarray, angle: float, width: float, height: float, gap: float
) -> np.ndarray:
    """The box (x0, y0, x1, y1) a node's label covers when drawn by :func:`_label`.

    The label starts ``gap`` beyond the marker, away from the bus, and is ``width`` by
    ``height`` (data units); its alignment follows the direction, as in ``_label``.
    """
    dx, dy = math.cos(angle), math.sin(angle)
    x, y = marker[0] + gap * dx, marker[1] + gap * dy
    left = x if dx > 0.35 else x - width if dx < -0.35 else x - width / 2
    bottom = y if dy > 0.35 else y - height if dy < -0.35 else y - height / 2
    return np.array([left, bottom, left + width, bottom + height])


def _angle_gap(a: float, b: float) -> float:
    """The angle between two directions, in [0, pi]."""
    return abs((a - b + math.pi) % (2 * math.pi) - math.pi)


def _overlap(rect: np.ndarray, rects: np.ndarray) -> float:
    """Total area that ``rect`` shares with each of ``rects`` [R, 4] (x0, y0, x1, y1)."""
    if len(rects) == 0:
        return 0.0
    w = np.minimum(rect[2], rects[:, 2]) - np.maximum(rect[0], rects[:, 0])
    h = np.minimum(rect[3], rects[:, 3]) - np.maximum(rect[1], rects[:, 1])
    return float((np.clip(w, 0, None) * np.clip(h, 0, None)).sum())


def _place_nodes(
    pos: np.ndarray,
    branches: np.ndarray,
    groups: dict[int, list[str]],
    label_sizes: dict[str, tuple[float, float]],
    radius: float,
    bus_radius: float,
    below: float = 0.0,
) -> tuple[dict[str, float], list[np.ndarray]]:
    """A direction (radians) from its bus for every node, where it has the most room.

    Each candidate direction (every 10 degrees) puts the marker ``radius`` from the
    bus and its label beyond it. The pick has the least overlap of marker and label
    with the buses, branches and nodes placed before, and among near-equals points
    away from the middle of the drawing. Crowded buses are placed first. Returns the
    directions and the boxes the labels cover (so the caller can size the axes).
    ``below`` keeps clear room under each bus (for its voltage, when written).
    """
    centre = 0.5 * (pos.min(axis=0) + pos.max(axis=0))
    # Branches as dense points: a label's share of a branch is the points it covers.
    t = np.linspace(0.0, 1.0, 60)[:, None, None]
    along = (pos[branches[:, 0]][None] * (1 - t) + pos[branches[:, 1]][None] * t).reshape(-1, 2)
    step = np.linalg.norm(pos[branches[:, 1]] - pos[branches[:, 0]], axis=1).mean() / 60
    # what no label may cover: the buses (and their voltages), then the node markers
    solid = [np.array([*(p - bus_radius - [0, below]), *(p + bus_radius)]) for p in pos]
    candidates = np.deg2rad(np.arange(0.0, 360.0, 10.0))
    half = 0.6 * bus_radius  # half size of a node marker
    angles: dict[str, float] = {}
    labels: list[np.ndarray] = []
    for bus in sorted(groups, key=lambda b: -len(groups[b])):
        away = pos[bus] - centre
        outward = math.atan2(away[1], away[0])
        siblings: list[float] = []
        for name in groups[bus]:
            width, height = label_sizes[name]
            solid_now = np.array(solid)
            labels_now = np.array(labels).reshape(-1, 4)
            best, best_cost, best_rect, best_dot = 0.0, math.inf, None, None
            for angle in candidates:
                marker = pos[bus] + radius * np.array([math.cos(angle), math.sin(angle)])
                box = _label_rect(marker, angle, width, height, 0.45 * radius)
                dot = np.array([*(marker - half), *(marker + half)])
                inside = (
                    (along[:, 0] > box[0])
                    & (along[:, 0] < box[2])
                    & (along[:, 1] > box[1])
                    & (along[:, 1] < box[3])
                )
                near_line = np.linalg.norm(along - marker, axis=1).min()
                cost = (
                    _overlap(box, labels_now)
                    + 5.0 * _overlap(box, solid_now)
                    + 5.0 * _overlap(dot, solid_now)
                    + 5.0 * _overlap(dot, labels_now)
                    + 0.5 * height * step * inside.sum()
                    + 4.0 * max(0.0, 0.6 * radius - near_line) * radius
                )
                turn = _angle_gap(angle, outward)
                cost += 0.01 * radius**2 * turn
                # nodes of one bus stay at least 60 degrees apart
                if any(_angle_gap(angle, other) < math.radians(60) for other in siblings):
                    cost += 100.0 * radius**2
                if cost < best_cost:
                    best, best_cost, best_rect, best_dot = float(angle), cost, box, dot
            angles[name] = best
            siblings.append(best)
            solid.append(best_dot)
            labels.append(best_rect)
    return angles, labels


def _as_row(value: Any) -> np.ndarray:
    """One time step of a per-node quantity: a scalar, [n], [1, n] or [1] array."""
    arr = np.atleast_1d(np.asarray(value, dtype=float))
    if arr.ndim == 2:
        arr = arr[0]
    return arr


def plot_grid(
    grid: PowerGrid,
    vm_pu: Any = None,
    loading_percent: Any = None,
    actions: Mapping[str, Any] | None = None,
    flows_mw: Mapping[str, Any] | None = None,
    ax: Axes | None = None,
    widen_by_loading: bool = True,
    annotate: bool = False,
    branch_p_mw: Any = None,
    layout: str | Mapping[int, tuple[float, float]] = "textbook",
    colorbars: bool = True,
    title: str | None = None,
) -> Figure:
    """The one-line diagram: buses, branches and every agent at its bus.

    - **Buses** are circles coloured by voltage (``vm_pu``, one value per bus, e.g.
      ``pf.vm_pu[0]`` of a power flow). The colour bar spans at least the voltage band
      (config ``grid.min_vm_pu`` .. ``grid.max_vm_pu``); both limits are marked on it.
    - **Branches** are lines between buses, transformers dashed, coloured by
      ``loading_percent`` (one value per branch, lines then transformers as in
      ``grid.branch_names``): light grey when idle, dark at the limit (config
      ``grid.max_loading_percent``) and :data:`OVERLOAD_COLOR` (red) above it. With
      ``widen_by_loading`` a busier branch is drawn thicker. ``branch_p_mw`` (e.g.
      ``pf.p_from_mw[0]``) adds an arrow on each branch pointing the way active power
      flows.
    - **Nodes** (agents) are drawn around their bus, one marker per node with a shape
      and colour per type (see :data:`NODE_STYLE`), labelled with their name. The
      upstream grid is a hatched square at the slack bus.

    If ``vm_pu`` or ``loading_percent`` is None, the grid's power flow is run with every
    element at its case value (``grid.base_injections(1)``).

    Arguments:
        actions: optional dict node name -> that node's action at one step (values in
            [-1, 1]); written under the node's name as ``a=...``.
        flows_mw: optional dict node name -> its net injection into the grid (MW,
            positive feeds the grid) at the same step; written after the action.
        annotate: also write each bus voltage and each branch loading as numbers.
        layout: ``"textbook"`` (:data:`IEEE14_LAYOUT`), ``"geo"`` (pandapower's own
            bus coordinates, ``grid.net.bus.geo``) or a dict bus -> (x, y).
        colorbars: draw the voltage and loading colour bars.
        title: the panel's title.

    ``fig.gridppo`` (also ``ax.gridppo``) holds ``bus_collection`` (the bus circles),
    ``node_markers`` (type -> the markers of that type's nodes), ``node_positions``
    (name -> (x, y)), ``branch_lines`` (one Line2D per branch, in branch order),
    ``bus_norm`` and ``loading_norm`` (the colour scales), ``colorbar`` (voltage) and
    ``loading_colorbar`` (None without colour bars), and ``legend``.
    """
    limits = grid.config["grid"]
    if vm_pu is None or loading_percent is None:
        pf = grid.run_power_flow(grid.base_injections(1))
        vm_pu = pf.vm_pu[0] if vm_pu is None else vm_pu
        loading_percent = (
            grid.loading_percent(pf)[0] if loading_percent is None else loading_percent
        )
    vm = _one_row(vm_pu, grid.n_bus, "vm_pu")
    loading = _one_row(loading_percent, grid.n_branch, "loading_percent")
    p_mw = None if branch_p_mw is None else _one_row(branch_p_mw, grid.n_branch, "branch_p_mw")

    fig, ax = _new_axes(ax, figsize=(12.0, 10.0))
    # Markers and text shrink in a small panel (a full-size figure has scale 1).
    box = ax.get_position()
    fig_w, fig_h = fig.get_size_inches()
    scale = float(np.clip(min(box.width * fig_w / 8.0, box.height * fig_h / 7.5), 0.5, 1.0))
    pos = _bus_positions(grid, layout)
    span = float(np.ptp(pos, axis=0).max()) or 1.0
    loading_norm = mcolors.Normalize(0.0, limits["max_loading_percent"])
    branch_lines = _draw_branches(
        ax, grid, pos, loading, loading_norm, widen_by_loading, annotate, p_mw, span
    )
    # Bus colours: a scale centred on the middle of the band, reaching past both limits.
    low, high = limits["min_vm_pu"], limits["max_vm_pu"]
    band = high - low
    bus_norm = mcolors.TwoSlopeNorm(
        vcenter=0.5 * (low + high),
        vmin=min(low - 0.25 * band, float(vm.min())),
        vmax=max(high + 0.25 * band, float(vm.max())),
    )
    bus_collection = _draw_buses(ax, pos, vm, bus_norm, annotate, scale)
    node_markers, placed, boxes = _draw_nodes(
        ax, grid, pos, actions, flows_mw, span, annotate, scale
    )

    handles = list(node_markers.values())
    handles += [
        Line2D([], [], color="#6a7b8c", linewidth=2.5, label="line"),
        Line2D([], [], color="#6a7b8c", linewidth=2.5, linestyle="--", label="transformer"),
        Line2D([], [], color=OVERLOAD_COLOR, linewidth=2.5, label="overloaded branch"),
    ]
    legend = ax.legend(
        handles=handles,
        loc="upper center",
        bbox_to_anchor=(0.5, 0.0),
        ncol=4 if scale > 0.8 else 2,
        fontsize=9 * scale**0.5,
    )
    legend.get_frame().set_linewidth(0)
    colorbar = loading_colorbar = None
    if colorbars:
        colorbar, loading_colorbar = _draw_colorbars(
            fig, ax, bus_collection, bus_norm, loading_norm, limits
        )

    covered = np.vstack([pos, *(b.reshape(2, 2) for b in boxes)])
    pad = 0.04 * span
    ax.set_xlim(covered[:, 0].min() - pad, covered[:, 0].max() + pad)
    ax.set_ylim(covered[:, 1].min() - pad, covered[:, 1].max() + pad)
    ax.set_aspect("equal")
    ax.axis("off")
    if title is not None:
        ax.set_title(title)
    artists = {
        "bus_collection": bus_collection,
        "node_markers": {k: v for k, v in node_markers.items() if k != "__upstream__"},
        "node_positions": {k: v for k, v in placed.items() if k != "__upstream__"},
        "branch_lines": branch_lines,
        "bus_norm": bus_norm,
        "loading_norm": loading_norm,
        "colorbar": colorbar,
        "loading_colorbar": loading_colorbar,
        "legend": legend,
    }
    fig.gridppo = artists
    ax.gridppo = artists
    return fig


def _draw_branches(
    ax: Axes,
    grid: PowerGrid,
    pos: np.ndarray,
    loading: np.ndarray,
    norm: mcolors.Normalize,
    widen: bool,
    annotate: bool,
    p_mw: np.ndarray | None,
    span: float,
) -> list[Line2D]:
    """One line per branch (transformers dashed), coloured by loading; returns them."""
    n_line = len(grid.net.line)
    max_loading = norm.vmax
    lines = []
    for i, (a, b) in enumerate(zip(grid.branch_from_bus, grid.branch_to_bus, strict=True)):
        (line,) = ax.plot(
            pos[[a, b], 0],
            pos[[a, b], 1],
            color=_LOADING_CMAP(norm(loading[i])),
            linewidth=1.2 + 4.0 * min(loading[i] / max_loading, 1.5) if widen else 2.0,
            linestyle="--" if i >= n_line else "-",
            solid_capstyle="round",
            zorder=1,
            gid=grid.branch_names[i],
        )
        lines.append(line)
        mid = pos[[a, b]].mean(axis=0)
        if p_mw is not None and abs(p_mw[i]) > 1e-6:
            # p_from_mw > 0: power enters at the from side and flows towards the to side
            start, end = (pos[a], pos[b]) if p_mw[i] > 0 else (pos[b], pos[a])
            unit = (end - start) / (np.linalg.norm(end - start) + 1e-9)
            ax.annotate(
                "",
                xy=mid + 0.03 * span * unit,
                xytext=mid - 0.03 * span * unit,
                arrowprops={"arrowstyle": "-|>", "color": line.get_color(), "lw": 1.2},
                zorder=2,
            )
        if annotate:
            ax.annotate(
                f"{loading[i]:.0f}%",
                mid,
                xytext=(0, 7) if p_mw is not None else (0, 0),
                textcoords="offset points",
                ha="center",
                va="center",
                fontsize=7,
                color=OVERLOAD_COLOR if loading[i] > max_loading else "#333333",
                bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.8},
                zorder=3,
            )
    return lines


def _draw_buses(
    ax: Axes,
    pos: np.ndarray,
    vm: np.ndarray,
    norm: mcolors.Normalize,
    annotate: bool,
    scale: float,
) -> Any:
    """Bus circles coloured by voltage, numbered; returns the scatter collection."""
    buses = ax.scatter(
        pos[:, 0],
        pos[:, 1],
        c=vm,
        cmap=_VOLTAGE_CMAP,
        norm=norm,
        s=_BUS_SIZE * scale**2,
        edgecolors="black",
        linewidths=1.2,
        zorder=4,
    )
    for b, (x, y) in enumerate(pos):
        ax.text(x, y, str(b), ha="center", va="center", fontsize=9 * scale, weight="bold", zorder=5)
        if annotate:
            ax.annotate(
                f"{vm[b]:.3f}",
                (x, y),
                xytext=(0, -16 * scale),
                textcoords="offset points",
                ha="center",
                va="top",
                fontsize=7,
                color="#333333",
                zorder=5,
            )
    return buses


def _node_text(name: str, action: Any = None, flow_mw: Any = None) -> str:
    """A node's label: its name and, on a second line, its action and injection."""
    extra = []
    if action is not None:
        values = _as_row(action)
        text = ", ".join(f"{v + 0.0:+.2f}" for v in values)  # + 0.0 turns -0.00 into +0.00
        extra.append(f"a={text}" if len(values) == 1 else f"a=({text})")
    if flow_mw is not None:
        extra.append(f"{float(_as_row(flow_mw)[0]):+.1f} MW")
    return "\n".join([name, " | ".join(extra)] if extra else [name])


def _draw_nodes(
    ax: Axes,
    grid: PowerGrid,
    pos: np.ndarray,
    actions: Mapping[str, Any] | None,
    flows_mw: Mapping[str, Any] | None,
    span: float,
    annotate: bool,
    scale: float,
) -> tuple[dict[str, Any], dict[str, tuple[float, float]], list[np.ndarray]]:
    """Markers and labels of every node (and the upstream grid) around their buses.

    Returns the markers by type (the upstream grid under ``"__upstream__"``), each
    marker's position, and the boxes the labels cover.
    """
    actions, flows_mw = actions or {}, flows_mw or {}
    texts: dict[str, str] = {}
    groups: dict[int, list[str]] = {}
    for node in grid.nodes:
        groups.setdefault(node.bus, []).append(node.name)
        texts[node.name] = _node_text(node.name, actions.get(node.name), flows_mw.get(node.name))
    slack = int(grid.net.ext_grid.bus.iloc[0])
    groups.setdefault(slack, []).append("__upstream__")
    texts["__upstream__"] = "upstream\ngrid"

    # How big text is in data units, from the axes' size, to keep labels apart.
    box = ax.get_position()
    fig_w, fig_h = ax.figure.get_size_inches()
    extent = np.ptp(pos, axis=0) * 1.3 + 1e-9
    units_per_inch = max(extent[0] / (box.width * fig_w), extent[1] / (box.height * fig_h))
    font = 8.5 * scale**0.5
    char_w, line_h = 0.55 * font / 72 * units_per_inch, 1.25 * font / 72 * units_per_inch
    sizes = {
        name: (char_w * max(map(len, t.split("\n"))), line_h * (t.count("\n") + 1))
        for name, t in texts.items()
    }
    radius = 0.065 * span
    bus_radius = 0.5 * scale * math.sqrt(_BUS_SIZE) / 72 * units_per_inch
    branches = np.column_stack([grid.branch_from_bus, grid.branch_to_bus])
    angles, boxes = _place_nodes(
        pos, branches, groups, sizes, radius, bus_radius, 1.2 * bus_radius if annotate else 0.0
    )

    placed: dict[str, tuple[float, float]] = {}
    for bus, members in groups.items():
        for name in members:
            x = pos[bus, 0] + radius * math.cos(angles[name])
            y = pos[bus, 1] + radius * math.sin(angles[name])
            placed[name] = (x, y)
            ax.plot([pos[bus, 0], x], [pos[bus, 1], y], color="#555555", linewidth=0.8, zorder=2)
    markers: dict[str, Any] = {}
    for type_name in dict.fromkeys(n.type_name for n in grid.nodes):
        xy = np.array([placed[n.name] for n in grid.nodes if n.type_name == type_name])
        style = _style(type_name)
        markers[type_name] = ax.scatter(
            xy[:, 0],
            xy[:, 1],
            marker=style["marker"],
            s=150 * scale**2,
            color=style["color"],
            edgecolors="black",
            linewidths=0.8,
            zorder=6,
            label=style["label"],
        )
    markers["__upstream__"] = ax.scatter(
        *placed["__upstream__"],
        marker="s",
        s=260 * scale**2,
        facecolors="white",
        edgecolors="black",
        hatch="xxxx",
        linewidths=1.0,
        zorder=6,
        label="upstream grid (slack)",
    )
    for name, text in texts.items():
        _label(ax, placed[name], angles[name], text, gap=0.45 * radius, fontsize=font)
    return markers, placed, boxes


def _label(
    ax: Axes, xy: tuple[float, float], angle: float, text: str, gap: float, fontsize: float
) -> None:
    """Write ``text`` ``gap`` (data units) beyond a node marker, facing away from its bus."""
    dx, dy = math.cos(angle), math.sin(angle)
    ha = "left" if dx > 0.35 else "right" if dx < -0.35 else "center"
    va = "bottom" if dy > 0.35 else "top" if dy < -0.35 else "center"
    ax.text(
        xy[0] + gap * dx,
        xy[1] + gap * dy,
        text,
        ha=ha,
        va=va,
        fontsize=fontsize,
        linespacing=1.15,
        zorder=7,
        bbox={"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.75},
    )


def _draw_colorbars(
    fig: Figure,
    ax: Axes,
    buses: Any,
    bus_norm: mcolors.Normalize,
    loading_norm: mcolors.Normalize,
    limits: Mapping[str, float],
) -> tuple[Any, Any]:
    """The voltage colour bar (limits marked) and the loading one (red beyond the limit)."""
    low, high = limits["min_vm_pu"], limits["max_vm_pu"]
    voltage = fig.colorbar(buses, ax=ax, fraction=0.03, pad=0.01, aspect=25, shrink=0.6)
    voltage.set_label("bus voltage (p.u.)")
    for limit in (low, high):
        voltage.ax.axhline(limit, color="black", linewidth=1.5)
    ticks = sorted({bus_norm.vmin, low, 0.5 * (low + high), high, bus_norm.vmax})
    names = {low: " (min)", high: " (max)"}
    voltage.set_ticks(ticks, labels=[f"{t:.3f}{names.get(t, '')}" for t in ticks])
    voltage.ax.tick_params(labelsize=8)
    mappable = plt.cm.ScalarMappable(norm=loading_norm, cmap=_LOADING_CMAP)
    loading = fig.colorbar(
        mappable, ax=ax, fraction=0.03, pad=0.02, aspect=25, shrink=0.6, extend="max"
    )
    loading.set_label(
        f"branch loading (% of rating)\nred: above {loading_norm.vmax:g} %, overloaded"
    )
    loading.ax.tick_params(labelsize=8)
    return voltage, loading


# -- one agent's day -------------------------------------------------------------------


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

    ``record`` comes from :func:`gridppo.simulate.run_days` with ``record=True``;
    ``node`` is a :class:`~gridppo.nodes.Node` (e.g. ``env.grid.node("battery_3")``) or
    a node name; ``day_column`` picks one of the recorded days. ``step`` shades that
    step in every panel (for a time slider). ``axes``: three Axes to draw into.

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
    hours = _hours(steps)
    dt_h = 24.0 / steps
    own_figure = axes is None
    if axes is None:
        fig, axes = plt.subplots(
            3, 1, figsize=(10, 8.5), sharex=True, constrained_layout=True, height_ratios=[1, 1, 1.2]
        )
    else:
        if len(axes) != 3:
            raise ValueError(f"axes: expected three Axes, got {len(axes)}")
        fig = axes[0].figure
    ax_act, ax_phys, ax_rew = axes
    colour = _style(type_name)["color"] if type_name else "#333333"

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
    ax_act.legend(handles=handles, ncol=len(handles), **_LEGEND_ABOVE)
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
    ax_phys.legend(handles=handles, ncol=len(handles), **_LEGEND_ABOVE)
    ax_phys.set_title("What happened", loc="left", fontsize=10)

    # 3. reward components, stacked: gains upwards from zero, costs downwards.
    components = record.reward_components[name]
    width = 0.8 * dt_h
    up = np.zeros(steps)
    down = np.zeros(steps)
    reward_bars = {}
    cycle = plt.rcParams["axes.prop_cycle"].by_key()["color"]
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
    ax_rew.legend(ncol=len(components) + 1, **_LEGEND_ABOVE)
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


# -- training curves -------------------------------------------------------------------


def read_metrics(log_dir: str | Path) -> dict[str, np.ndarray]:
    """A run's ``metrics.csv`` as a dict column -> float array (one entry per update).

    Empty cells (e.g. evaluation columns on updates without an evaluation) are NaN.
    """
    path = Path(log_dir) / "metrics.csv"
    if not path.is_file():
        raise FileNotFoundError(f"no metrics.csv in '{log_dir}'")
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    return _columns(rows)


def read_agent_types(log_dir: str | Path) -> dict[str, str]:
    """Agent name -> node type, from the ``nodes`` list of a run's ``config.yaml``."""
    path = Path(log_dir) / "config.yaml"
    if not path.is_file():
        raise FileNotFoundError(f"no config.yaml in '{log_dir}'")
    config = yaml.safe_load(path.read_text()) or {}
    types = {}
    for spec in config.get("nodes", []):
        params = spec.get("params") if isinstance(spec.get("params"), Mapping) else {}
        type_name = spec.get("type", params.get("type"))
        types[str(spec["name"])] = str(type_name)
    return types


def _to_float(value: Any) -> float:
    if value is None or value == "":
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _columns(rows: Sequence[Mapping[str, Any]]) -> dict[str, np.ndarray]:
    """Rows (dicts) -> columns (float arrays); a key missing from a row is NaN there."""
    keys = list(dict.fromkeys(k for row in rows for k in row))
    return {k: np.array([_to_float(row.get(k)) for row in rows], dtype=float) for k in keys}


def _load_source(
    source: Any, agent_types: Mapping[str, str] | None
) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Columns and agent types from a log directory, a list of row dicts or a DataFrame."""
    types = dict(agent_types) if agent_types is not None else {}
    if isinstance(source, (str, Path)):
        data = read_metrics(source)
        if agent_types is None and (Path(source) / "config.yaml").is_file():
            types = read_agent_types(source)
    elif hasattr(source, "to_dict"):  # a pandas DataFrame
        data = _columns(source.to_dict("records"))
    elif isinstance(source, Mapping):  # already columns
        data = {k: np.asarray(v, dtype=float) for k, v in source.items()}
    else:
        data = _columns(list(source))
    return data, types


def _agents_in(data: Mapping[str, np.ndarray], prefix: str, types: Mapping[str, str]) -> list[str]:
    """Agents with a column ``prefix/NAME``, in the order of ``types`` where known."""
    found = [k[len(prefix) + 1 :] for k in data if k.startswith(prefix + "/")]
    order = {name: i for i, name in enumerate(types)}
    return sorted(found, key=lambda n: (order.get(n, len(order)), found.index(n)))


def _type_of(name: str, types: Mapping[str, str]) -> str:
    """An agent's type: from ``types``, else from a name like ``battery_3``.

    A learner shared by a whole type (parameter sharing) logs under the type's name,
    which is its own type.
    """
    if name in types:
        return types[name]
    if name in NODE_STYLE or name in set(types.values()):
        return name
    guess = name.rsplit("_", 1)[0]
    if guess in NODE_STYLE:
        return guess
    raise ValueError(
        f"agent {name!r}: unknown type; pass agent_types={{name: type}} or a log directory "
        "with a config.yaml"
    )


def _metric_prefix(metric: str) -> str:
    if metric in ("reward", "return", "episodic_return"):
        return "charts/episodic_return"
    if metric in _LOSS_METRICS:
        return f"losses/{metric}"
    return metric.rstrip("/")


def _x_axis(data: Mapping[str, np.ndarray]) -> tuple[np.ndarray, str]:
    for key, label in (("global_step", "environment steps"), ("update", "PPO update")):
        if key in data and np.isfinite(data[key]).any():
            return data[key], label
    n = len(next(iter(data.values()))) if data else 0
    return np.arange(n, dtype=float), "PPO update"


def _agent_colors(agents: Sequence[str], types: Mapping[str, str]) -> dict[str, Any]:
    """A colour per agent: shades of its type's colour, so a type reads as a family."""
    colours: dict[str, Any] = {}
    by_type: dict[str, list[str]] = {}
    for name in agents:
        try:
            type_name = _type_of(name, types)
        except ValueError:
            type_name = ""
        by_type.setdefault(type_name, []).append(name)
    cycle = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for type_name, names in by_type.items():
        if type_name not in NODE_STYLE:
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
    x, xlabel = _x_axis(data)
    names = _agents_in(data, prefix, types)
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
            groups.setdefault(_type_of(name, types), []).append(name)
        cycle = plt.rcParams["axes.prop_cycle"].by_key()["color"]
        for i, (type_name, members) in enumerate(groups.items()):
            stack = np.stack([_smooth(data[f"{prefix}/{m}"], window) for m in members])
            ok = np.isfinite(stack).any(axis=0)
            if not ok.any():
                continue
            with np.errstate(all="ignore"):
                mean = np.nanmean(stack[:, ok], axis=0)
                low = np.nanmin(stack[:, ok], axis=0)
                high = np.nanmax(stack[:, ok], axis=0)
            colour = NODE_STYLE.get(type_name, {"color": cycle[i % len(cycle)]})["color"]
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
    data, types = _load_source(source, agent_types)
    prefix = _metric_prefix(metric)
    fig, ax = _new_axes(ax, figsize=(10, 5.5))
    if not data:  # a live plot before the first update
        ax.text(0.5, 0.5, "no updates yet", ha="center", va="center", transform=ax.transAxes)
        fig.gridppo = {"lines": {}}
        return fig
    lines = _draw_metric(ax, data, types, prefix, by, window=smooth)
    title = "return per day (EUR)" if prefix == "charts/episodic_return" else prefix
    ax.set_ylabel(title)
    ax.set_title(f"{title}, per {by}" + (f" ({smooth}-update average)" if smooth > 1 else ""))
    ax.legend(
        fontsize=7 if by == "agent" else 8,
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        borderaxespad=0.0,
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

    Approximate KL divergence, clip fraction, policy entropy and the value function's
    explained variance, one line per agent (``agents`` picks some) or, with
    ``by="type"``, one per node type (mean with a min-max band). ``source`` and
    ``agent_types`` are as in :func:`plot_training_curves`; ``axes``: four Axes.

    ``fig.gridppo`` holds ``lines`` (diagnostic -> label -> Line2D) and ``axes``.
    """
    data, types = _load_source(source, agent_types)
    own_figure = axes is None
    if axes is None:
        fig, grid_axes = plt.subplots(2, 2, figsize=(12, 7.5), sharex=True, constrained_layout=True)
        axes = list(grid_axes.ravel())
    else:
        if len(axes) != 4:
            raise ValueError(f"axes: expected four Axes, got {len(axes)}")
        fig = axes[0].figure
    lines = {}
    for ax, (metric, title) in zip(axes, _DIAGNOSTICS.items(), strict=True):
        lines[metric] = _draw_metric(ax, data, types, f"losses/{metric}", by, agents)
        ax.set_title(title, fontsize=9)
        ax.set_ylabel(metric)
    axes[0].axhline(0.02, color="black", linestyle=":", linewidth=1)
    axes[3].axhline(1.0, color="black", linestyle=":", linewidth=1)
    axes[3].axhline(0.0, color="#999999", linewidth=0.8)
    handles = list(lines["approx_kl"].values())
    fig.legend(
        handles=handles,
        loc="outside right upper" if own_figure else "upper right",
        fontsize=7,
    )
    fig.gridppo = {"lines": lines, "axes": list(axes)}
    return fig


# -- policies side by side -------------------------------------------------------------


def _format_kpi(key: str, value: float) -> str:
    if key.endswith("_rate"):
        return f"{100 * value:.1f}%"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def plot_kpi_comparison(
    results: Sequence[EvalResult] | Mapping[str, Mapping[str, float]],
    kpis: Sequence[str] = ("system_cost_eur", "voltage_violation_rate", "overload_rate"),
    ax: Axes | Sequence[Axes] | None = None,
) -> Figure:
    """Evaluation KPIs of several policies: one panel per KPI, one bar per policy.

    ``results`` is a list of :class:`~gridppo.simulate.EvalResult` (from
    :func:`gridppo.simulate.run_days`; the bar is named by ``result.policy``, e.g.
    ``ippo``, ``heuristic``, ``random``, ``optimum``) or a dict policy name -> KPI dict.
    Each bar carries its value; rates (shares of steps) are labelled in percent.
    ``ax``: one Axes (for a single KPI) or one Axes per KPI.

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
        fig, axs = plt.subplots(
            1, len(kpis), figsize=(3.6 * len(kpis) + 0.5, 4.2), constrained_layout=True
        )
        axes = list(np.atleast_1d(axs))
    else:
        axes = [ax] if isinstance(ax, Axes) else list(ax)
        if len(axes) != len(kpis):
            raise ValueError(f"ax: expected {len(kpis)} Axes (one per KPI), got {len(axes)}")
        fig = axes[0].figure
    cycle = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    colours = [_POLICY_COLORS.get(p, cycle[(i + 4) % len(cycle)]) for i, p in enumerate(policies)]
    bars = {}
    for axis, key in zip(axes, kpis, strict=True):
        missing = [p for p in policies if key not in table[p]]
        if missing:
            raise KeyError(f"kpis: {key!r} missing for policies {missing}")
        values = [float(table[p][key]) for p in policies]
        bars[key] = axis.bar(policies, values, color=colours, edgecolor="black", linewidth=0.6)
        axis.bar_label(bars[key], labels=[_format_kpi(key, v) for v in values], fontsize=8)
        axis.set_title(_KPI_LABELS.get(key, key), fontsize=10)
        axis.axhline(0, color="black", linewidth=0.8)
        axis.margins(y=0.15)
        axis.grid(axis="y", alpha=0.3)
        if key.endswith("_rate"):
            axis.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{100 * v:.0f}%"))
        else:
            axis.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:,.6g}"))
        axis.tick_params(axis="x", labelrotation=20 if len(policies) > 4 else 0)
    fig.gridppo = {"bars": bars, "policies": policies}
    return fig


# -- the whole grid over a day ---------------------------------------------------------


def plot_day_overview(record: DayRecord, nodes: list, day_column: int = 0) -> Figure:
    """One simulated day at a glance: price, producer and battery power, voltages, cost.

    ``record`` comes from :func:`gridppo.simulate.run_days` with ``record=True``;
    ``nodes`` are the grid's nodes (``env.nodes``); ``day_column`` picks which of the
    recorded days to draw.
    """
    steps = record.price_eur_per_mwh.shape[0]
    hours = _hours(steps)
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
    ax.set_xlim(0, 24)
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.gridppo = {"axes": list(axes)}
    return fig


def plot_learning_curve(
    eval_history: list[dict],
    baselines: dict[str, dict] | None = None,
    kpi: str = "system_cost_eur",
    ax: Axes | None = None,
) -> Figure:
    """One KPI on the validation days over training, beside the baselines' values.

    ``eval_history`` is :attr:`gridppo.trainer.Trainer.eval_history` (dicts with
    ``update`` and the KPIs); ``baselines`` maps a policy name to its KPI dict (e.g.
    ``{name: result.kpis for name, result in trainer.evaluate_baselines().items()}``).
    """
    fig, ax = _new_axes(ax, figsize=(7, 4))
    updates = [e["update"] for e in eval_history]
    ax.plot(updates, [e[kpi] for e in eval_history], "o-", color="tab:blue", label="IPPO")
    styles = ("--", ":", "-.")
    for i, (name, kpis) in enumerate((baselines or {}).items()):
        ax.axhline(kpis[kpi], ls=styles[i % len(styles)], color="grey", label=name)
        ax.annotate(
            name,
            (1.0, kpis[kpi]),
            xycoords=("axes fraction", "data"),
            fontsize=8,
            ha="right",
            va="bottom",
            color="grey",
        )
    ax.set_xlabel("update")
    ax.set_ylabel(f"{kpi} on validation days")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.gridppo = {"ippo_line": ax.lines[0]}
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

    ``record`` and ``optimum`` come from :func:`gridppo.simulate.run_days` with
    ``record=True`` on the same days (e.g. the trained agents and
    :class:`gridppo.optimum.OptimumPolicy`); ``nodes`` are the grid's nodes. One panel
    per node type under the price: producers' output, batteries' state of charge,
    consumers' shed demand, businesses' flexible energy still due (other types: their
    injection). Solid lines are the policy, dashed lines the optimum, one colour per
    node; ``label`` names the policy in the title. The optimum knows the whole day in
    advance; the agents see a few steps of price forecast. ``fig.gridppo["axes"]`` maps
    ``"price"`` and each type to its Axes.
    """
    if not np.array_equal(record.days, optimum.days):
        raise ValueError("plot_day_against_optimum: the two records ran different days")
    types = list(dict.fromkeys(node.type_name for node in nodes))
    steps = record.price_eur_per_mwh.shape[0]
    hours = _hours(steps)
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
        for i, node in enumerate(members):
            color = palette(i % 10)
            ax.plot(hours, _type_series(record, node, day_column), color=color, label=node.name)
            ax.plot(hours, _type_series(optimum, node, day_column), "--", color=color, alpha=0.8)
        ax.set_ylabel(f"{type_name}\n{_TYPE_SERIES_LABEL.get(type_name, 'injection (MW)')}")
        ax.legend(fontsize=7, ncol=min(len(members), 5), loc="upper left")
        by_name[type_name] = ax
    axes[-1].set_xlabel("hour of day")
    axes[-1].set_xlim(0, 24)
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=8)
    fig.gridppo = {"axes": by_name}
    return fig
