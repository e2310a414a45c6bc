"""Where things go in the one-line diagram: bus positions and node placement.

:data:`IEEE14_LAYOUT` is the textbook drawing of the 14-bus grid; :func:`bus_positions`
also reads pandapower's own coordinates. :func:`place_nodes` puts every node (agent)
around its bus where its marker and label overlap the least with the drawing;
:func:`node_text` is the label it makes room for.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from gridppo.grid.network import PowerGrid

__all__ = ["IEEE14_LAYOUT"]

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


def bus_positions(grid: PowerGrid, layout: str | Mapping[int, tuple[float, float]]) -> np.ndarray:
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


def label_rect(
    marker: np.ndarray, angle: float, width: float, height: float, gap: float
) -> np.ndarray:
    """The box (x0, y0, x1, y1) a node's label covers when drawn by the diagram.

    The label starts ``gap`` beyond the marker, away from the bus, and is ``width`` by
    ``height`` (data units); its alignment follows the direction, as the diagram does.
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


def place_nodes(
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
                box = label_rect(marker, angle, width, height, 0.45 * radius)
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


def node_text(name: str, action: Any = None, flow_mw: Any = None) -> str:
    """A node's label: its name and, on a second line, its action and injection."""
    extra = []
    if action is not None:
        values = _as_row(action)
        text = ", ".join(f"{v + 0.0:+.2f}" for v in values)  # + 0.0 turns -0.00 into +0.00
        extra.append(f"a={text}" if len(values) == 1 else f"a=({text})")
    if flow_mw is not None:
        # rounded first, so that a tiny negative flow reads +0.0 rather than -0.0
        extra.append(f"{round(float(_as_row(flow_mw)[0]), 1) + 0.0:+.1f} MW")
    return "\n".join([name, " | ".join(extra)] if extra else [name])
