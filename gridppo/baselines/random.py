"""Random actions: the floor any learner must clear."""

from __future__ import annotations

import numpy as np

from gridppo.env import BatchedGridEnv

__all__ = ["RandomPolicy"]


class RandomPolicy:
    """Uniformly random actions in [-1, 1], from its own seeded generator."""

    name = "random"

    def __init__(self, seed: int = 0):
        self.rng = np.random.default_rng(seed)

    def act(self, observations: dict[str, np.ndarray], env: BatchedGridEnv) -> dict:
        """Draw one uniform action per agent and day."""
        return {
            name: self.rng.uniform(-1.0, 1.0, (env.batch_size, space.shape[0]))
            for name, space in env.action_spaces.items()
        }
