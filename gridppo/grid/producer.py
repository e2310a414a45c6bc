"""The producer: a power plant the agent dispatches, and whose voltage it sets."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandapower as pp

from gridppo.config.fields import ConfigError, Field
from gridppo.config.node_specs import register_node_type
from gridppo.grid.context import Dispatch, StepContext
from gridppo.grid.node import Node, unit_interval

if TYPE_CHECKING:
    from gridppo.grid.network import PowerGrid
    from gridppo.grid.physics import Injections, PowerFlowResult

__all__ = ["Producer"]


@register_node_type
class Producer(Node):
    """A power plant: a pandapower ``gen`` (a PV bus that holds its voltage setpoint).

    Actions:

    - ``setpoint``: ``p_mw = min_p_mw + (a + 1)/2 * (max_p_mw - min_p_mw)``;
    - ``voltage``: the voltage setpoint ``vm_pu + a * vm_range_pu``, as an operator sets
      a generator's voltage regulator. The generator supplies whatever reactive power
      holds it (reactive limits are not modelled), so a setpoint outside the voltage
      band violates it at the producer's own bus, and low setpoints pull neighbouring
      load buses down: this is what makes the voltage limits bind.

    Reward: ``revenue = price * p_mw * dt`` minus the quadratic fuel cost
    ``(cost_eur_per_mwh * p + cost_eur_per_mw2h * p^2) * dt`` (as in MATPOWER's case14).

    It is a dispatchable generator (:meth:`dispatch`), so the baselines dispatch it with
    the base class's defaults; the voltage action stays at 0 (the neutral setpoint).
    """

    type_name = "producer"
    PARAMS = {
        "max_p_mw": Field(100.0, "float", "Largest output (MW).", 0.0, 10000.0, low_exclusive=True),
        "min_p_mw": Field(0.0, "float", "Smallest output (MW).", 0.0, 10000.0),
        "vm_pu": Field(1.02, "float", "Neutral voltage setpoint (action 0) (p.u.).", 0.9, 1.1),
        "vm_range_pu": Field(
            0.04, "float", "Largest change of the voltage setpoint by the action (p.u.).", 0.0, 0.1
        ),
        "cost_eur_per_mwh": Field(40.0, "float", "Linear fuel cost (EUR/MWh).", 0.0, 10000.0),
        "cost_eur_per_mw2h": Field(0.01, "float", "Quadratic fuel cost (EUR/MW^2h).", 0.0, 100.0),
    }
    ACTIONS = ("setpoint", "voltage")

    @classmethod
    def check_params(cls, name: str, params: Mapping[str, Any]) -> None:
        """The output range must not be empty."""
        if params["min_p_mw"] > params["max_p_mw"]:
            raise ConfigError(
                f"nodes.{name}.min_p_mw: must not exceed max_p_mw ({params['max_p_mw']}), "
                f"got {params['min_p_mw']}"
            )

    def attach(self, grid: PowerGrid) -> None:
        """Claim the case's generator at this bus, or create one."""
        net = grid.net
        gens = [i for i in net.gen.index[net.gen.bus == self.bus] if i not in grid.claimed_gens]
        p = self.params
        if gens:
            self.gen_index = gens[0]
        else:
            self.gen_index = pp.create_gen(net, self.bus, p_mw=p["min_p_mw"], vm_pu=p["vm_pu"])
        net.gen.loc[self.gen_index, ["max_p_mw", "min_p_mw", "vm_pu", "p_mw"]] = [
            p["max_p_mw"],
            p["min_p_mw"],
            p["vm_pu"],
            p["min_p_mw"],
        ]
        net.gen.loc[self.gen_index, "name"] = self.name
        grid.claimed_gens[self.gen_index] = self.name

    def apply_action(self, action: np.ndarray, ctx: StepContext, inj: Injections) -> None:
        """Set the generator's active power and voltage setpoint from the action."""
        p = self.params
        self.p_mw = p["min_p_mw"] + unit_interval(action[:, 0]) * (p["max_p_mw"] - p["min_p_mw"])
        self.vm_pu = p["vm_pu"] + action[:, 1] * p["vm_range_pu"]
        inj.gen_p_mw[:, self.gen_index] = self.p_mw
        inj.gen_vm_pu[:, self.gen_index] = self.vm_pu
        self.injection_mw = self.p_mw

    def reward_components(self, ctx: StepContext, pf: PowerFlowResult) -> dict[str, np.ndarray]:
        """Market revenue and fuel cost."""
        return {
            "energy_eur": ctx.price_eur_per_mwh * self.p_mw * ctx.dt_h,
            "generation_cost_eur": -self.generation_cost_eur(self.p_mw, ctx.dt_h),
        }

    def dispatch(self) -> Dispatch:
        """Its generator, output range and fuel cost."""
        p = self.params
        return Dispatch(
            gen_index=self.gen_index,
            min_p_mw=p["min_p_mw"],
            max_p_mw=p["max_p_mw"],
            cost_eur_per_mwh=p["cost_eur_per_mwh"],
            cost_eur_per_mw2h=p["cost_eur_per_mw2h"],
        )

    def random_injection(self, inj: Injections, rng: np.random.Generator) -> None:
        """A uniform output within its range and a voltage setpoint within its band."""
        super().random_injection(inj, rng)
        p = self.params
        inj.gen_vm_pu[:, self.gen_index] = p["vm_pu"] + p["vm_range_pu"] * rng.uniform(
            -1.0, 1.0, inj.batch_size
        )
