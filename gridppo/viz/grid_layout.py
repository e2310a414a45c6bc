"""Where things go in the one-line diagram: bus positions and node placement.

Bus positions (:func:`bus_positions`) follow one rule:

- ``"textbook"`` (the diagram's default): the 14-bus grid as in the textbook
  (:data:`IEEE14_LAYOUT`); any other net as ``"auto"``.
- ``"auto"``: the net's own coordinates (``net.bus.geo``) where they were drawn to be
  read: no two buses closer than ``0.5 d``, no bus closer than ``0.25 d`` to a branch it
  is not on, ``d = extent / sqrt(n_bus)`` being the spacing of buses spread evenly (CIGRE's
  medium-voltage feeder passes). Otherwise (the MATPOWER cases, whose coordinates
  pandapower generates, crowd buses onto each other and onto foreign branches) a graph
  layout: Kamada-Kawai (branches as springs of equal length, started from the net's
  coordinates if any), turned so that its longer side runs across and the upstream grid
  sits on the left, stretched to at least 4:5 (height to width, as the diagram's panel),
  then spread out by :func:`spread_buses`. The same net always gets the same positions.
- ``"geo"``: the net's own coordinates as they are; or a dict bus -> (x, y) of your own.

:func:`mark_sizes` sizes the diagram's marks to the bus spacing; :func:`node_text` is a
node's label and :func:`widest_text` the room kept for it (placed by
:mod:`~gridppo.viz.label_placement`).
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import networkx as nx
import numpy as np
from matplotlib.font_manager import FontProperties
from matplotlib.textpath import TextToPath

from gridppo.viz.style import SMALL_FONT_PT

if TYPE_CHECKING:
    from gridppo.grid.network import PowerGrid

__all__ = ["IEEE14_LAYOUT", "bus_positions", "spread_buses", "crowding"]

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
# The 14-bus grid's branches (lines and transformers): the textbook drawing is for it only.
_IEEE14_BRANCHES = {
    frozenset(map(int, pair.split("-")))
    for pair in "0-1 0-4 1-2 1-3 1-4 2-3 3-4 5-10 5-11 5-12 8-9 8-13 9-10 11-12 12-13 3-6 "
    "3-8 4-5 6-7 6-8".split()
}
# The automatic layout's spacing, in units of extent / sqrt(n_bus) (see the docstring):
# what a readable layout keeps, and what spread_buses aims at.
MIN_BUS_DISTANCE, MIN_BRANCH_CLEARANCE = 0.5, 0.25
SPREAD_BUS_DISTANCE, SPREAD_BRANCH_CLEARANCE = 0.8, 0.3
# Measures texts without drawing them (the sizes labels are placed by).
_TEXT_PATH = TextToPath()
# Height over width the automatic layout stretches to at least, as the diagram's panel.
ASPECT = 0.8


def bus_positions(grid: PowerGrid, layout: str | Mapping[int, tuple[float, float]]) -> np.ndarray:
    """Bus coordinates [n_bus, 2] from a layout name (``"textbook"``, ``"auto"``,
    ``"geo"``, see the module docstring) or a dict bus -> (x, y)."""
    n_bus = grid.n_bus
    if isinstance(layout, Mapping):
        return np.array([layout[b] for b in range(n_bus)], dtype=float)
    if layout not in ("textbook", "auto", "geo"):
        raise ValueError(f"layout: expected 'textbook', 'auto', 'geo' or a dict, got {layout!r}")
    branches = np.column_stack([grid.branch_from_bus, grid.branch_to_bus]).astype(int)
    if layout == "textbook" and {frozenset(b) for b in branches.tolist()} == _IEEE14_BRANCHES:
        return np.array([IEEE14_LAYOUT[b] for b in range(n_bus)], dtype=float)
    geo = _geo(grid.net)
    if layout == "geo":
        if geo is None:
            raise ValueError("layout='geo': the net has no bus geodata; pass a dict bus -> (x, y)")
        return geo
    slack = int(getattr(grid, "slack_bus", grid.net.ext_grid.bus.iloc[0]))
    key_geo = None if geo is None else tuple(map(tuple, geo.tolist()))
    return np.array(_auto_layout(n_bus, tuple(map(tuple, branches.tolist())), key_geo, slack))


def _geo(net: Any) -> np.ndarray | None:
    """The net's bus coordinates [n_bus, 2] (GeoJSON points), None if any is missing."""
    geo = net.bus["geo"] if "geo" in net.bus else None
    if geo is None or len(geo) == 0 or geo.isna().any():
        return None
    points = [json.loads(g) if isinstance(g, str) else g for g in geo]
    return np.array([p["coordinates"][:2] for p in points], dtype=float)


def crowding(pos: np.ndarray, branches: np.ndarray) -> tuple[float, float]:
    """How close buses come (a readable layout keeps both high): the smallest distance
    between two buses, and between a bus and a branch it is not on, each in units of
    ``extent / sqrt(n_bus)``."""
    unit = float(np.ptp(pos, axis=0).max()) / math.sqrt(len(pos)) or 1.0
    apart = np.linalg.norm(pos[:, None] - pos[None], axis=2)
    np.fill_diagonal(apart, np.inf)
    clear = _branch_offsets(pos, branches)[1]
    return float(apart.min()) / unit, float(clear.min(initial=np.inf)) / unit


def _branch_offsets(
    pos: np.ndarray, branches: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each bus's offset [n_bus, n_branch, 2] from the nearest point of each branch, its
    length [n_bus, n_branch] (infinite for the branches the bus is on) and where along
    the branch that point lies (0 at the from end, 1 at the to end)."""
    a, b = pos[branches[:, 0]], pos[branches[:, 1]]
    ab = b - a
    t = ((pos[:, None] - a[None]) * ab[None]).sum(axis=2) / ((ab**2).sum(axis=1) + 1e-12)
    t = np.clip(t, 0.0, 1.0)
    offset = pos[:, None] - (a[None] + t[..., None] * ab[None])
    length = np.linalg.norm(offset, axis=2)
    ends = np.arange(len(branches))
    length[branches[:, 0], ends] = length[branches[:, 1], ends] = np.inf
    return offset, length, t


def spread_buses(pos: np.ndarray, branches: np.ndarray, iterations: int = 1000) -> np.ndarray:
    """Push buses apart: aim at :data:`SPREAD_BUS_DISTANCE` between any two and
    :data:`SPREAD_BRANCH_CLEARANCE` from a bus to a branch it is not on (in units of
    extent / sqrt(n_bus) of ``pos``), above the limits a readable layout keeps, so that
    crowded parts open up and the drawing comes out even.

    Each round moves two buses too close most of the way apart, and a bus too close to a
    branch away from it, the branch's ends the other way (else a bus can be trapped
    between two branches), until every conflict is within 5 % of its aim. Deterministic.
    """
    pos = np.array(pos, dtype=float)
    n = len(pos)
    unit = float(np.ptp(pos, axis=0).max()) / math.sqrt(n) or 1.0
    near, clear = SPREAD_BUS_DISTANCE * unit, SPREAD_BRANCH_CLEARANCE * unit
    ties = np.stack([np.cos(np.arange(n)), np.sin(np.arange(n))], axis=1)  # fixed directions
    for _ in range(iterations):
        diff = pos[:, None] - pos[None]
        apart = np.linalg.norm(diff, axis=2)
        np.fill_diagonal(apart, np.inf)
        direction = np.where(apart[..., None] > 1e-9, diff / np.maximum(apart, 1e-9)[..., None], 0)
        direction += (apart[..., None] <= 1e-9) * (ties[:, None] - ties[None])
        push = np.clip(near - apart, 0.0, None)
        offset, length, t = _branch_offsets(pos, branches)
        shove = np.clip(clear - length, 0.0, None)
        if push.max(initial=0.0) <= 0.05 * near and shove.max(initial=0.0) <= 0.05 * clear:
            break
        move = 0.5 * (push[..., None] * direction).sum(axis=1)
        away = 0.5 * shove[..., None] * offset / np.maximum(length, 1e-9)[..., None]
        move += away.sum(axis=1)
        # the branch gives way too, each end by its share of the nearest point
        np.add.at(move, branches[:, 0], -(away * (1 - t)[..., None]).sum(axis=0))
        np.add.at(move, branches[:, 1], -(away * t[..., None]).sum(axis=0))
        pos += 0.8 * move
    return pos


@functools.lru_cache(maxsize=16)
def _auto_layout(
    n_bus: int,
    branches: tuple[tuple[int, int], ...],
    geo: tuple[tuple[float, float], ...] | None,
    slack: int,
) -> tuple[tuple[float, float], ...]:
    """The ``"auto"`` layout (module docstring), cached: a redraw reuses it."""
    pairs = np.array(branches, dtype=int).reshape(-1, 2)
    if geo is not None:
        pos = np.array(geo)
        near, clear = crowding(pos, pairs)
        if near >= MIN_BUS_DISTANCE and clear >= MIN_BRANCH_CLEARANCE:
            return geo
    graph = nx.Graph(branches)
    graph.add_nodes_from(range(n_bus))
    hops = dict(nx.shortest_path_length(graph))
    far = 1 + max(max(d.values()) for d in hops.values())  # between separate parts of a net
    dist = {a: {b: hops[a].get(b, far) for b in range(n_bus)} for a in range(n_bus)}
    start = None if geo is None else dict(enumerate(geo))
    found = nx.kamada_kawai_layout(graph, dist=dist, pos=start)
    pos = np.array([found[b] for b in range(n_bus)])
    # longer side across: the principal axes, the first one horizontal
    pos -= pos.mean(axis=0)
    _, vectors = np.linalg.eigh(pos.T @ pos)
    pos = pos @ vectors[:, ::-1]
    # the upstream grid on the left (as in the textbook drawing) and in the upper half
    pos *= np.where(pos[slack] * [1.0, -1.0] > 0, -1.0, 1.0)
    # no flatter than the diagram's panel (about 5:4): a flat drawing leaves it half empty
    pos[:, 1] *= max(1.0, ASPECT * np.ptp(pos[:, 0]) / (np.ptp(pos[:, 1]) or 1.0))
    pos = spread_buses(pos, pairs)
    pos = 10.0 * (pos - pos.min(axis=0)) / float(np.ptp(pos, axis=0).max())
    return tuple(map(tuple, pos.tolist()))


def mark_sizes(
    pos: np.ndarray, axes_in: tuple[float, float], margin: float = 1.3
) -> dict[str, float]:
    """Sizes of the diagram's marks for buses at ``pos`` in a panel ``axes_in`` (inches),
    the buses' extent taking ``1 / margin`` of it (the rest is room for labels).

    At full size (a panel of 8 x 7.5 in or more, buses well apart, as the 14-bus grid)
    a bus circle is 22.8 pt wide, numbered in 9 pt bold, nodes 12 pt, 0.065 x the
    extent from their bus. A smaller panel shrinks all of it (``scale``, at most by
    half), close buses further (``shrink``: a circle half the usual distance between
    neighbours, grown to hold its number in 8 pt, normal weight if bold does not fit, up
    to 0.85 x the closest distance; beyond, buses go unnumbered: ``number_pt`` 0).
    """
    width_in, height_in = axes_in
    scale = float(np.clip(min(width_in / 8.0, height_in / 7.5), 0.5, 1.0))
    extent = np.ptp(pos, axis=0) * margin + 1e-9
    units_per_inch = float(max(extent[0] / width_in, extent[1] / height_in))
    apart = np.linalg.norm(pos[:, None] - pos[None], axis=2)
    np.fill_diagonal(apart, np.inf)
    nearest = apart.min(axis=1) if len(pos) > 1 else np.array([np.inf])
    usual_pt, closest_pt = (72 / units_per_inch * f(nearest) for f in (np.median, np.min))
    full_pt = math.sqrt(520) * scale
    shrink = min(1.0, 0.5 * usual_pt / full_pt)
    bus_pt, number_pt, weight = full_pt * shrink, max(SMALL_FONT_PT, 9 * scale), "bold"
    if shrink < 1.0:  # 8 pt numbers, bold where they fit, else normal, else none
        digits, room_pt = len(str(len(pos) - 1)), max(bus_pt, 0.85 * closest_pt)
        # widths of DejaVu Sans digits, and a margin
        need = {w: digits * em * SMALL_FONT_PT + 3.0 for w, em in (("bold", 0.7), ("normal", 0.64))}
        weight = next((w for w, need_pt in need.items() if need_pt <= room_pt), "normal")
        number_pt = SMALL_FONT_PT if need[weight] <= room_pt else 0.0
        bus_pt = max(bus_pt, need[weight]) if number_pt else bus_pt
    node_pt = math.sqrt(150) * scale * shrink
    span = float(np.ptp(pos, axis=0).max()) or 1.0
    reach = (0.5 * bus_pt + 0.8 * node_pt) / 72 * units_per_inch  # a node just off its bus
    return dict(
        scale=scale, shrink=shrink, units_per_inch=units_per_inch, span=span,
        axes_in2=width_in * height_in, bus_pt=bus_pt, node_pt=node_pt,
        bus_radius=0.5 * bus_pt / 72 * units_per_inch, number_pt=number_pt,
        number_weight=weight, font_pt=max(SMALL_FONT_PT, 8.5 * scale**0.5),
        radius=max(min(0.065 * span, 0.45 * float(np.median(nearest))), reach),
    )  # fmt: skip


def loading_offsets_pt(pos: np.ndarray, branches: np.ndarray) -> np.ndarray:
    """Where the diagram writes each branch's loading, in points from its middle
    [n_branch, 2]: above a branch flatter than 45 degrees, right of a steeper one (off its
    arrow)."""
    d = np.abs(pos[branches[:, 1]] - pos[branches[:, 0]])
    return np.where((d[:, 0] >= d[:, 1])[:, None], [0.0, 7.0], [10.0, 0.0])


def text_size_in(text: str, font_pt: float) -> tuple[float, float]:
    """Width and height (inches) of a text in the diagram's font at ``font_pt`` as drawn
    on its white box: the widest line measured, 0.2 em of padding, 1.25 em a line."""
    lines = text.split("\n") if text else []
    font = FontProperties(size=font_pt)
    measure = _TEXT_PATH.get_text_width_height_descent
    width_pt = max((measure(line, font, ismath=False)[0] for line in lines), default=-0.2 * font_pt)
    return (width_pt + 0.2 * font_pt) / 72, 1.25 * font_pt / 72 * len(lines)


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


def widest_text(name: str, action: Any = None, flow_mw: Any = None) -> str:
    """The longest label :func:`node_text` writes for this node at any step (actions in
    [-1, 1], flows under 1,000 MW): the room the diagram keeps, so that labels stay put
    from one step to the next."""
    wide = None if action is None else -np.ones_like(_as_row(action))
    return node_text(name, wide, None if flow_mw is None else -888.8)
