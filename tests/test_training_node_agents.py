"""The grid's agents as one PPO (gridppo.training.node_agents)."""

from __future__ import annotations

import numpy as np
import pytest

from gridppo.config.loader import load_config
from gridppo.env import BatchedGridEnv
from gridppo.training.node_agents import NodeAgents


@pytest.fixture(scope="module")
def env() -> BatchedGridEnv:
    return BatchedGridEnv(load_config(None), batch_size=3)


def test_one_learner_per_node_or_per_type(env):
    independent = NodeAgents(env, load_config(None))
    assert independent.learner_names == env.agents
    assert independent.ppo.network.params.shape[0] == 17
    shared = NodeAgents(env, load_config(None, {"ppo.parameter_sharing": "per_type"}))
    assert shared.learner_names == ["producer", "battery", "business", "consumer"]
    assert shared.learner_of["consumer_12"] == "consumer"
    assert shared.ppo.network.params.shape[0] == 4


def test_dicts_become_padded_rows_and_actions_come_back_per_node(env):
    agents = NodeAgents(env, load_config(None))
    obs, _ = env.reset(seed=0)
    stacked = agents.stack(obs)
    assert stacked.shape == (17, 3, max(agents.obs_dims))
    k = agents.names.index("producer_1")
    np.testing.assert_array_equal(stacked[k, :, : agents.obs_dims[k]], obs["producer_1"])
    assert np.all(stacked[k, :, agents.obs_dims[k] :] == 0)
    actions = agents.act(obs, deterministic=True, learn=False)
    for name in env.agents:
        assert actions[name].shape == env.action_spaces[name].shape[:0] + (
            3,
            env.action_spaces[name].shape[0],
        )


def test_state_refuses_other_nodes_or_sharing(env):
    agents = NodeAgents(env, load_config(None))
    state = agents.state_dict()
    NodeAgents(env, load_config(None, {"seed": 5})).load_state_dict(state)  # same nodes: fine
    with pytest.raises(ValueError, match="other nodes or another parameter sharing"):
        NodeAgents(env, load_config(None, {"ppo.parameter_sharing": "per_type"})).load_state_dict(
            state
        )
