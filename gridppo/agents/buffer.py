"""The rollout buffer and generalised advantage estimation.

Every tensor has the shape [T, R, N]: T steps, R agents (data rows), N parallel
streams (days of the grid, or copies of a Gymnasium environment).
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["compute_gae", "RolloutBuffer"]


def compute_gae(
    rewards: torch.Tensor,
    values: torch.Tensor,
    next_values: torch.Tensor,
    terminated: torch.Tensor,
    episode_ended: torch.Tensor,
    gamma: float,
    lam: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalised advantage estimation (Schulman et al. 2016).

    All inputs are [T, ...] with the same trailing shape. ``next_values[t]`` is the
    value of the state after step t: the next step's value, or, where the episode
    ended after step t, the value of the *final* observation. ``terminated[t]`` is 1
    where the episode truly ended (no future: the next value counts as 0); a
    time-limit truncation has ``terminated = 0`` and still bootstraps from
    ``next_values``. ``episode_ended[t]`` (terminated or truncated) stops the advantage
    from flowing back across the episode boundary. Returns ``(advantages, returns)``.
    """
    advantages = torch.zeros_like(rewards)
    last = torch.zeros_like(rewards[0])
    for t in reversed(range(rewards.shape[0])):
        delta = rewards[t] + gamma * (1.0 - terminated[t]) * next_values[t] - values[t]
        last = delta + gamma * lam * (1.0 - episode_ended[t]) * last
        advantages[t] = last
    return advantages, advantages + values


class RolloutBuffer:
    """One rollout of ``num_steps`` steps of R agents on N parallel streams.

    Stores what PPO needs: observations (already normalised), actions, their
    log-probabilities, values, (scaled) rewards and the episode flags; then computes
    advantages with :func:`compute_gae` and hands each agent's samples out as rows
    [R, T * N].
    """

    def __init__(self, num_steps: int, num_rows: int, num_envs: int, obs_dim: int, act_dim: int):
        self.num_steps, self.num_rows, self.num_envs = num_steps, num_rows, num_envs
        shape = (num_steps, num_rows, num_envs)
        self.obs = torch.zeros(*shape, obs_dim)
        self.actions = torch.zeros(*shape, act_dim)
        self.logprobs = torch.zeros(shape)
        self.values = torch.zeros(shape)
        self.rewards = torch.zeros(shape)
        self.terminated = torch.zeros(shape)
        self.episode_ended = torch.zeros(shape)
        self.final_values = torch.zeros(shape)  # V(final observation) where an episode ended
        self.advantages = torch.zeros(shape)
        self.returns = torch.zeros(shape)
        self.step = 0

    def add(
        self,
        obs: torch.Tensor,
        actions: torch.Tensor,
        logprobs: torch.Tensor,
        values: torch.Tensor,
        rewards: np.ndarray,
        terminated: np.ndarray,
        episode_ended: np.ndarray,
        final_values: torch.Tensor | None = None,
    ) -> None:
        """Store one step of every agent and stream."""
        if self.step >= self.num_steps:
            raise RuntimeError("RolloutBuffer is full; call compute_advantages and reset")
        t = self.step
        self.obs[t], self.actions[t] = obs, actions
        self.logprobs[t], self.values[t] = logprobs, values
        self.rewards[t] = torch.as_tensor(rewards, dtype=torch.float32)
        self.terminated[t] = torch.as_tensor(terminated, dtype=torch.float32)
        self.episode_ended[t] = torch.as_tensor(episode_ended, dtype=torch.float32)
        self.final_values[t] = 0.0 if final_values is None else final_values
        self.step += 1

    def compute_advantages(self, last_values: torch.Tensor, gamma: float, lam: float) -> None:
        """GAE over the stored rollout; ``last_values`` [R, N] is V of the next observation."""
        following = torch.cat([self.values[1:], last_values[None]], dim=0)
        next_values = torch.where(self.episode_ended > 0, self.final_values, following)
        self.advantages, self.returns = compute_gae(
            self.rewards,
            self.values,
            next_values,
            self.terminated,
            self.episode_ended,
            gamma,
            lam,
        )

    def rows(self) -> dict[str, torch.Tensor]:
        """The rollout as one row of samples per agent: [R, T * N, ...]."""

        def per_agent(t: torch.Tensor) -> torch.Tensor:
            return t.transpose(0, 1).reshape(self.num_rows, -1, *t.shape[3:])

        return {
            "obs": per_agent(self.obs),
            "actions": per_agent(self.actions),
            "logprobs": per_agent(self.logprobs),
            "values": per_agent(self.values),
            "advantages": per_agent(self.advantages),
            "returns": per_agent(self.returns),
        }

    def reset(self) -> None:
        """Start filling from the first step again."""
        self.step = 0
