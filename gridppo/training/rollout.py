"""One rollout of every agent on the training days, and the checks for NaN and infinity.

:func:`collect_rollout` is the first half of an update: every agent acts on B parallel
days for ``rollout_steps`` steps, its experience goes into its rollout buffer, and the
finished days' returns and the grid's metrics become one row of the run's log.

Non-finite values are caught where they first appear (an observation, a reward, a loss,
a parameter after the update) and raised as :class:`TrainingDivergedError` naming the
agent, before anything of the update is saved.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

from gridppo.agents.ppo import DIAGNOSTICS
from gridppo.env import BatchedGridEnv
from gridppo.grid.network import METRIC_NAMES
from gridppo.training.node_agents import NodeAgents

__all__ = ["TrainingDivergedError", "collect_rollout", "check_update"]

# Builds the error for a non-finite ``what`` of ``agent`` (the trainer adds the update
# and what ``last.pt`` keeps).
Diverged = Callable[[str, str], Exception]


class TrainingDivergedError(RuntimeError):
    """Training produced NaN or infinite values.

    Attributes: ``agent`` (the learner's name), ``update`` (the update that failed, 1 for
    the first) and ``what`` (observation, reward, a loss, or parameters). The trainer has
    returned to its last completed update, whose weights ``last.pt`` still holds.
    """

    def __init__(self, message: str, agent: str, update: int, what: str):
        super().__init__(message)
        self.agent, self.update, self.what = agent, update, what

    @classmethod
    def during(
        cls, update: int, agent: str, what: str, last_pt: Path | None, kept_update: int | None
    ) -> TrainingDivergedError:
        """The one-line error for ``what`` of ``agent`` in ``update``, saying what
        ``last_pt`` keeps (None: nothing was saved yet)."""
        kept = (
            "no checkpoint was written yet"
            if last_pt is None
            else f"'{last_pt}' keeps update {kept_update}"
        )
        return cls(
            f"training diverged in update {update}: {what} of agent '{agent}' is NaN or "
            f"infinite; stopped, {kept}",
            agent,
            update,
            what,
        )


def _check_observations(observations: Mapping[str, np.ndarray], diverged: Diverged) -> None:
    for name, values in observations.items():
        if not np.isfinite(values).all():
            raise diverged(name, "observation")


def collect_rollout(
    env: BatchedGridEnv,
    agents: NodeAgents,
    observations: dict[str, np.ndarray],
    episode_return: dict[str, np.ndarray],
    steps: int,
    diverged: Diverged,
) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """Run ``steps`` steps of every agent from ``observations``, storing the experience
    in the agents' buffers; ``episode_return`` (per agent, [B]) is carried over and
    updated in place. Returns the next observations and the log row: the mean return
    of the days that finished (``charts/...``) and the mean grid metrics (``grid/...``).
    """
    obs = observations
    finished: dict[str, list[np.ndarray]] = {a: [] for a in env.agents}
    grid_sums = dict.fromkeys(METRIC_NAMES, 0.0)
    for _ in range(steps):
        _check_observations(obs, diverged)
        actions = agents.act(obs)
        obs, rewards, terminated, truncated, info = env.step(actions)
        agents.observe(
            rewards, terminated, truncated, info.get("final_observation"), info["violations"]
        )
        ended = info["day_ended"]
        for a in env.agents:
            episode_return[a] += rewards[a]
            if ended.any():
                finished[a].append(episode_return[a][ended].copy())
                episode_return[a][ended] = 0.0
        for key in METRIC_NAMES:
            grid_sums[key] += float(np.mean(info["metrics"][key]))
    _check_observations(obs, diverged)
    returns = {a: np.concatenate(v) if v else np.array([]) for a, v in finished.items()}
    # A non-finite reward shows in the running or in a finished episode's return.
    for a in env.agents:
        if not (np.isfinite(episode_return[a]).all() and np.isfinite(returns[a]).all()):
            raise diverged(a, "reward")
    row: dict[str, float] = {}
    team = sum(returns.values()) if all(len(v) for v in returns.values()) else np.array([])
    row["charts/team_return"] = float(np.mean(team)) if len(team) else math.nan
    for a in env.agents:
        row[f"charts/episodic_return/{a}"] = (
            float(np.mean(returns[a])) if len(returns[a]) else math.nan
        )
    for key in METRIC_NAMES:
        row[f"grid/{key}"] = grid_sums[key] / steps
    return obs, row


def check_update(
    diagnostics: Mapping[str, Mapping[str, float]], agents: NodeAgents, diverged: Diverged
) -> None:
    """After an update: every loss finite and every learner's parameters finite (NaN or
    infinite gradients end up in the parameters)."""
    for name, diag in diagnostics.items():
        for key in DIAGNOSTICS:
            # explained_variance is NaN by definition when the returns do not vary.
            if key != "explained_variance" and not math.isfinite(diag[key]):
                raise diverged(name, key.replace("_", " "))
    bad = agents.non_finite_learners()
    if bad:
        raise diverged(bad[0], "parameters after the update (NaN or infinite gradients)")
