"""The business: an inflexible load, rooftop PV and a flexible load (e.g. a cold store)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import cvxpy as cp
import numpy as np
import pandapower as pp

from gridppo.config.fields import ConfigError, Field
from gridppo.config.node_specs import register_node_type
from gridppo.grid.context import DayProfile, OperatorView, OptimumTerms, StepContext, snap_residue
from gridppo.grid.node import Node, unit_interval

if TYPE_CHECKING:
    from gridppo.grid.network import PowerGrid
    from gridppo.grid.physics import Injections, PowerFlowResult

__all__ = ["Business"]


@register_node_type
class Business(Node):
    """A prosumer: an inflexible load, rooftop PV and a flexible load (e.g. a cold store).

    Actions:

    - ``curtail``: share of PV output curtailed, ``max(0, -a)`` (a >= 0 uses all PV);
    - ``flex``: flexible consumption ``flex_max_p_mw * (a + 1)/2``, limited by the energy
      still needed today. The flexible load must receive ``flex_energy_mwh`` per day; what
      is missing at the end of the day costs ``unmet_flex_cost_eur_per_mwh``.

    Reward: ``-price * (load + flex - pv) * dt`` (PV surplus is sold at the price) minus
    the unmet-flexibility cost on the day's last step.
    Local features: ``pv_pu`` (available PV per unit), ``flex_remaining`` (share of the
    day's flexible energy still needed), ``steps_left`` (share of the day left).

    Baselines: its steady action uses all PV and spreads the flexible energy evenly
    over the day. The heuristic curtails PV in proportion to how far its bus voltage is
    within 0.01 p.u. of the upper limit, and runs the flexible load at full power when
    the price is below the 40th percentile of the training days' prices (or when it
    must, to finish by the day's end). In the day's optimum it curtails and runs the
    flexible load within its limits, the unmet energy priced.
    """

    type_name = "business"
    PARAMS = {
        "base_p_mw": Field(
            None,
            "float_or_none",
            "Base inflexible demand (MW); null keeps the case's load.",
            0.0,
            10000.0,
        ),
        "pv_p_mw": Field(15.0, "float", "Installed PV power (MW).", 0.0, 10000.0),
        "flex_max_p_mw": Field(5.0, "float", "Largest flexible consumption (MW).", 0.0, 10000.0),
        "flex_energy_mwh": Field(30.0, "float", "Flexible energy needed each day (MWh).", 0.0, 1e5),
        "unmet_flex_cost_eur_per_mwh": Field(
            150.0, "float", "Cost of each flexible MWh not delivered by day's end.", 0.0, 1e5
        ),
    }
    LOCAL_FEATURES = ("pv_pu", "flex_remaining", "steps_left")
    ACTIONS = ("curtail", "flex")
    STATE = ("injection_mw", "flex_remaining_mwh")

    @classmethod
    def check_params(cls, name: str, params: Mapping[str, Any]) -> None:
        """The day's flexible energy must fit in 24 hours at the largest flexible power."""
        if params["flex_energy_mwh"] > params["flex_max_p_mw"] * 24.0:
            raise ConfigError(
                f"nodes.{name}.flex_energy_mwh: {params['flex_energy_mwh']} MWh cannot be "
                f"delivered in a day at flex_max_p_mw={params['flex_max_p_mw']}"
            )

    def attach(self, grid: PowerGrid) -> None:
        """Claim the case's load at this bus and create a PV ``sgen``."""
        self.load_index = self._claim_load(grid)
        self.sgen_index = pp.create_sgen(
            grid.net, self.bus, p_mw=0.0, name=f"{self.name}_pv", type="PV"
        )

    def reset(self, batch_size: int, rng: np.random.Generator) -> None:
        """Each day starts with the full flexible energy still to deliver."""
        super().reset(batch_size, rng)
        self.flex_remaining_mwh = np.full(batch_size, self.params["flex_energy_mwh"])

    def reset_rows(self, rows: np.ndarray, rng: np.random.Generator) -> None:
        """Restart the given days with the full flexible energy to deliver."""
        super().reset_rows(rows, rng)
        self.flex_remaining_mwh[rows] = self.params["flex_energy_mwh"]

    def apply_action(self, action: np.ndarray, ctx: StepContext, inj: Injections) -> None:
        """Set PV curtailment and flexible consumption."""
        p = self.params
        self.curtail_fraction = np.clip(-action[:, 0], 0.0, 1.0)
        self.pv_mw = p["pv_p_mw"] * ctx.pv_pu * (1.0 - self.curtail_fraction)
        requested = p["flex_max_p_mw"] * unit_interval(action[:, 1])
        self.flex_mw = np.minimum(requested, self.flex_remaining_mwh / ctx.dt_h)
        self.flex_remaining_mwh = np.maximum(self.flex_remaining_mwh - self.flex_mw * ctx.dt_h, 0.0)
        self.load_mw = self.base_p_mw * ctx.load_pu + self.flex_mw
        inj.load_p_mw[:, self.load_index] = self.load_mw
        inj.load_q_mvar[:, self.load_index] = self.base_p_mw * ctx.load_pu * self.tan_phi
        inj.sgen_p_mw[:, self.sgen_index] = self.pv_mw
        self.injection_mw = self.pv_mw - self.load_mw

    def local_features(self, ctx: StepContext) -> np.ndarray:
        """Available PV, flexible energy still needed and time left."""
        energy = max(self.params["flex_energy_mwh"], 1e-9)
        steps_left = (ctx.steps_per_day - ctx.step) / ctx.steps_per_day
        return np.stack([ctx.pv_pu, self.flex_remaining_mwh / energy, steps_left], axis=1)

    def reward_components(self, ctx: StepContext, pf: PowerFlowResult) -> dict[str, np.ndarray]:
        """Net energy bill and, on the day's last step, the unmet flexible energy."""
        unmet = np.where(ctx.is_last_step, self.flex_remaining_mwh, 0.0)
        return {
            "energy_eur": -ctx.price_eur_per_mwh * (self.load_mw - self.pv_mw) * ctx.dt_h,
            "unmet_flex_eur": -self.params["unmet_flex_cost_eur_per_mwh"] * unmet,
        }

    # -- baselines -----------------------------------------------------------
    def base_demand_mw(self) -> float:
        """Its base inflexible demand (MW)."""
        return self.base_p_mw

    def pv_capacity_mw(self) -> float:
        """Its installed PV power (MW)."""
        return self.params["pv_p_mw"]

    def steady_action(self, batch_size: int) -> np.ndarray:
        """Use all PV; run the flexible load at the power that spreads its energy evenly
        over the day."""
        p = self.params
        share = p["flex_energy_mwh"] / (24.0 * max(p["flex_max_p_mw"], 1e-9))
        return np.tile([1.0, 2.0 * share - 1.0], (batch_size, 1))

    def heuristic_action(self, view: OperatorView) -> np.ndarray:
        """Curtail PV near the upper voltage limit; run the flexible load when cheap or
        when it must."""
        ctx = view.ctx
        vm = view.observation[:, 0]
        curtail = np.clip((vm - (view.max_vm_pu - 0.01)) / 0.01, 0.0, 1.0)
        steps_left = ctx.steps_per_day - ctx.step
        must = self.flex_remaining_mwh > (steps_left - 1) * self.params["flex_max_p_mw"] * ctx.dt_h
        cheap = ctx.price_eur_per_mwh < view.price_percentile(40)
        flex = np.where(cheap | must, 1.0, -1.0)
        return np.column_stack([-curtail, flex])

    def random_injection(self, inj: Injections, rng: np.random.Generator) -> None:
        """PV at a uniform share of its installed power."""
        inj.sgen_p_mw[:, self.sgen_index] = rng.uniform(0.0, self.params["pv_p_mw"], inj.batch_size)

    def optimum_terms(self, steps: int, dt_h: float, hold_levers: bool) -> OptimumTerms:
        """``curtail_mw`` up to the available PV and ``flex_mw`` up to the flexible power;
        at most the day's flexible energy, and what is missing priced."""
        p = self.params
        curtail = cp.Variable(steps, nonneg=True)
        flex = cp.Variable(steps, nonneg=True)
        unmet = cp.Variable(nonneg=True)
        pv_available_mw = cp.Parameter(steps, nonneg=True)
        energy, delivered = p["flex_energy_mwh"], dt_h * cp.sum(flex)
        constraints = [curtail <= pv_available_mw, flex <= p["flex_max_p_mw"]]
        # The environment stops a flexible load once its day's energy is delivered.
        constraints += [delivered <= energy, delivered + unmet >= energy]
        constraints += [curtail == 0, flex == energy / (steps * dt_h)] if hold_levers else []
        return OptimumTerms(
            variables={"curtail_mw": curtail, "flex_mw": flex},
            injection_mw=-(curtail + flex),
            cost_eur=p["unmet_flex_cost_eur_per_mwh"] * unmet,
            constraints=constraints,
            day_parameters=[(pv_available_mw, lambda day: p["pv_p_mw"] * day.pv_pu)],
        )

    def write_fixed_injections(self, inj: Injections, day: DayProfile) -> None:
        """The inflexible demand and all available PV; curtailment and the flexible
        load are decisions."""
        inj.load_p_mw[:, self.load_index] = self.base_p_mw * day.load_pu
        inj.sgen_p_mw[:, self.sgen_index] = self.params["pv_p_mw"] * day.pv_pu

    def optimum_schedule(
        self, values: Mapping[str, np.ndarray], day: DayProfile
    ) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """``curtail_mw``, ``curtail_share`` of the PV and ``flex_mw``; the unmet flexible
        energy on the last step."""
        p = self.params
        curtail, flex = snap_residue(values["curtail_mw"]), values["flex_mw"]
        pv = p["pv_p_mw"] * day.pv_pu
        share = np.divide(curtail, pv, out=np.zeros(day.steps), where=pv > 1e-9)
        cost = np.zeros(day.steps)
        unmet = max(p["flex_energy_mwh"] - flex.sum() * day.dt_h, 0.0)
        cost[-1] += p["unmet_flex_cost_eur_per_mwh"] * unmet
        return {"curtail_mw": curtail, "curtail_share": share, "flex_mw": flex}, cost

    def schedule_action(self, planned: Mapping[str, np.ndarray], batch_size: int) -> np.ndarray:
        """Curtail the planned share; the planned flexible power as an action."""
        flex_max = max(self.params["flex_max_p_mw"], 1e-9)
        return np.column_stack(
            [-planned["curtail_share"], 2.0 * planned["flex_mw"] / flex_max - 1.0]
        )
