"""What a policy is, and the baselines by name.

A policy maps the batched observations to batched actions::

    actions = policy.act(observations, env)   # dicts keyed by agent, arrays [B, ...]

It may read the environment (its grid, profiles and current step), as a rule-based
controller with a view of the system would. Trained PPO agents are wrapped the same
way by :class:`gridppo.training.trainer.TrainedPolicy`.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from gridppo.baselines.heuristic import HeuristicPolicy
from gridppo.baselines.optimum import OptimumPolicy
from gridppo.baselines.random import RandomPolicy
from gridppo.baselines.single_step_opf import SingleStepOPFPolicy
from gridppo.env import BatchedGridEnv

__all__ = ["GridPolicy", "BASELINES", "make_baseline"]


class GridPolicy(Protocol):
    """Anything with a ``name`` and ``act(observations, env) -> actions``."""

    name: str

    def act(self, observations: dict[str, np.ndarray], env: BatchedGridEnv) -> dict:
        """Batched actions for the batched observations."""
        ...


# Every baseline by name: the day's optimum (the yardstick), the rule-based operator,
# the single-step AC-OPF of the producers, and random actions (the floor).
BASELINES = ("optimum", "heuristic", "single_step_opf", "random")


def make_baseline(name: str, env: BatchedGridEnv, seed: int = 0) -> GridPolicy:
    """Build a baseline policy by name (one of :data:`BASELINES`) for ``env``; ``seed``
    seeds the random policy."""
    if name == "random":
        return RandomPolicy(seed)
    if name == "heuristic":
        return HeuristicPolicy(env)
    if name == "single_step_opf":
        return SingleStepOPFPolicy(env)
    if name == "optimum":
        return OptimumPolicy(env)
    raise ValueError(f"policy: unknown policy {name!r}; choose {', '.join(BASELINES)}")
