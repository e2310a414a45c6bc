"""The same PPO on a standard task: one agent on Gymnasium's Pendulum-v1."""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from gridppo.agents.single_agent import train_single_agent


def random_returns(episodes: int = 16) -> np.ndarray:
    """Returns of uniformly random torques on Pendulum-v1 (about -1,200)."""
    env = gym.make("Pendulum-v1")
    env.action_space.seed(0)
    out = []
    for episode in range(episodes):
        env.reset(seed=episode)
        total, done = 0.0, False
        while not done:
            _, reward, terminated, truncated, _ = env.step(env.action_space.sample())
            total += float(reward)
            done = terminated or truncated
        out.append(total)
    return np.array(out)


def test_ppo_learns_pendulum_well_beyond_random():
    returns = train_single_agent("Pendulum-v1", total_steps=50_000, seed=0)
    random_mean = random_returns().mean()
    last = returns[-len(returns) // 10 :].mean()
    # Random torques score about -1,200; PPO reaches about -300 in 50,000 steps.
    assert random_mean < -1000
    assert last > random_mean + 600, (last, random_mean)
