"""One rollout and the NaN checks (gridppo.training.rollout)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gridppo.config.loader import load_config
from gridppo.env import BatchedGridEnv
from gridppo.grid.network import METRIC_NAMES
from gridppo.training.node_agents import NodeAgents
from gridppo.training.rollout import TrainingDivergedError, check_update, collect_rollout


def diverged(agent: str, what: str) -> TrainingDivergedError:
    return TrainingDivergedError(f"{what} of {agent}", agent, 1, what)


@pytest.fixture()
def setup():
    cfg = load_config(None, {"train.rollout_steps": 48})
    env = BatchedGridEnv(cfg, batch_size=2)
    agents = NodeAgents(env, cfg)
    obs, _ = env.reset(seed=0)
    return env, agents, obs, {a: np.zeros(2) for a in env.agents}


def test_a_rollout_fills_the_buffer_and_logs_finished_days(setup):
    env, agents, obs, returns = setup
    obs, row = collect_rollout(env, agents, obs, returns, 36, diverged)
    assert agents.ppo.buffer.step == 36
    # 36 steps of 24-step days: every stream finished one day, and 12 steps of the next
    # are carried over in the running returns.
    assert math.isfinite(row["charts/team_return"])
    team = sum(row[f"charts/episodic_return/{a}"] for a in env.agents)
    assert team == pytest.approx(row["charts/team_return"])
    assert all(np.any(returns[a] != 0) for a in env.agents if a.startswith("consumer"))
    assert set(row) >= {f"grid/{k}" for k in METRIC_NAMES}


def test_a_non_finite_observation_names_the_agent(setup, monkeypatch):
    env, agents, obs, returns = setup
    obs = {**obs, "battery_8": np.full_like(obs["battery_8"], np.nan)}
    with pytest.raises(TrainingDivergedError) as info:
        collect_rollout(env, agents, obs, returns, 36, diverged)
    assert (info.value.agent, info.value.what) == ("battery_8", "observation")


def test_a_non_finite_loss_or_parameter_is_caught_after_the_update(setup):
    env, agents, _, _ = setup
    ok = {
        a: {
            "policy_loss": 0.1,
            "value_loss": 0.2,
            "entropy": 1.0,
            "approx_kl": 0.0,
            "clipfrac": 0.0,
            "explained_variance": math.nan,
        }
        for a in env.agents
    }
    check_update(ok, agents, diverged)  # NaN explained variance is allowed
    bad = {**ok, "producer_2": {**ok["producer_2"], "value_loss": math.inf}}
    with pytest.raises(TrainingDivergedError, match="value loss of producer_2"):
        check_update(bad, agents, diverged)
    agents.ppo.network.params.data[agents.learner_names.index("consumer_4"), 3] = math.nan
    with pytest.raises(TrainingDivergedError, match="parameters after the update"):
        check_update(ok, agents, diverged)
