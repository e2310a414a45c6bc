"""Grid nodes: the four agent types and the registry that makes new ones easy to add.

A node is one agent. It owns pandapower elements at its bus, turns its action (a
vector in [-1, 1]) into physical setpoints, keeps its own state (a battery's state of
charge) and computes its local reward in EUR. Everything is batched: arrays have a
leading dimension B, one row per simulated day running in parallel.

Every node observes the same common features, followed by its type's own features:

=================  ==========================================================
common feature     meaning
=================  ==========================================================
vm_pu              own bus voltage after the last power flow (p.u.)
neighbour_vm_min   lowest voltage among buses one branch away (p.u.)
neighbour_vm_mean  mean voltage among those buses (p.u.)
neighbour_vm_max   highest voltage among those buses (p.u.)
injection_mw       own net injection into the grid at the last step (MW)
branch_loading     highest loading among the branches at the node's bus after the last
                   power flow, as a fraction of the loading limit (1 = at the limit)
time_sin/time_cos  time of day on the unit circle
day_fraction       fraction of the day elapsed: 0 at the start, 1 in the final observation
price              energy price of the current step (EUR/MWh)
price_plus_k       forecast price k steps ahead, k = 1..forecast_steps
=================  ==========================================================

Adding a type: subclass :class:`Node`, declare ``type_name``, ``PARAMS``,
``LOCAL_FEATURES`` and ``ACTIONS``, implement the four methods, and decorate it with
:func:`register_node_type`. The config then accepts ``type: <type_name>``. A type whose
parameters constrain each other checks them in :meth:`Node.check_params`; a type that
carries state from one step to the next (a battery's state of charge) lists it in
``STATE``, so a checkpoint can save and restore it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandapower as pp
from gymnasium import spaces

from gridppo.config.loader import ConfigError, Field

if TYPE_CHECKING:
    from gridppo.grid.network import PowerGrid
    from gridppo.grid.physics import Injections, PowerFlowResult

__all__ = [
    "N_BUSES",
    "StepContext",
    "Node",
    "Producer",
    "Consumer",
    "Battery",
    "Business",
    "NODE_TYPES",
    "register_node_type",
    "validate_nodes",
    "COMMON_FEATURES",
]

COMMON_FEATURES = (
    "vm_pu",
    "neighbour_vm_min",
    "neighbour_vm_mean",
    "neighbour_vm_max",
    "injection_mw",
    "branch_loading",
    "time_sin",
    "time_cos",
    "day_fraction",
    "price",
)

# pandapower's case14 numbers its buses 0..13; a node's bus must be one of them.
N_BUSES = 14

NODE_TYPES: dict[str, type[Node]] = {}


def register_node_type(cls: type[Node]) -> type[Node]:
    """Class decorator: make ``cls`` available to configs as ``type: cls.type_name``."""
    if not getattr(cls, "type_name", None):
        raise TypeError(f"{cls.__name__} needs a type_name")
    NODE_TYPES[cls.type_name] = cls
    return cls


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


class Node:
    """Base class of all node types.

    Subclasses declare:

    - ``type_name``: the name used in configs;
    - ``PARAMS``: their parameters as :class:`gridppo.config.Field` objects;
    - ``LOCAL_FEATURES``: names of the type's own observation features;
    - ``ACTIONS``: names of the action dimensions, each in [-1, 1];
    - ``STATE``: names of the attributes ([B] arrays) that carry over from one step to
      the next; :meth:`state_dict` saves exactly these.

    and implement :meth:`attach`, :meth:`reset`, :meth:`apply_action`,
    :meth:`local_features` and :meth:`reward_components`.
    """

    type_name: ClassVar[str] = ""
    PARAMS: ClassVar[dict[str, Field]] = {}
    LOCAL_FEATURES: ClassVar[tuple[str, ...]] = ()
    ACTIONS: ClassVar[tuple[str, ...]] = ()
    STATE: ClassVar[tuple[str, ...]] = ("injection_mw",)
    # Reward components that are money paid to or received from the market: energy at
    # the price, and the node's share of the network losses (added by the environment).
    # They cancel out across the market and the upstream grid; every other component is
    # a cost to society (fuel, shed demand, wear, ...); see gridppo.simulate.
    MARKET_COMPONENTS: ClassVar[tuple[str, ...]] = ("energy_eur", "loss_charge_eur")

    def __init__(self, name: str, bus: int, params: Mapping[str, Any]):
        self.name = name
        self.bus = int(bus)
        self.params = dict(params)
        self.neighbour_buses: np.ndarray = np.zeros(0, dtype=int)
        self.injection_mw = np.zeros(1)  # own injection at the last step, [B]

    # -- spaces ---------------------------------------------------------------
    def feature_names(self, forecast_steps: int) -> list[str]:
        """Names of every observation feature, in order."""
        forecast = [f"price_plus_{k}" for k in range(1, forecast_steps + 1)]
        return [*COMMON_FEATURES, *forecast, *self.LOCAL_FEATURES]

    def observation_space(self, forecast_steps: int) -> spaces.Box:
        """The node's observation space: unbounded float32 features (see module table)."""
        n = len(self.feature_names(forecast_steps))
        return spaces.Box(-np.inf, np.inf, shape=(n,), dtype=np.float32)

    def action_space(self) -> spaces.Box:
        """The node's action space: one value in [-1, 1] per entry of ``ACTIONS``."""
        return spaces.Box(-1.0, 1.0, shape=(len(self.ACTIONS),), dtype=np.float32)

    # -- what a type implements ---------------------------------------------
    @classmethod
    def check_params(cls, name: str, params: Mapping[str, Any]) -> None:
        """Raise ConfigError if parameters that are valid one by one clash together
        (e.g. a lower limit above an upper one). Called by :func:`validate_nodes`."""

    def attach(self, grid: PowerGrid) -> None:
        """Create or claim this node's elements in ``grid.net``."""
        raise NotImplementedError

    def reset(self, batch_size: int, rng: np.random.Generator) -> None:
        """Start B new days: reset the node's internal state."""
        self.injection_mw = np.zeros(batch_size)

    def apply_action(self, action: np.ndarray, ctx: StepContext, inj: Injections) -> None:
        """Map ``action`` [B, n_actions] in [-1, 1] to setpoints written into ``inj``."""
        raise NotImplementedError

    def local_features(self, ctx: StepContext) -> np.ndarray:
        """The type's own observation features, [B, len(LOCAL_FEATURES)]."""
        return np.zeros((len(ctx.step), 0))

    def reward_components(self, ctx: StepContext, pf: PowerFlowResult) -> dict[str, np.ndarray]:
        """The local reward split into named components, each [B] in EUR."""
        raise NotImplementedError

    def reset_rows(self, rows: np.ndarray, rng: np.random.Generator) -> None:
        """Restart the days in ``rows`` (a boolean mask [B]) after they ended."""
        self.injection_mw[rows] = 0.0

    def unserved_mw(self) -> np.ndarray:
        """Demand this node chose not to serve at the last step, [B] (MW); 0 for types
        that cannot shed. Reported as unserved energy by :mod:`gridppo.simulate`."""
        return np.zeros_like(self.injection_mw)

    # -- saving --------------------------------------------------------------
    def state_dict(self) -> dict[str, np.ndarray | None]:
        """Copies of the attributes named in ``STATE``, each a [B] array (None for one
        that does not exist yet, before the first :meth:`reset`)."""
        out: dict[str, np.ndarray | None] = {}
        for key in self.STATE:
            value = getattr(self, key, None)
            out[key] = None if value is None else np.array(value, dtype=float)
        return out

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore what :meth:`state_dict` saved (same keys, one value per day)."""
        missing = [key for key in self.STATE if key not in state]
        if missing:
            raise ValueError(f"{self.name}: saved state lacks {', '.join(missing)}")
        for key in self.STATE:
            if state[key] is not None:
                setattr(self, key, np.array(state[key], dtype=float))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, bus={self.bus})"

    # -- helpers shared by the types ----------------------------------------
    def _claim_load(self, grid: PowerGrid) -> int:
        """Take ownership of the case's load at this node's bus; returns its index.

        Sets ``base_p_mw`` (the ``base_p_mw`` parameter, or the case's value when it is
        null) and ``tan_phi`` (the case's reactive/active ratio, kept at any demand),
        and writes the base demand into the net, so everything that reads the net
        before the node acts (the start-of-day power flow, the heuristic) sees it.
        """
        net = grid.net
        loads = net.load.index[net.load.bus == self.bus].tolist()
        free = [i for i in loads if i not in grid.claimed_loads]
        if not free:
            reason = "is already owned by another node" if loads else "has no load"
            raise ConfigError(f"nodes.{self.name}.bus: bus {self.bus} {reason}")
        index = free[0]
        grid.claimed_loads[index] = self.name
        case_p_mw, case_q_mvar = float(net.load.p_mw[index]), float(net.load.q_mvar[index])
        self.tan_phi = case_q_mvar / case_p_mw if case_p_mw else 0.0
        given = self.params.get("base_p_mw")
        self.base_p_mw = case_p_mw if given is None else float(given)
        net.load.loc[index, ["p_mw", "q_mvar", "name"]] = [
            self.base_p_mw,
            self.base_p_mw * self.tan_phi,
            self.name,
        ]
        return index


def _unit(action: np.ndarray) -> np.ndarray:
    """Map an action in [-1, 1] to [0, 1]."""
    return (action + 1.0) * 0.5


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
        self.p_mw = p["min_p_mw"] + _unit(action[:, 0]) * (p["max_p_mw"] - p["min_p_mw"])
        self.vm_pu = p["vm_pu"] + action[:, 1] * p["vm_range_pu"]
        inj.gen_p_mw[:, self.gen_index] = self.p_mw
        inj.gen_vm_pu[:, self.gen_index] = self.vm_pu
        self.injection_mw = self.p_mw

    def generation_cost_eur(self, p_mw: np.ndarray, dt_h: float) -> np.ndarray:
        """Fuel cost of producing ``p_mw`` for ``dt_h`` hours (EUR)."""
        p = self.params
        return (p["cost_eur_per_mwh"] * p_mw + p["cost_eur_per_mw2h"] * p_mw**2) * dt_h

    def reward_components(self, ctx: StepContext, pf: PowerFlowResult) -> dict[str, np.ndarray]:
        """Market revenue and fuel cost."""
        return {
            "energy_eur": ctx.price_eur_per_mwh * self.p_mw * ctx.dt_h,
            "generation_cost_eur": -self.generation_cost_eur(self.p_mw, ctx.dt_h),
        }


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
    grid. Shed energy counts as
    unserved energy in the KPIs and its cost is in the system cost.
    Local feature ``demand_pu``: the current demand level (``load_pu``).
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
        requested = p["flex_max_p_mw"] * _unit(action[:, 1])
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


def validate_nodes(raw: Any) -> list[dict[str, Any]]:
    """Check the ``nodes`` list of a config: names, types, buses and parameters.

    Returns a list of ``{"name", "type", "bus", "params"}`` dicts with defaults filled
    in. The bus must exist (0 .. ``N_BUSES`` - 1); whether it has a load or generator a
    node can claim is checked when the grid is built.
    """
    if not isinstance(raw, list) or not raw:
        raise ConfigError("nodes: expected a non-empty list of nodes")
    out, seen = [], set()
    for i, spec in enumerate(raw):
        where = f"nodes[{i}]"
        if not isinstance(spec, Mapping):
            raise ConfigError(f"{where}: expected a mapping with name, type and bus, got {spec!r}")
        if isinstance(spec.get("params"), Mapping):
            # A validated config nests the parameters; accept it as input too, so a run's
            # saved config.yaml or a checkpoint's config loads again unchanged. A key
            # beside "params" (where a dotted override writes) wins over the nested one.
            spec = {**spec["params"], **{k: v for k, v in spec.items() if k != "params"}}
        for required in ("name", "type", "bus"):
            if required not in spec:
                raise ConfigError(f"{where}.{required}: missing")
        name = spec["name"]
        if not isinstance(name, str) or not name.isidentifier():
            raise ConfigError(f"{where}.name: must be an identifier-like string, got {name!r}")
        if name in seen:
            raise ConfigError(f"nodes.{name}: the name is used twice")
        seen.add(name)
        type_name = spec["type"]
        if not isinstance(type_name, str) or type_name not in NODE_TYPES:
            import difflib

            close = difflib.get_close_matches(str(type_name), list(NODE_TYPES), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            known = ", ".join(sorted(NODE_TYPES))
            raise ConfigError(
                f"nodes.{name}.type: unknown node type {type_name!r}{hint}; known: {known}"
            )
        cls = NODE_TYPES[type_name]
        bus = spec["bus"]
        if isinstance(bus, bool) or not isinstance(bus, int):
            raise ConfigError(f"nodes.{name}.bus: expected a bus index (integer), got {bus!r}")
        if not 0 <= bus < N_BUSES:
            raise ConfigError(
                f"nodes.{name}.bus: bus {bus} does not exist (case14 has buses 0..{N_BUSES - 1})"
            )
        params = {}
        valid = ["name", "type", "bus", *cls.PARAMS]
        for key in spec:
            if key not in valid:
                import difflib

                close = difflib.get_close_matches(str(key), valid, n=1, cutoff=0.5)
                hint = f" (did you mean 'nodes.{name}.{close[0]}'?)" if close else ""
                raise ConfigError(f"nodes.{name}.{key}: unknown key for a {type_name}{hint}")
        for key, field in cls.PARAMS.items():
            value = spec.get(key, field.default)
            params[key] = field.check(f"nodes.{name}.{key}", value)
        cls.check_params(name, params)
        out.append({"name": name, "type": type_name, "bus": bus, "params": params})
    return out


def make_node(spec: Mapping[str, Any]) -> Node:
    """Instantiate the node described by a validated spec."""
    return NODE_TYPES[spec["type"]](spec["name"], spec["bus"], spec["params"])
