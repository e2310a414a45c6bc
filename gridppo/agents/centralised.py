"""The input of a centralised critic (MAPPO): what every agent observes, then its own view.

Multi-Agent PPO (Yu et al., "The Surprising Effectiveness of PPO in Cooperative
Multi-Agent Games", NeurIPS 2022) keeps PPO's actors decentralised, each acting on its
own observation, but gives each critic a *global state* during training. A critic is
only needed to compute advantages, so execution stays decentralised: a trained actor
never reads anything but its own observation.

Which global state: here it is the concatenation of every agent's (normalised)
observation in agent order, followed by the agent's own observation, zero-padded to the
largest observation size. For the grid that is the grid as all its nodes see it
together: every node's bus voltage, loading, prices, its own state of charge or output,
the hour. The agent's own observation is repeated at the end for two reasons:

- under parameter sharing, the members of one learner share one critic; the repeated
  block tells that critic *which* member's return it is predicting (MAPPO's
  "agent-specific global state");
- it puts the agent's own features at the same inputs for every agent.

Every row of the result has the same real inputs first (``sum(obs_dims)`` of them plus
the row's own ``obs_dims[r]``) and padding last, so the padded inputs are always 0 and
their weights get no gradient (see :mod:`gridppo.agents.network`).

The size grows with the number of agents: ``sum(obs_dims)`` inputs per critic and one
critic per agent make the critics' cost quadratic in the number of agents (238 + 16
inputs per critic on case14; about 2,300 on case118).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

__all__ = ["centralised_critic_dims", "centralised_critic_input"]


def centralised_critic_dims(obs_dims: Sequence[int]) -> list[int]:
    """Each agent's number of real critic inputs: every observation, then its own."""
    total = sum(obs_dims)
    return [total + d for d in obs_dims]


def centralised_critic_input(x: torch.Tensor, obs_dims: Sequence[int]) -> torch.Tensor:
    """The centralised critic's input [R, N, sum(obs_dims) + D] from observations x
    [R, N, D] (agent r's observation in ``x[r, :, :obs_dims[r]]``, zero-padded to D).

    Row r is ``[x[0, :, :d_0], x[1, :, :d_1], ..., x[R-1, :, :d_{R-1}], x[r]]``: the same
    global part for every agent, then the agent's own padded observation.
    """
    num_rows, num_samples, width = x.shape
    if len(obs_dims) != num_rows:
        raise ValueError(f"{len(obs_dims)} observation sizes for {num_rows} agents")
    # One gather picks every agent's real entries out of the padded block.
    real = torch.cat([torch.arange(d) + r * width for r, d in enumerate(obs_dims)])
    flat = x.transpose(0, 1).reshape(num_samples, num_rows * width)[:, real]
    return torch.cat([flat.expand(num_rows, num_samples, -1), x], dim=-1)
