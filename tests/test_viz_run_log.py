"""Reading a run's metrics and agent types, from its directory or from live rows."""

from __future__ import annotations

import numpy as np
import pytest
from viz_helpers import AGENTS, read_rows, write_run

from gridppo.agents.ppo import DIAGNOSTICS
from gridppo.viz.run_log import (
    agents_in,
    columns,
    load_source,
    metric_prefix,
    read_agent_types,
    read_metrics,
    type_of,
    x_axis,
)


def test_metrics_and_types_from_a_log_directory(tmp_path):
    write_run(tmp_path)
    data = read_metrics(tmp_path)
    assert np.allclose(data["global_step"], 480 * np.arange(1, 7))
    cost = data["validation/system_cost_eur"]
    assert np.isfinite(cost[::3]).all() and np.isnan(cost[1::3]).all()  # empty cells
    assert read_agent_types(tmp_path) == AGENTS
    with pytest.raises(FileNotFoundError, match="metrics.csv"):
        read_metrics(tmp_path / "nowhere")


def test_rows_and_columns_agree(tmp_path):
    write_run(tmp_path)
    from_rows, types = load_source(read_rows(tmp_path), AGENTS)
    from_dir, types_dir = load_source(tmp_path, None)
    assert types == types_dir == AGENTS
    for key, values in from_dir.items():
        np.testing.assert_allclose(from_rows[key], values)
    # a key missing from some rows is NaN there
    data = columns([{"a": 1.0}, {"a": 2.0, "b": 3.0}])
    assert np.isnan(data["b"][0]) and data["b"][1] == 3.0


def test_agents_in_follow_the_config_order(tmp_path):
    write_run(tmp_path)
    data = read_metrics(tmp_path)
    assert agents_in(data, "charts/episodic_return", AGENTS) == list(AGENTS)
    assert agents_in(data, "losses/entropy", {}) == list(AGENTS)


def test_type_of_reads_names_and_shared_learners():
    assert type_of("battery_3", {}) == "battery"
    assert type_of("battery", {}) == "battery"  # a learner shared by the batteries
    assert type_of("ev_6", {"ev_6": "ev_charger"}) == "ev_charger"
    assert type_of("ev_charger", {"ev_6": "ev_charger"}) == "ev_charger"
    with pytest.raises(ValueError, match="agent_types"):
        type_of("ev_6", {})


def test_every_ppo_diagnostic_has_its_column():
    assert metric_prefix("reward") == "charts/episodic_return"
    for name in DIAGNOSTICS:
        assert metric_prefix(name) == f"losses/{name}"
    assert metric_prefix("grid/max_loading_percent/") == "grid/max_loading_percent"


def test_x_axis_prefers_environment_steps():
    x, label = x_axis({"update": np.array([1.0, 2.0]), "global_step": np.array([8.0, 16.0])})
    assert label == "environment steps" and list(x) == [8.0, 16.0]
    x, label = x_axis({"update": np.array([1.0, 2.0])})
    assert label == "PPO update"
