"""Where the diagram puts each node's marker and label, and the rule that keeps a label
readable as its own node's."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gridppo.viz.label_placement import (
    ATTACH_MARGIN,
    CENTRE_RATIO,
    attachment,
    label_rect,
    place_nodes,
    rect_distance,
)


def test_label_box_lies_beyond_the_marker_in_its_direction():
    marker = np.array([0.0, 0.0])
    right = label_rect(marker, 0.0, width=2.0, height=1.0, gap=0.5)
    assert right[0] == pytest.approx(0.5) and right[2] == pytest.approx(2.5)
    assert right[1] == pytest.approx(-0.5)  # centred vertically
    above = label_rect(marker, math.pi / 2, width=2.0, height=1.0, gap=0.5)
    assert above[1] == pytest.approx(0.5) and above[0] == pytest.approx(-1.0)


def test_rect_distance_is_zero_for_touching_boxes_and_the_gap_otherwise():
    a = np.array([0.0, 0.0, 1.0, 1.0])
    assert rect_distance(a, np.array([1.0, 0.5, 2.0, 2.0])) == 0.0
    assert rect_distance(a, np.array([4.0, 5.0, 6.0, 6.0])) == pytest.approx(5.0)  # 3, 4, 5


def test_attachment_tells_a_label_between_two_markers_from_one_by_its_own():
    own = np.array([[0.0, 0.0, 1.0, 1.0]])
    buses = np.zeros((0, 4))
    label = np.array([[1.2, 0.0, 5.0, 1.0]])  # right of its marker
    far = np.array([[20.0, 0.0, 21.0, 1.0]])
    clear, ratio = attachment(label, own, buses, far)
    assert clear[0] == pytest.approx(15.0 - 0.2) and ratio[0] > CENTRE_RATIO
    # another marker just past the label's far end: it reads as either node's
    near = np.array([[5.5, 0.0, 6.5, 1.0]])
    clear, ratio = attachment(label, own, buses, near)
    assert clear[0] == pytest.approx(0.3) and ratio[0] < CENTRE_RATIO


def test_nodes_of_one_bus_are_spread_and_their_labels_kept_apart_and_attached():
    pos = np.array([[0.0, 0.0], [10.0, 0.0], [5.0, 8.0]])
    branches = np.array([[0, 1], [1, 2], [2, 0]])
    groups = {0: ["a", "b", "c"], 1: ["d"]}
    sizes = dict.fromkeys("abcd", [(1.5, 0.6)])
    places = place_nodes(pos, branches, groups, sizes, radius=1.2, bus_radius=0.3)
    assert set(places) == set("abcd")
    for x, y in (("a", "b"), ("a", "c"), ("b", "c")):
        gap = abs((places[x]["angle"] - places[y]["angle"] + math.pi) % (2 * math.pi) - math.pi)
        assert gap >= math.radians(60) - 1e-9
    assert all(p["text"] == 0 for p in places.values())  # room for every label
    boxes = [places[k]["box"] for k in "abcd"]
    for i in range(4):
        for j in range(i):
            a, b = boxes[i], boxes[j]
            overlap = min(a[2], b[2]) - max(a[0], b[0]), min(a[3], b[3]) - max(a[1], b[1])
            assert min(overlap) <= 0
    buses = np.hstack([pos - 0.3, pos + 0.3])
    markers = np.array([places[k]["marker"] for k in "abcd"])
    for i in range(4):
        clear, ratio = attachment(
            boxes[i][None], markers[i][None], buses, np.delete(markers, i, axis=0)
        )
        assert clear[0] >= ATTACH_MARGIN * 2 * 0.6 * 0.3 and ratio[0] >= CENTRE_RATIO


def test_a_label_with_no_room_falls_back_to_its_next_text_then_to_none():
    # one node at a bus ringed by eight others: a big label reaches one of them anywhere
    ring = 3.0 * np.array([[math.cos(t), math.sin(t)] for t in np.arange(8) * math.pi / 4])
    pos = np.vstack([[0.0, 0.0], ring])
    branches = np.array([[0, b] for b in range(1, 9)])
    groups = {0: ["a"]}
    places = place_nodes(pos, branches, groups, {"a": [(8.0, 8.0), (0.8, 0.3)]}, 1.0, 0.25)
    assert places["a"]["text"] == 1  # the short text, next to its marker
    # nothing fits: no label at all rather than one that reads as another's
    places = place_nodes(pos, branches, groups, {"a": [(8.0, 8.0)]}, 1.0, 0.25)
    assert places["a"]["text"] == -1
    assert np.array_equal(places["a"]["box"], places["a"]["marker"])
    # unless the node must be labelled
    places = place_nodes(pos, branches, groups, {"a": [(8.0, 8.0)]}, 1.0, 0.25, must={"a"})
    assert places["a"]["text"] == 0
