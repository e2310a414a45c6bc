"""Where the diagram puts buses and nodes."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gridppo.grid.network import PowerGrid
from gridppo.viz.grid_layout import (
    IEEE14_LAYOUT,
    bus_positions,
    label_rect,
    node_text,
    place_nodes,
)


def test_textbook_layout_and_a_layout_of_ones_own(grid: PowerGrid):
    pos = bus_positions(grid, "textbook")
    assert pos.shape == (grid.n_bus, 2)
    assert np.allclose(pos[0], IEEE14_LAYOUT[0])
    mine = {b: (float(b), 2.0 * b) for b in range(grid.n_bus)}
    assert np.allclose(bus_positions(grid, mine)[:, 1], 2.0 * np.arange(grid.n_bus))
    with pytest.raises(ValueError, match="layout"):
        bus_positions(grid, "circle")


def test_label_box_lies_beyond_the_marker_away_from_the_bus():
    marker = np.array([0.0, 0.0])
    right = label_rect(marker, 0.0, width=2.0, height=1.0, gap=0.5)
    assert right[0] == pytest.approx(0.5) and right[2] == pytest.approx(2.5)
    assert right[1] == pytest.approx(-0.5)  # centred vertically
    above = label_rect(marker, math.pi / 2, width=2.0, height=1.0, gap=0.5)
    assert above[1] == pytest.approx(0.5) and above[0] == pytest.approx(-1.0)


def test_nodes_of_one_bus_are_spread_and_their_labels_kept_apart():
    pos = np.array([[0.0, 0.0], [10.0, 0.0], [5.0, 8.0]])
    branches = np.array([[0, 1], [1, 2], [2, 0]])
    groups = {0: ["a", "b", "c"], 1: ["d"]}
    sizes = dict.fromkeys("abcd", (1.5, 0.6))
    angles, boxes = place_nodes(pos, branches, groups, sizes, radius=1.2, bus_radius=0.3)
    assert set(angles) == set("abcd")
    for x, y in (("a", "b"), ("a", "c"), ("b", "c")):
        gap = abs((angles[x] - angles[y] + math.pi) % (2 * math.pi) - math.pi)
        assert gap >= math.radians(60) - 1e-9
    assert len(boxes) == 4
    # no two labels of one bus cover the same place
    for i in range(3):
        for j in range(i):
            a, b = boxes[i], boxes[j]
            overlap = min(a[2], b[2]) - max(a[0], b[0]), min(a[3], b[3]) - max(a[1], b[1])
            assert min(overlap) <= 0


def test_node_text_names_the_action_and_the_flow():
    assert node_text("producer_1") == "producer_1"
    assert node_text("battery_3", np.array([[0.5]]), 12.34) == "battery_3\na=+0.50 | +12.3 MW"
    assert node_text("business_9", [1.0, -1.0]) == "business_9\na=(+1.00, -1.00)"
    assert node_text("battery_8", 0.0, -0.004) == "battery_8\na=+0.00 | +0.0 MW"
