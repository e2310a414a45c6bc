"""Training figures: learning curves, PPO's health checks, the live panel's figure."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from viz_helpers import (  # noqa: E402
    AGENTS,
    colliding_tick_labels,
    read_rows,
    repeated_tick_labels,
    smallest_font_px,
    width_px,
    write_run,
)

from gridppo.agents.ppo import DIAGNOSTICS  # noqa: E402
from gridppo.viz.style import MAX_FIGURE_WIDTH_IN, SMALL_FONT_PT, node_style  # noqa: E402
from gridppo.viz.training import (
    DIAGNOSTIC_LABELS,
    MAX_LEGEND_AGENTS,  # noqa: E402
    plot_learning_curve,
    plot_ppo_diagnostics,
    plot_training_curves,
    plot_training_progress,
)

READABLE_PX = SMALL_FONT_PT * 100 / 72 - 1e-9  # the smallest text at 100 dpi


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_every_ppo_diagnostic_has_a_label():
    assert set(DIAGNOSTIC_LABELS) == set(DIAGNOSTICS)
    assert all(label.strip() for label in DIAGNOSTIC_LABELS.values())


def test_training_curves_from_a_log_directory(tmp_path):
    write_run(tmp_path)
    fig = plot_training_curves(tmp_path, by="agent")
    lines = fig.gridppo["lines"]
    assert set(lines) == set(AGENTS)
    assert np.allclose(lines["battery_8"].get_xdata(), 480 * np.arange(1, 7))
    assert np.allclose(lines["battery_8"].get_ydata(), 200.0 + np.arange(6))
    fig = plot_training_curves(tmp_path, by="type")
    lines = fig.gridppo["lines"]
    assert set(lines) == {"producer", "battery"}
    # per type: the mean of its agents, with a min-max band for the two batteries
    assert np.allclose(lines["battery"].get_ydata(), 150.0 + np.arange(6))
    assert len(fig.axes[0].collections) == 1
    assert width_px(fig, 100) <= MAX_FIGURE_WIDTH_IN * 100
    assert smallest_font_px(fig, 100) >= READABLE_PX


def test_training_curves_from_live_rows(tmp_path):
    write_run(tmp_path)
    rows = read_rows(tmp_path)
    fig = plot_training_curves(rows, by="type", metric="value_loss", agent_types=AGENTS)
    assert set(fig.gridppo["lines"]) == {"producer", "battery"}
    _, ax = plt.subplots()
    fig2 = plot_training_curves(rows[:2], by="agent", agent_types=AGENTS, ax=ax)
    assert fig2 is ax.figure and len(ax.get_lines()) == len(AGENTS)
    assert plot_training_curves([], agent_types=AGENTS).gridppo["lines"] == {}


def test_training_curves_with_one_learner_per_type():
    """With parameter sharing the trainer logs losses under the type's name."""
    rows = [
        {"update": u, "global_step": 10 * u, "losses/entropy/battery": 1.0 - 0.1 * u}
        for u in range(1, 4)
    ]
    fig = plot_training_curves(rows, by="type", metric="entropy", agent_types=AGENTS)
    assert list(fig.gridppo["lines"]) == ["battery"]
    assert np.allclose(fig.gridppo["lines"]["battery"].get_ydata(), [0.9, 0.8, 0.7])


def test_training_curves_of_a_students_type():
    rows = [{"global_step": 10.0 * u, "charts/episodic_return/ev_6": float(u)} for u in range(4)]
    fig = plot_training_curves(rows, by="type", agent_types={"ev_6": "ev_charger"})
    line = fig.gridppo["lines"]["ev_charger"]
    assert line.get_color() == node_style("ev_charger")["color"]
    fig = plot_training_curves(rows, by="agent", agent_types={"ev_6": "ev_charger"})
    assert list(fig.gridppo["lines"]) == ["ev_6"]


def test_ppo_diagnostics_has_four_panels_with_a_line_per_agent(tmp_path):
    write_run(tmp_path)
    fig = plot_ppo_diagnostics(tmp_path)
    lines = fig.gridppo["lines"]
    assert list(lines) == ["approx_kl", "clipfrac", "entropy", "explained_variance"]
    assert all(set(by_agent) == set(AGENTS) for by_agent in lines.values())
    fig = plot_ppo_diagnostics(tmp_path, agents=["battery_3"])
    assert all(list(by_agent) == ["battery_3"] for by_agent in fig.gridppo["lines"].values())
    fig = plot_ppo_diagnostics(tmp_path, by="type")
    assert all(set(by_type) == {"producer", "battery"} for by_type in fig.gridppo["lines"].values())


def test_ppo_diagnostics_ticks_stay_apart_on_a_long_run(tmp_path):
    """A long run (six-digit step counts, 17 agents) in a figure that fits a notebook:
    no two tick labels touch, none repeats, the clip fraction reads in percent."""
    rng = np.random.default_rng(1)
    agents = [f"consumer_{i}" for i in range(17)]
    rows = []
    for u in range(1, 201):
        row = {"update": float(u), "global_step": 2304.0 * u}
        for name in agents:
            row[f"losses/approx_kl/{name}"] = abs(rng.normal(0.01, 0.005))
            row[f"losses/clipfrac/{name}"] = rng.uniform(0.0, 0.3)
            row[f"losses/entropy/{name}"] = 1.4 - 0.002 * u + rng.normal(0, 0.01)
            row[f"losses/explained_variance/{name}"] = rng.uniform(-0.2, 0.95)
        rows.append(row)
    fig = plot_ppo_diagnostics(rows)
    assert width_px(fig, 100) <= MAX_FIGURE_WIDTH_IN * 100
    assert colliding_tick_labels(fig) == []
    for ax in fig.gridppo["axes"]:
        assert not repeated_tick_labels(ax.xaxis) and not repeated_tick_labels(ax.yaxis)
    clip = fig.gridppo["axes"][1]
    assert all(t.get_text().endswith("%") for t in clip.get_yticklabels() if t.get_text())
    assert smallest_font_px(fig, 100) >= READABLE_PX


def test_training_progress_draws_curves_and_grid_kpis(tmp_path):
    write_run(tmp_path)
    rows = read_rows(tmp_path)
    baselines = {"heuristic": {"system_cost_eur": 5.0}, "random": {"system_cost_eur": 9.0}}
    fig = Figure(figsize=(9.4, 7.0), layout="constrained")
    plot_training_progress(
        rows, agent_types=AGENTS, baselines=baselines, max_loading_percent=100.0, fig=fig
    )
    axes = fig.gridppo["axes"]
    assert set(fig.gridppo["lines"]) == set(AGENTS)
    cost_lines = axes["cost"].get_lines()
    assert len(cost_lines) == 3  # ippo and two baselines
    assert np.allclose(cost_lines[0].get_xdata(), [480.0, 1920.0])  # every third update
    assert [line.get_ydata()[0] for line in cost_lines[1:]] == [5.0, 9.0]
    assert axes["loading"].get_lines()[-1].get_ydata()[0] == 100.0  # the limit
    assert colliding_tick_labels(fig) == []
    assert smallest_font_px(fig, 100) >= READABLE_PX
    fig = plot_training_progress(rows, by="type", agent_types=AGENTS)
    assert set(fig.gridppo["lines"]) == {"producer", "battery"}
    assert width_px(fig, 100) <= MAX_FIGURE_WIDTH_IN * 100


def test_learning_curve_with_baselines():
    history = [{"update": u, "system_cost_eur": 100.0 - u} for u in (5, 10, 15)]
    fig = plot_learning_curve(history, {"heuristic": {"system_cost_eur": 92.0}})
    assert list(fig.gridppo["ippo_line"].get_ydata()) == [95.0, 90.0, 85.0]
    assert fig.axes[0].get_lines()[1].get_ydata()[0] == 92.0


def test_a_baseline_far_above_the_curve_is_named_not_drawn():
    history = [{"update": u, "system_cost_eur": 110_000.0 - 100 * u} for u in (5, 10)]
    baselines = {
        "heuristic": {"system_cost_eur": 150_000.0},
        "random": {"system_cost_eur": 450_000.0},
    }
    fig = plot_learning_curve(history, baselines)
    ax = fig.axes[0]
    assert len(ax.get_lines()) == 2  # IPPO and the heuristic
    assert "random 450,000" in ax.get_title()
    assert ax.get_ylabel() == "system cost (EUR/day), validation days"


def test_training_curves_of_a_big_grid_name_types_not_agents():
    agents = {f"producer_{i}": "producer" for i in range(53)}
    agents |= {f"consumer_{i}": "consumer" for i in range(89)}
    rows = [
        {"global_step": 10.0 * u, **{f"charts/episodic_return/{a}": float(u) for a in agents}}
        for u in range(3)
    ]
    fig = plot_training_curves(rows, by="agent", agent_types=agents)
    assert len(fig.gridppo["lines"]) == 142 > MAX_LEGEND_AGENTS
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend == ["producer (53 agents)", "consumer (89 agents)"]


HEALTH = ("approx_kl", "clipfrac", "entropy", "explained_variance")


def test_ppo_diagnostics_of_a_big_grid_name_types_not_agents():
    agents = {f"battery_{i}": "battery" for i in range(45)}
    rows = [
        {"global_step": 10.0 * u, **{f"losses/{m}/{a}": 0.1 for a in agents for m in HEALTH}}
        for u in range(3)
    ]
    fig = plot_ppo_diagnostics(rows, agent_types=agents)
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["battery (45 agents)"]
