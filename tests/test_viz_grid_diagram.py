"""The one-line diagram: drawn headless and checked for what it shows."""

from __future__ import annotations

from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.colors as mcolors  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from viz_helpers import (  # noqa: E402
    StandInGrid,
    label_attachment,
    overlapping_texts,
    smallest_font_px,
    stand_in_net,
    visible_texts,
    width_px,
)

from gridppo import load_config  # noqa: E402
from gridppo.baselines.heuristic import HeuristicPolicy  # noqa: E402
from gridppo.config.networks import NETWORKS  # noqa: E402
from gridppo.env import BatchedGridEnv  # noqa: E402
from gridppo.evaluation.simulate import EvalResult, run_days  # noqa: E402
from gridppo.grid.network import PowerGrid  # noqa: E402
from gridppo.viz.grid_diagram import plot_grid  # noqa: E402
from gridppo.viz.grid_layout import MIN_BUS_DISTANCE, crowding  # noqa: E402
from gridppo.viz.style import (  # noqa: E402
    MAX_FIGURE_WIDTH_IN,
    NODE_STYLE,
    OVERLOAD_COLOR,
    SMALL_FONT_PT,
    node_style,
)


@pytest.fixture(scope="module")
def heuristic(grid: PowerGrid) -> EvalResult:
    """One validation day of the heuristic policy, recorded."""
    env = BatchedGridEnv(grid=grid, batch_size=1, mode="validation", autoreset=False)
    day = env.grid.profiles.validation_days[:1]
    return run_days(HeuristicPolicy(env), env, days=day, record=True)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def same_colour(a, b) -> bool:
    return np.allclose(mcolors.to_rgba(a), mcolors.to_rgba(b))


class EvCharger:
    """A node type of a student's own, as the diagram sees a node."""

    type_name = "ev_charger"

    def __init__(self, name: str, bus: int):
        self.name, self.bus = name, bus


class GridWithCharger:
    """The default grid with one more node, of a type the package does not know."""

    def __init__(self, grid: PowerGrid):
        self._grid = grid
        self.nodes = [*grid.nodes, EvCharger("ev_charger_6", 6)]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._grid, name)


def test_grid_draws_one_marker_per_node_and_every_type_in_the_legend(grid):
    fig = plot_grid(grid)  # no data: runs the base-case power flow
    markers = fig.gridppo["node_markers"]
    assert sum(len(m.get_offsets()) for m in markers.values()) == len(grid.nodes)
    types = {node.type_name for node in grid.nodes}
    assert set(markers) == types
    legend = [t.get_text() for t in fig.gridppo["legend"].get_texts()]
    for type_name in types:
        assert NODE_STYLE[type_name]["label"] in legend
    assert len(fig.gridppo["bus_collection"].get_offsets()) == grid.n_bus
    assert len(fig.gridppo["branch_lines"]) == grid.n_branch


def test_a_students_node_type_is_drawn_with_the_default_style(grid):
    fake = GridWithCharger(grid)
    fig = plot_grid(fake, vm_pu=np.ones(grid.n_bus), loading_percent=np.zeros(grid.n_branch))
    markers = fig.gridppo["node_markers"]
    assert "ev_charger" in markers
    assert len(markers["ev_charger"].get_offsets()) == 1
    style = node_style("ev_charger")
    assert same_colour(markers["ev_charger"].get_facecolor()[0], style["color"])
    assert "ev_charger" in [t.get_text() for t in fig.gridppo["legend"].get_texts()]
    assert "ev_charger_6" in fig.gridppo["node_positions"]
    assert any(t.get_text() == "ev_charger_6" for t in fig.axes[0].texts)


def test_nodes_sharing_a_bus_are_drawn_apart(grid):
    fig = plot_grid(grid)
    where = fig.gridppo["node_positions"]
    for bus in {n.bus for n in grid.nodes}:
        here = [np.array(where[n.name]) for n in grid.nodes if n.bus == bus]
        for i in range(len(here)):
            for j in range(i):
                assert np.linalg.norm(here[i] - here[j]) > 0.3


def test_voltage_colour_scale_spans_the_limits(grid):
    limits = grid.config["grid"]
    fig = plot_grid(grid, vm_pu=np.full(grid.n_bus, 1.0), loading_percent=np.zeros(grid.n_branch))
    bar = fig.gridppo["colorbar"]
    assert bar.norm.vmin <= limits["min_vm_pu"] and bar.norm.vmax >= limits["max_vm_pu"]
    # a voltage outside the usual scale stretches it
    vm = np.full(grid.n_bus, 1.0)
    vm[4] = 0.85
    fig = plot_grid(grid, vm_pu=vm[None, :], loading_percent=np.zeros(grid.n_branch))
    bus = fig.gridppo["bus_collection"]
    assert fig.gridppo["colorbar"].norm.vmin <= 0.85
    assert np.allclose(bus.get_array(), vm)


def test_overloaded_branch_gets_the_overload_colour(grid):
    loading = np.full(grid.n_branch, 60.0)
    loading[3] = 150.0
    fig = plot_grid(grid, vm_pu=np.ones(grid.n_bus), loading_percent=loading)
    lines = fig.gridppo["branch_lines"]
    assert same_colour(lines[3].get_color(), OVERLOAD_COLOR)
    assert not any(
        same_colour(line.get_color(), OVERLOAD_COLOR) for i, line in enumerate(lines) if i != 3
    )
    # the overloaded branch is also drawn thickest, transformers dashed
    assert lines[3].get_linewidth() == max(line.get_linewidth() for line in lines)
    n_line = len(grid.net.line)
    assert all(line.get_linestyle() == "--" for line in lines[n_line:])
    assert all(line.get_linestyle() == "-" for line in lines[:n_line])


def test_grid_writes_actions_and_injections_of_one_step(grid, heuristic):
    record, t = heuristic.record, 18
    fig = plot_grid(
        grid,
        vm_pu=record.vm_pu[t, 0],
        loading_percent=record.loading_percent[t, 0],
        actions={k: v[t, 0] for k, v in record.actions.items()},
        flows_mw={k: v[t, 0] for k, v in record.injection_mw.items()},
        branch_p_mw=record.p_from_mw[t, 0],
        annotate=True,
    )
    texts = [t.get_text() for t in fig.axes[0].texts]
    battery = next(n for n in grid.nodes if n.type_name == "battery")
    label = next(text for text in texts if text.startswith(battery.name + "\n"))
    assert f"a={record.actions[battery.name][t, 0, 0] + 0.0:+.2f}" in label
    flow_mw = round(float(record.injection_mw[battery.name][t, 0]), 1) + 0.0
    assert f"{flow_mw:+.1f} MW" in label
    # a flow of a few kW reads +0.0 MW, never -0.0 MW
    fig = plot_grid(
        grid,
        vm_pu=np.ones(grid.n_bus),
        loading_percent=np.zeros(grid.n_branch),
        flows_mw={battery.name: -0.004},
    )
    assert any(t.get_text() == f"{battery.name}\n+0.0 MW" for t in fig.axes[0].texts)
    assert any(text.endswith("%") for text in texts)  # branch loadings written


def test_diagram_fits_a_notebook_and_its_text_is_readable(grid):
    """A default figure is at most 950 px wide at 100 dpi; in a figure as a widget makes
    it (9.4 in, off pyplot) no text is below 8 pt, 11 px at the widgets' 100 dpi."""
    fig = plot_grid(grid, annotate=True)
    assert width_px(fig, 100) <= MAX_FIGURE_WIDTH_IN * 100
    assert smallest_font_px(fig, 100) >= SMALL_FONT_PT * 100 / 72 - 1e-9
    small = Figure(figsize=(9.4, 7.0), layout="constrained")
    plot_grid(grid, annotate=True, ax=small.add_subplot())
    assert smallest_font_px(small, 100) >= 11.0 - 0.2


@pytest.fixture(scope="module")
def case118(default_config) -> StandInGrid:
    """case118 with an agent at every generator and load: 160-odd nodes."""
    return StandInGrid(stand_in_net("case118"), default_config)


def one_step(grid: Any, seed: int = 0) -> dict[str, Any]:
    """plot_grid's arguments for a made-up step: voltages, loadings, actions, flows."""
    rng = np.random.default_rng(seed)
    return {
        "vm_pu": np.full(grid.n_bus, 1.0),
        "loading_percent": np.full(grid.n_branch, 50.0),
        "actions": {n.name: rng.uniform(-1, 1, 1) for n in grid.nodes},
        "flows_mw": {n.name: rng.normal(0, 20) for n in grid.nodes},
        "branch_p_mw": rng.normal(0, 20, grid.n_branch),
    }


def node_labels(fig: Figure, grid: Any) -> list[Any]:
    """The texts that label nodes (their first line is a node's name)."""
    names = {n.name for n in grid.nodes}
    return [t for t in fig.axes[0].texts if t.get_text().split("\n")[0] in names]


def test_a_big_net_is_drawn_with_markers_numbered_buses_and_readable_text(case118):
    step = one_step(case118)
    step["vm_pu"][5], step["loading_percent"][7] = 0.9, 150.0
    fig = plot_grid(case118, annotate=True, **step)
    assert len(case118.nodes) >= 150
    assert fig.gridppo["labels"] == "none" and not node_labels(fig, case118)
    markers = fig.gridppo["node_markers"]
    assert sum(len(m.get_offsets()) for m in markers.values()) == len(case118.nodes)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert {str(b) for b in range(case118.n_bus)} <= set(texts)  # every bus numbered
    # annotate writes only what needs a look: one voltage below the band, one overload
    assert [t for t in texts if t.endswith("%")] == ["150%"]
    assert [t for t in texts if t.startswith("0.") or t.startswith("1.")] == ["0.900"]
    assert len(visible_texts(fig)) <= case118.n_bus + 40
    assert smallest_font_px(fig, 100) >= SMALL_FONT_PT * 100 / 72 - 1e-9
    assert width_px(fig, 100) <= MAX_FIGURE_WIDTH_IN * 100
    # colours follow the values of every bus and branch
    assert np.allclose(fig.gridppo["bus_collection"].get_array(), step["vm_pu"])
    lines = fig.gridppo["branch_lines"]
    assert [i for i, line in enumerate(lines) if same_colour(line.get_color(), OVERLOAD_COLOR)] == [
        7
    ]


def test_highlighted_nodes_and_buses_of_a_big_net_are_labelled(case118):
    node = case118.nodes[0]
    step = one_step(case118)
    fig = plot_grid(case118, highlight=[node.name, 68], **step)
    labelled = {t.get_text().split("\n")[0]: t.get_text() for t in node_labels(fig, case118)}
    at_68 = {n.name for n in case118.nodes if n.bus == 68}
    assert set(labelled) == {node.name} | at_68
    assert f"a={step['actions'][node.name][0]:+.2f}" in labelled[node.name]
    widths = fig.gridppo["bus_collection"].get_linewidths()
    assert widths[68] > widths[0]  # the highlighted bus is ringed


def fig_positions(fig: Figure) -> dict[str, tuple[float, float]]:
    return fig.gridppo["node_positions"]


def test_labels_take_the_room_there_is(grid, heuristic):
    record, t = heuristic.record, 18
    step = {
        "vm_pu": record.vm_pu[t, 0],
        "loading_percent": record.loading_percent[t, 0],
        "actions": {k: v[t, 0] for k, v in record.actions.items()},
        "flows_mw": {k: v[t, 0] for k, v in record.injection_mw.items()},
        "branch_p_mw": record.p_from_mw[t, 0],
    }
    # the 14-bus grid (with every number written): labelled in full, but for a node or
    # two with no room by its marker; CIGRE's feeder, its longer labels written in full
    # or by name; no label on another
    cigre = PowerGrid(load_config(None, ["grid.network=cigre_mv", "nodes=auto"]))
    for net, values, annotate in ((grid, step, True), (cigre, one_step(cigre), False)):
        fig = plot_grid(net, annotate=annotate, **values)
        labels = node_labels(fig, net)
        in_full = [t for t in labels if "MW" in t.get_text()]
        assert len(net.nodes) >= len(labels) >= 0.8 * len(net.nodes)
        if net is grid:
            assert fig.gridppo["labels"] == "full" and len(in_full) >= 0.8 * len(net.nodes)
        assert overlapping_texts(fig, labels) == []
    # at another step, with other numbers in the labels, every node stays where it was
    later = {
        "actions": {k: v[t - 12, 0] for k, v in record.actions.items()},
        "flows_mw": {k: v[t - 12, 0] for k, v in record.injection_mw.items()},
    }
    moved = plot_grid(grid, annotate=True, **{**step, **later}).gridppo["node_positions"]
    assert moved == fig_positions(plot_grid(grid, annotate=True, **step))
    # the labels asked for, whatever the room
    fig = plot_grid(grid, labels="none", **step)
    assert fig.gridppo["labels"] == "none" and node_labels(fig, grid) == []
    fig = plot_grid(grid, labels="names", **step)
    names = sorted(n.name for n in grid.nodes)
    assert sorted(t.get_text() for t in node_labels(fig, grid)) == names
    with pytest.raises(ValueError, match="labels"):
        plot_grid(grid, labels="some")


def test_the_same_net_is_drawn_the_same_way(case118):
    step = one_step(case118)
    first = plot_grid(case118, **step).gridppo["node_positions"]
    again = plot_grid(case118, **{**step, "actions": None}).gridppo["node_positions"]
    assert first.keys() == again.keys()
    assert all(np.allclose(first[k], again[k]) for k in first)


@pytest.mark.parametrize("network", list(NETWORKS))
def test_every_shipped_network_with_automatic_nodes_is_drawn(network):
    grid = PowerGrid(load_config(None, [f"grid.network={network}", "nodes=auto"]))
    fig = plot_grid(grid)  # the base-case power flow
    markers = fig.gridppo["node_markers"]
    assert sum(len(m.get_offsets()) for m in markers.values()) == len(grid.nodes)
    assert len(fig.gridppo["branch_lines"]) == grid.n_branch
    pos = np.array(fig.gridppo["bus_collection"].get_offsets())
    branches = np.column_stack([grid.branch_from_bus, grid.branch_to_bus])
    assert crowding(pos, branches)[0] >= MIN_BUS_DISTANCE
    # every node labelled where there is room (case14, CIGRE's feeder), most of them on
    # case30 (a node with no room by its marker goes without), none on case118
    labelled = len(node_labels(fig, grid))
    if fig.gridppo["labels"] == "none":
        assert labelled == 0
    else:
        assert 2 / 3 * len(grid.nodes) <= labelled <= len(grid.nodes)
    if network in ("case14", "cigre_mv"):
        assert fig.gridppo["labels"] == "full" and labelled == len(grid.nodes)
    if len(grid.nodes) >= 100:
        assert fig.gridppo["labels"] == "none"
    assert len(visible_texts(fig)) <= grid.n_bus + labelled + 40
    assert smallest_font_px(fig, 100) >= SMALL_FONT_PT * 100 / 72 - 1e-9
    assert width_px(fig, 100) <= MAX_FIGURE_WIDTH_IN * 100


@pytest.mark.parametrize("network", ["case14", "case30", "cigre_mv"])
def test_every_label_sits_by_its_own_marker(network):
    """A label must never read as another node's: measured on the drawn text, the
    nearest marker or bus circle is its own marker, right by it (a quarter of the usual
    bus spacing at most), the next one clearly farther."""
    grid = PowerGrid(load_config(None, [f"grid.network={network}", "nodes=auto"]))
    checked = 0
    for values, annotate in ((one_step(grid), True), ({}, False)):
        fig = plot_grid(grid, annotate=annotate, **values)
        for name, own_px, other_px, other, spacing_px in label_attachment(fig, grid):
            assert own_px <= 0.25 * spacing_px, (name, own_px, spacing_px)
            assert other_px >= own_px + 3.0, (name, own_px, other, other_px)
            checked += 1
        plt.close(fig)
    assert checked >= len(grid.nodes)  # the base case labels (nearly) every node


def test_the_legend_names_only_what_the_drawing_holds(grid):
    legend = [t.get_text() for t in plot_grid(grid).gridppo["legend"].get_texts()]
    # the 14-bus grid has all four types, lines and transformers
    for entry in ("line", "transformer", "overloaded branch", "upstream grid (slack)"):
        assert entry in legend
    assert len(legend) == 4 + 4
    case30 = PowerGrid(load_config(None, ["grid.network=case30", "nodes=auto"]))
    legend = [t.get_text() for t in plot_grid(case30).gridppo["legend"].get_texts()]
    assert "line" in legend and "transformer" not in legend  # case30 has none
    types = {node_style(n.type_name)["label"] for n in case30.nodes}
    assert types <= set(legend)
