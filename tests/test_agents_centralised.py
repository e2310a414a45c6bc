"""The centralised critic (MAPPO): its input, and actors that still act alone."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from gridppo.agents.centralised import centralised_critic_dims, centralised_critic_input
from gridppo.agents.ppo import PPO
from gridppo.config.loader import load_config

T, N = 6, 5
DIMS = [3, 5, 2]


@pytest.fixture(scope="module")
def mappo_cfg() -> dict:
    """The default PPO settings with a centralised critic."""
    return load_config(None, {"ppo.critic": "centralised"})["ppo"]


def padded_observations(rng: np.random.Generator, dims=DIMS, n=N) -> np.ndarray:
    obs = np.zeros((len(dims), n, max(dims)))
    for k, d in enumerate(dims):
        obs[k, :, :d] = rng.normal(size=(n, d))
    return obs


def test_every_row_sees_all_observations_then_its_own():
    x = torch.as_tensor(padded_observations(np.random.default_rng(0)), dtype=torch.float32)
    state = centralised_critic_input(x, DIMS)
    assert state.shape == (3, N, sum(DIMS) + max(DIMS))
    everything = torch.cat([x[0, :, :3], x[1, :, :5], x[2, :, :2]], dim=-1)
    for r, d in enumerate(DIMS):
        assert torch.equal(state[r, :, : sum(DIMS)], everything)
        assert torch.equal(state[r, :, sum(DIMS) :], x[r])
        # Real inputs first, padding last: the entries after the row's real ones are 0.
        assert centralised_critic_dims(DIMS)[r] == sum(DIMS) + d
        assert torch.all(state[r, :, sum(DIMS) + d :] == 0)
    with pytest.raises(ValueError, match="3 observation sizes for 2 agents"):
        centralised_critic_input(x[:2], DIMS)


def test_actors_act_on_their_own_observation_while_critics_see_all(mappo_cfg):
    agent = PPO(DIMS, [1, 2, 1], mappo_cfg, T, N, seed=1)
    rng = np.random.default_rng(2)
    obs = padded_observations(rng)
    changed = obs.copy()
    changed[1, :, :5] += 3.0  # only agent 1's observation changes
    x, x_changed = (agent.normalize(o) for o in (obs, changed))
    # Train the critics a little so their weights on other agents' inputs are not 0.
    for t in range(T):
        agent.act(padded_observations(rng))
        agent.observe(rng.normal(size=(3, N)), np.full((3, N), t == T - 1), np.zeros((3, N)))
    agent.update(padded_observations(rng))
    with torch.no_grad():
        before, after = (
            agent.network.get_action_and_value(v, deterministic=True, critic_input=c)[0]
            for v, c in ((x, agent.critic_input(x)), (x_changed, agent.critic_input(x)))
        )
        values = [agent.network.get_value(agent.critic_input(v)) for v in (x, x_changed)]
    for k in (0, 2):
        assert torch.equal(before[k], after[k])  # decentralised execution
        assert not torch.allclose(values[0][k], values[1][k])  # centralised critic
    assert not torch.equal(before[1], after[1])


def test_a_centralised_critic_keeps_the_agents_learning_independently(mappo_cfg):
    """Agent 1's rewards reach no other agent's parameters, even though every critic
    reads agent 1's observations."""
    base = PPO(DIMS, [1, 2, 1], mappo_cfg, T, N, seed=3)
    other = copy.deepcopy(base)
    for agent, perturb in ((base, None), (other, np.random.default_rng(9))):
        rng = np.random.default_rng(0)
        for t in range(T):
            agent.act(padded_observations(rng))
            rewards = rng.normal(size=(3, N)) * 10.0
            if perturb is not None:
                rewards[1] += perturb.normal(size=N) * 5.0
            agent.observe(rewards, np.full((3, N), t == T - 1), np.zeros((3, N)))
        agent.update(padded_observations(rng))
    a, b = base.state_dict()["params"], other.state_dict()["params"]
    assert torch.equal(a[0], b[0]) and torch.equal(a[2], b[2])
    assert not torch.equal(a[1], b[1])


def test_checkpoints_refuse_the_other_critic(mappo_cfg):
    local_cfg = {**mappo_cfg, "critic": "local"}
    mappo = PPO(DIMS, [1, 2, 1], mappo_cfg, T, N, seed=3)
    local = PPO(DIMS, [1, 2, 1], local_cfg, T, N, seed=3)
    # The critic's first layer reads 10 + 5 inputs instead of 5.
    assert mappo.network.critic_dims == [13, 15, 12]
    assert mappo.network.params.shape[1] > local.network.params.shape[1]
    with pytest.raises(ValueError, match="saved agents have a local critic"):
        mappo.load_state_dict(local.state_dict())
    clone = PPO(DIMS, [1, 2, 1], mappo_cfg, T, N, seed=99)
    clone.load_state_dict(mappo.state_dict())
    assert torch.equal(clone.network.params, mappo.network.params)
