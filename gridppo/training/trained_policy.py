"""A trained team of agents as a policy, from a trainer or a checkpoint."""

from __future__ import annotations

import os

import numpy as np

from gridppo.env import BatchedGridEnv
from gridppo.training.checkpoints import checkpoint_config, load_checkpoint, must_fit
from gridppo.training.node_agents import NodeAgents

__all__ = ["TrainedPolicy"]


class TrainedPolicy:
    """Trained learners wrapped as a policy: ``act(observations, env) -> actions``.

    Actions are deterministic (the Gaussian's mean) unless ``deterministic=False``;
    nothing is learned and no statistics change. ``name`` labels it in KPI tables (give
    two trained policies different names to compare them side by side).
    """

    def __init__(
        self,
        learners: NodeAgents,
        deterministic: bool = True,
        name: str = "ippo",
    ):
        self.learners, self.deterministic, self.name = learners, deterministic, name

    def act(self, observations: dict[str, np.ndarray], env: BatchedGridEnv) -> dict:
        """Actions of every agent."""
        return self.learners.act(observations, self.deterministic, learn=False)

    @classmethod
    def from_checkpoint(
        cls, path: str | os.PathLike, deterministic: bool = True, name: str = "ippo"
    ):
        """Load a policy from a checkpoint; returns ``(policy, config)``.

        Raises :class:`CheckpointError` if the file cannot be read or does not fit.
        """
        state = load_checkpoint(path)
        cfg = checkpoint_config(state, path)
        env = BatchedGridEnv(cfg, batch_size=cfg["train"]["num_days"], mode="test", autoreset=False)
        learners = NodeAgents(env, cfg)
        with must_fit(path):
            learners.load_state_dict(state["learners"])
        return cls(learners, deterministic, name), cfg
