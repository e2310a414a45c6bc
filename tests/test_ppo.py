"""PPO building blocks: GAE, the losses, the network, the agent and the ensemble."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from gymnasium import spaces

from gridppo.agents.ensemble import AgentEnsemble, fast_tanh
from gridppo.agents.ppo import (
    Policy,
    PPOAgent,
    RolloutBuffer,
    RunningMeanStd,
    _Step,
    clipped_policy_loss,
    compute_gae,
    value_loss,
)
from gridppo.config.loader import load_config


@pytest.fixture(scope="module")
def ppo_cfg() -> dict:
    """The default PPO settings."""
    return load_config()["ppo"]


def reference_gae(rewards, values, next_values, terminated, ended, gamma, lam):
    """GAE as a plain double loop over streams and steps, straight from the paper."""
    steps, streams = rewards.shape
    advantages = np.zeros((steps, streams))
    for n in range(streams):
        running = 0.0
        for t in reversed(range(steps)):
            future = 0.0 if terminated[t, n] else next_values[t, n]
            delta = rewards[t, n] + gamma * future - values[t, n]
            if ended[t, n]:
                running = 0.0
            running = delta + gamma * lam * running
            advantages[t, n] = running
    return advantages, advantages + values


def test_gae_matches_reference_loop():
    rng = np.random.default_rng(0)
    steps, streams = 17, 5
    rewards = rng.normal(size=(steps, streams))
    values = rng.normal(size=(steps, streams))
    next_values = rng.normal(size=(steps, streams))
    terminated = rng.random((steps, streams)) < 0.1
    truncated = rng.random((steps, streams)) < 0.1
    ended = terminated | truncated
    expected_adv, expected_ret = reference_gae(
        rewards, values, next_values, terminated, ended, 0.97, 0.9
    )
    t = lambda a: torch.as_tensor(a, dtype=torch.float64)  # noqa: E731
    adv, ret = compute_gae(
        t(rewards), t(values), t(next_values), t(terminated * 1.0), t(ended * 1.0), 0.97, 0.9
    )
    np.testing.assert_allclose(adv.numpy(), expected_adv, atol=1e-12)
    np.testing.assert_allclose(ret.numpy(), expected_ret, atol=1e-12)


def test_gae_bootstraps_on_truncation_but_not_on_termination():
    one = torch.ones(1, 1)
    zero = torch.zeros(1, 1)
    # A single step that ends the episode, reward 1, value 0, bootstrap value 10.
    adv_trunc, _ = compute_gae(one, zero, 10 * one, zero, one, gamma=0.5, lam=1.0)
    adv_term, _ = compute_gae(one, zero, 10 * one, one, one, gamma=0.5, lam=1.0)
    assert adv_trunc.item() == pytest.approx(1 + 0.5 * 10)
    assert adv_term.item() == pytest.approx(1.0)


def test_buffer_uses_final_value_where_the_episode_ended():
    buffer = RolloutBuffer(num_steps=2, num_envs=1, obs_dim=1, act_dim=1)
    zeros = torch.zeros(1)
    # Step 0 ends by truncation (final obs worth 4); step 1 continues into last value 2.
    buffer.add(
        torch.zeros(1, 1),
        torch.zeros(1, 1),
        zeros,
        zeros,
        np.ones(1),
        np.zeros(1),
        np.ones(1),
        final_values=torch.full((1,), 4.0),
    )
    buffer.add(
        torch.zeros(1, 1), torch.zeros(1, 1), zeros, zeros, np.ones(1), np.zeros(1), np.zeros(1)
    )
    buffer.compute_advantages(torch.full((1,), 2.0), gamma=0.5, lam=1.0)
    assert buffer.advantages[0, 0].item() == pytest.approx(1 + 0.5 * 4)
    assert buffer.advantages[1, 0].item() == pytest.approx(1 + 0.5 * 2)


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


def test_policy_initialisation_follows_the_checklist():
    torch.manual_seed(0)
    policy = Policy(obs_dim=7, act_dim=2, hidden_sizes=[32, 32], init_log_std=-0.5)
    head = policy.actor_mean[-1].weight.detach()
    value_head = policy.critic[-1].weight.detach()
    hidden = policy.actor_mean[0].weight.detach()
    # Orthogonal rows scaled by the gain: W W^T = gain^2 I.
    np.testing.assert_allclose((head @ head.T).numpy(), 0.01**2 * np.eye(2), atol=1e-7)
    np.testing.assert_allclose((value_head @ value_head.T).numpy(), np.eye(1), atol=1e-5)
    np.testing.assert_allclose((hidden.T @ hidden).numpy(), 2 * np.eye(7), atol=1e-5)
    assert torch.all(policy.actor_mean[0].bias == 0)
    assert torch.allclose(policy.log_std, torch.full((1, 2), -0.5))
    assert isinstance(policy.actor_mean[1], torch.nn.Tanh)


def test_running_mean_std_matches_numpy():
    rng = np.random.default_rng(1)
    data = rng.normal(3.0, 2.0, size=(300, 4))
    stats = RunningMeanStd((4,))
    for chunk in np.array_split(data, 7):
        stats.update(chunk)
    np.testing.assert_allclose(stats.mean, data.mean(axis=0), atol=1e-4)
    np.testing.assert_allclose(stats.var, data.var(axis=0), rtol=1e-3)


def test_agent_uses_adam_with_eps_1e5_and_state_roundtrip(ppo_cfg):
    box = spaces.Box(-np.inf, np.inf, (3,), np.float32)
    act = spaces.Box(-1, 1, (1,), np.float32)
    agent = PPOAgent("a", box, act, ppo_cfg, num_steps=2, num_envs=4, seed=3)
    assert agent.optimizer.defaults["eps"] == 1e-5
    obs = np.random.default_rng(0).normal(size=(4, 3))
    for _ in range(2):
        agent.act(obs)
        agent.observe_rewards(np.ones(4), np.zeros(4), np.zeros(4))
    agent.update(obs)
    clone = PPOAgent("a", box, act, ppo_cfg, num_steps=2, num_envs=4, seed=99)
    clone.load_state_dict(agent.state_dict())
    np.testing.assert_array_equal(
        agent.act(obs, deterministic=True, learn=False),
        clone.act(obs, deterministic=True, learn=False),
    )


def test_fast_tanh_is_tanh():
    x = torch.linspace(-8, 8, 1001, dtype=torch.float64, requires_grad=True)
    np.testing.assert_allclose(fast_tanh(x).detach(), torch.tanh(x).detach(), atol=1e-12)
    assert torch.autograd.gradcheck(fast_tanh, (x[:20].detach().requires_grad_(),))


def test_ensemble_update_equals_separate_agents(ppo_cfg):
    """One update of the ensemble = one update of each agent on its own (full batch,
    so minibatch order cannot differ)."""
    cfg = {**ppo_cfg, "num_minibatches": 1, "update_epochs": 3, "hidden_sizes": [8, 8]}
    obs_spaces = {
        "a": spaces.Box(-np.inf, np.inf, (3,), np.float32),
        "b": spaces.Box(-np.inf, np.inf, (5,), np.float32),
    }
    act_spaces = {
        "a": spaces.Box(-1, 1, (1,), np.float32),
        "b": spaces.Box(-1, 1, (2,), np.float32),
    }
    steps, envs = 6, 4
    ensemble = AgentEnsemble(["a", "b"], obs_spaces, act_spaces, cfg, steps, envs, seed=10)
    singles = {
        name: PPOAgent(name, obs_spaces[name], act_spaces[name], cfg, steps, envs, seed=10 + k)
        for k, name in enumerate(["a", "b"])
    }
    rng = np.random.default_rng(0)
    for _ in range(steps):
        obs = {n: rng.normal(size=(envs, obs_spaces[n].shape[0])) for n in singles}
        actions = ensemble.act(obs)
        for name, agent in singles.items():
            # Feed each single agent the same actions the ensemble sampled.
            x = agent.normalize(obs[name], update=True)
            a = torch.as_tensor(actions[name], dtype=torch.float32)
            dist = agent.policy.distribution(x)
            agent._pending = _Step(x, a, dist.log_prob(a).sum(-1), agent.policy.value(x))
        rewards = {n: rng.normal(size=envs) * 100 for n in singles}
        ended = {n: rng.random(envs) < 0.2 for n in singles}
        final = {n: rng.normal(size=(envs, obs_spaces[n].shape[0])) for n in singles}
        none = {n: np.zeros(envs, dtype=bool) for n in singles}
        ensemble.observe_rewards(rewards, none, ended, final)
        for name, agent in singles.items():
            agent.observe_rewards(rewards[name], none[name], ended[name], final[name])
    last = {n: rng.normal(size=(envs, obs_spaces[n].shape[0])) for n in singles}
    diagnostics = ensemble.update(last, progress=0.25)
    for name, agent in singles.items():
        single_diag = agent.update(last[name], progress=0.25)
        for key, value in single_diag.items():
            assert diagnostics[name][key] == pytest.approx(value, rel=1e-4, abs=1e-6), key
        probe = rng.normal(size=(3, obs_spaces[name].shape[0]))
        np.testing.assert_allclose(
            ensemble.act(
                {n: probe if n == name else np.zeros((3, obs_spaces[n].shape[0])) for n in singles},
                deterministic=True,
                learn=False,
            )[name],
            agent.act(probe, deterministic=True, learn=False),
            atol=1e-5,
        )
