"""The power grid: a pandapower net (``grid.network``) with the config's nodes attached.

:class:`PowerGrid` owns the pandapower net (IEEE case14 by default; see
:mod:`gridppo.config.networks` for the others), the nodes (agents), the daily profiles
and the power-flow backend. The environment asks it for a power flow; the plots ask it
for the layout and the limits.

Two things differ from the net as shipped, both on purpose:

- **Voltage setpoints.** case14's generators hold 1.01-1.09 p.u., outside the usual
  0.95-1.05 band even before anything happens. The slack bus is set to
  ``grid.ext_grid_vm_pu`` and each producer to its own ``vm_pu``.
- **Branch ratings.** The net's own where it has them, derived from planning cases
  where it has none (case14 has none): see :mod:`gridppo.grid.ratings`.

Generators and PV (``sgen``) of the net that no node owns keep their case output,
storage units no node owns stay idle, and loads no node owns follow the day's load
profile at their case value.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import numpy as np

# The shipped node types register themselves on import, so every config can name them.
import gridppo.grid.battery  # noqa: F401
import gridppo.grid.business  # noqa: F401
import gridppo.grid.consumer  # noqa: F401
import gridppo.grid.producer  # noqa: F401
from gridppo.config.fields import ConfigError
from gridppo.config.loader import load_config
from gridppo.config.networks import load_network
from gridppo.grid.context import DayProfile, StepContext
from gridppo.grid.node import Node, make_node
from gridppo.grid.penalty import GridPenalty
from gridppo.grid.physics import Injections, PowerFlowResult, make_backend
from gridppo.grid.profiles import DailyProfiles, build_profiles
from gridppo.grid.ratings import rate_branches, solves

__all__ = ["PowerGrid", "GridMetrics", "METRIC_NAMES"]

# Grid stability metrics reported at every step, each [B].
METRIC_NAMES = (
    "min_vm_pu",
    "max_vm_pu",
    "voltage_violations",
    "max_loading_percent",
    "overloaded_branches",
    "losses_mw",
    "unserved_energy_mwh",
    "ext_grid_import_mw",
    "generation_cost_eur",
    "converged",
)

GridMetrics = dict  # name -> array [B]; see METRIC_NAMES


class PowerGrid:
    """The config's pandapower net with its nodes (producers, consumers, batteries,
    businesses, or any registered type).

    Arguments:
        config: a validated config dict (see :func:`gridppo.load_config`), a YAML
            path, or None for the default configuration.
        backend: override ``grid.power_flow_backend`` (``"fast"`` or ``"pandapower"``).

    Attributes:
        net: the pandapower net, with every node's elements created.
        nodes: the nodes (agents), in config order.
        profiles: load, PV and price profiles for every training and evaluation day.
        branch_rating_mva: rating of each branch (lines, then transformers).
        penalty: the grid penalty's rates and limits (:mod:`gridppo.grid.penalty`).
    """

    def __init__(self, config: dict[str, Any] | str | None = None, backend: str | None = None):
        if not isinstance(config, dict) or "grid" not in config:
            config = load_config(config)
        self.config = config
        grid_cfg = config["grid"]
        self.network = grid_cfg["network"]
        self.net = load_network(self.network)
        self.net.ext_grid["vm_pu"] = grid_cfg["ext_grid_vm_pu"]
        self.net.bus["min_vm_pu"] = grid_cfg["min_vm_pu"]
        self.net.bus["max_vm_pu"] = grid_cfg["max_vm_pu"]
        self.n_bus = len(self.net.bus)
        self.claimed_loads: dict[int, str] = {}
        self.claimed_gens: dict[int, str] = {}
        self.nodes: list[Node] = []
        case_loads = self.net.load.index.copy()
        case_gen_p_mw = self.net.gen.p_mw.copy()
        for spec in config["nodes"]:
            if not 0 <= spec["bus"] < self.n_bus:
                raise ConfigError(
                    f"nodes.{spec['name']}.bus: bus {spec['bus']} does not exist "
                    f"({self.network} has buses 0..{self.n_bus - 1})"
                )
            node = make_node(spec)
            node.attach(self)
            self.nodes.append(node)
        self._start_from_a_solvable_case(case_gen_p_mw)
        self.slack_bus = int(self.net.ext_grid.bus.iloc[0])
        self.branch_from_bus = np.concatenate(
            [self.net.line.from_bus.values, self.net.trafo.hv_bus.values]
        ).astype(int)
        self.branch_to_bus = np.concatenate(
            [self.net.line.to_bus.values, self.net.trafo.lv_bus.values]
        ).astype(int)
        self.branch_names = [
            f"line {a}-{b}" for a, b in zip(self.branch_from_bus, self.branch_to_bus, strict=True)
        ]
        n_line = len(self.net.line)
        for i in range(n_line, len(self.branch_names)):
            self.branch_names[i] = self.branch_names[i].replace("line", "trafo")
        for node in self.nodes:
            node.neighbour_buses = self.neighbours(node.bus)
            node.branches = self.branches_at(node.bus)
        # Unowned loads follow the load profile at their case value; remember it.
        self.base_load_p_mw = self.net.load.p_mw.values.copy()
        # Positions (in net.load) of the case's loads that no node owns: not agents,
        # but they draw power, and so have a share of the losses (see BatchedGridEnv).
        self.unowned_loads = np.flatnonzero(
            self.net.load.index.isin(case_loads)
            & ~self.net.load.index.isin(list(self.claimed_loads))
        )
        self.base_load_q_mvar = self.net.load.q_mvar.values.copy()
        self.base_gen_p_mw = self.net.gen.p_mw.values.copy()
        self.base_gen_vm_pu = self.net.gen.vm_pu.values.copy()
        self.base_sgen_p_mw = self.net.sgen.p_mw.values.copy()
        self.branch_rating_mva = rate_branches(self)
        # pandapower's own line loading then reads like ours when students run runpp.
        n_line = len(self.net.line)
        vn_kv = self.net.bus.vn_kv.values[self.net.line.from_bus.values]
        line = self.net.line
        self.net.line["max_i_ka"] = self.branch_rating_mva[:n_line] / (
            np.sqrt(3) * vn_kv * line.df.values * line.parallel.values
        )
        self.profiles: DailyProfiles = build_profiles(config)
        self.penalty = GridPenalty(config)
        self.backend = make_backend(
            backend or grid_cfg["power_flow_backend"],
            self.net,
            grid_cfg["max_iterations"],
            grid_cfg["tolerance_pu"],
        )

    # -- structure -----------------------------------------------------------
    @property
    def n_branch(self) -> int:
        """Number of branches (lines plus transformers)."""
        return len(self.branch_from_bus)

    def neighbours(self, bus: int) -> np.ndarray:
        """Buses one branch away from ``bus``, sorted."""
        near = np.concatenate(
            [
                self.branch_to_bus[self.branch_from_bus == bus],
                self.branch_from_bus[self.branch_to_bus == bus],
            ]
        )
        return np.unique(near)

    def branches_at(self, bus: int) -> np.ndarray:
        """Indices of the branches (lines, then transformers) with an end at ``bus``."""
        return np.flatnonzero((self.branch_from_bus == bus) | (self.branch_to_bus == bus))

    def node(self, name: str) -> Node:
        """The node called ``name``."""
        for node in self.nodes:
            if node.name == name:
                return node
        raise KeyError(f"no node named {name!r}; nodes: {[n.name for n in self.nodes]}")

    # -- injections and power flow --------------------------------------------
    def base_injections(self, batch_size: int, load_pu: np.ndarray | float = 1.0) -> Injections:
        """Setpoints with every element at its case value and loads scaled by ``load_pu``.

        Nodes overwrite their own columns when they act; everything else (unowned
        loads, unowned generators) keeps these values.
        """
        scale = np.broadcast_to(np.asarray(load_pu, dtype=float), (batch_size,))[:, None]
        net = self.net
        return Injections(
            gen_p_mw=np.tile(self.base_gen_p_mw, (batch_size, 1)),
            gen_vm_pu=np.tile(self.base_gen_vm_pu, (batch_size, 1)),
            sgen_p_mw=np.tile(self.base_sgen_p_mw, (batch_size, 1)),
            load_p_mw=self.base_load_p_mw[None, :] * scale,
            load_q_mvar=self.base_load_q_mvar[None, :] * scale,
            storage_p_mw=np.zeros((batch_size, len(net.storage))),
        )

    def random_injections(self, batch_size: int, rng: np.random.Generator) -> Injections:
        """Random but physically plausible setpoints for ``batch_size`` scenarios.

        Every load is scaled by its own factor in [0.3, 1.6], then each node writes
        random setpoints of its own elements (:meth:`Node.random_injection`: every
        producer at a random output and voltage setpoint within its limits, every
        business's PV at a random share of its installed power, every battery at a
        random power within +-``max_p_mw``). Used to compare the two backends and to
        time them.
        """
        inj = self.base_injections(batch_size)
        scale = rng.uniform(0.3, 1.6, inj.load_p_mw.shape)
        inj.load_p_mw = inj.load_p_mw * scale
        inj.load_q_mvar = inj.load_q_mvar * scale
        for node in self.nodes:
            node.random_injection(inj, rng)
        return inj

    def apply_actions(
        self, actions: Mapping[str, np.ndarray], ctx: StepContext, dry_run: bool = False
    ) -> Injections:
        """The setpoints of every element when each node plays its action.

        Starts from :meth:`base_injections` at the step's load level and lets each node
        write its own columns (:meth:`Node.apply_action`); ``actions`` maps every node
        to [B, n_actions], already in [-1, 1]. The nodes' state advances (a battery's
        charge, a business's flexible energy) unless ``dry_run``, which acts on copies:
        what the setpoints would be, with nothing changed.
        """
        inj = self.base_injections(len(ctx.step), ctx.load_pu)
        for node in self.nodes:
            actor = copy.deepcopy(node) if dry_run else node
            actor.apply_action(actions[node.name], ctx, inj)
        return inj

    def run_power_flow(self, injections: Injections) -> PowerFlowResult:
        """Solve the AC power flow for every scenario in the batch."""
        return self.backend.solve(injections)

    def loading_percent(self, pf: PowerFlowResult) -> np.ndarray:
        """Branch loading, [B, n_branch]: current at the more loaded end in % of the
        thermal limit, ``100 |S| / (vm_pu * rating_mva)`` (0 where not converged)."""
        s_from = np.hypot(pf.p_from_mw, pf.q_from_mvar) / pf.vm_pu[:, self.branch_from_bus]
        s_to = np.hypot(pf.p_to_mw, pf.q_to_mvar) / pf.vm_pu[:, self.branch_to_bus]
        return 100.0 * np.maximum(s_from, s_to) / self.branch_rating_mva[None, :]

    def metrics(
        self,
        pf: PowerFlowResult,
        generation_cost_eur: np.ndarray,
        unserved_energy_mwh: np.ndarray,
        loading_percent: np.ndarray | None = None,
    ) -> GridMetrics:
        """Grid metrics of one step (see :data:`METRIC_NAMES`), each [B].

        ``unserved_energy_mwh`` is the demand not served: shed by consumers, or lost in
        a failure (the rest of the day). ``loading_percent`` is
        :meth:`loading_percent` of ``pf``, if the caller has it already."""
        g = self.config["grid"]
        loading = self.loading_percent(pf) if loading_percent is None else loading_percent
        under = pf.vm_pu < g["min_vm_pu"]
        over = pf.vm_pu > g["max_vm_pu"]
        return {
            "min_vm_pu": pf.vm_pu.min(axis=1),
            "max_vm_pu": pf.vm_pu.max(axis=1),
            "voltage_violations": (under | over).sum(axis=1),
            "max_loading_percent": loading.max(axis=1),
            "overloaded_branches": (loading > g["max_loading_percent"]).sum(axis=1),
            "losses_mw": pf.losses_mw,
            "unserved_energy_mwh": unserved_energy_mwh,
            "ext_grid_import_mw": pf.ext_grid_p_mw,
            "generation_cost_eur": generation_cost_eur,
            "converged": pf.converged.astype(float),
        }

    def penalty_eur(
        self,
        pf: PowerFlowResult,
        lost_load_mwh: np.ndarray,
        loading_percent: np.ndarray | None = None,
    ) -> dict[str, np.ndarray]:
        """The shared grid penalty of one step, split into its parts, each [B] (EUR):
        see :meth:`gridppo.grid.penalty.GridPenalty.parts_eur`. ``lost_load_mwh`` is
        the demand a failure leaves unserved; ``loading_percent`` as in
        :meth:`metrics`."""
        loading = self.loading_percent(pf) if loading_percent is None else loading_percent
        return self.penalty.parts_eur(pf, loading, lost_load_mwh)

    # -- days ----------------------------------------------------------------
    def day_profile(self, day: int) -> DayProfile:
        """The profiles of day ``day``, for planning it whole."""
        return DayProfile(self.profiles, int(day), self.config["time"]["forecast_steps"])

    def rest_of_day_demand_mwh(self, days: np.ndarray, steps: np.ndarray) -> np.ndarray:
        """Energy every load of the net would draw from step ``steps[b]`` to the end of
        day ``days[b]``, that step included (at the load profile, before any shedding),
        [B] (MWh): the demand a failure at that step leaves unserved."""
        load_pu = self.profiles.load_pu[days]
        n_steps = load_pu.shape[1]
        remaining = np.arange(n_steps)[None, :] >= np.asarray(steps)[:, None]
        # Everything the net's loads draw at load_pu = 1.
        total_base_load_mw = float(self.base_load_p_mw.sum())
        return (load_pu * remaining).sum(axis=1) * total_base_load_mw * (24.0 / n_steps)

    # -- ratings -------------------------------------------------------------
    def _start_from_a_solvable_case(self, case_gen_p_mw: Any) -> None:
        """Producers start at their lowest output (:meth:`Node.attach`). On a net whose
        load cannot all come through the slack bus (case118: 4,242 MW), that case has
        no AC solution; there, the generators the nodes took over start at the case's
        own dispatch instead (within their limits), the case the net was published
        with. The start is what the first observation of a day and the planning case
        that rates the branches measure."""
        if solves(copy.deepcopy(self.net), self.config["grid"]["max_iterations"]):
            return
        gen = self.net.gen
        for index in self.claimed_gens:
            if index in case_gen_p_mw.index:  # a node's own new generator has no case value
                low, high = gen.at[index, "min_p_mw"], gen.at[index, "max_p_mw"]
                gen.at[index, "p_mw"] = float(np.clip(case_gen_p_mw[index], low, high))
