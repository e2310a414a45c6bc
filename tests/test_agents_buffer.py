"""GAE and the rollout buffer (gridppo.agents.buffer)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gridppo.agents.buffer import RolloutBuffer, compute_gae


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


def _add(buffer, reward, terminated, ended, final_value=None):
    zeros = torch.zeros(1, 1)
    buffer.add(
        torch.zeros(1, 1, 1),
        torch.zeros(1, 1, 1),
        zeros,
        zeros,
        np.full((1, 1), reward),
        np.full((1, 1), terminated),
        np.full((1, 1), ended),
        None if final_value is None else torch.full((1, 1), final_value),
    )


def test_buffer_uses_final_value_where_the_episode_ended():
    buffer = RolloutBuffer(num_steps=2, num_rows=1, num_envs=1, obs_dim=1, act_dim=1)
    # Step 0 ends by truncation (final obs worth 4); step 1 continues into last value 2.
    _add(buffer, 1.0, False, True, final_value=4.0)
    _add(buffer, 1.0, False, False)
    buffer.compute_advantages(torch.full((1, 1), 2.0), gamma=0.5, lam=1.0)
    assert buffer.advantages[0, 0, 0].item() == pytest.approx(1 + 0.5 * 4)
    assert buffer.advantages[1, 0, 0].item() == pytest.approx(1 + 0.5 * 2)


def test_buffer_refuses_a_step_too_many_and_hands_out_one_row_per_agent():
    buffer = RolloutBuffer(num_steps=3, num_rows=2, num_envs=4, obs_dim=5, act_dim=2)
    for t in range(3):
        buffer.add(
            torch.full((2, 4, 5), float(t)),
            torch.zeros(2, 4, 2),
            torch.zeros(2, 4),
            torch.zeros(2, 4),
            np.arange(8.0).reshape(2, 4) + 10 * t,
            np.zeros((2, 4)),
            np.zeros((2, 4)),
        )
    with pytest.raises(RuntimeError, match="full"):
        buffer.add(*[torch.zeros(2, 4)] * 4, np.zeros((2, 4)), np.zeros((2, 4)), np.zeros((2, 4)))
    buffer.compute_advantages(torch.zeros(2, 4), gamma=0.9, lam=0.9)
    rows = buffer.rows()
    assert rows["obs"].shape == (2, 12, 5)
    # Agent 1's samples are agent 1's, step-major: steps 0, 1, 2 of its 4 streams.
    np.testing.assert_array_equal(rows["obs"][1, :, 0].numpy(), np.repeat([0.0, 1.0, 2.0], 4))
