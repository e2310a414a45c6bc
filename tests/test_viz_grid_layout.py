"""Where the diagram puts buses and nodes."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
from viz_helpers import StandInGrid, stand_in_net

from gridppo.config.networks import NETWORKS
from gridppo.grid.network import PowerGrid
from gridppo.viz.grid_layout import (
    IEEE14_LAYOUT,
    MIN_BRANCH_CLEARANCE,
    MIN_BUS_DISTANCE,
    _auto_layout,
    bus_positions,
    crowding,
    loading_offsets_pt,
    mark_sizes,
    node_text,
    spread_buses,
    text_size_in,
    widest_text,
)
from gridppo.viz.style import SMALL_FONT_PT


def test_textbook_layout_and_a_layout_of_ones_own(grid: PowerGrid):
    pos = bus_positions(grid, "textbook")
    assert pos.shape == (grid.n_bus, 2)
    assert np.allclose(pos[0], IEEE14_LAYOUT[0])
    mine = {b: (float(b), 2.0 * b) for b in range(grid.n_bus)}
    assert np.allclose(bus_positions(grid, mine)[:, 1], 2.0 * np.arange(grid.n_bus))
    with pytest.raises(ValueError, match="layout"):
        bus_positions(grid, "circle")


def test_node_text_names_the_action_and_the_flow():
    assert node_text("producer_1") == "producer_1"
    assert node_text("battery_3", np.array([[0.5]]), 12.34) == "battery_3\na=+0.50 | +12.3 MW"
    assert node_text("business_9", [1.0, -1.0]) == "business_9\na=(+1.00, -1.00)"
    assert node_text("battery_8", 0.0, -0.004) == "battery_8\na=+0.00 | +0.0 MW"


NETS = tuple(NETWORKS)  # case14, case30, case57, case118, cigre_mv


@pytest.fixture(scope="module")
def stand_ins(default_config) -> dict[str, StandInGrid]:
    """Every shipped net as the diagram sees it, with nodes as ``nodes: auto`` puts them."""
    return {name: StandInGrid(stand_in_net(name), default_config) for name in NETS}


def branches_of(grid) -> np.ndarray:
    return np.column_stack([grid.branch_from_bus, grid.branch_to_bus])


@pytest.mark.parametrize("name", NETS)
def test_every_net_gets_readable_positions_and_the_same_each_time(stand_ins, name):
    grid = stand_ins[name]
    pos = bus_positions(grid, "textbook")
    assert pos.shape == (grid.n_bus, 2) and np.isfinite(pos).all()
    # no two buses closer than half the spacing of buses spread evenly, none on a branch
    # it is not on
    near, clear = crowding(pos, branches_of(grid))
    assert near >= MIN_BUS_DISTANCE and clear >= MIN_BRANCH_CLEARANCE
    extent = np.ptp(pos, axis=0).max()
    apart = np.linalg.norm(pos[:, None] - pos[None], axis=2) + np.eye(len(pos)) * extent
    assert apart.min() >= 0.04 * extent
    _auto_layout.cache_clear()  # computed again from scratch, not read back
    assert np.array_equal(bus_positions(grid, "textbook"), pos)
    assert np.array_equal(bus_positions(grid, "auto"), pos) == (name != "case14")


def test_generated_coordinates_are_redrawn_and_drawn_ones_kept(stand_ins):
    # case118's coordinates (pandapower's own, generated) crowd buses together
    case118 = stand_ins["case118"]
    geo = bus_positions(case118, "geo")
    assert crowding(geo, branches_of(case118))[0] < MIN_BUS_DISTANCE
    auto = bus_positions(case118, "auto")
    assert not np.allclose(auto, geo)
    # the upstream grid is on the left, and the drawing is no flatter than 4:5
    assert auto[case118.slack_bus, 0] <= auto[:, 0].mean()
    height, width = np.ptp(auto, axis=0)[::-1]
    assert height >= 0.79 * width
    # CIGRE's feeder comes with a drawing made to be read: kept as it is
    cigre = stand_ins["cigre_mv"]
    assert np.allclose(bus_positions(cigre, "auto"), bus_positions(cigre, "geo"))


def test_a_net_without_coordinates_or_in_two_parts_is_laid_out_too(stand_ins):
    config = stand_ins["case30"].config
    net = copy.deepcopy(stand_ins["case30"].net)
    net.bus["geo"] = None
    grid = StandInGrid(net, config)
    with pytest.raises(ValueError, match="no bus geodata"):
        bus_positions(grid, "geo")
    pos = bus_positions(grid, "auto")
    assert np.isfinite(pos).all()
    near, clear = crowding(pos, branches_of(grid))
    assert near >= MIN_BUS_DISTANCE and clear >= MIN_BRANCH_CLEARANCE
    # two islands: every branch of bus 29 cut
    net.line = net.line[(net.line.from_bus != 29) & (net.line.to_bus != 29)]
    island = StandInGrid(net, config)
    pos = bus_positions(island, "auto")
    assert np.isfinite(pos).all()
    assert crowding(pos, branches_of(island))[0] >= MIN_BUS_DISTANCE


def test_buses_on_one_spot_are_parted():
    pos = np.array([[0.0, 0.0], [0.0, 0.0], [4.0, 0.0], [2.0, 3.0]])
    branches = np.array([[0, 2], [2, 3]])
    spread = spread_buses(pos, branches)
    assert crowding(spread, branches)[0] >= MIN_BUS_DISTANCE
    assert np.array_equal(spread, spread_buses(pos, branches))


def test_marks_shrink_where_buses_are_close_and_keep_their_numbers(grid, stand_ins):
    full = mark_sizes(bus_positions(grid, "textbook"), (8.0, 7.5))
    assert full["shrink"] == 1.0 and full["bus_pt"] == pytest.approx(math.sqrt(520))
    assert full["number_pt"] == 9.0 and full["number_weight"] == "bold"
    busy = mark_sizes(bus_positions(stand_ins["case118"], "auto"), (7.4, 6.6), margin=1.1)
    assert busy["shrink"] < 0.9 and busy["node_pt"] < full["node_pt"]
    assert busy["number_pt"] >= SMALL_FONT_PT
    assert busy["bus_pt"] >= 3 * 0.64 * SMALL_FONT_PT  # a three-digit number fits
    # a panel too small for the numbers leaves the buses unnumbered
    tiny = mark_sizes(bus_positions(stand_ins["case118"], "auto"), (3.0, 2.5))
    assert tiny["number_pt"] == 0.0


def test_the_room_kept_for_a_label_fits_it_at_any_step():
    for action, flow in (([1.0, -1.0], 140.0), ([-0.5, 0.25], -12.3), ([0.0, 0.0], -0.004)):
        widest = widest_text("producer_1", action, flow).split("\n")
        text = node_text("producer_1", action, flow).split("\n")
        assert all(len(w) >= len(t) for w, t in zip(widest, text, strict=True))
    assert widest_text("battery_3") == "battery_3"


def test_text_size_is_measured_line_by_line():
    one = text_size_in("consumer_12", 8.0)
    two = text_size_in("consumer_12\na=-1.00 | -11.2 MW", 8.0)
    assert two[0] > one[0] and two[1] == pytest.approx(2 * one[1])
    # measured, not counted: a proportional font's narrow letters take less room
    assert text_size_in("iiii", 8.0)[0] < 0.6 * text_size_in("MMMM", 8.0)[0]
    assert text_size_in("", 8.0) == (0.0, 0.0)


def test_loadings_are_written_above_flat_branches_and_beside_steep_ones():
    pos = np.array([[0.0, 0.0], [4.0, 1.0], [1.0, 5.0]])
    offsets = loading_offsets_pt(pos, np.array([[0, 1], [0, 2]]))
    assert offsets[0, 0] == 0.0 and offsets[0, 1] > 0  # above
    assert offsets[1, 0] > 0 and offsets[1, 1] == 0.0  # to the right
