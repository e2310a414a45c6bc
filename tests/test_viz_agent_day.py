"""Days hour by hour: one agent's day, the grid's day, a day against the optimum."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from viz_helpers import draw, smallest_font_px, width_px  # noqa: E402

from gridppo.baselines.heuristic import HeuristicPolicy  # noqa: E402
from gridppo.baselines.random import RandomPolicy  # noqa: E402
from gridppo.config.loader import load_config  # noqa: E402
from gridppo.env import BatchedGridEnv  # noqa: E402
from gridppo.evaluation.simulate import EvalResult, run_days  # noqa: E402
from gridppo.grid.network import PowerGrid  # noqa: E402
from gridppo.viz.agent_day import (  # noqa: E402
    MAX_NAMED_NODES,
    plot_agent_day,
    plot_day_against_optimum,
    plot_day_overview,
)
from gridppo.viz.style import MAX_FIGURE_WIDTH_IN, SMALL_FONT_PT, node_style  # noqa: E402


@pytest.fixture(scope="module")
def env(grid: PowerGrid) -> BatchedGridEnv:
    return BatchedGridEnv(grid=grid, batch_size=1, mode="validation", autoreset=False)


@pytest.fixture(scope="module")
def heuristic(env: BatchedGridEnv) -> EvalResult:
    """One validation day of the heuristic policy, recorded."""
    day = env.grid.profiles.validation_days[:1]
    return run_days(HeuristicPolicy(env), env, days=day, record=True)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


class EvCharger:
    """A node of a type of a student's own, as the day figures see a node."""

    type_name = "ev_charger"

    def __init__(self, name: str):
        self.name = name


@pytest.mark.parametrize("name", ["battery_3", "business_9"])
def test_agent_day_price_actions_and_reward_split(env, heuristic, name):
    record = heuristic.record
    node = env.grid.node(name)
    steps = record.price_eur_per_mwh.shape[0]
    fig = plot_agent_day(record, node, step=5)
    art = fig.gridppo
    price = art["price_line"]
    assert len(price.get_xdata()) == steps
    assert np.allclose(price.get_ydata(), record.price_eur_per_mwh[:, 0])
    assert list(art["action_lines"]) == list(node.ACTIONS)
    # stacked bars add up to the agent's reward at every step, and over the day
    heights = np.array([[bar.get_height() for bar in c] for c in art["reward_bars"].values()])
    per_step = sum(v[:, 0] for v in record.reward_components[name].values())
    assert heights.shape == (len(record.reward_components[name]), steps)
    assert np.allclose(heights.sum(axis=0), per_step)
    assert np.isclose(heights.sum(), heuristic.agent_reward[name])
    assert np.allclose(art["total_line"].get_ydata(), per_step)
    assert len(art["step_markers"]) == 3
    if node.type_name == "battery":
        soc = art["feature_lines"]["soc"].get_ydata()
        assert np.allclose(soc[1:], record.local_features[name][:, 0, 0])


def test_agent_day_fits_a_notebook_with_readable_text(env, heuristic):
    """Every legend (up to nine reward parts) stays inside a figure a widget can show."""
    fig = plot_agent_day(heuristic.record, env.grid.node("business_9"), step=3)
    assert width_px(fig, 100) <= MAX_FIGURE_WIDTH_IN * 100
    assert smallest_font_px(fig, 100) >= SMALL_FONT_PT * 100 / 72 - 1e-9
    widget_figure = Figure(figsize=(9.4, 6.5), layout="constrained")
    axes = widget_figure.subplots(3, 1, sharex=True)
    plot_agent_day(heuristic.record, env.grid.node("battery_3"), axes=list(axes))
    renderer = draw(widget_figure)
    frame = widget_figure.bbox
    for ax in axes:
        legend = ax.get_legend()
        box = legend.get_window_extent(renderer)
        assert box.x0 >= frame.x0 - 1 and box.x1 <= frame.x1 + 1, ax.get_title(loc="left")


def test_agent_day_of_a_students_node_type(env, heuristic):
    """A type the package does not know is drawn in its default colour."""
    record = heuristic.record
    charger = EvCharger("battery_3")  # reuse a recorded agent's series under a new type
    fig = plot_agent_day(record, charger)
    colour = fig.gridppo["injection_line"].get_color()
    assert colour == node_style("ev_charger")["color"]


def test_day_overview_has_a_line_for_every_node_type(env, heuristic):
    fig = plot_day_overview(heuristic.record, env.nodes)
    assert len(fig.gridppo["axes"]) == 4
    lines = fig.gridppo["injection_lines"]
    assert set(lines) == {n.type_name for n in env.nodes}
    producers = [n.name for n in env.nodes if n.type_name == "producer"]
    total = sum(heuristic.record.injection_mw[n][:, 0] for n in producers)
    assert np.allclose(lines["producer"].get_ydata(), total)
    assert width_px(fig, 100) <= MAX_FIGURE_WIDTH_IN * 100


def test_day_overview_does_not_drop_a_students_type(env, heuristic):
    nodes = [*env.nodes, EvCharger("battery_8")]
    fig = plot_day_overview(heuristic.record, nodes)
    line = fig.gridppo["injection_lines"]["ev_charger"]
    assert np.allclose(line.get_ydata(), heuristic.record.injection_mw["battery_8"][:, 0])
    assert line.get_color() == node_style("ev_charger")["color"]
    assert "ev_charger (1)" in [t.get_text() for t in fig.axes[1].get_legend().get_texts()]


def test_day_against_optimum_has_a_panel_per_type(env, heuristic):
    days = env.grid.profiles.validation_days[:1]
    other = run_days(RandomPolicy(seed=3), env, days=days, record=True)
    fig = plot_day_against_optimum(heuristic.record, other.record, env.nodes, label="heuristic")
    axes = fig.gridppo["axes"]
    assert list(axes) == ["price", *dict.fromkeys(n.type_name for n in env.nodes)]
    batteries = [n for n in env.nodes if n.type_name == "battery"]
    # one solid (policy) and one dashed (optimum) line per battery
    assert len(axes["battery"].get_lines()) == 2 * len(batteries)
    assert smallest_font_px(fig, 100) >= SMALL_FONT_PT * 100 / 72 - 1e-9
    with pytest.raises(ValueError, match="different days"):
        later = run_days(
            RandomPolicy(seed=3), env, days=env.grid.profiles.validation_days[1:2], record=True
        )
        plot_day_against_optimum(heuristic.record, later.record, env.nodes)


def test_day_against_optimum_counts_the_nodes_of_a_big_type() -> None:
    # case30 with automatic nodes has 18 consumers: more than the legend names.
    config = load_config(None, ["grid.network=case30"])
    big = BatchedGridEnv(config, batch_size=1, mode="validation", autoreset=False)
    day = big.grid.profiles.validation_days[:1]
    heuristic = run_days(HeuristicPolicy(big), big, days=day, record=True)
    other = run_days(RandomPolicy(seed=0), big, days=day, record=True)
    fig = plot_day_against_optimum(heuristic.record, other.record, big.nodes)
    axes = fig.gridppo["axes"]
    labels = {
        k: [t.get_text() for t in ax.get_legend().get_texts()]
        for k, ax in axes.items()
        if k != "price"
    }
    assert labels["consumer"] == ["18 nodes"]
    assert labels["producer"] == [n.name for n in big.nodes if n.type_name == "producer"]
    # Every node still has its two lines (the policy's and the optimum's).
    assert len(fig.gridppo["axes"]["consumer"].get_lines()) == 2 * 18 + 1
    assert MAX_NAMED_NODES < 18
