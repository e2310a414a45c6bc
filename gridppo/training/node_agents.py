"""The grid's agents as one :class:`~gridppo.agents.ppo.PPO`: one row per node.

The environment speaks in dicts keyed by agent name, each value an array [N, d] with
the agent's own size d; :class:`~gridppo.agents.ppo.PPO` speaks in arrays with a
leading agent axis [R, N, max d]. :class:`NodeAgents` translates between the two and
decides the parameter sharing: with ``ppo.parameter_sharing: none`` every node has its
own learner (Independent PPO); with ``per_type`` the nodes of one type share one.
With ``ppo.constraint: lagrangian`` it also reprices the grid's violations in every
reward with learned multipliers (:mod:`gridppo.training.constraints`); the critic
(``ppo.critic``) is the PPO's business.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from gridppo.agents.ppo import DIAGNOSTICS, PPO
from gridppo.env import BatchedGridEnv
from gridppo.training.constraints import CONSTRAINT_LOG_KEYS, GridConstraints

__all__ = ["NodeAgents"]


class NodeAgents:
    """Every node's agent, trained by one PPO (see the module docstring).

    ``learner_names[g]`` names learner ``g``: the node's name, or the node type's under
    parameter sharing; ``learner_of[name]`` is the learner a node uses. ``constraints``
    is the :class:`~gridppo.training.constraints.GridConstraints` of a Lagrangian run
    (else None) and ``log_keys`` the extra metrics.csv columns it logs.
    """

    def __init__(self, env: BatchedGridEnv, config: Mapping[str, Any]):
        ppo = config["ppo"]
        self.names = list(env.agents)
        if ppo["parameter_sharing"] == "per_type":
            keys = [node.type_name for node in env.nodes]
        else:
            keys = list(self.names)
        self.learner_names = list(dict.fromkeys(keys))  # first appearance order
        rows = [self.learner_names.index(key) for key in keys]
        self.learner_of = {name: keys[r] for r, name in enumerate(self.names)}
        self.obs_dims = [env.observation_spaces[n].shape[0] for n in self.names]
        self.act_dims = [env.action_spaces[n].shape[0] for n in self.names]
        self.ppo = PPO(
            self.obs_dims,
            self.act_dims,
            ppo,
            num_steps=config["train"]["rollout_steps"],
            num_envs=env.batch_size,
            seed=config["seed"] * 1000,
            rows=rows,
        )
        lagrangian = ppo["constraint"] == "lagrangian"
        self.constraints = GridConstraints(config) if lagrangian else None
        self.log_keys: tuple[str, ...] = CONSTRAINT_LOG_KEYS if lagrangian else ()
        self.constraint_log: dict[str, float] = {}

    def stack(self, per_agent: Mapping[str, np.ndarray]) -> np.ndarray:
        """Per-agent arrays [N, d_k] (or [N]) -> one array [R, N, max d] (or [R, N]),
        zero-padded."""
        first = np.asarray(per_agent[self.names[0]])
        if first.ndim == 1:
            return np.stack([np.asarray(per_agent[n], dtype=np.float64) for n in self.names])
        out = np.zeros((len(self.names), first.shape[0], max(self.obs_dims)))
        for k, name in enumerate(self.names):
            out[k, :, : self.obs_dims[k]] = per_agent[name]
        return out

    def act(
        self,
        observations: Mapping[str, np.ndarray],
        deterministic: bool = False,
        learn: bool = True,
    ) -> dict[str, np.ndarray]:
        """Every node's action [N, act_dim] for its observation [N, obs_dim]."""
        actions = self.ppo.act(self.stack(observations), deterministic, learn)
        return {name: actions[k, :, : self.act_dims[k]] for k, name in enumerate(self.names)}

    def observe(
        self,
        rewards: Mapping[str, np.ndarray],
        terminated: Mapping[str, np.ndarray],
        truncated: Mapping[str, np.ndarray],
        final_obs: Mapping[str, np.ndarray] | None = None,
        violations: Mapping[str, np.ndarray] | None = None,
    ) -> None:
        """Hand every agent its step's rewards and episode flags [N]; a Lagrangian run
        needs the step's ``violations`` (the environment's ``info["violations"]``)."""
        if self.constraints is not None:
            if violations is None:
                raise ValueError("a Lagrangian run needs each step's violations")
            rewards = self.constraints.shape(rewards, violations)
        self.ppo.observe(
            self.stack(rewards),
            self.stack(terminated).astype(bool),
            self.stack(truncated).astype(bool),
            None if final_obs is None else self.stack(final_obs),
        )

    def update(
        self, last_obs: Mapping[str, np.ndarray], progress: float
    ) -> dict[str, dict[str, float]]:
        """One PPO update of every learner, then of the Lagrange multipliers (their log
        row goes to ``constraint_log``); diagnostics per node (nodes sharing a learner
        repeat its diagnostics)."""
        diagnostics = self.ppo.update(self.stack(last_obs), progress)
        if self.constraints is not None:
            self.constraint_log = self.constraints.update()
        return {
            name: {key: float(diagnostics[key][k]) for key in DIAGNOSTICS}
            for k, name in enumerate(self.names)
        }

    def non_finite_learners(self) -> list[str]:
        """The learners whose parameters hold a NaN or an infinity."""
        finite = self.ppo.finite_learners().tolist()
        return [name for name, ok in zip(self.learner_names, finite, strict=True) if not ok]

    def state_dict(self) -> dict[str, Any]:
        """The PPO's state, the node names it was built for and any multipliers."""
        state = {"names": list(self.names), "learners": list(self.learner_names)}
        if self.constraints is not None:
            state["constraints"] = self.constraints.state_dict()
        return {**state, **self.ppo.state_dict()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore what :meth:`state_dict` saved; raises ValueError if the nodes differ."""
        if list(state["names"]) != self.names or list(state["learners"]) != self.learner_names:
            raise ValueError("saved agents belong to other nodes or another parameter sharing")
        if (self.constraints is None) != ("constraints" not in state):
            raise ValueError("saved agents and these differ in whether they are constrained")
        self.ppo.load_state_dict(state)
        if self.constraints is not None:
            self.constraints.load_state_dict(state["constraints"])
