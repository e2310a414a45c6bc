"""The one-line diagram of the grid: buses, branches and every agent at its bus."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib import colors as mcolors
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from gridppo.viz.grid_layout import bus_positions, node_text, place_nodes
from gridppo.viz.style import (
    LOADING_CMAP,
    OVERLOAD_COLOR,
    SMALL_FONT_PT,
    VOLTAGE_CMAP,
    new_axes,
    node_style,
    one_row,
    percent_axis,
)

if TYPE_CHECKING:
    from gridppo.grid.network import PowerGrid

__all__ = ["plot_grid"]

_BUS_SIZE = 520  # area of a bus circle, points^2


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
      and colour per type (:func:`~gridppo.viz.style.node_style`: a type of your own
      gets a default marker and colour, and its name in the legend), labelled with
      their name. The upstream grid is a hatched square at the slack bus.

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
    vm = one_row(vm_pu, grid.n_bus, "vm_pu")
    loading = one_row(loading_percent, grid.n_branch, "loading_percent")
    p_mw = None if branch_p_mw is None else one_row(branch_p_mw, grid.n_branch, "branch_p_mw")

    fig, ax = new_axes(ax, figsize=(9.5, 8.0))
    # Markers and text shrink in a small panel (a full-size figure has scale 1).
    box = ax.get_position()
    fig_w, fig_h = fig.get_size_inches()
    scale = float(np.clip(min(box.width * fig_w / 8.0, box.height * fig_h / 7.5), 0.5, 1.0))
    pos = bus_positions(grid, layout)
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
        ncol=4 if box.width * fig_w >= 6.0 else 2,  # four columns where they fit
        fontsize=max(SMALL_FONT_PT, 9 * scale**0.5),
    )
    legend.get_frame().set_linewidth(0)
    colorbar = loading_colorbar = None
    if colorbars:
        colorbar, loading_colorbar = _draw_colorbars(
            fig, ax, bus_collection, bus_norm, loading_norm, limits
        )

    covered = np.vstack([pos, *(b.reshape(2, 2) for b in boxes)])
    pad = 0.04 * span
    ax.update_datalim([covered.min(axis=0) - pad, covered.max(axis=0) + pad])
    ax.margins(0.0)
    ax.autoscale_view()
    # The limits, not the box, give way to equal scales: the diagram fills its panel
    # instead of leaving a blank band above the title.
    ax.set_aspect("equal", adjustable="datalim")
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
            color=LOADING_CMAP(norm(loading[i])),
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
                fontsize=SMALL_FONT_PT,
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
        cmap=VOLTAGE_CMAP,
        norm=norm,
        s=_BUS_SIZE * scale**2,
        edgecolors="black",
        linewidths=1.2,
        zorder=4,
    )
    for b, (x, y) in enumerate(pos):
        ax.text(
            x,
            y,
            str(b),
            ha="center",
            va="center",
            fontsize=max(SMALL_FONT_PT, 9 * scale),
            weight="bold",
            zorder=5,
        )
        if annotate:
            ax.annotate(
                f"{vm[b]:.3f}",
                (x, y),
                xytext=(0, -16 * scale),
                textcoords="offset points",
                ha="center",
                va="top",
                fontsize=SMALL_FONT_PT,
                color="#333333",
                zorder=5,
            )
    return buses


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
        texts[node.name] = node_text(node.name, actions.get(node.name), flows_mw.get(node.name))
    slack = int(grid.net.ext_grid.bus.iloc[0])
    groups.setdefault(slack, []).append("__upstream__")
    texts["__upstream__"] = "upstream\ngrid"

    # How big text is in data units, from the axes' size, to keep labels apart.
    box = ax.get_position()
    fig_w, fig_h = ax.figure.get_size_inches()
    extent = np.ptp(pos, axis=0) * 1.3 + 1e-9
    units_per_inch = max(extent[0] / (box.width * fig_w), extent[1] / (box.height * fig_h))
    font = max(SMALL_FONT_PT, 8.5 * scale**0.5)
    char_w, line_h = 0.55 * font / 72 * units_per_inch, 1.25 * font / 72 * units_per_inch
    sizes = {
        name: (char_w * max(map(len, t.split("\n"))), line_h * (t.count("\n") + 1))
        for name, t in texts.items()
    }
    radius = 0.065 * span
    bus_radius = 0.5 * scale * math.sqrt(_BUS_SIZE) / 72 * units_per_inch
    branches = np.column_stack([grid.branch_from_bus, grid.branch_to_bus])
    angles, boxes = place_nodes(
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
        style = node_style(type_name)
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
    """The voltage colour bar (limits marked) and the loading one (red beyond the limit),
    stacked right of the diagram: side by side they would take a fifth of its width."""
    low, high = limits["min_vm_pu"], limits["max_vm_pu"]
    voltage = fig.colorbar(buses, cax=ax.inset_axes([1.02, 0.54, 0.025, 0.42]))
    voltage.set_label("bus voltage (p.u.)", fontsize=SMALL_FONT_PT + 1)
    for limit in (low, high):
        voltage.ax.axhline(limit, color="black", linewidth=1.5)
    ticks = sorted({bus_norm.vmin, low, 0.5 * (low + high), high, bus_norm.vmax})
    names = {low: " (min)", high: " (max)"}
    voltage.set_ticks(ticks, labels=[f"{t:.3f}{names.get(t, '')}" for t in ticks])
    voltage.ax.tick_params(labelsize=SMALL_FONT_PT)
    mappable = plt.cm.ScalarMappable(norm=loading_norm, cmap=LOADING_CMAP)
    loading = fig.colorbar(mappable, cax=ax.inset_axes([1.02, 0.04, 0.025, 0.42]), extend="max")
    loading.set_label(
        f"branch loading\nred: above {loading_norm.vmax:g} %", fontsize=SMALL_FONT_PT + 1
    )
    percent_axis(loading.ax.yaxis, xmax=100.0)
    loading.ax.tick_params(labelsize=SMALL_FONT_PT)
    return voltage, loading
