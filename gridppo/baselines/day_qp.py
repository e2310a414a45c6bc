"""The day's optimum as a convex QP: one optimal dispatch of a whole day in DC.

:class:`DayOptimum` solves, for one day, the dispatch of every lever the agents have.
Each node contributes its own decisions, limits and costs
(:meth:`~gridppo.grid.node.Node.optimum_terms`): the shipped types give producer
outputs (quadratic fuel cost, output limits), battery charge and discharge (state of
charge with charge/discharge efficiencies, SOC band, power limits, wear, and the
end-of-day shortfall below ``initial_soc`` priced at ``end_soc_price_eur_per_mwh`` per
MWh bought, ``shortfall / charge_efficiency``), consumer shedding (linear cost, up to
``max_shed_fraction``), each business's flexible energy (power limit, daily energy,
unmet energy priced) and PV curtailment. A node without levers plays its steady action
and only its injection enters the problem. The upstream grid at the slack bus buys and
sells any amount at the step's price. The objective is the system cost of
:mod:`gridppo.evaluation.simulate` without the grid penalty::

    sum_t price_t dt import_t + fuel + shed cost + wear + end-SOC shortfall + unmet flex

**Network model: DC power flow.** Every bus but the slack balances its injections
with the flows its voltage angles drive, ``B_bus @ va = p_bus``, and branch flows are
``flow = B_flow @ va``: the B matrices are pandapower's ``makeBdc`` on the ppc that
``pandapower.rundcpp`` builds from a copy of ``grid.net`` (so line reactances,
transformer impedances and tap ratios are pandapower's own; the slack bus takes up every
imbalance). This is the PTDF model, ``flow = PTDF @ p_bus``, with the angles kept as
unknowns, because its matrices are sparse: case118's day (186 branches, 162 agents, 24
steps) is a QP of 16,000 variables with 73,000 nonzero constraint coefficients, where
the PTDF block of the former constraints alone had 720,000 (186 x 162 x 24). Like
``makePTDF``, it leaves out phase-shifting transformers' shifts: harmless on a radial
net (cigre_mv's 30-degree transformers), wrong on a meshed net with phase shifters,
which no shipped net has. Each flow is
limited to ``rating_mva * max_loading_percent / 100`` times ``branch_limit_scale``;
``import_t`` is demand minus generation plus the losses.
**Losses** are modelled as each branch's resistive loss at 1 p.u. voltage,
``r_b * flow_b^2 / base_mva`` (pandapower's branch resistance in p.u.), bought at the
step's price: a convex term that makes the dispatch prefer plants near the loads, as an
AC optimal power flow does. It ignores reactive flow, so it underestimates AC losses a
little; the AC replay of :mod:`gridppo.baselines.optimum` measures the real ones. The
QP is built once with cvxpy Parameters (DPP), so a day is a re-solve with Clarabel.
Limits are soft at ``OVERFLOW_EUR_PER_MWH``, far above every other price, so a day is
always feasible (``DaySchedule.overflow_mw``).

**Perfect foresight.** The optimum knows the whole day's load, PV and prices when it
plans; the agents see only the current step and a short price forecast.
"""

from __future__ import annotations

import copy
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import cvxpy as cp
import numpy as np
import pandapower as pp
import scipy.sparse as sp
from pandapower.pypower.idx_brch import BR_R
from pandapower.pypower.makeBdc import makeBdc

from gridppo.grid.network import PowerGrid

__all__ = ["DaySchedule", "DayOptimum", "OVERFLOW_EUR_PER_MWH"]

# Price of flow above a DC branch limit (EUR/MWh): keeps every day feasible and is far
# above every energy, shed (300) and unmet-flex (150) price, so it is used only when no
# lever can relieve the branch.
OVERFLOW_EUR_PER_MWH = 1e4


@dataclass
class DaySchedule:
    """The optimal dispatch of one day; per-step arrays have length T (steps per day).

    ``nodes`` maps each node to its plan (:meth:`~gridppo.grid.node.Node.optimum_schedule`):
    producers ``p_mw``; batteries ``p_mw`` (positive charges) and ``soc`` (after each
    step); consumers ``shed_mw`` and ``shed_fraction``; businesses ``curtail_mw``,
    ``curtail_share`` and ``flex_mw``; nothing for a node without levers. ``flow_mw``
    is the DC flow of each branch [n_branch, T] (from side), ``limit_mw`` the limit it
    was held to, ``cost_eur`` the system cost of each step (the day's end-of-SOC and
    unmet-flex costs on the last), ``objective_eur`` their sum. ``rounds`` records the
    AC corrections of :class:`~gridppo.baselines.optimum.OptimumPolicy`.
    """

    day: int
    nodes: dict[str, dict[str, np.ndarray]]
    import_mw: np.ndarray
    flow_mw: np.ndarray
    limit_mw: np.ndarray
    overflow_mw: np.ndarray
    cost_eur: np.ndarray
    objective_eur: float
    solve_time_s: float
    status: str
    rounds: list[dict[str, float]] = field(default_factory=list)


def _dc_model(net: pp.pandapowerNet) -> tuple[sp.csr_matrix, sp.csr_matrix, np.ndarray]:
    """The DC network in MW per radian, in the net's bus order and the grid's branch
    order (lines, then trafos): bus injections ``B_bus @ va_rad`` and branch flows
    ``B_flow @ va_rad``, from pandapower's ``makeBdc`` on the ppc that ``rundcpp``
    builds; and each branch's loss per MW^2 of flow at 1 p.u. voltage, ``r / base_mva``."""
    net = copy.deepcopy(net)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pp.rundcpp(net)
    ppc, lookup = net._ppc, net._pd2ppc_lookups
    b_bus, b_flow = makeBdc(ppc["bus"], ppc["branch"])[:2]
    # A net without transformers (case30) has no "trafo" block in the lookup.
    blocks = [lookup["branch"][kind] for kind in ("line", "trafo") if kind in lookup["branch"]]
    rows = np.concatenate([np.arange(*block) for block in blocks])
    cols = lookup["bus"][net.bus.index.values]
    base_mva = ppc["baseMVA"]
    r_pu = np.real(ppc["branch"][rows, BR_R])
    b_bus = sp.csr_matrix(b_bus)[cols][:, cols] * base_mva
    b_flow = sp.csr_matrix(b_flow)[rows][:, cols] * base_mva
    return b_bus, b_flow, r_pu / base_mva


class DayOptimum:
    """The whole-day optimal dispatch of ``grid``'s nodes in a DC network model.

    Arguments:
        grid: the grid whose net, nodes, ratings and profiles define the problem
            (only read; its nodes' per-day state is never touched).
        fix_levers: hold every node at its steady action (batteries idle, nothing
            shed, nothing curtailed, each flexible load spread evenly over the day),
            leaving a per-step DC optimal power flow of the dispatchable generators
            (with ``losses=False``, what ``pandapower.rundcopp`` solves; used to
            validate).
        losses: price the modelled branch losses (see the module docstring); False is
            the lossless DC model.

    Attributes:
        terms: each node's :class:`~gridppo.grid.context.OptimumTerms`, by name.
    """

    def __init__(self, grid: PowerGrid, fix_levers: bool = False, losses: bool = True):
        self.grid, self.steps = grid, grid.config["time"]["steps_per_day"]
        self.dt_h = 24.0 / self.steps
        self.max_loading_percent = grid.config["grid"]["max_loading_percent"]
        self.terms = {
            n.name: n.optimum_terms(self.steps, self.dt_h, fix_levers) for n in grid.nodes
        }
        self.b_bus, self.b_flow, self.loss_mw_per_mw2 = _dc_model(grid.net)
        self.losses = losses
        self._build()

    def _build(self) -> None:
        """Build the QP once; :meth:`solve` only sets the parameters."""
        T, dt, n_branch = self.steps, self.dt_h, self.grid.n_branch
        slack, n_bus = self.grid.slack_bus, self.grid.n_bus
        self._others = np.array([b for b in range(n_bus) if b != slack])  # angle unknowns
        self.price_dt = cp.Parameter(T)
        self.fixed_mw = cp.Parameter((n_bus - 1, T))  # what no lever changes, but the slack's
        self.limit_param_mw = cp.Parameter((n_branch, T), nonneg=True)
        self.overflow = cp.Variable((n_branch, T), nonneg=True)
        cost = OVERFLOW_EUR_PER_MWH * dt * cp.sum(self.overflow)
        cons: list[Any] = []
        rows, buses = [], []  # each decided injection [1, T] and its bus
        for node in self.grid.nodes:
            terms = self.terms[node.name]
            cost = cost + terms.cost_eur
            cons += terms.constraints
            if terms.variables:
                rows.append(cp.reshape(terms.injection_mw, (1, T), order="C"))
                buses.append(node.bus)
        # The bus angles (the slack's is 0) balance every bus but the slack's, which takes
        # up the imbalance: the import. Its part the decisions change (the rest is known
        # in advance) is what they inject.
        others = self._others
        va = cp.Variable((n_bus - 1, T))
        injected: Any = self.fixed_mw
        import_mw = cp.Constant(np.zeros(T))
        if rows:
            decided = cp.vstack(rows)  # [n, T] injected at the nodes' buses
            at_bus = sp.csr_matrix(
                (np.ones(len(buses)), (buses, np.arange(len(buses)))), shape=(n_bus, len(buses))
            )
            injected = injected + at_bus[others] @ decided
            import_mw = -cp.sum(decided, axis=0)
        cons += [self.b_bus[others][:, others] @ va == injected]
        f = cp.Variable((n_branch, T))
        over = self.overflow
        cons += [f == self.b_flow[:, others] @ va]
        cons += [f <= self.limit_param_mw + over, -f <= self.limit_param_mw + over]
        self.price_pos_dt = cp.Parameter(T, nonneg=True)  # losses are bought, never sold
        self._loss_mw: Any = 0.0
        if self.losses:
            self._loss_mw = self.loss_mw_per_mw2 @ cp.square(f)
            cost += self.price_pos_dt @ self._loss_mw
        self._flow, self._import_mw = f, import_mw
        self.problem = cp.Problem(cp.Minimize(cost + self.price_dt @ import_mw), cons)
        assert self.problem.is_dpp(), "the day's QP must be DPP to re-solve fast"

    def fixed_injections_mw(self, day: int) -> np.ndarray:
        """What no lever changes, per bus and step [n_bus, T] (MW, + injects): the
        elements no node owns as the environment sets them, and what each node writes
        in :meth:`~gridppo.grid.node.Node.write_fixed_injections` (every demand at its
        profile value, businesses' PV uncurtailed, producers at 0)."""
        profile = self.grid.day_profile(day)
        inj = self.grid.base_injections(self.steps, profile.load_pu)  # unowned as the env
        for node in self.grid.nodes:
            node.write_fixed_injections(inj, profile)
        net, bus_mw = self.grid.net, np.zeros((self.grid.n_bus, self.steps))
        np.add.at(bus_mw, net.gen.bus.values, inj.gen_p_mw.T)
        np.add.at(bus_mw, net.sgen.bus.values, inj.sgen_p_mw.T)
        np.add.at(bus_mw, net.load.bus.values, -inj.load_p_mw.T)
        np.add.at(bus_mw, net.storage.bus.values, -inj.storage_p_mw.T)
        return bus_mw

    def solve(
        self,
        day: int,
        branch_limit_scale: float = 1.0,
        limit_mw: np.ndarray | None = None,
        loss_bus_mw: np.ndarray | None = None,
    ) -> DaySchedule:
        """Solve day ``day``. Limits are ``rating * max_loading_percent/100 *
        branch_limit_scale`` unless ``limit_mw`` [n_branch, T] gives them; ``loss_bus_mw``
        [n_bus, T] is the losses of an AC replay drawn at the buses: the flows then carry
        them (their cost is the modelled losses' when ``losses`` is on, else their own)."""
        T, dt = self.steps, self.dt_h
        profile = self.grid.day_profile(day)
        price = profile.price_eur_per_mwh
        fixed = self.fixed_injections_mw(day)
        drawn = np.zeros((self.grid.n_bus, T)) if loss_bus_mw is None else loss_bus_mw
        if limit_mw is None:
            rating = self.grid.branch_rating_mva * self.max_loading_percent / 100.0
            limit_mw = np.tile(rating[:, None] * branch_limit_scale, T)
        self.price_dt.value = price * dt
        self.price_pos_dt.value = np.maximum(price, 0.0) * dt
        self.fixed_mw.value = (fixed - drawn)[self._others]
        self.limit_param_mw.value = np.asarray(limit_mw, dtype=float)
        for terms in self.terms.values():
            for parameter, value_of in terms.day_parameters:
                parameter.value = value_of(profile)
        start = time.perf_counter()
        self.problem.solve(solver=cp.CLARABEL)
        elapsed = time.perf_counter() - start
        if self.problem.status not in ("optimal", "optimal_inaccurate"):
            raise RuntimeError(f"day {day}: the day's optimum is {self.problem.status}")
        loss_mw = np.asarray(self._loss_mw.value) if self.losses else drawn.sum(axis=0)
        import_mw = np.asarray(self._import_mw.value) - fixed.sum(axis=0) + loss_mw
        # The schedule's system cost, step by step, as the environment books it.
        cost = price * dt * import_mw
        nodes: dict[str, dict[str, np.ndarray]] = {}
        for node in self.grid.nodes:
            terms = self.terms[node.name]
            values = {k: np.asarray(v.value) for k, v in terms.variables.items()}
            nodes[node.name], node_cost = node.optimum_schedule(values, profile)
            cost = cost + node_cost
        return DaySchedule(
            int(day), nodes, import_mw, np.asarray(self._flow.value), np.array(limit_mw),
            np.asarray(self.overflow.value), cost, float(cost.sum()), elapsed,
            self.problem.status,
        )  # fmt: skip
