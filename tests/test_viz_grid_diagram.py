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
from viz_helpers import smallest_font_px, width_px  # noqa: E402

from gridppo.baselines.heuristic import HeuristicPolicy  # noqa: E402
from gridppo.env import BatchedGridEnv  # noqa: E402
from gridppo.evaluation.simulate import EvalResult, run_days  # noqa: E402
from gridppo.grid.network import PowerGrid  # noqa: E402
from gridppo.viz.grid_diagram import plot_grid  # noqa: E402
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
