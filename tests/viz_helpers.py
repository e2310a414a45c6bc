"""Helpers of the figure and widget tests.

- checks of a drawn figure that a reader would notice: its size in pixels, its smallest
  text, tick labels (or any texts) that repeat or run into each other;
- :func:`write_run`: a small run directory as the trainer writes it;
- :func:`widget_tree`, :func:`width_of`, :func:`png_width_px`: what a widget would take
  of a notebook's output area;
- :class:`StandInGrid`, :func:`stand_in_net`: any pandapower net as the grid diagram
  sees a grid, with its agents where ``nodes: auto`` puts them;
- :func:`label_attachment`: how plainly each node label of a drawn diagram sits by its
  own marker.
"""

from __future__ import annotations

import csv
import itertools
from pathlib import Path

import numpy as np
import yaml
from matplotlib.axis import Axis
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text

from gridppo.agents.ppo import DIAGNOSTICS
from gridppo.config.auto_nodes import auto_nodes
from gridppo.config.networks import load_network


def draw(fig: Figure) -> object:
    """Lay out and draw ``fig`` off screen (also a figure made without pyplot);
    returns the renderer."""
    if not isinstance(fig.canvas, FigureCanvasAgg):
        FigureCanvasAgg(fig)
    fig.canvas.draw()
    return fig.canvas.get_renderer()


def width_px(fig: Figure, dpi: float) -> float:
    """The figure's width in pixels at ``dpi``."""
    return float(fig.get_size_inches()[0] * dpi)


def visible_texts(fig: Figure) -> list[Text]:
    """Every text a reader sees: visible and non-empty, tick labels only where the tick is
    in view (matplotlib keeps labels for ticks beyond the limits, and does not draw them)."""
    draw(fig)
    axes = [ax for ax in fig.axes if ax.get_visible()]
    every_tick = {
        id(label)
        for ax in fig.axes
        for axis in _axes_of(ax)
        for tick in axis.get_major_ticks() + axis.get_minor_ticks()
        for label in (tick.label1, tick.label2)
    }
    texts = [
        t
        for t in fig.findobj(Text)
        if id(t) not in every_tick
        and t.get_visible()
        and t.get_text().strip()
        and (t.axes is None or t.axes.get_visible())
    ]
    return texts + [t for ax in axes for axis in _axes_of(ax) for t in tick_labels(axis)]


def smallest_font_px(fig: Figure, dpi: float) -> float:
    """The smallest text size on the figure, in pixels at ``dpi`` (a point is 1/72 in)."""
    return min(t.get_fontsize() for t in visible_texts(fig)) * dpi / 72.0


def _axes_of(ax: object) -> list[Axis]:
    return [ax.xaxis, ax.yaxis]


def tick_labels(axis: Axis) -> list[Text]:
    """The major tick labels drawn on ``axis``: visible, non-empty, tick in view."""
    low, high = sorted(axis.get_view_interval())
    slack = 1e-9 * max(abs(low), abs(high), 1.0)
    out = []
    for tick in axis.get_major_ticks():
        loc = tick.get_loc()
        if loc is None or not (low - slack <= loc <= high + slack):
            continue
        for label in (tick.label1, tick.label2):
            if label.get_visible() and label.get_text().strip():
                out.append(label)
    return out


def repeated_tick_labels(axis: Axis) -> list[str]:
    """Tick labels of ``axis`` that appear more than once (e.g. ``0%, 0%, 1%``)."""
    texts = [t.get_text() for t in tick_labels(axis)]
    return sorted({t for t in texts if texts.count(t) > 1})


def _outline(text: Text, renderer: object) -> np.ndarray:
    """The four corners (display pixels) of a drawn text: its box, turned with the text
    when it is slanted (the box matplotlib reports is upright, so it would make slanted
    neighbours seem to touch)."""
    box = text.get_window_extent(renderer)
    angle = text.get_rotation()
    if angle % 90 == 0 or text.get_rotation_mode() != "anchor":
        return np.array([[box.x0, box.y0], [box.x1, box.y0], [box.x1, box.y1], [box.x0, box.y1]])
    text.set_rotation(0)
    flat = text.get_window_extent(renderer)
    text.set_rotation(angle)
    anchor = text.get_transform().transform(text.get_unitless_position())
    corners = np.array(
        [[flat.x0, flat.y0], [flat.x1, flat.y0], [flat.x1, flat.y1], [flat.x0, flat.y1]]
    )
    turn = np.deg2rad(angle)
    rotation = np.array([[np.cos(turn), -np.sin(turn)], [np.sin(turn), np.cos(turn)]])
    return (corners - anchor) @ rotation.T + anchor


def _overlap_px(a: np.ndarray, b: np.ndarray) -> float:
    """How deep two convex outlines overlap, in pixels (0 or less: apart), by the
    separating axis theorem: the smallest overlap of their shadows on every edge normal."""
    depth = np.inf
    for shape in (a, b):
        for i in range(len(shape)):
            edge = shape[(i + 1) % len(shape)] - shape[i]
            normal = np.array([-edge[1], edge[0]]) / (np.hypot(*edge) or 1.0)
            pa, pb = a @ normal, b @ normal
            depth = min(depth, min(pa.max(), pb.max()) - max(pa.min(), pb.min()))
    return float(depth)


def colliding_tick_labels(fig: Figure) -> list[tuple[str, str]]:
    """Pairs of tick labels anywhere on the figure that overlap by more than a pixel."""
    renderer = draw(fig)
    labels = [
        t for ax in fig.axes if ax.get_visible() for a in _axes_of(ax) for t in tick_labels(a)
    ]
    outlines = [(t.get_text(), _outline(t, renderer)) for t in labels]
    return [
        (text_a, text_b)
        for (text_a, a), (text_b, b) in itertools.combinations(outlines, 2)
        if _overlap_px(a, b) > 1.0
    ]


def tick_values(axis: Axis) -> np.ndarray:
    """The major tick positions in view."""
    low, high = sorted(axis.get_view_interval())
    locs = np.asarray(axis.get_majorticklocs(), dtype=float)
    slack = 1e-9 * max(abs(low), abs(high), 1.0)
    return locs[(locs >= low - slack) & (locs <= high + slack)]


# The agents of write_run's run: two of one type, one of another.
AGENTS = {"producer_1": "producer", "battery_3": "battery", "battery_8": "battery"}


def write_run(log_dir: Path, updates: int = 6) -> None:
    """A small run directory: ``metrics.csv`` in the trainer's format and ``config.yaml``.

    Agent ``i`` of :data:`AGENTS` returns ``100 * i + update_index``; the validation
    columns are filled on every third update only.
    """
    rng = np.random.default_rng(0)
    columns = ["update", "global_step", "time_s", "charts/team_return"]
    per_agent = ["charts/episodic_return"] + [f"losses/{m}" for m in DIAGNOSTICS]
    columns += [f"{m}/{a}" for m in per_agent for a in AGENTS]
    columns += [
        "grid/max_loading_percent",
        "grid/voltage_violations",
        "validation/system_cost_eur",
        "validation/team_reward",
    ]
    with (log_dir / "metrics.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, columns)
        writer.writeheader()
        for u in range(updates):
            row = {c: f"{rng.normal():.6f}" for c in columns}
            row.update(update=u + 1, global_step=(u + 1) * 480, time_s=u * 1.5)
            for i, a in enumerate(AGENTS):
                row[f"charts/episodic_return/{a}"] = 100.0 * i + u
            if u % 3:  # evaluation only every third update
                row["validation/system_cost_eur"] = row["validation/team_reward"] = ""
            writer.writerow(row)
    nodes = [
        {"name": "producer_1", "type": "producer", "bus": 1, "max_p_mw": 140.0},
        {"name": "battery_3", "type": "battery", "bus": 3, "params": {"max_p_mw": 20.0}},
        {"name": "battery_8", "type": "battery", "bus": 8, "params": {"max_p_mw": 10.0}},
    ]
    (log_dir / "config.yaml").write_text(yaml.safe_dump({"seed": 0, "nodes": nodes}))


def read_rows(log_dir: Path) -> list[dict[str, float]]:
    """The rows of a run's ``metrics.csv`` as a live trainer hands them to its callbacks."""
    with (log_dir / "metrics.csv").open() as fh:
        return [
            {k: float(v) if v else float("nan") for k, v in r.items()} for r in csv.DictReader(fh)
        ]


def widget_tree(widget: object) -> list[object]:
    """A widget and everything inside it, depth first."""
    out = [widget]
    for child in getattr(widget, "children", ()):
        out += widget_tree(child)
    return out


def width_of(widget: object) -> float | None:
    """A widget's layout width in pixels, None when it is not set in pixels."""
    width = getattr(widget.layout, "width", None)
    if isinstance(width, str) and width.endswith("px"):
        return float(width[:-2])
    return None


def png_width_px(data: bytes) -> int:
    """The width of a PNG image, from its header."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(data[16:20], "big")


class StandInNode:
    """A node as the diagram sees it: a name, a bus and a type."""

    def __init__(self, name: str, bus: int, type_name: str):
        self.name, self.bus, self.type_name = name, bus, type_name


class StandInGrid:
    """What the diagram reads of a :class:`~gridppo.grid.network.PowerGrid`, for any
    pandapower net (``net.bus`` numbered 0, 1, 2, ...): its buses and branches, and its
    agents where ``nodes: auto`` puts them, without the cost of building the grid."""

    def __init__(self, net: object, config: dict):
        self.net, self.config = net, config
        self.n_bus = len(net.bus)
        self.branch_from_bus = np.r_[net.line.from_bus.values, net.trafo.hv_bus.values]
        self.branch_to_bus = np.r_[net.line.to_bus.values, net.trafo.lv_bus.values]
        self.branch_from_bus = self.branch_from_bus.astype(int)
        self.branch_to_bus = self.branch_to_bus.astype(int)
        self.n_branch = len(self.branch_from_bus)
        kinds = ["line"] * len(net.line) + ["trafo"] * len(net.trafo)
        self.branch_names = [
            f"{k} {a}-{b}"
            for k, a, b in zip(kinds, self.branch_from_bus, self.branch_to_bus, strict=True)
        ]
        self.slack_bus = int(net.ext_grid.bus.iloc[0])
        self.nodes = [StandInNode(n["name"], n["bus"], n["type"]) for n in auto_nodes(net)]


def stand_in_net(name: str) -> object:
    """A shipped net (``grid.network``) as gridppo prepares it."""
    return load_network(name)


def overlapping_texts(fig: Figure, texts: list[Text]) -> list[tuple[str, str]]:
    """Pairs of ``texts`` (drawn on ``fig``) whose boxes overlap by more than a pixel."""
    renderer = draw(fig)
    boxes = [(t.get_text(), _outline(t, renderer)) for t in texts]
    return [
        (text_a, text_b)
        for (text_a, a), (text_b, b) in itertools.combinations(boxes, 2)
        if _overlap_px(a, b) > 1.0
    ]


def label_attachment(fig: Figure, grid: object) -> list[tuple[str, float, float, str, float]]:
    """For each node label drawn on a diagram (``plot_grid``), measured in display
    pixels on its drawn text: its node, the distance to its own marker's centre, the
    distance to the nearest other marker or bus circle (its edge), which that is, and
    the usual distance between neighbouring buses."""
    renderer = draw(fig)
    ax = fig.axes[0]
    to_px = ax.transData.transform
    where = fig.gridppo["node_positions"]
    names = list(where)
    markers = to_px(np.array([where[n] for n in names]))
    buses = to_px(np.asarray(fig.gridppo["bus_collection"].get_offsets()))
    # a bus circle's radius in pixels: its size is its diameter in points squared
    bus_px = 0.5 * np.sqrt(fig.gridppo["bus_collection"].get_sizes()[0]) * fig.dpi / 72
    apart = np.linalg.norm(buses[:, None] - buses[None], axis=2)
    np.fill_diagonal(apart, np.inf)
    spacing = float(np.median(apart.min(axis=1)))
    out = []
    for text in ax.texts:
        name = text.get_text().split("\n")[0]
        if name not in where:
            continue
        box = text.get_window_extent(renderer)

        def gap(points: np.ndarray, box=box) -> np.ndarray:
            dx = np.clip(np.maximum(box.x0 - points[:, 0], points[:, 0] - box.x1), 0, None)
            dy = np.clip(np.maximum(box.y0 - points[:, 1], points[:, 1] - box.y1), 0, None)
            return np.hypot(dx, dy)

        i = names.index(name)
        others = np.r_[np.delete(gap(markers), i), gap(buses) - bus_px]
        labels = [n for n in names if n != name] + [f"bus {b}" for b in range(len(buses))]
        k = int(np.argmin(others))
        out.append((name, float(gap(markers[i : i + 1])[0]), float(others[k]), labels[k], spacing))
    return out
