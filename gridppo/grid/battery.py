"""The battery: storage that buys low and sells high within the day."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import cvxpy as cp
import numpy as np
import pandapower as pp

from gridppo.config.fields import ConfigError, Field
from gridppo.config.node_specs import register_node_type
from gridppo.grid.context import DayProfile, OperatorView, OptimumTerms, StepContext
from gridppo.grid.node import Node

if TYPE_CHECKING:
    from gridppo.grid.network import PowerGrid
    from gridppo.grid.physics import Injections, PowerFlowResult

__all__ = ["Battery"]


@register_node_type
class Battery(Node):
    """A storage unit: a pandapower ``storage`` element (positive ``p_mw`` charges).

    Action ``power``: requested ``p_mw = a * max_p_mw`` (a > 0 charges, a < 0
    discharges), limited so the state of charge stays in [min_soc, max_soc]:
    charging stores ``p * charge_efficiency * dt`` MWh, discharging removes
    ``|p| / discharge_efficiency * dt`` MWh.
    Reward: ``-price * p_mw * dt`` (buying to charge, selling when discharging) minus
    wear ``degradation_cost_eur_per_mwh * |p_mw| * dt``. Every day starts at
    ``initial_soc``; a day that ends below it buys the shortfall back on its last step
    (``end_soc_eur``): ``end_soc_price_eur_per_mwh`` for each MWh bought, and refilling
    ``x`` MWh of charge takes ``x / charge_efficiency`` MWh. So stored energy has no
    free value at the day's end: a battery earns only what it buys low and sells high
    within the day.
    Local feature ``soc``: state of charge in [0, 1].

    Baselines: its steady action is idle. The heuristic charges at full power when the
    price is below the 30th percentile of the training days' prices and discharges at
    full power above the 70th, but never below ``initial_soc``, so that a day ends where
    it started. In the day's optimum it charges and discharges within its power, state
    of charge and end-of-day terms.
    """

    type_name = "battery"
    PARAMS = {
        "max_p_mw": Field(
            20.0, "float", "Largest charge/discharge power (MW).", 0.0, 10000.0, low_exclusive=True
        ),
        "capacity_mwh": Field(
            60.0, "float", "Energy capacity (MWh).", 0.0, 1e5, low_exclusive=True
        ),
        "min_soc": Field(0.1, "float", "Lowest state of charge.", 0.0, 1.0),
        "max_soc": Field(0.9, "float", "Highest state of charge.", 0.0, 1.0),
        "initial_soc": Field(0.5, "float", "State of charge at the start of a day.", 0.0, 1.0),
        "charge_efficiency": Field(
            0.95, "float", "Share of charged energy stored.", 0.0, 1.0, low_exclusive=True
        ),
        "discharge_efficiency": Field(
            0.95, "float", "Share of stored energy delivered.", 0.0, 1.0, low_exclusive=True
        ),
        "degradation_cost_eur_per_mwh": Field(2.0, "float", "Wear cost per MWh moved.", 0.0, 1e4),
        "end_soc_price_eur_per_mwh": Field(
            150.0,
            "float",
            "Price of the energy that refills a day's end shortfall below initial_soc.",
            0.0,
            1e5,
        ),
    }
    LOCAL_FEATURES = ("soc",)
    ACTIONS = ("power",)
    STATE = ("injection_mw", "soc")

    @classmethod
    def check_params(cls, name: str, params: Mapping[str, Any]) -> None:
        """The state-of-charge band must be non-empty and hold the initial state."""
        if params["min_soc"] >= params["max_soc"]:
            raise ConfigError(
                f"nodes.{name}.min_soc: must be below max_soc ({params['max_soc']}), "
                f"got {params['min_soc']}"
            )
        if not params["min_soc"] <= params["initial_soc"] <= params["max_soc"]:
            raise ConfigError(
                f"nodes.{name}.initial_soc: must lie within min_soc..max_soc "
                f"({params['min_soc']}..{params['max_soc']}), got {params['initial_soc']}"
            )

    def attach(self, grid: PowerGrid) -> None:
        """Create a storage element at this bus."""
        p = self.params
        self.storage_index = pp.create_storage(
            grid.net,
            self.bus,
            p_mw=0.0,
            max_e_mwh=p["capacity_mwh"],
            name=self.name,
            max_p_mw=p["max_p_mw"],
            min_p_mw=-p["max_p_mw"],
        )

    def reset(self, batch_size: int, rng: np.random.Generator) -> None:
        """Every day starts at ``initial_soc``."""
        super().reset(batch_size, rng)
        self.soc = np.full(batch_size, self.params["initial_soc"])

    def reset_rows(self, rows: np.ndarray, rng: np.random.Generator) -> None:
        """Restart the given days at ``initial_soc``."""
        super().reset_rows(rows, rng)
        self.soc[rows] = self.params["initial_soc"]

    def feasible_p_mw(self, requested_p_mw: np.ndarray, dt_h: float) -> np.ndarray:
        """Limit a requested power so the state of charge stays within its bounds."""
        p = self.params
        energy = p["capacity_mwh"]
        max_charge = (p["max_soc"] - self.soc) * energy / (p["charge_efficiency"] * dt_h)
        max_discharge = (self.soc - p["min_soc"]) * energy * p["discharge_efficiency"] / dt_h
        return np.clip(requested_p_mw, -np.maximum(max_discharge, 0), np.maximum(max_charge, 0))

    def apply_action(self, action: np.ndarray, ctx: StepContext, inj: Injections) -> None:
        """Charge or discharge, within the power and state-of-charge limits."""
        p = self.params
        self.p_mw = self.feasible_p_mw(action[:, 0] * p["max_p_mw"], ctx.dt_h)
        stored = np.where(
            self.p_mw >= 0,
            self.p_mw * p["charge_efficiency"],
            self.p_mw / p["discharge_efficiency"],
        )
        # Clip guards against rounding drift; the power limit above already keeps it in.
        self.soc = np.clip(
            self.soc + stored * ctx.dt_h / p["capacity_mwh"], p["min_soc"], p["max_soc"]
        )
        inj.storage_p_mw[:, self.storage_index] = self.p_mw
        self.injection_mw = -self.p_mw

    def local_features(self, ctx: StepContext) -> np.ndarray:
        """The state of charge."""
        return self.soc[:, None]

    def end_shortfall_mwh(self) -> np.ndarray:
        """Energy to buy to bring the charge back to ``initial_soc`` (MWh), [B]."""
        p = self.params
        missing = np.maximum(p["initial_soc"] - self.soc, 0.0) * p["capacity_mwh"]
        return missing / p["charge_efficiency"]

    def reward_components(self, ctx: StepContext, pf: PowerFlowResult) -> dict[str, np.ndarray]:
        """Energy bought or sold, wear, and on the day's last step the end shortfall."""
        p = self.params
        shortfall = np.where(ctx.is_last_step, self.end_shortfall_mwh(), 0.0)
        return {
            "energy_eur": -ctx.price_eur_per_mwh * self.p_mw * ctx.dt_h,
            "degradation_eur": -p["degradation_cost_eur_per_mwh"] * np.abs(self.p_mw) * ctx.dt_h,
            "end_soc_eur": -p["end_soc_price_eur_per_mwh"] * shortfall,
        }

    # -- baselines -----------------------------------------------------------
    def heuristic_action(self, view: OperatorView) -> np.ndarray:
        """Charge when cheap, discharge when dear, never below ``initial_soc``."""
        p, price = self.params, view.ctx.price_eur_per_mwh
        # Discharge at most down to the initial state of charge.
        spare_mwh = np.maximum(self.soc - p["initial_soc"], 0.0) * p["capacity_mwh"]
        spare_mw = spare_mwh * p["discharge_efficiency"] / view.ctx.dt_h
        discharge = -np.minimum(spare_mw / p["max_p_mw"], 1.0)
        cheap, dear = view.price_percentile(30), view.price_percentile(70)
        act = np.where(price < cheap, 1.0, np.where(price > dear, discharge, 0))
        return act[:, None]

    def random_injection(self, inj: Injections, rng: np.random.Generator) -> None:
        """A uniform power within +-``max_p_mw``."""
        p_max = self.params["max_p_mw"]
        inj.storage_p_mw[:, self.storage_index] = rng.uniform(-p_max, p_max, inj.batch_size)

    def optimum_terms(self, steps: int, dt_h: float, hold_levers: bool) -> OptimumTerms:
        """Charge ``charge_mw`` and discharge ``discharge_mw`` per step within the power
        limit and the state-of-charge band; wear on both, and the end-of-day shortfall
        below ``initial_soc`` at its price."""
        p = self.params
        charge = cp.Variable(steps, nonneg=True)
        discharge = cp.Variable(steps, nonneg=True)
        short = cp.Variable(nonneg=True)  # end-of-day state of charge below initial
        eta_c, eta_d, cap = p["charge_efficiency"], p["discharge_efficiency"], p["capacity_mwh"]
        stored = (eta_c * dt_h / cap) * charge - (dt_h / (eta_d * cap)) * discharge
        soc = p["initial_soc"] + stored @ np.triu(np.ones((steps, steps)))  # running sum
        constraints = [charge <= p["max_p_mw"], discharge <= p["max_p_mw"]]
        constraints += [soc >= p["min_soc"], soc <= p["max_soc"]]
        constraints += [short >= p["initial_soc"] - soc[steps - 1]]
        constraints += [charge == 0, discharge == 0] if hold_levers else []
        wear = dt_h * p["degradation_cost_eur_per_mwh"] * cp.sum(charge + discharge)
        end_eur_per_soc = p["end_soc_price_eur_per_mwh"] * cap / eta_c
        return OptimumTerms(
            variables={"charge_mw": charge, "discharge_mw": discharge},
            injection_mw=discharge - charge,
            cost_eur=wear + end_eur_per_soc * short,
            constraints=constraints,
        )

    def write_fixed_injections(self, inj: Injections, day: DayProfile) -> None:
        """Nothing: what it charges or discharges is all decision."""

    def optimum_schedule(
        self, values: Mapping[str, np.ndarray], day: DayProfile
    ) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """``p_mw`` (positive charges) and ``soc`` after each step; wear, and the end
        shortfall on the last step."""
        p, dt_h = self.params, day.dt_h
        p_mw = values["charge_mw"] - values["discharge_mw"]
        eta_c, cap = p["charge_efficiency"], p["capacity_mwh"]
        stored = np.where(p_mw >= 0, p_mw * eta_c, p_mw / p["discharge_efficiency"])
        soc = p["initial_soc"] + np.cumsum(stored) * dt_h / cap
        cost = p["degradation_cost_eur_per_mwh"] * np.abs(p_mw) * dt_h
        short_mwh = max(p["initial_soc"] - soc[-1], 0.0) * cap / eta_c
        cost[-1] += p["end_soc_price_eur_per_mwh"] * short_mwh
        return {"p_mw": p_mw, "soc": soc}, cost

    def schedule_action(self, planned: Mapping[str, np.ndarray], batch_size: int) -> np.ndarray:
        """The requested power as a share of ``max_p_mw``."""
        return (planned["p_mw"] / self.params["max_p_mw"])[:, None]
