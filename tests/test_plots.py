"""The figures: each is drawn headless and checked for what it shows, not only that it ran."""

from __future__ import annotations

import csv

import matplotlib

matplotlib.use("Agg")

import matplotlib.colors as mcolors  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import yaml  # noqa: E402

from gridppo.baselines.policies import HeuristicPolicy, RandomPolicy  # noqa: E402
from gridppo.env import BatchedGridEnv  # noqa: E402
from gridppo.evaluation.simulate import run_days  # noqa: E402
from gridppo.viz.plots import (  # noqa: E402
    NODE_STYLE,
    OVERLOAD_COLOR,
    plot_agent_day,
    plot_day_overview,
    plot_grid,
    plot_kpi_comparison,
    plot_ppo_diagnostics,
    plot_training_curves,
    read_agent_types,
)


@pytest.fixture(scope="module")
def env() -> BatchedGridEnv:
    return BatchedGridEnv(batch_size=1, mode="validation", autoreset=False)


@pytest.fixture(scope="module")
def heuristic(env):
    day = env.grid.profiles.validation_days[:1]
    return run_days(HeuristicPolicy(env), env, days=day, record=True)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def same_colour(a, b) -> bool:
    return np.allclose(mcolors.to_rgba(a), mcolors.to_rgba(b))


# -- plot_grid ---------------------------------------------------------------------------


def test_grid_draws_one_marker_per_node_and_every_type_in_the_legend(env):
    grid = env.grid
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


def test_nodes_sharing_a_bus_are_drawn_apart(env):
    grid = env.grid
    fig = plot_grid(grid)
    where = fig.gridppo["node_positions"]
    for bus in {n.bus for n in grid.nodes}:
        here = [np.array(where[n.name]) for n in grid.nodes if n.bus == bus]
        for i in range(len(here)):
            for j in range(i):
                assert np.linalg.norm(here[i] - here[j]) > 0.3


def test_voltage_colour_scale_spans_the_limits(env):
    grid = env.grid
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


def test_overloaded_branch_gets_the_overload_colour(env):
    grid = env.grid
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


def test_grid_writes_actions_and_injections_of_one_step(env, heuristic):
    record, t = heuristic.record, 18
    fig = plot_grid(
        env.grid,
        vm_pu=record.vm_pu[t, 0],
        loading_percent=record.loading_percent[t, 0],
        actions={k: v[t, 0] for k, v in record.actions.items()},
        flows_mw={k: v[t, 0] for k, v in record.injection_mw.items()},
        branch_p_mw=record.p_from_mw[t, 0],
        annotate=True,
    )
    texts = [t.get_text() for t in fig.axes[0].texts]
    battery = next(n for n in env.grid.nodes if n.type_name == "battery")
    label = next(text for text in texts if text.startswith(battery.name + "\n"))
    assert f"a={record.actions[battery.name][t, 0, 0] + 0.0:+.2f}" in label
    assert f"{record.injection_mw[battery.name][t, 0]:+.1f} MW" in label
    assert any(text.endswith("%") for text in texts)  # branch loadings written


# -- plot_agent_day ----------------------------------------------------------------------


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


# -- training curves ---------------------------------------------------------------------

AGENTS = {"producer_1": "producer", "battery_3": "battery", "battery_8": "battery"}


def write_run(log_dir, updates: int = 6) -> None:
    """A small run directory: metrics.csv in the trainer's format and config.yaml."""
    rng = np.random.default_rng(0)
    columns = ["update", "global_step", "time_s", "charts/team_return"]
    per_agent = ["charts/episodic_return"] + [
        f"losses/{m}"
        for m in (
            "policy_loss",
            "value_loss",
            "entropy",
            "approx_kl",
            "clipfrac",
            "explained_variance",
        )
    ]
    columns += [f"{m}/{a}" for m in per_agent for a in AGENTS]
    columns += [
        "grid/min_vm_pu",
        "grid/max_vm_pu",
        "validation/system_cost_eur",
        "validation/team_reward",
    ]
    with (log_dir / "metrics.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, columns)
        writer.writeheader()
        for u in range(updates):
            row = {c: f"{rng.normal():.6f}" for c in columns}
            row.update(update=u + 1, global_step=(u + 1) * 480, time_s=u * 1.5)
            for i, a in enumerate(AGENTS):
                row[f"charts/episodic_return/{a}"] = 100.0 * i + u
            if u % 3:  # evaluation only every third update
                row["validation/system_cost_eur"] = row["validation/team_reward"] = ""
            writer.writerow(row)
    nodes = [
        {"name": "producer_1", "type": "producer", "bus": 1, "max_p_mw": 140.0},
        {"name": "battery_3", "type": "battery", "bus": 3, "params": {"max_p_mw": 20.0}},
        {"name": "battery_8", "type": "battery", "bus": 8, "params": {"max_p_mw": 10.0}},
    ]
    (log_dir / "config.yaml").write_text(yaml.safe_dump({"seed": 0, "nodes": nodes}))


def test_training_curves_from_a_log_directory(tmp_path):
    write_run(tmp_path)
    assert read_agent_types(tmp_path) == AGENTS
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


def test_training_curves_from_live_rows(tmp_path):
    write_run(tmp_path)
    with (tmp_path / "metrics.csv").open() as fh:
        rows = [
            {k: float(v) if v else float("nan") for k, v in r.items()} for r in csv.DictReader(fh)
        ]
    fig = plot_training_curves(rows, by="type", metric="value_loss", agent_types=AGENTS)
    assert set(fig.gridppo["lines"]) == {"producer", "battery"}
    _, ax = plt.subplots()
    fig2 = plot_training_curves(rows[:2], by="agent", agent_types=AGENTS, ax=ax)
    assert fig2 is ax.figure and len(ax.get_lines()) == len(AGENTS)


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


# -- KPI comparison and day overview -----------------------------------------------------


def test_kpi_comparison_has_one_bar_per_policy_and_kpi(env, heuristic):
    random = run_days(RandomPolicy(seed=1), env, days=env.grid.profiles.validation_days[:1])
    results = [heuristic, random]
    kpis = ("system_cost_eur", "voltage_violation_rate", "overload_rate")
    fig = plot_kpi_comparison(results, kpis)
    bars = fig.gridppo["bars"]
    assert list(bars) == list(kpis)
    for key in kpis:
        assert [b.get_height() for b in bars[key]] == pytest.approx([r.kpis[key] for r in results])
    assert fig.gridppo["policies"] == ["heuristic", "random"]
    assert len(fig.axes) == len(kpis)
    table = {"ippo": {"team_reward": -5.0}, "optimum": {"team_reward": 2.0}}
    _, ax = plt.subplots()
    fig = plot_kpi_comparison(table, kpis=["team_reward"], ax=ax)
    assert [b.get_height() for b in fig.gridppo["bars"]["team_reward"]] == [-5.0, 2.0]
    assert [t.get_text() for t in ax.texts] == ["-5", "2"]


def test_day_overview_still_draws_four_panels(env, heuristic):
    fig = plot_day_overview(heuristic.record, env.nodes)
    assert len(fig.axes) == 4
    assert len(fig.axes[0].get_lines()[0].get_xdata()) == env.steps_per_day


def test_training_curves_with_one_learner_per_type(tmp_path):
    """With parameter sharing the trainer logs losses under the type's name."""
    rows = [
        {"update": u, "global_step": 10 * u, "losses/entropy/battery": 1.0 - 0.1 * u}
        for u in range(1, 4)
    ]
    fig = plot_training_curves(rows, by="type", metric="entropy", agent_types=AGENTS)
    assert list(fig.gridppo["lines"]) == ["battery"]
    assert np.allclose(fig.gridppo["lines"]["battery"].get_ydata(), [0.9, 0.8, 0.7])


def test_plotted_diagnostics_are_the_ones_ppo_returns() -> None:
    from gridppo import plots
    from gridppo.agents.ppo import DIAGNOSTICS

    assert tuple(plots._LOSS_METRICS) == tuple(DIAGNOSTICS)
