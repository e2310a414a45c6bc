"""What a node is told, and the small records it answers with.

- :class:`StepContext`: what every node may read during one step of B parallel days.
- :class:`DayProfile`: one whole day's profiles, for the day's optimum, which plans a
  day in advance (perfect foresight).
- :class:`OperatorView`: what the rule-based operator (the heuristic baseline) sees
  when it sets one node's action.
- :class:`Dispatch`: a node's answer when it is a dispatchable generator.
- :class:`OptimumTerms`: a node's part of the day's optimum, a convex QP.

These are plain data; the node types (:mod:`gridppo.grid.node`) and the baselines
(:mod:`gridppo.baselines`) agree on them, so a baseline can ask any node, including a
type registered by a student, instead of switching on the node's class.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from gridppo.grid.profiles import DailyProfiles

__all__ = [
    "StepContext",
    "DayProfile",
    "OperatorView",
    "Dispatch",
    "OptimumTerms",
    "SOLVER_RESIDUE_MW",
    "snap_residue",
]

# Below this a planned shed or curtailment is solver residue, not a decision (MW).
SOLVER_RESIDUE_MW = 1e-7


@dataclass
class StepContext:
    """What every node may read during one step; arrays have one entry per day [B].

    ``price_forecast`` is [B, forecast_steps]. ``is_last_step`` is True for rows whose
    day ends with this step.
    """

    step: np.ndarray
    steps_per_day: int
    dt_h: float
    load_pu: np.ndarray
    pv_pu: np.ndarray
    price_eur_per_mwh: np.ndarray
    price_forecast: np.ndarray
    is_last_step: np.ndarray


@dataclass(frozen=True)
class DayProfile:
    """One day of the profiles, for planning the whole day; arrays are [T] (T = steps
    per day)."""

    profiles: DailyProfiles
    day: int
    forecast_steps: int

    @property
    def load_pu(self) -> np.ndarray:
        """The day's load level, [T]."""
        return self.profiles.load_pu[self.day]

    @property
    def pv_pu(self) -> np.ndarray:
        """The day's PV output per unit of installed power, [T]."""
        return self.profiles.pv_pu[self.day]

    @property
    def price_eur_per_mwh(self) -> np.ndarray:
        """The day's energy price, [T] (EUR/MWh)."""
        return self.profiles.price_eur_per_mwh[self.day]

    @property
    def steps(self) -> int:
        """Steps in the day, T."""
        return self.profiles.steps_per_day

    @property
    def dt_h(self) -> float:
        """Length of a step (hours)."""
        return 24.0 / self.steps

    def context(self, step: int) -> StepContext:
        """The context of one step of this day, as the environment builds it (B = 1)."""
        return self.profiles.step_context(
            np.array([self.day]), np.array([step]), self.forecast_steps
        )


@dataclass(frozen=True)
class OperatorView:
    """What the rule-based operator sees when it sets one node's action.

    ``observation`` is the node's own observation [B, obs_dim] (its first column is
    the bus voltage ``vm_pu``); ``price_percentile(q)`` is the q-th percentile of the
    training days' prices (EUR/MWh), so a rule can call a price cheap or dear.
    """

    ctx: StepContext
    observation: np.ndarray
    max_vm_pu: float
    price_percentile: Callable[[float], float]


@dataclass(frozen=True)
class Dispatch:
    """A dispatchable generator: a pandapower ``gen`` whose output the node's action
    sets anywhere in ``min_p_mw .. max_p_mw``, at a quadratic fuel cost
    ``(cost_eur_per_mwh * p + cost_eur_per_mw2h * p^2) * dt``."""

    gen_index: int
    min_p_mw: float
    max_p_mw: float
    cost_eur_per_mwh: float
    cost_eur_per_mw2h: float


@dataclass
class OptimumTerms:
    """A node's part of the day's optimum (see :mod:`gridppo.baselines.day_qp`).

    Each decision is a cvxpy variable of shape [T], named in ``variables``; after a
    solve the node reads their values back in ``Node.optimum_schedule``.
    ``injection_mw`` is what the decisions add to the node's injection at its bus,
    [T] (MW, positive feeds the grid; 0 for none), ``cost_eur`` their cost over the
    day (a convex scalar expression, EUR) and ``constraints`` their limits.
    ``day_parameters`` pairs each cvxpy Parameter with the function that sets its
    value from a :class:`DayProfile` before each solve.
    """

    variables: dict[str, Any] = field(default_factory=dict)
    injection_mw: Any = 0.0
    cost_eur: Any = 0.0
    constraints: list[Any] = field(default_factory=list)
    day_parameters: list[tuple[Any, Callable[[DayProfile], np.ndarray]]] = field(
        default_factory=list
    )


def snap_residue(x_mw: np.ndarray) -> np.ndarray:
    """Zero an unused lever's interior-point residue (~1e-10 MW), so that it replays as
    idle (values at or below :data:`SOLVER_RESIDUE_MW` become 0)."""
    return np.where(x_mw > SOLVER_RESIDUE_MW, x_mw, 0.0)
