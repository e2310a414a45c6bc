"""The consumer: a load that can shed part of its demand under a demand-response contract."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import cvxpy as cp
import numpy as np

from gridppo.config.fields import Field
from gridppo.config.node_specs import register_node_type
from gridppo.grid.context import DayProfile, OptimumTerms, StepContext, snap_residue
from gridppo.grid.node import Node

if TYPE_CHECKING:
    from gridppo.grid.network import PowerGrid
    from gridppo.grid.physics import Injections, PowerFlowResult

__all__ = ["Consumer"]


@register_node_type
class Consumer(Node):
    """A load that can shed part of its demand under a demand-response contract.

    Action ``shed``: ``shed_fraction = max_shed_fraction * max(0, a)`` of the demand
    ``base_p_mw * load_pu`` is not served; any ``a <= 0`` (the untrained policy's mean
    included) serves all of it. Reactive power keeps the case's power factor.
    Reward: ``-price * served_mwh`` minus ``shed_cost_eur_per_mwh`` for every MWh shed
    (``shed_cost_eur``): what going without is worth to the consumer (lost comfort or
    production), the least a demand-response contract would have to pay it. It is a
    cost to society, not a payment. At the default 300 EUR/MWh, above every energy
    price, shedding never pays for itself in energy; it pays only where it relieves the
    grid. Shed energy counts as unserved energy in the KPIs and its cost is in the
    system cost.
    Local feature ``demand_pu``: the current demand level (``load_pu``).

    Baselines: its steady (and heuristic) action sheds nothing; in the day's optimum it
    sheds ``shed_mw`` per step, up to ``max_shed_fraction`` of the demand, at its cost.
    """

    type_name = "consumer"
    PARAMS = {
        "base_p_mw": Field(
            None, "float_or_none", "Base demand (MW); null keeps the case's load.", 0.0, 10000.0
        ),
        "max_shed_fraction": Field(0.2, "float", "Largest share of demand it can shed.", 0.0, 1.0),
        "shed_cost_eur_per_mwh": Field(
            300.0, "float", "Cost to the consumer of each MWh it goes without (EUR/MWh).", 0.0, 1e5
        ),
    }
    LOCAL_FEATURES = ("demand_pu",)
    ACTIONS = ("shed",)

    def attach(self, grid: PowerGrid) -> None:
        """Claim the case's load at this bus."""
        self.load_index = self._claim_load(grid)

    def apply_action(self, action: np.ndarray, ctx: StepContext, inj: Injections) -> None:
        """Serve the demand minus the shed share."""
        self.demand_mw = self.base_p_mw * ctx.load_pu
        self.shed_fraction = self.params["max_shed_fraction"] * np.clip(action[:, 0], 0.0, 1.0)
        self.p_mw = self.demand_mw * (1.0 - self.shed_fraction)
        inj.load_p_mw[:, self.load_index] = self.p_mw
        inj.load_q_mvar[:, self.load_index] = self.p_mw * self.tan_phi
        self.injection_mw = -self.p_mw

    def local_features(self, ctx: StepContext) -> np.ndarray:
        """The demand level of this step."""
        return ctx.load_pu[:, None]

    def unserved_mw(self) -> np.ndarray:
        """The demand shed at the last step (MW)."""
        return self.demand_mw - self.p_mw

    def reward_components(self, ctx: StepContext, pf: PowerFlowResult) -> dict[str, np.ndarray]:
        """Energy bill and the price of the shed energy."""
        shed_mwh = self.unserved_mw() * ctx.dt_h
        return {
            "energy_eur": -ctx.price_eur_per_mwh * self.p_mw * ctx.dt_h,
            "shed_cost_eur": -self.params["shed_cost_eur_per_mwh"] * shed_mwh,
        }

    # -- baselines -----------------------------------------------------------
    def base_demand_mw(self) -> float:
        """Its base demand (MW)."""
        return self.base_p_mw

    def steady_action(self, batch_size: int) -> np.ndarray:
        """Shed nothing."""
        return -np.ones((batch_size, 1))

    def optimum_terms(self, steps: int, dt_h: float, hold_levers: bool) -> OptimumTerms:
        """``shed_mw`` per step, up to ``max_shed_fraction`` of the day's demand; shedding
        a load is injecting its share."""
        shed = cp.Variable(steps, nonneg=True)
        shed_max_mw = cp.Parameter(steps, nonneg=True)

        def largest_shed_mw(day: DayProfile) -> np.ndarray:
            return self.params["max_shed_fraction"] * (self.base_p_mw * day.load_pu)

        return OptimumTerms(
            variables={"shed_mw": shed},
            injection_mw=shed,
            cost_eur=dt_h * self.params["shed_cost_eur_per_mwh"] * cp.sum(shed),
            constraints=[shed <= shed_max_mw] + ([shed == 0] if hold_levers else []),
            day_parameters=[(shed_max_mw, largest_shed_mw)],
        )

    def write_fixed_injections(self, inj: Injections, day: DayProfile) -> None:
        """The whole demand; what is shed is a decision."""
        inj.load_p_mw[:, self.load_index] = self.base_p_mw * day.load_pu

    def optimum_schedule(
        self, values: Mapping[str, np.ndarray], day: DayProfile
    ) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """``shed_mw``, ``shed_fraction`` of the demand, and the shed cost."""
        shed = snap_residue(values["shed_mw"])
        demand = self.base_p_mw * day.load_pu
        share = np.divide(shed, demand, out=np.zeros(day.steps), where=demand > 0)
        cost = self.params["shed_cost_eur_per_mwh"] * shed * day.dt_h
        return {"shed_mw": shed, "shed_fraction": share}, cost

    def schedule_action(self, planned: Mapping[str, np.ndarray], batch_size: int) -> np.ndarray:
        """The action that sheds the planned share (a <= 0 sheds nothing)."""
        action = np.zeros((batch_size, 1))
        if self.params["max_shed_fraction"] > 0:
            action[:, 0] = planned["shed_fraction"] / self.params["max_shed_fraction"]
        return action
