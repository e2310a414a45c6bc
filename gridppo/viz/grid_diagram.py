"""The one-line diagram of the grid: buses, branches and every agent at its bus.

One rule draws any net, from the 14-bus grid to case118's 150-odd agents, with no text
under :data:`~gridppo.viz.style.SMALL_FONT_PT`:

- **Marks follow the bus spacing** (:func:`~gridppo.viz.grid_layout.mark_sizes`):
  circles, node markers, branches and arrows shrink where buses are close.
- **Labels by their own marker or none.** ``labels="auto"`` gives the nodes their full
  label (name, action, injection), else names, else none: the first level whose labels
  cover at most a fifth of the panel and that 80 % (names: two thirds) of the nodes keep
  under the attachment rule (:mod:`~gridppo.viz.label_placement`); the others fall back
  to their name, or no label. Markers' shapes and colours tell the types apart (legend,
  which lists only what is drawn); ``nodes: auto`` names a node by type and bus
  (``consumer_41``). Nodes in ``highlight`` and at buses numbered there: full labels.
- **Numbers that need a look.** ``annotate`` writes every bus voltage and branch loading
  when the nodes are labelled in full; else the voltages outside the band or at
  highlighted buses, and the loadings above 90 % of the limit.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib import colors as mcolors
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from gridppo.viz.grid_layout import (
    bus_positions,
    loading_offsets_pt,
    mark_sizes,
    node_text,
    text_size_in,
    widest_text,
)
from gridppo.viz.label_placement import place_nodes
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

# Share of the panel that the node labels may cover at most (module docstring).
LABEL_AREA_SHARE = 0.2
# A label level holds when at least this share of the nodes keep it (the rest fall back).
KEPT_SHARE = {"full": 0.8, "names": 2 / 3, "none": 0.0}
# Loadings above this share of the limit are written on a net not labelled in full.
BUSY_BRANCH_SHARE = 0.9
LABEL_MODES = ("full", "names", "none")
# How the diagram writes numbers: in points from what they label, small, centred.
_NUMBER = dict(textcoords="offset points", ha="center", fontsize=SMALL_FONT_PT)
_WHITE = dict(boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.8)


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
    labels: str = "auto",
    highlight: Collection[str | int] = (),
) -> Figure:
    """The one-line diagram: buses, branches and every agent at its bus.

    - **Buses** are numbered circles coloured by voltage (``vm_pu``, one value per bus,
      e.g. ``pf.vm_pu[0]`` of a power flow). The colour bar spans at least the voltage
      band (config ``grid.min_vm_pu`` .. ``grid.max_vm_pu``); both limits are marked.
    - **Branches** are lines between buses, transformers dashed, coloured by
      ``loading_percent`` (one value per branch, lines then transformers as in
      ``grid.branch_names``): light grey when idle, dark at the limit (config
      ``grid.max_loading_percent``), :data:`OVERLOAD_COLOR` (red) above it; thicker when
      busier with ``widen_by_loading``. ``branch_p_mw`` (e.g. ``pf.p_from_mw[0]``) adds
      an arrow on each branch pointing the way active power flows.
    - **Nodes** (agents) are drawn around their bus, one marker per node with a shape
      and colour per type (:func:`~gridppo.viz.style.node_style`; a type of your own
      gets a default one), labelled where there is room (module docstring). The
      upstream grid is a hatched square at the slack bus.

    If ``vm_pu`` or ``loading_percent`` is None, the grid's power flow is run with every
    element at its case value (``grid.base_injections(1)``).

    Arguments:
        actions: optional dict node name -> that node's action at one step (values in
            [-1, 1]); written under the node's name as ``a=...``.
        flows_mw: optional dict node name -> its net injection into the grid (MW,
            positive feeds the grid) at the same step; written after the action.
        annotate: also write bus voltages and branch loadings (module docstring).
        layout: ``"textbook"`` (:data:`IEEE14_LAYOUT` for the 14-bus grid, ``"auto"``
            for any other), ``"auto"``, ``"geo"`` or a dict bus -> (x, y)
            (:mod:`~gridppo.viz.grid_layout`).
        colorbars: draw the voltage and loading colour bars.
        title: the panel's title.
        labels: ``"auto"`` (module docstring), ``"full"``, ``"names"`` or ``"none"``.
        highlight: node names and bus numbers to point out: those nodes and the nodes
            at those buses are labelled in full, those buses ringed and numbered.

    ``fig.gridppo`` (also ``ax.gridppo``) holds ``bus_collection`` (the bus circles),
    ``node_markers`` (type -> that type's markers), ``node_positions`` (name -> (x, y)),
    ``branch_lines`` (one Line2D per branch, in branch order), ``bus_norm`` and
    ``loading_norm`` (the colour scales), ``colorbar`` and ``loading_colorbar`` (None
    without colour bars), ``legend``, and ``labels`` (``"full"``, ``"names"``, ``"none"``).
    """
    if labels not in ("auto", *LABEL_MODES):
        raise ValueError(f"labels: expected 'auto', 'full', 'names' or 'none', got {labels!r}")
    limits = grid.config["grid"]
    if vm_pu is None or loading_percent is None:
        pf = grid.run_power_flow(grid.base_injections(1))
        vm_pu = pf.vm_pu[0] if vm_pu is None else vm_pu
        if loading_percent is None:
            loading_percent = grid.loading_percent(pf)[0]
    vm = one_row(vm_pu, grid.n_bus, "vm_pu")
    loading = one_row(loading_percent, grid.n_branch, "loading_percent")
    p_mw = None if branch_p_mw is None else one_row(branch_p_mw, grid.n_branch, "branch_p_mw")
    # Bus colours: a scale centred on the middle of the band, reaching past both limits.
    low, high = limits["min_vm_pu"], limits["max_vm_pu"]
    reach = (min(1.25 * low - 0.25 * high, vm.min()), max(1.25 * high - 0.25 * low, vm.max()))
    bus_norm = mcolors.TwoSlopeNorm(0.5 * (low + high), *map(float, reach))
    loading_norm = mcolors.Normalize(0.0, limits["max_loading_percent"])
    marked = {int(h) for h in highlight if not isinstance(h, str)}
    # What a bigger net writes with annotate: what is out of bounds or highlighted.
    notable = {
        "bus": (vm < low) | (vm > high) | np.isin(np.arange(grid.n_bus), list(marked)),
        "branch": loading >= BUSY_BRANCH_SHARE * loading_norm.vmax,
    }

    fig, ax = new_axes(ax, figsize=(9.5, 8.0))
    box = ax.get_position()
    axes_in = tuple(np.array([box.width, box.height]) * fig.get_size_inches())
    pos = bus_positions(grid, layout)
    nodes = {"actions": actions or {}, "flows_mw": flows_mw or {}, "highlight": highlight}
    plan = _arrange(grid, pos, axes_in, nodes, labels, annotate, notable)
    size = plan["size"]
    branch_lines = _draw_branches(
        ax, grid, pos, loading, loading_norm, widen_by_loading, plan["busy"], p_mw, size
    )
    bus_collection = _draw_buses(ax, pos, vm, bus_norm, plan["written"], marked, size)
    node_markers, placed = _draw_nodes(ax, grid, pos, plan)

    handles = [*node_markers.values()]
    # only the kinds of branch the net has (a red one stays: the colour needs its meaning)
    n_line = len(grid.net.line)
    kinds = (("#6a7b8c", "-", "line", n_line), ("#6a7b8c", "--", "transformer",
             grid.n_branch - n_line), (OVERLOAD_COLOR, "-", "overloaded branch", 1))  # fmt: skip
    for colour, style, label, _ in (kind for kind in kinds if kind[3]):
        handles.append(Line2D([], [], color=colour, linewidth=2.5, linestyle=style, label=label))
    ncol = 4 if axes_in[0] >= 6.0 else 2  # four columns where they fit
    font_pt = max(SMALL_FONT_PT, 9 * size["scale"] ** 0.5)
    legend = ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0),
                       ncol=ncol, fontsize=font_pt)  # fmt: skip
    legend.get_frame().set_linewidth(0)
    colorbar = loading_colorbar = None
    if colorbars:
        colorbar, loading_colorbar = _draw_colorbars(
            fig, ax, bus_collection, bus_norm, loading_norm, limits
        )

    covered = np.vstack([pos, *(p["box"].reshape(2, 2) for p in plan["places"].values())])
    pad = 0.04 * size["span"]
    ax.update_datalim([covered.min(axis=0) - pad, covered.max(axis=0) + pad])
    ax.margins(0.0)
    ax.autoscale_view()
    # The limits, not the box, give way to equal scales: the diagram fills its panel
    # instead of leaving a blank band above the title.
    ax.set_aspect("equal", adjustable="datalim")
    ax.axis("off")
    if title is not None:
        ax.set_title(title)
    node_markers.pop("__upstream__")
    placed.pop("__upstream__")
    fig.gridppo = ax.gridppo = dict(
        bus_collection=bus_collection, node_markers=node_markers, node_positions=placed,
        branch_lines=branch_lines, bus_norm=bus_norm, loading_norm=loading_norm,
        colorbar=colorbar, loading_colorbar=loading_colorbar, legend=legend,
        labels=plan["shown"],
    )  # fmt: skip
    return fig


def _arrange(
    grid: PowerGrid,
    pos: np.ndarray,
    axes_in: tuple[float, float],
    nodes: Mapping[str, Any],
    labels: str,
    annotate: bool,
    notable: Mapping[str, np.ndarray],
) -> dict[str, Any]:
    """What the labels show, the marks' sizes and where every node goes (module
    docstring): the first label mode (full, names, none) that fits, or ``labels``.
    ``nodes`` holds plot_grid's ``actions``, ``flows_mw`` and ``highlight``."""
    actions, flows, highlight = nodes["actions"], nodes["flows_mw"], nodes["highlight"]
    full = {n.name: node_text(n.name, actions.get(n.name), flows.get(n.name)) for n in grid.nodes}
    wide = {n.name: widest_text(n.name, actions.get(n.name), flows.get(n.name)) for n in grid.nodes}
    named = {n.name for n in grid.nodes if n.name in highlight or n.bus in highlight}
    groups: dict[int, list[str]] = {}
    for node in grid.nodes:
        groups.setdefault(node.bus, []).append(node.name)
    groups.setdefault(int(grid.net.ext_grid.bus.iloc[0]), []).append("__upstream__")
    branches = np.column_stack([grid.branch_from_bus, grid.branch_to_bus])
    for shown in LABEL_MODES if labels == "auto" else (labels,):
        font = mark_sizes(pos, axes_in)["font_pt"]  # the same at any margin
        texts, room = {}, {}  # what each label may say, best first, and the room it takes
        for k in full:
            mode = "full" if k in named else shown
            texts[k] = {"full": [full[k], k], "names": [k]}.get(mode, [])[: 1 if k in named else 2]
            room[k] = {"full": [wide[k], k], "names": [k]}.get(mode, [])[: len(texts[k])]
            if len(texts[k]) == 2 and texts[k][0] == k:  # nothing more than the name to say
                texts[k], room[k] = [k], [k]
        texts["__upstream__"] = room["__upstream__"] = ["upstream\ngrid"] if shown != "none" else []
        label_in = {k: [text_size_in(t, font) for t in r] for k, r in room.items()}
        area_in2 = sum(w * h for sizes in label_in.values() for w, h in sizes[:1])
        if labels == "auto" and area_in2 > LABEL_AREA_SHARE * axes_in[0] * axes_in[1]:
            continue
        every = annotate and shown == "full"
        busy = annotate & (every | notable["branch"])
        written = annotate & (every | notable["bus"])
        margin = 1.1 if shown == "none" else 1.3
        for _ in range(3):  # until the drawing's scale is the one the labels were sized for
            size = mark_sizes(pos, axes_in, margin=margin)
            upi, radius, bus_radius = size["units_per_inch"], size["radius"], size["bus_radius"]
            # the loadings written on branches: boxes the labels had better keep clear of
            mids = 0.5 * (pos[branches[busy, 0]] + pos[branches[busy, 1]])
            mids += loading_offsets_pt(pos, branches)[busy] / 72 * upi
            half = 0.5 * upi * np.array(text_size_in("100%", SMALL_FONT_PT))
            below = 1.2 * bus_radius if written.any() else 0.0
            sizes = {k: [(upi * w, upi * h) for w, h in s] for k, s in label_in.items()}
            avoid = np.hstack([mids - half, mids + half])
            places = place_nodes(pos, branches, groups, sizes, radius, bus_radius, below, avoid,
                                 named)  # fmt: skip
            covered = np.vstack([pos, *(p["box"].reshape(2, 2) for p in places.values())])
            need = (np.ptp(covered, axis=0) + 0.08 * size["span"]) / np.array(axes_in)
            if need.max() <= 1.02 * upi:
                break
            margin *= need.max() / upi
        # where only some numbers are written, they go on top of the crowd, on white
        size["numbers"] = {} if every else dict(zorder=7.5, bbox=_WHITE)
        # a level holds when nearly every node has its label there (the rest fall back)
        kept = sum(places[k]["text"] == 0 for k in full)
        if labels != "auto" or kept >= KEPT_SHARE[shown] * len(full):
            break
    texts = {k: t[places[k]["text"]] if places[k]["text"] >= 0 else "" for k, t in texts.items()}
    return dict(shown=shown, size=size, texts=texts, groups=groups, places=places,
                busy=busy, written=written)  # fmt: skip


def _draw_branches(
    ax: Axes,
    grid: PowerGrid,
    pos: np.ndarray,
    loading: np.ndarray,
    norm: mcolors.Normalize,
    widen: bool,
    written: np.ndarray,
    p_mw: np.ndarray | None,
    size: Mapping[str, Any],
) -> list[Line2D]:
    """One line per branch (transformers dashed), coloured by loading, the loadings
    ``written`` [n_branch] as numbers; returns the lines."""
    n_line, max_loading, thin = len(grid.net.line), norm.vmax, max(size["shrink"], 0.5)
    beside = loading_offsets_pt(pos, np.column_stack([grid.branch_from_bus, grid.branch_to_bus]))
    lines = []
    for i, (a, b) in enumerate(zip(grid.branch_from_bus, grid.branch_to_bus, strict=True)):
        width = thin * (1.2 + 4.0 * min(loading[i] / max_loading, 1.5) if widen else 2.0)
        style = dict(linestyle="--" if i >= n_line else "-", solid_capstyle="round", zorder=1)
        colour = LOADING_CMAP(norm(loading[i]))
        (line,) = ax.plot(*pos[[a, b]].T, color=colour, lw=width, gid=grid.branch_names[i], **style)
        lines.append(line)
        mid = pos[[a, b]].mean(axis=0)
        if p_mw is not None and abs(p_mw[i]) > 1e-6:
            # p_from_mw > 0: power enters at the from side and flows towards the to side
            start, end = (pos[a], pos[b]) if p_mw[i] > 0 else (pos[b], pos[a])
            length = float(np.linalg.norm(end - start)) + 1e-9
            half = min(0.03 * size["span"], 0.2 * length) / length  # the arrow fits its branch
            arrow = dict(arrowstyle="-|>", color=colour, lw=1.2 * thin, mutation_scale=10 * thin)
            ax.annotate("", mid + half * (end - start), mid - half * (end - start), zorder=2,
                        arrowprops=arrow)  # fmt: skip
        if written[i]:
            ink = OVERLOAD_COLOR if loading[i] > max_loading else "#333333"
            ax.annotate(f"{loading[i]:.0f}%", mid, xytext=beside[i], color=ink, va="center",
                        **{"zorder": 3, "bbox": _WHITE, **_NUMBER, **size["numbers"]})  # fmt: skip
    return lines


def _draw_buses(
    ax: Axes,
    pos: np.ndarray,
    vm: np.ndarray,
    norm: mcolors.Normalize,
    written: np.ndarray,
    marked: set[int],
    size: Mapping[str, Any],
) -> Any:
    """Bus circles coloured by voltage, numbered where numbers fit and at the ``marked``
    buses (ringed), the voltages ``written`` [n_bus] under them; returns the circles."""
    ringed = np.isin(np.arange(len(pos)), list(marked))
    style = dict(cmap=VOLTAGE_CMAP, edgecolors="black", zorder=4)
    buses = ax.scatter(*pos.T, c=vm, norm=norm, s=size["bus_pt"] ** 2, **style,
                       linewidths=np.where(ringed, 3.0, 1.2))  # fmt: skip
    number_pt, weight = size["number_pt"] or SMALL_FONT_PT, size["number_weight"]
    below, on_white = (0, -0.7 * size["bus_pt"]), {"zorder": 5, "bbox": _WHITE, **size["numbers"]}
    for b, (x, y) in enumerate(pos):
        if size["number_pt"] or ringed[b]:
            ax.text(x, y, str(b), ha="center", va="center", size=number_pt, weight=weight, zorder=5)
        if written[b]:
            ax.annotate(
                f"{vm[b]:.3f}", (x, y), below, va="top", color="#333", **_NUMBER, **on_white
            )
    return buses


def _draw_nodes(
    ax: Axes, grid: PowerGrid, pos: np.ndarray, plan: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, tuple[float, float]]]:
    """Markers and labels of every node (and the upstream grid) where ``plan`` puts them
    (:func:`_arrange`), labels facing away from the bus. Returns the markers by type
    (the upstream grid's under ``"__upstream__"``) and each marker's position."""
    size, places, radius = plan["size"], plan["places"], plan["size"]["radius"]
    placed: dict[str, tuple[float, float]] = {}
    for bus, members in plan["groups"].items():
        for name in members:
            x = pos[bus, 0] + radius * math.cos(places[name]["angle"])
            y = pos[bus, 1] + radius * math.sin(places[name]["angle"])
            placed[name] = (x, y)
            ax.plot([pos[bus, 0], x], [pos[bus, 1], y], color="#555555", linewidth=0.8, zorder=2)
    markers: dict[str, Any] = {}
    edge = dict(edgecolors="black", zorder=6)
    for type_name in dict.fromkeys(n.type_name for n in grid.nodes):
        xy = np.array([placed[n.name] for n in grid.nodes if n.type_name == type_name])
        style = node_style(type_name)
        markers[type_name] = ax.scatter(*xy.T, marker=style["marker"], color=style["color"],
            s=size["node_pt"] ** 2, linewidths=0.8, label=style["label"], **edge)  # fmt: skip
    markers["__upstream__"] = ax.scatter(  # 260 points^2 at full size
        *placed["__upstream__"], marker="s", s=260 / 150 * size["node_pt"] ** 2,
        facecolors="white", hatch="xxxx", linewidths=1.0, label="upstream grid (slack)", **edge,
    )  # fmt: skip
    box = dict(boxstyle="round,pad=0.1", fc="white", ec="none", alpha=0.75)
    for name, text in plan["texts"].items():
        if text:
            dx, dy = math.cos(places[name]["side"]), math.sin(places[name]["side"])
            x, y = places[name]["at"]
            ha = "left" if dx > 0.35 else "right" if dx < -0.35 else "center"
            va = "bottom" if dy > 0.35 else "top" if dy < -0.35 else "center"
            ax.text(x, y, text, ha=ha, va=va, fontsize=size["font_pt"], linespacing=1.15,
                    zorder=7, bbox=box)  # fmt: skip
    return markers, placed


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
