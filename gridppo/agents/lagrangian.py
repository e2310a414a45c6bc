"""Lagrange multipliers: constraints on the average cost of a policy, priced by learning.

A *constrained* problem (a constrained MDP, Altman 1999) asks for the best policy among
those whose average cost per step stays within a limit, for each constraint k::

    maximise  J_r(pi)   subject to   J_k(pi) = E[c_k per step] <= d_k.

The Lagrangian relaxation turns it into a game between the policy and one multiplier
lambda_k >= 0 per constraint::

    max_pi  min_{lambda >= 0}  J_r(pi) - sum_k lambda_k * (J_k(pi) - d_k).

The policy learns on the *shaped* reward ``r - sum_k lambda_k * c_k`` (any RL algorithm;
here PPO), and each multiplier takes a projected gradient step on the dual after every
update (:func:`lagrange_step`)::

    lambda_k <- max(0, lambda_k + lr_k * (mean cost_k of the rollout - d_k)).

A constraint that is violated raises its price until the policy respects it; one with
room to spare lowers the price, down to 0, so the policy stops paying for safety it
does not need. This is the PPO-Lagrangian of Ray, Achiam and Amodei ("Benchmarking Safe
Exploration in Deep RL", 2019), in its simplest form: the multipliers shape the reward
(one critic learns the shaped return) instead of weighting a separate cost critic.

Nothing here knows about grids: :mod:`gridppo.training.constraints` says which costs
the grid's agents are constrained on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["LagrangeMultipliers", "lagrange_step"]


def lagrange_step(
    multiplier: np.ndarray | float,
    mean_cost: np.ndarray | float,
    limit: np.ndarray | float,
    lr: np.ndarray | float,
) -> np.ndarray:
    """One projected gradient step of Lagrange multipliers on the dual problem.

    ``max(0, multiplier + lr * (mean_cost - limit))``, element by element: the gradient
    of the Lagrangian with respect to a multiplier is how far the constraint is
    violated, and the multiplier is kept non-negative (a constraint ``<=`` can only
    cost, never pay).
    """
    multiplier = np.asarray(multiplier, dtype=np.float64)
    step = np.asarray(lr, dtype=np.float64) * (np.asarray(mean_cost) - np.asarray(limit))
    return np.maximum(0.0, multiplier + step)


class LagrangeMultipliers:
    """One multiplier per constraint, learned from the costs seen in each rollout.

    Arguments:
        names: the constraints, e.g. ``["overload_percent", "voltage_pu"]``.
        limits: each constraint's limit d_k on the average cost per step.
        lrs: each multiplier's step size (reward units per unit of cost, per unit of
            violation of the limit).
        initial: each multiplier's starting value.

    Call :meth:`record` with every step's costs, :meth:`penalty` for what a step's costs
    take from the reward, and :meth:`update` once per rollout.
    """

    def __init__(
        self,
        names: Sequence[str],
        limits: Sequence[float],
        lrs: Sequence[float],
        initial: Sequence[float],
    ):
        self.names = list(names)
        self.limits = np.asarray(limits, dtype=np.float64)
        self.lrs = np.asarray(lrs, dtype=np.float64)
        self.values = np.asarray(initial, dtype=np.float64).copy()
        if not len(self.names) == len(self.limits) == len(self.lrs) == len(self.values):
            raise ValueError("one limit, step size and initial value per constraint")
        self._sums = np.zeros(len(self.names))
        self._count = 0

    def penalty(self, costs: Mapping[str, np.ndarray]) -> np.ndarray:
        """``sum_k lambda_k * c_k`` for one step's costs (name -> [B])."""
        return sum(value * np.asarray(costs[name]) for name, value in zip(
            self.names, self.values, strict=True
        ))  # fmt: skip

    def record(self, costs: Mapping[str, np.ndarray]) -> None:
        """Add one step's costs (name -> [B], one per parallel episode) to the rollout's."""
        self._sums += [float(np.sum(costs[name])) for name in self.names]
        self._count += int(np.size(costs[self.names[0]]))

    def mean_costs(self) -> np.ndarray:
        """The recorded rollout's average cost per step of each constraint."""
        if self._count == 0:
            raise RuntimeError("no costs recorded since the last update")
        return self._sums / self._count

    def update(self) -> dict[str, float]:
        """Step every multiplier on the recorded rollout (:func:`lagrange_step`), start a
        new rollout; returns each constraint's mean cost (``NAME``) and new multiplier
        (``NAME_multiplier``)."""
        mean = self.mean_costs()
        self.values = lagrange_step(self.values, mean, self.limits, self.lrs)
        self._sums[:] = 0.0
        self._count = 0
        report = {name: float(m) for name, m in zip(self.names, mean, strict=True)}
        for name, value in zip(self.names, self.values, strict=True):
            report[f"{name}_multiplier"] = float(value)
        return report

    def state_dict(self) -> dict[str, Any]:
        """The multipliers (plain data, as a checkpoint stores them)."""
        return {"names": list(self.names), "values": [float(v) for v in self.values]}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore :meth:`state_dict`'s multipliers; raises ValueError for other constraints."""
        if list(state["names"]) != self.names:
            raise ValueError(f"saved multipliers are for {state['names']}, not {self.names}")
        self.values = np.asarray(state["values"], dtype=np.float64).copy()
        self._sums[:] = 0.0
        self._count = 0
