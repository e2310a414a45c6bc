"""One agent on a standard task: the same PPO that trains the grid, on Gymnasium.

The grid's 17 agents are :class:`gridppo.agents.ppo.PPO` with A = 17; here the same
class runs with A = 1 on a Gymnasium continuous-control environment (Pendulum-v1 by
default), so a student can check it against a task with known results and read the
loop without the grid around it::

    from gridppo.agents.single_agent import train_single_agent
    returns = train_single_agent("Pendulum-v1", total_steps=100_000, seed=0)
    print(returns[-10:])  # episode returns; random actions score about -1,200

or ``python -m gridppo.agents.single_agent``. The loop is the one CleanRL writes: N copies of the
environment step together; after ``num_steps`` steps, one PPO update. Pendulum never
terminates, it is *truncated* after 200 steps, so the value of the final observation
is the bootstrap there (``final_obs``), as "Time Limits in Reinforcement Learning"
(Pardo et al. 2018) asks.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import AutoresetMode

from gridppo.agents.ppo import PPO

__all__ = ["PENDULUM_PPO", "train_single_agent"]

# PPO settings for Pendulum-v1 (the grid's come from the config file). Pendulum needs a
# longer horizon per update and more epochs than the grid's 24-step days.
PENDULUM_PPO: dict[str, Any] = {
    "hidden_sizes": [64, 64],
    "lr": 1e-3,
    "anneal_lr": True,
    "gamma": 0.95,
    "gae_lambda": 0.95,
    "clip_coef": 0.2,
    "clip_vloss": False,
    "ent_coef": 0.0,
    "vf_coef": 0.5,
    "max_grad_norm": 0.5,
    "update_epochs": 10,
    "num_minibatches": 8,
    "target_kl": None,
    "norm_adv": True,
    "norm_obs": True,
    "norm_reward": True,
    "init_log_std": -0.5,
}


def train_single_agent(
    env_id: str = "Pendulum-v1",
    total_steps: int = 100_000,
    seed: int = 0,
    num_envs: int = 16,
    num_steps: int = 128,
    ppo: Mapping[str, Any] | None = None,
    torch_threads: int = 1,
) -> np.ndarray:
    """Train one PPO agent on a Gymnasium Box-action environment; returns the return
    of every episode finished during training, in order.

    Actions are the policy's output clipped to [-1, 1] and scaled to the action space.
    ``torch_threads`` is 1: a single small network gains little from more, and more
    threads wait on each other, badly so when other programs share the cores (see
    docs/benchmarks.md).
    """
    torch.set_num_threads(torch_threads)
    cfg = {**PENDULUM_PPO, **(ppo or {})}
    envs = gym.make_vec(
        env_id,
        num_envs=num_envs,
        vectorization_mode="sync",
        vector_kwargs={"autoreset_mode": AutoresetMode.SAME_STEP},
    )
    low, high = envs.single_action_space.low, envs.single_action_space.high
    obs_dim = envs.single_observation_space.shape[0]
    act_dim = envs.single_action_space.shape[0]
    agent = PPO([obs_dim], [act_dim], cfg, num_steps, num_envs, seed=seed)

    obs, _ = envs.reset(seed=seed)
    episode_return = np.zeros(num_envs)
    finished: list[float] = []
    updates = total_steps // (num_steps * num_envs)
    for update in range(updates):
        for _step in range(num_steps):
            action = agent.act(obs[None])[0]  # the agent axis: A = 1
            scaled = low + (np.clip(action, -1.0, 1.0) + 1.0) * 0.5 * (high - low)
            obs, reward, terminated, truncated, info = envs.step(scaled)
            ended = terminated | truncated
            final_obs = None
            if ended.any():  # the observation each finished episode ended on
                final_obs = np.array(obs, dtype=np.float64)
                for i in np.flatnonzero(info["_final_obs"]):
                    final_obs[i] = info["final_obs"][i]
                final_obs = final_obs[None]
            agent.observe(reward[None], terminated[None], truncated[None], final_obs)
            episode_return += reward
            finished += episode_return[ended].tolist()
            episode_return[ended] = 0.0
        agent.update(obs[None], progress=update / updates)
    envs.close()
    return np.array(finished)


def main() -> None:
    """``python -m gridppo.agents.single_agent [--steps N] [--seed S]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="Pendulum-v1")
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    returns = train_single_agent(args.env, args.steps, args.seed)
    tenth = max(len(returns) // 10, 1)
    print(f"first {tenth} episodes: mean return {returns[:tenth].mean():.0f}")
    print(f"last {tenth} episodes: mean return {returns[-tenth:].mean():.0f}")


if __name__ == "__main__":
    main()
