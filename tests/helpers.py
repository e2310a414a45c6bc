"""Small helpers shared by the test modules (actions, rollouts)."""

from __future__ import annotations

import numpy as np

from gridppo import BatchedGridEnv


def zero_actions(env: BatchedGridEnv, value: float = 0.0) -> dict[str, np.ndarray]:
    """Batched actions with every entry equal to ``value``, keyed by agent."""
    return {
        name: np.full((env.batch_size, space.shape[0]), value)
        for name, space in env.action_spaces.items()
    }


def random_actions(
    env: BatchedGridEnv, rng: np.random.Generator, low: float = -1.0, high: float = 1.0
) -> dict[str, np.ndarray]:
    """Batched uniform actions in [low, high], keyed by agent."""
    return {
        name: rng.uniform(low, high, (env.batch_size, space.shape[0]))
        for name, space in env.action_spaces.items()
    }
