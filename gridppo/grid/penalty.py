"""The shared grid penalty: what a violation of the grid's limits costs.

This module owns the config's ``reward`` section. It alone reads its settings and says
what they mean; the environment asks it for the penalty of a step and for the weight
with which every agent feels it, and the evaluation reports what it computes:

- ``voltage_penalty_eur_per_pu``: per p.u. of voltage outside
  ``grid.min_vm_pu .. grid.max_vm_pu``, summed over buses;
- ``overload_penalty_eur_per_percent``: per percent of branch loading above
  ``grid.max_loading_percent``, summed over branches;
- ``nonconvergence_penalty_eur`` and ``value_of_lost_load_eur_per_mwh``: a power flow
  that does not converge is a blackout that ends the day, and costs the fixed penalty
  plus the rest of the day's demand (that step included) at the value of lost load; no
  voltage or overload part then, since the state is unknown;
- ``grid_penalty_weight``: how strongly each agent weighs the whole penalty in its
  reward (every agent receives all of it, not a share). The system cost counts the
  penalty unweighted.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from gridppo.grid.physics import PowerFlowResult

__all__ = ["GridPenalty", "PENALTY_PARTS", "VIOLATIONS"]

# The parts of the penalty, each [B] (EUR), as the environment reports them.
PENALTY_PARTS = ("voltage_eur", "overload_eur", "failure_eur")

# How far a step breaks the grid's limits, each [B]: the quantities the voltage and
# overload parts of the penalty price (``ppo.constraint: lagrangian`` constrains them).
VIOLATIONS = ("overload_percent", "voltage_pu")


class GridPenalty:
    """The penalty rates and limits of one configuration (see the module docstring).

    Arguments:
        config: a validated config (its ``grid`` limits and its ``reward`` section).
    """

    def __init__(self, config: Mapping[str, Any]):
        grid, reward = config["grid"], config["reward"]
        self.min_vm_pu = grid["min_vm_pu"]
        self.max_vm_pu = grid["max_vm_pu"]
        self.max_loading_percent = grid["max_loading_percent"]
        self.weight = reward["grid_penalty_weight"]
        self.voltage_eur_per_pu = reward["voltage_penalty_eur_per_pu"]
        self.overload_eur_per_percent = reward["overload_penalty_eur_per_percent"]
        self.failure_eur = reward["nonconvergence_penalty_eur"]
        self.value_of_lost_load_eur_per_mwh = reward["value_of_lost_load_eur_per_mwh"]

    def violations(self, pf: PowerFlowResult, loading_percent: np.ndarray) -> dict[str, np.ndarray]:
        """How far one step breaks the limits (:data:`VIOLATIONS`), each [B]:
        ``overload_percent``, the percent of loading above ``grid.max_loading_percent``
        summed over branches, and ``voltage_pu``, the p.u. outside the voltage band
        summed over buses; 0 where the power flow failed (its state is unknown).
        ``loading_percent`` is the branch loading of ``pf`` [B, n_branch]."""
        below = np.clip(self.min_vm_pu - pf.vm_pu, 0, None)
        above = np.clip(pf.vm_pu - self.max_vm_pu, 0, None)
        voltage_pu = (below + above).sum(axis=1) * pf.converged
        overload = np.clip(loading_percent - self.max_loading_percent, 0, None).sum(axis=1)
        return {"overload_percent": overload * pf.converged, "voltage_pu": voltage_pu}

    def parts_eur(
        self, pf: PowerFlowResult, loading_percent: np.ndarray, lost_load_mwh: np.ndarray
    ) -> dict[str, np.ndarray]:
        """The penalty of one step, split into :data:`PENALTY_PARTS`, each [B] (EUR).

        ``loading_percent`` is the branch loading of ``pf`` [B, n_branch];
        ``lost_load_mwh`` [B] the demand a failure leaves unserved (0 where the power
        flow converged).
        """
        violations = self.violations(pf, loading_percent)
        return {
            "voltage_eur": self.voltage_eur_per_pu * violations["voltage_pu"],
            "overload_eur": self.overload_eur_per_percent * violations["overload_percent"],
            "failure_eur": (~pf.converged)
            * (self.failure_eur + self.value_of_lost_load_eur_per_mwh * lost_load_mwh),
        }

    def shared_reward_eur(self, penalty_eur: np.ndarray) -> np.ndarray:
        """What every agent's reward receives of the total penalty ``penalty_eur`` [B]:
        ``-grid_penalty_weight * penalty_eur``."""
        return -self.weight * penalty_eur
