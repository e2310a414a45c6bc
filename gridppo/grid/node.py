"""Grid nodes: the base class every agent type derives from.

A node is one agent. It owns pandapower elements at its bus, turns its action (a
vector in [-1, 1]) into physical setpoints, keeps its own state (a battery's state of
charge) and computes its local reward in EUR. Everything is batched: arrays have a
leading dimension B, one row per simulated day running in parallel. The shipped types
are :mod:`~gridppo.grid.producer`, :mod:`~gridppo.grid.consumer`,
:mod:`~gridppo.grid.battery` and :mod:`~gridppo.grid.business`.

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

**Adding a type.** Subclass :class:`Node`, declare ``type_name``, ``PARAMS``,
``LOCAL_FEATURES`` and ``ACTIONS``, implement :meth:`~Node.attach`,
:meth:`~Node.apply_action` and :meth:`~Node.reward_components` (and
:meth:`~Node.local_features` if it has features), and decorate it with
:func:`~gridppo.config.node_specs.register_node_type`. The config then accepts
``type: <type_name>``. A type whose parameters constrain each other checks them in
:meth:`~Node.check_params`; a type that carries state from one step to the next (a
battery's state of charge) lists it in ``STATE``, so a checkpoint can save and restore
it.

**What the baselines ask.** The grid and the baselines never switch on a node's class;
they ask the node. Each question has a neutral answer here, so a new type works
everywhere as it is, and a type says more by overriding:

- :meth:`~Node.dispatch`: is it a dispatchable generator? (no). One that says yes is
  dispatched in merit order by the heuristic, by the single-step OPF and by the day's
  optimum, runs at full output in the planning case that rates the branches, and at a
  random output in :meth:`~gridppo.grid.network.PowerGrid.random_injections`.
- :meth:`~Node.steady_action`: the action that uses none of its flexibility (0).
- :meth:`~Node.heuristic_action`: the rule-based operator's action (the steady one).
- :meth:`~Node.random_injection`: random setpoints for backend tests (none).
- :meth:`~Node.optimum_terms`, :meth:`~Node.write_fixed_injections`,
  :meth:`~Node.optimum_schedule`, :meth:`~Node.schedule_action`: its part of the day's
  optimum. A node without levers plays its steady action all day, and the optimum
  learns what it then injects by running it, on a copy, through the day.
- :meth:`~Node.base_demand_mw` and :meth:`~Node.pv_capacity_mw`: the demand it
  serves and the PV it owns (none); :meth:`~Node.write_demand_mw` and
  :meth:`~Node.write_pv_mw` set them for a what-if (the grid playground).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import cvxpy as cp
import numpy as np
from gymnasium import spaces

from gridppo.config.fields import ConfigError, Field
from gridppo.config.node_specs import NODE_TYPES
from gridppo.grid.context import DayProfile, Dispatch, OperatorView, OptimumTerms, StepContext
from gridppo.grid.observation import OWN_FEATURES

if TYPE_CHECKING:
    import pandapower as pp

    from gridppo.grid.network import PowerGrid
    from gridppo.grid.physics import Injections, PowerFlowResult

__all__ = ["COMMON_FEATURES", "Node", "make_node", "shared_features", "unit_interval"]

COMMON_FEATURES = (
    *OWN_FEATURES,
    "time_sin",
    "time_cos",
    "day_fraction",
    "price",
)


def shared_features(ctx: StepContext) -> np.ndarray:
    """The features every node observes alike, [B, 4 + forecast_steps]: ``time_sin``,
    ``time_cos``, ``day_fraction``, ``price`` and ``price_plus_k``."""
    angle = 2.0 * np.pi * ctx.step / ctx.steps_per_day
    return np.column_stack(
        [
            np.sin(angle),
            np.cos(angle),
            ctx.step / ctx.steps_per_day,
            ctx.price_eur_per_mwh,
            ctx.price_forecast,
        ]
    )


def unit_interval(action: np.ndarray) -> np.ndarray:
    """Map an action in [-1, 1] to [0, 1]."""
    return (action + 1.0) * 0.5


class Node:
    """Base class of all node types.

    Subclasses declare:

    - ``type_name``: the name used in configs;
    - ``PARAMS``: their parameters as :class:`~gridppo.config.fields.Field` objects;
    - ``LOCAL_FEATURES``: names of the type's own observation features;
    - ``ACTIONS``: names of the action dimensions, each in [-1, 1];
    - ``STATE``: names of the attributes ([B] arrays) that carry over from one step to
      the next; :meth:`state_dict` saves exactly these.

    and implement :meth:`attach`, :meth:`apply_action` and :meth:`reward_components`
    (see the module docstring for the rest).
    """

    type_name: ClassVar[str] = ""
    PARAMS: ClassVar[dict[str, Field]] = {}
    LOCAL_FEATURES: ClassVar[tuple[str, ...]] = ()
    ACTIONS: ClassVar[tuple[str, ...]] = ()
    STATE: ClassVar[tuple[str, ...]] = ("injection_mw",)
    # Reward components that are money paid to or received from the market: energy at
    # the price, and the node's share of the network losses (added by the settlement).
    # They cancel out across the market and the upstream grid; every other component is
    # a cost to society (fuel, shed demand, wear, ...); see gridppo.evaluation.simulate.
    MARKET_COMPONENTS: ClassVar[tuple[str, ...]] = ("energy_eur", "loss_charge_eur")

    def __init__(self, name: str, bus: int, params: Mapping[str, Any]):
        self.name = name
        self.bus = int(bus)
        self.params = dict(params)
        # Set by the grid when the node is attached: buses one branch away, and the
        # branches with an end at the node's bus.
        self.neighbour_buses: np.ndarray = np.zeros(0, dtype=int)
        self.branches: np.ndarray = np.zeros(0, dtype=int)
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

    def observation(self, own: np.ndarray, shared: np.ndarray, ctx: StepContext) -> np.ndarray:
        """The node's observation [B, obs_dim] (float32), in the order of
        :meth:`feature_names`: ``own`` [B, 6], what it sees of its bus and branches
        (:class:`~gridppo.grid.observation.OwnFeatures`), ``shared``
        (:func:`shared_features`), then its type's own features."""
        return np.concatenate([own, shared, self.local_features(ctx)], axis=1).astype(np.float32)

    # -- what a type implements ---------------------------------------------
    @classmethod
    def check_params(cls, name: str, params: Mapping[str, Any]) -> None:
        """Raise ConfigError if parameters that are valid one by one clash together
        (e.g. a lower limit above an upper one). Called by ``validate_nodes``."""

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
        that cannot shed. Reported as unserved energy by the evaluation."""
        return np.zeros_like(self.injection_mw)

    # -- what the grid and the baselines ask ----------------------------------
    def dispatch(self) -> Dispatch | None:
        """The node as a dispatchable generator, or None (the default) if it is not."""
        return None

    def dispatch_action(self, p_mw: np.ndarray) -> np.ndarray:
        """The action [B, n_actions] that makes a dispatchable node produce ``p_mw``
        [B]: the first action dimension maps [-1, 1] linearly onto the output range,
        every other dimension is 0 (neutral). Only asked of nodes with a dispatch."""
        d = self.dispatch()
        if d is None:
            raise TypeError(f"{self.name} is not a dispatchable generator")
        action = np.zeros((len(p_mw), len(self.ACTIONS)))
        action[:, 0] = 2.0 * (p_mw - d.min_p_mw) / max(d.max_p_mw - d.min_p_mw, 1e-9) - 1.0
        return action

    def generation_cost_eur(self, p_mw: np.ndarray, dt_h: float) -> np.ndarray:
        """Fuel cost of producing ``p_mw`` for ``dt_h`` hours (EUR); 0 for a node without
        a dispatch."""
        d = self.dispatch()
        if d is None:
            return np.zeros_like(np.asarray(p_mw, dtype=float))
        return (d.cost_eur_per_mwh * p_mw + d.cost_eur_per_mw2h * p_mw**2) * dt_h

    def base_demand_mw(self) -> float | None:
        """The inflexible demand the node serves at ``load_pu = 1`` (MW), or None if it
        serves none (the default)."""
        return None

    def pv_capacity_mw(self) -> float:
        """Installed PV power the node owns (MW); 0 by default."""
        return 0.0

    def write_demand_mw(self, inj: Injections, p_mw: float) -> None:
        """Set the node's demand in ``inj`` to ``p_mw``. Default: the load it claimed."""
        inj.load_p_mw[:, self.load_index] = p_mw
        inj.load_q_mvar[:, self.load_index] = p_mw * self.tan_phi

    def write_pv_mw(self, inj: Injections, p_mw: float) -> None:
        """Set the node's PV output in ``inj`` to ``p_mw``. Default: its ``sgen``."""
        inj.sgen_p_mw[:, self.sgen_index] = p_mw

    def steady_action(self, batch_size: int) -> np.ndarray:
        """The action [B, n_actions] that uses none of the node's flexibility: serve all
        demand, use all PV, spread flexible energy evenly over the day, keep storage
        idle. Default: 0 in every dimension (the untrained policy's mean)."""
        return np.zeros((batch_size, len(self.ACTIONS)))

    def heuristic_action(self, view: OperatorView) -> np.ndarray:
        """The rule-based operator's action [B, n_actions]. Default: the steady action.
        A dispatchable node is dispatched in merit order instead of asked."""
        return self.steady_action(len(view.ctx.step))

    def random_injection(self, inj: Injections, rng: np.random.Generator) -> None:
        """Write random but plausible setpoints of the node's elements into ``inj``
        (for comparing the backends). Default: a dispatchable node at a uniform output
        within its range; any other node keeps its base setpoints."""
        d = self.dispatch()
        if d is not None:
            inj.gen_p_mw[:, d.gen_index] = rng.uniform(d.min_p_mw, d.max_p_mw, inj.batch_size)

    def write_full_output(self, net: pp.pandapowerNet) -> None:
        """Set the node's elements in ``net`` to their largest output, for the planning
        case that rates the branches. Default: a dispatchable node at ``max_p_mw``."""
        d = self.dispatch()
        if d is not None:
            net.gen.loc[d.gen_index, "p_mw"] = d.max_p_mw

    # -- the day's optimum ----------------------------------------------------
    def optimum_terms(self, steps: int, dt_h: float, hold_levers: bool) -> OptimumTerms:
        """The node's decisions in the day's optimum, a convex QP over ``steps`` steps of
        ``dt_h`` hours (see :class:`~gridppo.grid.context.OptimumTerms`). With
        ``hold_levers`` the node keeps its steady action; a dispatchable node is
        dispatched either way. Default: a dispatchable node's output ``p_mw`` within its
        range at its fuel cost; no decisions for any other node."""
        d = self.dispatch()
        if d is None:
            return OptimumTerms()
        p_mw = cp.Variable(steps)
        fuel = d.cost_eur_per_mwh * cp.sum(p_mw) + d.cost_eur_per_mw2h * cp.sum_squares(p_mw)
        return OptimumTerms(
            variables={"p_mw": p_mw},
            injection_mw=p_mw,
            cost_eur=dt_h * fuel,
            constraints=[p_mw >= d.min_p_mw, p_mw <= d.max_p_mw],
        )

    def write_fixed_injections(self, inj: Injections, day: DayProfile) -> None:
        """Write into ``inj`` (one row per step of ``day``) what the node injects that the
        day's optimum does not decide. Default: a dispatchable node's output is all
        decision (0 here); any other node plays its steady action, on a copy, through
        the day, and writes what that sets."""
        d = self.dispatch()
        if d is not None:
            inj.gen_p_mw[:, d.gen_index] = 0.0
            return
        probe = copy.deepcopy(self)  # the node's own state belongs to its environment
        probe.reset(1, np.random.default_rng(0))
        action = probe.steady_action(1)
        for step in range(day.steps):
            probe.apply_action(action, day.context(step), inj.row(step))

    def optimum_schedule(
        self, values: Mapping[str, np.ndarray], day: DayProfile
    ) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """The node's plan from the solved decisions ``values`` (name -> [T]) and its
        cost in each step, [T] (EUR; costs of the day's end on the last step). Default:
        a dispatchable node's ``p_mw`` and fuel cost; nothing for any other node (its
        costs do not depend on the plan, and the AC replay measures them)."""
        if self.dispatch() is None:
            return {}, np.zeros(day.steps)
        p_mw = values["p_mw"]
        return {"p_mw": p_mw}, self.generation_cost_eur(p_mw, day.dt_h)

    def schedule_action(self, planned: Mapping[str, np.ndarray], batch_size: int) -> np.ndarray:
        """The action [B, n_actions] that plays ``planned`` (what
        :meth:`optimum_schedule` returned, at one step for each of B days). Default:
        :meth:`dispatch_action` of ``p_mw`` for a dispatchable node, else the steady
        action."""
        if self.dispatch() is None:
            return self.steady_action(batch_size)
        return self.dispatch_action(planned["p_mw"])

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


def make_node(spec: Mapping[str, Any]) -> Node:
    """Instantiate the node described by a validated spec (see ``validate_nodes``)."""
    return NODE_TYPES[spec["type"]](spec["name"], spec["bus"], spec["params"])
