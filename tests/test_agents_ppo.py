"""PPO written once over a leading agent axis (gridppo.agents.ppo)."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch

import gridppo.agents.ppo
from gridppo.agents.ppo import PPO, clipped_policy_loss, value_loss
from gridppo.config.loader import load_config

T, N = 6, 5


@pytest.fixture(scope="module")
def ppo_cfg() -> dict:
    """The default PPO settings."""
    return load_config()["ppo"]


def rollout(agent: PPO, obs_dims: list[int], seed: int = 0, reward_scale=None, perturb=None):
    """T steps of random observations and rewards; returns the last observation."""
    rng = np.random.default_rng(seed)
    rows = len(obs_dims)

    def observation():
        obs = np.zeros((rows, N, max(obs_dims)))
        for k, d in enumerate(obs_dims):
            obs[k, :, :d] = rng.normal(size=(N, d))
        return obs

    for t in range(T):
        agent.act(observation())
        rewards = rng.normal(size=(rows, N)) * 100.0
        if reward_scale is not None:
            rewards = rewards * reward_scale[:, None]
        if perturb is not None:  # agent 1's rewards only, from a generator of their own
            rewards[1] += perturb.normal(size=N) * 50.0
        ended = np.full((rows, N), t == T - 1)
        agent.observe(rewards, ended, np.zeros((rows, N), dtype=bool))
    return observation()


def test_clipped_policy_loss_on_a_hand_made_batch():
    ratios = torch.tensor([0.5, 1.0, 1.5])
    advantages = torch.tensor([1.0, -1.0, 1.0])
    old = torch.zeros(3)
    loss, approx_kl, clipfrac = clipped_policy_loss(ratios.log(), old, advantages, 0.2)
    # Per sample: min(r A, clip(r) A) = 0.5 (unclipped is smaller), -1, 1.2 (clipped).
    assert loss.item() == pytest.approx(-(0.5 - 1.0 + 1.2) / 3)
    assert clipfrac.item() == pytest.approx(2 / 3)
    expected_kl = np.mean([(r - 1) - math.log(r) for r in (0.5, 1.0, 1.5)])
    assert approx_kl.item() == pytest.approx(expected_kl)


def test_clipped_loss_gradient_vanishes_outside_the_trust_region():
    new = torch.tensor([math.log(1.5)], requires_grad=True)
    loss, _, _ = clipped_policy_loss(new, torch.zeros(1), torch.ones(1), 0.2)
    loss.backward()
    assert new.grad.item() == 0.0  # ratio 1.5 > 1.2 with a positive advantage: clipped


def test_value_loss_plain_and_clipped():
    new, old, ret = torch.tensor([2.0]), torch.tensor([0.0]), torch.tensor([3.0])
    assert value_loss(new, old, ret, None).item() == pytest.approx(0.5 * 1.0)
    # Clipped value 0.2 is further from 3 than 2 is: the larger error (2.8^2) counts.
    assert value_loss(new, old, ret, 0.2).item() == pytest.approx(0.5 * 2.8**2)


def test_perturbing_one_agents_rewards_changes_only_that_agent(ppo_cfg):
    """Independence: agents 0 and 2 are bit-for-bit unaffected by agent 1's rewards."""
    dims = [4, 6, 5]
    base = PPO(dims, [1, 2, 1], ppo_cfg, T, N, seed=3)
    other = copy.deepcopy(base)
    last = rollout(base, dims, seed=0)
    rollout(other, dims, seed=0, perturb=np.random.default_rng(99))
    buffers = [copy.deepcopy(a.buffer) for a in (base, other)]
    for agent in (base, other):
        agent.update(last, progress=0.3)
    states = [a.state_dict() for a in (base, other)]

    def row_parts(state, buffer, k):
        return {
            "params": state["params"][k],
            "exp_avg": state["optimizer"]["exp_avg"][k],
            "exp_avg_sq": state["optimizer"]["exp_avg_sq"][k],
            "adam_steps": state["optimizer"]["steps"][k],
            "obs_mean": state["obs_stats"]["mean"][k],
            "reward_var": state["reward_stats"]["var"][k],
            "reward_returns": state["reward_returns"][k],
            "buffer_rewards": buffer.rewards[:, k],
            "buffer_advantages": buffer.advantages[:, k],
        }

    for k in (0, 2):
        same, perturbed = (row_parts(s, b, k) for s, b in zip(states, buffers, strict=True))
        for key in same:
            assert torch.equal(torch.as_tensor(same[key]), torch.as_tensor(perturbed[key])), key
    same, perturbed = (row_parts(s, b, 1) for s, b in zip(states, buffers, strict=True))
    for key in ("params", "exp_avg", "reward_var", "buffer_rewards"):
        assert not torch.equal(torch.as_tensor(same[key]), torch.as_tensor(perturbed[key])), key


BUFFER_FIELDS = (
    "obs",
    "actions",
    "logprobs",
    "values",
    "rewards",
    "terminated",
    "episode_ended",
    "final_values",
)


def copy_rollout(source: PPO, rows: slice, target: PPO) -> None:
    """Put the rollout ``source`` stored for agents ``rows`` into ``target``'s single
    agent (its streams side by side), trimming padding to the target's sizes."""
    for name in BUFFER_FIELDS:
        into = getattr(target.buffer, name)
        data = getattr(source.buffer, name)[:, rows]
        if name in ("obs", "actions"):
            data = data[..., : into.shape[-1]]
        into[:] = data.reshape(into.shape)
    target.buffer.step = source.buffer.step


def test_an_agent_in_the_stack_learns_exactly_as_it_would_alone(ppo_cfg):
    dims = [4, 6, 5]
    stack = PPO(dims, [1, 2, 1], ppo_cfg, T, N, seed=10)
    alone = PPO([6], [2], ppo_cfg, T, N, seed=11)  # agent 1 of the stack has seed 10 + 1
    last = rollout(stack, dims)
    copy_rollout(stack, slice(1, 2), alone)
    alone.obs_stats.mean, alone.obs_stats.var = (
        stack.obs_stats.mean[1:2, :6],
        stack.obs_stats.var[1:2, :6],
    )
    alone.generator.set_state(stack.generator.get_state())  # the same minibatch order
    stack.update(last)
    alone.update(last[1:2, :, :6])
    torch.testing.assert_close(stack.network.params.detach()[1], alone.network.params.detach()[0])


def test_target_kl_stops_each_agent_on_its_own(ppo_cfg, monkeypatch):
    cfg = {**ppo_cfg, "target_kl": 0.01, "update_epochs": 4, "num_minibatches": 3}

    def loss_with_kl(*args):  # agent 0's policy moves far, agent 1's not at all
        loss, approx_kl, clipfrac = clipped_policy_loss(*args)
        return loss, torch.tensor([1.0, 0.0]), clipfrac

    monkeypatch.setattr(gridppo.agents.ppo, "clipped_policy_loss", loss_with_kl)
    agent = PPO([3, 3], [1, 1], cfg, T, N, seed=0)
    last = rollout(agent, [3, 3])
    before = agent.network.params.detach().clone()
    diagnostics = agent.update(last)
    # Agent 0 stops after its first epoch (3 minibatches), agent 1 runs all 4 epochs.
    assert agent.optimizer.steps.tolist() == [3.0, 12.0]
    assert diagnostics["approx_kl"].tolist() == [1.0, 0.0]
    assert not torch.equal(agent.network.params.detach()[0], before[0])


def test_sharing_a_learner_pools_the_agents_experience(ppo_cfg):
    """Agents 0 and 1 share learner 0: one update equals one agent trained on their
    pooled samples (one epoch of one minibatch, where sample order cannot matter)."""
    cfg = {**ppo_cfg, "update_epochs": 1, "num_minibatches": 1}
    shared = PPO([4, 4, 4], [1, 1, 1], cfg, T, N, seed=5, rows=[0, 0, 1])
    pooled = PPO([4], [1], cfg, T, 2 * N, seed=5)
    last = rollout(shared, [4, 4, 4])
    copy_rollout(shared, slice(0, 2), pooled)
    pooled.obs_stats.mean, pooled.obs_stats.var = (
        shared.obs_stats.mean[:1, :4],
        shared.obs_stats.var[:1, :4],
    )
    shared.update(last)
    pooled.update(last[:2, :, :4].reshape(1, 2 * N, 4))
    torch.testing.assert_close(
        shared.network.params.detach()[0], pooled.network.params.detach()[0], rtol=1e-5, atol=1e-6
    )


def test_state_round_trip_acts_identically_and_refuses_other_agents(ppo_cfg):
    agent = PPO([3, 2], [1, 1], ppo_cfg, T, N, seed=3)
    last = rollout(agent, [3, 2])
    agent.update(last)
    clone = PPO([3, 2], [1, 1], ppo_cfg, T, N, seed=99)
    clone.load_state_dict(agent.state_dict())
    np.testing.assert_array_equal(
        agent.act(last, deterministic=True, learn=False),
        clone.act(last, deterministic=True, learn=False),
    )
    with pytest.raises(ValueError, match="differ"):
        PPO([3, 3], [1, 1], ppo_cfg, T, N).load_state_dict(agent.state_dict())
