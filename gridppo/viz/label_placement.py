"""Where each node of the one-line diagram goes, and where its label goes.

:func:`place_nodes` puts every node's marker around its bus and its label next to the
marker. A label has to read as its own node's, so a place is only taken when it keeps
the **attachment rule** (:func:`attachment`): the label box sits right next to its
marker (``gap`` from its centre), and every other marker, bus circle (with its voltage
under it) is clearly farther from the box than its own marker is (by at least
:data:`ATTACH_MARGIN` marker sizes), the label's centre :data:`CENTRE_RATIO` times
farther from any other marker than from its own (a name between two markers reads as
either's); no two labels overlap. Among the places that keep it, the pick crosses the
fewest branches and written numbers (a label across a branch reads as the branch's).
Where no place keeps it, a label falls back to the next text it was offered (the name
only), then to none: a node without a label beats a label that points at the wrong one.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from typing import Any

import numpy as np

__all__ = [
    "ATTACH_MARGIN",
    "CENTRE_RATIO",
    "attachment",
    "label_rect",
    "place_nodes",
    "rect_distance",
]

# Another marker or bus must be this many node-marker sizes (the marker's full width)
# farther from a label than the label's own marker (the attachment rule).
ATTACH_MARGIN = 0.75
# A label's centre must be this many times farther from any other marker than from its
# own (the attachment rule).
CENTRE_RATIO = 1.2
# A node marker's half width, in bus radii (the diagram draws it about that size).
MARKER_HALF = 0.6
# The upstream grid's square, as large as a node marker times this.
UPSTREAM_SCALE = 1.3
# What a label costs where the text offered first does not fit (per fallback step),
# what one branch (or written number) under a label costs, and a label dropped, in
# radius squared: a full label may cross a branch rather than lose its numbers, but no
# more than a name alone would lose its.
FALLBACK_COST, CROSSING_COST, DROP_COST = 40.0, 25.0, 100.0


def label_rect(marker: np.ndarray, angle: Any, width: float, height: float, gap: float) -> Any:
    """The box (x0, y0, x1, y1) a label covers when drawn ``gap`` from ``marker`` in the
    direction ``angle``, ``width`` by ``height`` (data units), aligned as the diagram
    aligns it (left of it, right of it or centred, by the direction). Takes one marker
    [2] and angle, or several [C, 2] and [C] (then returns [C, 4])."""
    dx, dy = np.cos(angle), np.sin(angle)
    x, y = marker[..., 0] + gap * dx, marker[..., 1] + gap * dy
    left = np.where(dx > 0.35, x, np.where(dx < -0.35, x - width, x - width / 2))
    bottom = np.where(dy > 0.35, y, np.where(dy < -0.35, y - height, y - height / 2))
    return np.stack([left, bottom, left + width, bottom + height], axis=-1)


def rect_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The distance between boxes ``a`` [..., 4] and ``b`` [..., 4] (x0, y0, x1, y1),
    broadcast; 0 where they touch or overlap."""
    dx = np.clip(np.maximum(a[..., 0] - b[..., 2], b[..., 0] - a[..., 2]), 0.0, None)
    dy = np.clip(np.maximum(a[..., 1] - b[..., 3], b[..., 1] - a[..., 3]), 0.0, None)
    return np.hypot(dx, dy)


def attachment(
    labels: np.ndarray, own: np.ndarray, buses: np.ndarray, markers: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """How clearly each label [C, 4] belongs to its marker ``own`` [C, 4] among the
    ``buses`` [B, 4] and the other ``markers`` [M, 4] (all boxes x0, y0, x1, y1):

    - the distance from the label to the nearest bus or other marker less the distance
      to its own marker [C] (the attachment rule asks for :data:`ATTACH_MARGIN` marker
      widths), and
    - how much farther the label's centre is from the nearest other marker than from its
      own [C], a ratio (the rule asks for :data:`CENTRE_RATIO`): a name between two
      markers reads as either's, however close it starts to its own.
    """
    mine = rect_distance(labels, own)
    others = np.vstack([buses, markers])
    nearest = rect_distance(labels[:, None], others[None]).min(axis=1, initial=np.inf)
    centre = 0.5 * (labels[:, :2] + labels[:, 2:])
    to_own = np.linalg.norm(centre - 0.5 * (own[:, :2] + own[:, 2:]), axis=1)
    to_markers = np.linalg.norm(centre[:, None] - 0.5 * (markers[:, :2] + markers[:, 2:]), axis=2)
    return nearest - mine, to_markers.min(axis=1, initial=np.inf) / np.maximum(to_own, 1e-12)


def _angle_gap(a: Any, b: Any) -> Any:
    """The angle between two directions, in [0, pi]."""
    return np.abs((np.asarray(a) - b + math.pi) % (2 * math.pi) - math.pi)


def _overlap(rects: np.ndarray, others: np.ndarray) -> np.ndarray:
    """The area each of ``rects`` [C, 4] shares with all ``others`` [R, 4] together; [C]."""
    w = np.minimum(rects[:, None, 2], others[:, 2]) - np.maximum(rects[:, None, 0], others[:, 0])
    h = np.minimum(rects[:, None, 3], others[:, 3]) - np.maximum(rects[:, None, 1], others[:, 1])
    return (np.clip(w, 0, None) * np.clip(h, 0, None)).sum(axis=1)


def place_nodes(
    pos: np.ndarray,
    branches: np.ndarray,
    groups: dict[int, list[str]],
    label_sizes: dict[str, list[tuple[float, float]]],
    radius: float,
    bus_radius: float,
    below: float = 0.0,
    avoid: np.ndarray | None = None,
    must: Collection[str] = (),
) -> dict[str, dict[str, Any]]:
    """Every node's marker direction from its bus and its label's place.

    A marker goes ``radius`` from its bus in one of 36 directions; its label ``0.45
    radius`` from the marker's centre, outward along the marker's direction or towards
    one of 8 compass points. ``label_sizes`` offers each node its texts' sizes (width,
    height in data units), best first (say the full label, then the name); the first
    that keeps the attachment rule (module docstring) somewhere is taken, else none.
    The nodes in ``must`` keep their first text, at the best place there is.

    Crowded buses go first, each node against those placed before it; then each node
    again against all others, until none moves (at most twice more). ``below`` keeps
    room under each bus (for its voltage), ``avoid`` [K, 4] are boxes labels had better
    not cover (the branch loadings, when written).

    Returns, by node name: ``angle`` (the marker's direction, radians), ``side`` (the
    label's direction from the marker), ``text`` (which of the offered texts, -1 for
    none), ``box`` (the label's box, or the marker's when it has none), ``marker`` (the
    marker's box) and ``at`` (where the label is anchored, aligned by ``side``).
    """
    centre = 0.5 * (pos.min(axis=0) + pos.max(axis=0))
    # Branches as dense points: a label crosses a branch where it covers one of them.
    t = np.linspace(0.0, 1.0, 60)[None, :, None]
    along = (pos[branches[:, 0], None] * (1 - t) + pos[branches[:, 1], None] * t).reshape(-1, 2)
    which = np.repeat(np.arange(len(branches)), 60)
    # the buses, with room for their voltages below
    buses = np.hstack([pos - bus_radius - [0.0, below], pos + bus_radius])
    avoid = np.zeros((0, 4)) if avoid is None else np.asarray(avoid, dtype=float)
    angle = np.deg2rad(np.arange(0.0, 360.0, 10.0))  # the marker's candidates
    way = np.stack([np.cos(angle), np.sin(angle)], axis=1)
    compass = np.deg2rad(np.arange(0.0, 360.0, 45.0))
    # each marker direction with its label outward (first) or at a compass point
    side = np.column_stack([angle, np.broadcast_to(compass, (len(angle), 8))])  # [36, 9]
    half = MARKER_HALF * bus_radius
    halves = {n: half * (UPSTREAM_SCALE if n == "__upstream__" else 1.0) for g in groups.values()
              for n in g}  # fmt: skip
    gap = max(0.45 * radius, 1.5 * half)
    margin = ATTACH_MARGIN * 2 * half
    order = [(b, name) for b in sorted(groups, key=lambda b: -len(groups[b])) for name in groups[b]]
    placed: dict[str, dict[str, Any]] = {}
    for _ in range(3):
        moved = False
        for bus, name in order:
            away, sizes = pos[bus] - centre, label_sizes.get(name, [])
            others = [k for k in placed if k != name]
            dots = np.array([placed[k]["marker"] for k in others]).reshape(-1, 4)
            labels = np.array([placed[k]["box"] for k in others if placed[k]["text"] >= 0])
            labels = labels.reshape(-1, 4)
            solid = np.vstack([buses, dots])
            marker = pos[bus] + radius * way  # [36, 2]
            dot = np.hstack([marker - halves[name], marker + halves[name]])
            # the marker: clear of buses, other nodes, labels and branches, facing out
            # only the branch points a label of this bus could reach count
            reach = 1.6 * radius + bus_radius + max(map(sum, sizes), default=0.0)
            local = np.abs(along - pos[bus]).max(axis=1) < reach
            points, crossing = along[local], np.eye(len(branches))[which[local]]
            near_line = np.linalg.norm(points[None] - marker[:, None], axis=2)
            near_line = near_line.min(axis=1, initial=np.inf)
            cost = (
                5.0 * _overlap(dot, solid)
                + 50.0 * radius**2 * (rect_distance(dot[:, None], dots[None]) < half).any(1)
                # a marker right by another node's label would take it over
                + 50.0 * radius**2 * (rect_distance(dot[:, None], labels[None]) < margin).any(1)
                # a marker on a branch reads as on that branch
                + 20.0 * radius**2 * np.clip(1.0 - near_line / (0.6 * radius), 0.0, None)
                + 0.01 * radius**2 * _angle_gap(angle, math.atan2(away[1], away[0]))
            )
            # nodes of one bus stay at least 60 degrees apart
            for other in (placed[k]["angle"] for k in groups[bus] if k in others):
                cost += 100.0 * radius**2 * (_angle_gap(angle, other) < math.radians(60))
            # every label place of every text: [texts, 36, 9], with "none" as the last text
            options = np.full((len(sizes) + 1, len(angle), side.shape[1]), np.inf)
            boxes = np.zeros((*options.shape, 4))
            options[-1, :, 0] = cost + DROP_COST * radius**2
            for i, (width, height) in enumerate(sizes):
                box = label_rect(marker[:, None], side, width, height, gap)  # [36, 9, 4]
                flat = box.reshape(-1, 4)
                own = np.repeat(dot, side.shape[1], axis=0)
                clear, ratio = attachment(flat, own, buses, dots)
                taken = _overlap(flat, labels) > 0.02 * width * height
                x, y = points[:, 0], points[:, 1]
                inside = ((x > flat[:, :1]) & (x < flat[:, 2:3]) & (y > flat[:, 1:2])
                          & (y < flat[:, 3:]))  # fmt: skip
                crossed = ((inside.astype(float) @ crossing) > 0).sum(axis=1)
                extra = (
                    CROSSING_COST * radius**2 * crossed
                    + CROSSING_COST * radius**2 * (_overlap(flat, avoid) > 0)
                    + FALLBACK_COST * radius**2 * i
                    + 0.5 * radius**2 * (_angle_gap(side, angle[:, None]) > 0.1).ravel()
                    + 0.2 * radius**2 * _angle_gap(side, angle[:, None]).ravel()
                )
                bad = (clear < margin) | (ratio < CENTRE_RATIO) | taken
                extra += np.where(bad, 1e3 * radius**2 if name in must else np.inf, 0.0)
                options[i] = cost[:, None] + extra.reshape(len(angle), -1)
                boxes[i] = box
                if name in must:
                    options[i + 1 :] = np.inf
                    break
            k, a, s = np.unravel_index(int(np.argmin(options)), options.shape)
            text = -1 if k == len(sizes) else int(k)
            at = marker[a] + gap * np.array([math.cos(side[a, s]), math.sin(side[a, s])])
            choice = dict(angle=float(angle[a]), side=float(side[a, s]), text=text, at=at,
                          marker=dot[a], box=boxes[k, a, s] if text >= 0 else dot[a])  # fmt: skip
            old = placed.get(name)
            moved |= old is None or any(old[f] != choice[f] for f in ("angle", "side", "text"))
            placed[name] = choice
        if not moved:
            break
    # a marker moved after a label was placed may have come too close to it: no label
    dots = np.array([placed[k]["marker"] for k in placed])
    for i, (name, choice) in enumerate(placed.items()):
        box, markers = choice["box"][None], np.delete(dots, i, axis=0)
        if choice["text"] >= 0 and name not in must:
            clear, ratio = attachment(box, choice["marker"][None], buses, markers)
            if clear[0] < margin or ratio[0] < CENTRE_RATIO:
                choice.update(text=-1, box=choice["marker"])
    return placed
