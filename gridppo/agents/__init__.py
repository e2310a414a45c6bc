"""Agents: PPO written once, over a leading agent axis (A = 1 is one agent).

- :mod:`~gridppo.agents.network`: the actor-critic of A agents, one parameter row each.
- :mod:`~gridppo.agents.adam`: one Adam per agent row, and per-agent gradient clipping.
- :mod:`~gridppo.agents.normalize`: per-agent observation and reward statistics.
- :mod:`~gridppo.agents.buffer`: the rollout buffer and GAE.
- :mod:`~gridppo.agents.ppo`: the PPO losses and :class:`PPO` (act, observe, update).
- :mod:`~gridppo.agents.single_agent`: the same PPO on a Gymnasium task (Pendulum-v1).
"""

from gridppo.agents.adam import RowAdam, clip_grad_norm_rows
from gridppo.agents.buffer import RolloutBuffer, compute_gae
from gridppo.agents.network import ActorCritic
from gridppo.agents.normalize import RewardScaler, RunningMeanStd
from gridppo.agents.ppo import DIAGNOSTICS, PPO, clipped_policy_loss, value_loss

__all__ = [
    "DIAGNOSTICS",
    "PPO",
    "ActorCritic",
    "RewardScaler",
    "RolloutBuffer",
    "RowAdam",
    "RunningMeanStd",
    "clip_grad_norm_rows",
    "clipped_policy_loss",
    "compute_gae",
    "value_loss",
]
