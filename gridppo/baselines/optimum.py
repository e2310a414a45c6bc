"""The day's optimum: one optimal dispatch of a whole day, the yardstick for the agents.

:class:`DayOptimum` solves, for one day, the dispatch of every lever the agents have:
producer outputs (quadratic fuel cost, output limits), battery charge and discharge
(state of charge with charge/discharge efficiencies, SOC band, power limits, wear, and
the end-of-day shortfall below ``initial_soc`` priced at ``end_soc_price_eur_per_mwh``
per MWh bought, ``shortfall / charge_efficiency``), consumer shedding (linear cost, up to
``max_shed_fraction``), each business's flexible energy (power limit, daily energy,
unmet energy priced) and PV curtailment. The upstream grid at the slack bus buys and
sells any amount at the step's price. The objective is the system cost of
:mod:`gridppo.simulate` without the grid penalty (a convex QP)::

    sum_t price_t dt import_t + fuel + shed cost + wear + end-SOC shortfall + unmet flex

**Network model: DC power flow.** Branch flows are linear in the bus injections,
``flow = PTDF @ p_bus``. The PTDF is pandapower's ``makePTDF`` on the ppc that
``pandapower.rundcpp`` builds from a copy of ``grid.net`` (so line reactances,
transformer impedances and tap ratios are pandapower's own; the slack bus takes up every
imbalance). Each flow is limited to ``rating_mva * max_loading_percent / 100`` times
``branch_limit_scale``; ``import_t`` is demand minus generation plus the losses.
**Losses** are modelled as each branch's resistive loss at 1 p.u. voltage,
``r_b * flow_b^2 / base_mva`` (pandapower's branch resistance in p.u.), bought at the
step's price: a convex term that makes the dispatch prefer plants near the loads, as an
AC optimal power flow does. It ignores reactive flow, so it underestimates AC losses a
little; the AC replay below measures the real ones. The QP is built once with cvxpy
Parameters (DPP), so a day is a re-solve with Clarabel (about 30-60 ms). Limits are
soft at ``OVERFLOW_EUR_PER_MWH``, far above every other price, so a day is always
feasible (``DaySchedule.overflow_mw``).

**AC correction.** DC ignores reactive flow and voltages, so a DC schedule
replayed in AC overloads branches that DC fills to their limit (on the default grid's
test days transformer 4-5 reaches 112 % and 3-8 102 %). :class:`OptimumPolicy`
therefore replays each day's schedule in its own private AC environment (a
:class:`~gridppo.env.BatchedGridEnv` on its own :class:`~gridppo.grid.PowerGrid`) and,
while any branch's AC loading exceeds ``max_loading_percent +
LOADING_TOLERANCE_PERCENT``, re-solves the day with (1) the replay's losses of each
branch placed as loads, half at each end (a loss-aware DC flow), and (2) the limit of
each branch and step that AC loads past the target tightened to
``|dc_flow| * target / ac_loading``: the DC flow the observed AC/DC loading ratio maps
to the ``target = max_loading_percent - LOADING_MARGIN_PERCENT``. Limits only tighten;
on the default grid every day passes after two corrections (at most ``max_rounds``).

**Perfect foresight.** The optimum knows the whole day's load, PV and prices when it
plans; the agents see only the current step and a short price forecast. What is
reported is its AC replay, measured exactly as the agents' days are. Producers hold
their neutral voltage setpoints (action 0): DC has no voltages to optimise.
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
from pandapower.pypower.idx_brch import BR_R
from pandapower.pypower.makePTDF import makePTDF

from gridppo.env import BatchedGridEnv
from gridppo.grid.network import PowerGrid
from gridppo.grid.nodes import Battery, Business, Consumer, Node, Producer

__all__ = ["DaySchedule", "DayOptimum", "OptimumPolicy", "schedule_actions"]

_TYPES = (Producer, Battery, Consumer, Business)  # the node types the optimum models

# Price of flow above a DC branch limit (EUR/MWh): keeps every day feasible and is far
# above every energy, shed (300) and unmet-flex (150) price, so it is used only when no
# lever can relieve the branch.
OVERFLOW_EUR_PER_MWH = 1e4
# Below this a shed or curtailment is solver residue, not a decision (MW).
SNAP_MW = 1e-7
# A replayed schedule respects the limits when every AC loading is at most
# max_loading_percent plus this (percent points: a tolerance for the replay's rounding,
# far below what the learners are held to).
LOADING_TOLERANCE_PERCENT = 0.1
# The correction aims this far inside the limit, so the next replay lands below it.
LOADING_MARGIN_PERCENT = 0.5


@dataclass
class DaySchedule:
    """The optimal dispatch of one day; per-step arrays have length T (steps per day).

    ``nodes`` maps each node to its schedule: producers ``p_mw``; batteries ``p_mw``
    (positive charges) and ``soc`` (after each step); consumers ``shed_mw`` and
    ``shed_fraction``; businesses ``curtail_mw``, ``curtail_share`` and ``flex_mw``.
    ``flow_mw`` is the DC flow of each branch [n_branch, T] (from side), ``limit_mw``
    the limit it was held to, ``cost_eur`` the system cost of each step (the day's
    end-of-SOC and unmet-flex costs on the last), ``objective_eur`` their sum.
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


def _snap(x_mw: np.ndarray) -> np.ndarray:
    """Zero an unused lever's interior-point residue (~1e-10 MW): it replays as idle."""
    return np.where(x_mw > SNAP_MW, x_mw, 0.0)


def _ptdf(net: pp.pandapowerNet) -> tuple[np.ndarray, np.ndarray]:
    """DC PTDF [n_branch, n_bus] in the grid's order (lines, then trafos; net bus order),
    and each branch's loss per MW^2 of flow at 1 p.u. voltage, ``r / base_mva`` [n_branch]."""
    net = copy.deepcopy(net)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pp.rundcpp(net)
    ppc, lookup = net._ppc, net._pd2ppc_lookups
    ptdf = makePTDF(ppc["baseMVA"], ppc["bus"], ppc["branch"])
    rows = np.r_[slice(*lookup["branch"]["line"]), slice(*lookup["branch"]["trafo"])]
    r_pu = np.real(ppc["branch"][rows, BR_R])
    return ptdf[rows][:, lookup["bus"][net.bus.index.values]], r_pu / ppc["baseMVA"]


class DayOptimum:
    """The whole-day optimal dispatch of ``grid``'s nodes in a DC network model.

    Arguments:
        grid: the grid whose net, nodes, ratings and profiles define the problem
            (only read; its nodes' per-day state is never touched).
        fix_levers: hold batteries idle, shed nothing, curtail nothing and spread each
            flexible load evenly over the day, leaving a per-step DC optimal power flow
            of the producers (with ``losses=False``, what ``pandapower.rundcopp``
            solves; used to validate).
        losses: price the modelled branch losses (see the module docstring); False is
            the lossless DC model.
    """

    def __init__(self, grid: PowerGrid, fix_levers: bool = False, losses: bool = True):
        self.grid, self.steps = grid, grid.config["time"]["steps_per_day"]
        self.dt_h = 24.0 / self.steps
        self.max_loading_percent = grid.config["grid"]["max_loading_percent"]
        unknown = [n.name for n in grid.nodes if not isinstance(n, _TYPES)]
        if unknown:
            raise TypeError(f"DayOptimum models the four shipped node types, not {unknown}")
        self.producers, self.batteries, self.consumers, self.businesses = (
            [n for n in grid.nodes if isinstance(n, cls)] for cls in _TYPES
        )
        self.ptdf, self.loss_mw_per_mw2 = _ptdf(grid.net)
        self.losses = losses
        self._build(fix_levers)

    def _param(self, nodes: list[Node], key: str) -> np.ndarray:
        """Parameter ``key`` of ``nodes`` as a column [n, 1] (broadcasts over steps)."""
        return np.array([[n.params[key]] for n in nodes], dtype=float)

    def _build(self, fix_levers: bool) -> None:
        """Build the QP once; :meth:`solve` only sets the parameters."""
        T, dt, n_branch, par = self.steps, self.dt_h, self.grid.n_branch, self._param
        self.price_dt = cp.Parameter(T)
        self.base_flow_mw = cp.Parameter((n_branch, T))  # PTDF @ what no lever changes
        self.limit_param_mw = cp.Parameter((n_branch, T), nonneg=True)
        self.vars: dict[str, cp.Variable] = {"overflow": cp.Variable((n_branch, T), nonneg=True)}
        flow, import_mw = self.base_flow_mw, 0  # import: the decisions' part only
        cost = OVERFLOW_EUR_PER_MWH * dt * cp.sum(self.vars["overflow"])
        cons: list[Any] = []

        def inject(nodes: list[Node], p_mw: Any) -> None:
            nonlocal flow, import_mw  # p_mw [n, T] injected at the nodes' buses
            flow = flow + self.ptdf[:, [n.bus for n in nodes]] @ p_mw
            import_mw = import_mw - cp.sum(p_mw, axis=0)

        if g := self.producers:
            pg = self.vars["pg"] = cp.Variable((len(g), T))
            cons += [pg >= par(g, "min_p_mw"), pg <= par(g, "max_p_mw")]
            inject(g, pg)
            c1, c2 = par(g, "cost_eur_per_mwh")[:, 0], par(g, "cost_eur_per_mw2h")[:, 0]
            cost += dt * (c1 @ cp.sum(pg, axis=1) + cp.sum_squares(np.diag(np.sqrt(c2)) @ pg))
        if b := self.batteries:
            ch = self.vars["ch"] = cp.Variable((len(b), T), nonneg=True)
            dis = self.vars["dis"] = cp.Variable((len(b), T), nonneg=True)
            short = cp.Variable((len(b), 1), nonneg=True)  # end-of-day SOC below initial
            eta_c, eta_d, cap = (
                par(b, k) for k in ("charge_efficiency", "discharge_efficiency", "capacity_mwh")
            )
            stored = cp.multiply(eta_c * dt / cap, ch) - cp.multiply(dt / (eta_d * cap), dis)
            soc = par(b, "initial_soc") + stored @ np.triu(np.ones((T, T)))  # running sum
            cons += [ch <= par(b, "max_p_mw"), dis <= par(b, "max_p_mw")]
            cons += [soc >= par(b, "min_soc"), soc <= par(b, "max_soc")]
            cons += [short >= par(b, "initial_soc") - soc[:, T - 1 :]]
            cons += [ch == 0, dis == 0] if fix_levers else []
            inject(b, dis - ch)
            cost += dt * cp.sum(cp.multiply(par(b, "degradation_cost_eur_per_mwh"), ch + dis))
            end_eur_per_soc = par(b, "end_soc_price_eur_per_mwh") * cap / eta_c
            cost += cp.sum(cp.multiply(end_eur_per_soc, short))
        if c := self.consumers:
            shed = self.vars["shed"] = cp.Variable((len(c), T), nonneg=True)
            self.shed_max_mw = cp.Parameter((len(c), T), nonneg=True)
            cons += [shed <= self.shed_max_mw] + ([shed == 0] if fix_levers else [])
            inject(c, shed)  # shedding a load is injecting its share
            cost += dt * cp.sum(cp.multiply(par(c, "shed_cost_eur_per_mwh"), shed))
        if z := self.businesses:
            curt = self.vars["curt"] = cp.Variable((len(z), T), nonneg=True)
            flex = self.vars["flex"] = cp.Variable((len(z), T), nonneg=True)
            unmet = cp.Variable((len(z), 1), nonneg=True)
            self.pv_avail_mw = cp.Parameter((len(z), T), nonneg=True)
            energy, delivered = par(z, "flex_energy_mwh"), dt * cp.sum(flex, axis=1, keepdims=True)
            cons += [curt <= self.pv_avail_mw, flex <= par(z, "flex_max_p_mw")]
            # The env stops a flexible load once its day's energy is delivered.
            cons += [delivered <= energy, delivered + unmet >= energy]
            cons += [curt == 0, flex == energy / (T * dt)] if fix_levers else []
            inject(z, -(curt + flex))
            cost += cp.sum(cp.multiply(par(z, "unmet_flex_cost_eur_per_mwh"), unmet))
        over, f = self.vars["overflow"], cp.Variable((n_branch, T))
        cons += [f == flow, f <= self.limit_param_mw + over, -f <= self.limit_param_mw + over]
        self.price_pos_dt = cp.Parameter(T, nonneg=True)  # losses are bought, never sold
        self._loss_mw: Any = 0.0
        if self.losses:
            self._loss_mw = self.loss_mw_per_mw2 @ cp.square(f)
            cost += self.price_pos_dt @ self._loss_mw
        self._flow, self._import_mw = f, import_mw
        self.problem = cp.Problem(cp.Minimize(cost + self.price_dt @ import_mw), cons)
        assert self.problem.is_dpp(), "the day's QP must be DPP to re-solve fast"

    def fixed_injections_mw(self, day: int) -> np.ndarray:
        """What no lever changes, per bus and step [n_bus, T] (MW, + injects): every
        demand and unowned element at its profile value, businesses' PV uncurtailed."""
        p = self.grid.profiles
        load_pu, pv_pu = p.load_pu[day], p.pv_pu[day]
        inj = self.grid.base_injections(self.steps, load_pu)  # unowned elements as the env
        for node in self.consumers + self.businesses:
            inj.load_p_mw[:, node.load_index] = node.base_p_mw * load_pu
        for node in self.businesses:
            inj.sgen_p_mw[:, node.sgen_index] = node.params["pv_p_mw"] * pv_pu
        for node in self.producers:
            inj.gen_p_mw[:, node.gen_index] = 0.0  # decided by the QP
        net, bus_mw = self.grid.net, np.zeros((self.grid.n_bus, self.steps))
        np.add.at(bus_mw, net.gen.bus.values, inj.gen_p_mw.T)
        np.add.at(bus_mw, net.sgen.bus.values, inj.sgen_p_mw.T)
        np.add.at(bus_mw, net.load.bus.values, -inj.load_p_mw.T)
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
        T, dt, p = self.steps, self.dt_h, self.grid.profiles
        price, load_pu, pv_pu = p.price_eur_per_mwh[day], p.load_pu[day], p.pv_pu[day]
        fixed = self.fixed_injections_mw(day)
        drawn = np.zeros((self.grid.n_bus, T)) if loss_bus_mw is None else loss_bus_mw
        if limit_mw is None:
            rating = self.grid.branch_rating_mva * self.max_loading_percent / 100.0
            limit_mw = np.tile(rating[:, None] * branch_limit_scale, T)
        self.price_dt.value = price * dt
        self.price_pos_dt.value = np.maximum(price, 0.0) * dt
        self.base_flow_mw.value = self.ptdf @ (fixed - drawn)
        self.limit_param_mw.value = np.asarray(limit_mw, dtype=float)
        demand = np.array([n.base_p_mw * load_pu for n in self.consumers]).reshape(-1, T)
        pv = np.array([n.params["pv_p_mw"] * pv_pu for n in self.businesses]).reshape(-1, T)
        if self.consumers:
            self.shed_max_mw.value = self._param(self.consumers, "max_shed_fraction") * demand
        if self.businesses:
            self.pv_avail_mw.value = pv
        start = time.perf_counter()
        self.problem.solve(solver=cp.CLARABEL)
        elapsed = time.perf_counter() - start
        if self.problem.status not in ("optimal", "optimal_inaccurate"):
            raise RuntimeError(f"day {day}: the day's optimum is {self.problem.status}")
        v = {k: np.asarray(x.value) for k, x in self.vars.items()}
        loss_mw = np.asarray(self._loss_mw.value) if self.losses else drawn.sum(axis=0)
        import_mw = np.asarray(self._import_mw.value) - fixed.sum(axis=0) + loss_mw
        # The schedule's system cost, step by step, as the environment books it.
        cost = price * dt * import_mw
        nodes: dict[str, dict[str, np.ndarray]] = {}
        for i, node in enumerate(self.producers):
            nodes[node.name] = {"p_mw": v["pg"][i]}
            cost = cost + node.generation_cost_eur(v["pg"][i], dt)
        for i, node in enumerate(self.batteries):
            q, p_mw = node.params, v["ch"][i] - v["dis"][i]
            eta_c, cap = q["charge_efficiency"], q["capacity_mwh"]
            stored = np.where(p_mw >= 0, p_mw * eta_c, p_mw / q["discharge_efficiency"])
            soc = q["initial_soc"] + np.cumsum(stored) * dt / cap
            nodes[node.name] = {"p_mw": p_mw, "soc": soc}
            cost = cost + q["degradation_cost_eur_per_mwh"] * np.abs(p_mw) * dt
            short_mwh = max(q["initial_soc"] - soc[-1], 0.0) * cap / eta_c
            cost[-1] += q["end_soc_price_eur_per_mwh"] * short_mwh
        for i, node in enumerate(self.consumers):
            shed = _snap(v["shed"][i])
            share = np.divide(shed, demand[i], out=np.zeros(T), where=demand[i] > 0)
            nodes[node.name] = {"shed_mw": shed, "shed_fraction": share}
            cost = cost + node.params["shed_cost_eur_per_mwh"] * shed * dt
        for i, node in enumerate(self.businesses):
            curt, flex = _snap(v["curt"][i]), v["flex"][i]
            share = np.divide(curt, pv[i], out=np.zeros(T), where=pv[i] > 1e-9)
            nodes[node.name] = {"curtail_mw": curt, "curtail_share": share, "flex_mw": flex}
            unmet = max(node.params["flex_energy_mwh"] - flex.sum() * dt, 0.0)
            cost[-1] += node.params["unmet_flex_cost_eur_per_mwh"] * unmet
        return DaySchedule(
            int(day), nodes, import_mw, np.asarray(self._flow.value), np.array(limit_mw),
            v["overflow"], cost, float(cost.sum()), elapsed, self.problem.status,
        )  # fmt: skip


def schedule_actions(nodes: list[Node], schedules: list[DaySchedule], steps: np.ndarray) -> dict:
    """The env actions [B, n_actions] per agent that replay ``schedules[b]`` at step
    ``steps[b]``: each type's action mapping inverted. Producers keep their neutral
    voltage setpoint (voltage action 0), the DC model having no voltages."""
    rows, actions = np.arange(len(schedules)), {}
    for node in nodes:
        q, a = node.params, np.zeros((len(schedules), len(node.ACTIONS)))
        s = {k: np.array([sc.nodes[node.name][k] for sc in schedules])[rows, steps]
             for k in schedules[0].nodes[node.name]}  # fmt: skip
        if isinstance(node, Producer):
            span = max(q["max_p_mw"] - q["min_p_mw"], 1e-9)
            a[:, 0] = 2.0 * (s["p_mw"] - q["min_p_mw"]) / span - 1.0
        elif isinstance(node, Battery):
            a[:, 0] = s["p_mw"] / q["max_p_mw"]
        elif isinstance(node, Consumer) and q["max_shed_fraction"] > 0:
            a[:, 0] = s["shed_fraction"] / q["max_shed_fraction"]  # a <= 0 sheds nothing
        elif isinstance(node, Business):
            a[:, 0] = -s["curtail_share"]
            a[:, 1] = 2.0 * s["flex_mw"] / max(q["flex_max_p_mw"], 1e-9) - 1.0
        actions[node.name] = np.clip(a, -1.0, 1.0)
    return actions


class OptimumPolicy:
    """The day's optimum as a policy: whole-day DC dispatch, corrected in AC, replayed.

    When a batch's days start it solves (or fetches from its cache) each day's schedule
    and plays it back step by step through :func:`schedule_actions`. Each schedule is
    checked by replaying it in a private AC environment on its own :class:`PowerGrid`
    (built from ``env.config``; never the caller's, whose nodes hold the caller's days)
    and re-solved with loss-aware, tightened limits until the AC loading respects the
    limit (see the module docstring). ``DaySchedule.rounds`` records each round's
    ``worst_loading_percent``, AC ``cost_eur`` and DC ``objective_eur``.

    Arguments:
        env: the environment it will act in (its config and power-flow backend).
        branch_limit_scale: scale on every branch's loading limit (1 = as configured).
        max_rounds: the most DC solves per day (each after the first is a correction).
    """

    name = "optimum"

    def __init__(self, env: BatchedGridEnv, branch_limit_scale: float = 1.0, max_rounds: int = 5):
        self.config = env.config
        self.grid = PowerGrid(env.config, backend=env.grid.backend.name)
        self.model = DayOptimum(self.grid)
        self.branch_limit_scale = branch_limit_scale
        self.max_rounds = max_rounds
        self.cache: dict[tuple[int, float], DaySchedule] = {}
        self._playing: list[DaySchedule] = []

    def act(self, observations: dict[str, np.ndarray], env: BatchedGridEnv) -> dict:
        """Actions of the batch's schedules at the current step (solved at step 0)."""
        ctx, days = env.context(), [int(d) for d in env.day]
        if np.any(ctx.step == 0) or [s.day for s in self._playing] != days:
            self._playing = self.schedules(days)
        steps = np.minimum(ctx.step, env.steps_per_day - 1)
        return schedule_actions(env.nodes, self._playing, steps)

    def schedules(self, days: list[int] | np.ndarray) -> list[DaySchedule]:
        """The AC-checked schedule of each of ``days`` (solved once, then cached)."""
        scale = float(self.branch_limit_scale)
        todo = sorted({int(d) for d in days if (int(d), scale) not in self.cache})
        for sched in self._solve_checked(todo, scale) if todo else []:
            self.cache[(sched.day, scale)] = sched
        return [self.cache[(int(d), scale)] for d in days]

    def replay(self, schedules: list[DaySchedule]) -> dict[str, np.ndarray]:
        """Replay ``schedules`` in AC in a fresh environment on the private grid (each
        replay finishes before the next starts). Returns [B, T, ...] arrays:
        ``loading_percent``, ``branch_loss_mw`` (per branch), ``system_cost_eur``,
        ``converged``."""
        env = BatchedGridEnv(self.config, len(schedules), "test", self.grid, autoreset=False)
        env.reset(days=[s.day for s in schedules])
        out: dict[str, list] = {k: [] for k in ("loading_percent", "branch_loss_mw")}
        out.update(system_cost_eur=[], converged=[])
        for t in range(env.steps_per_day):
            steps = np.full(len(schedules), t)
            info = env.step(schedule_actions(env.nodes, schedules, steps))[-1]
            pf = env.last_power_flow
            out["loading_percent"].append(self.grid.loading_percent(pf))
            out["branch_loss_mw"].append(pf.p_from_mw + pf.p_to_mw)
            out["system_cost_eur"].append(info["system_cost_eur"])
            out["converged"].append(pf.converged)
        return {k: np.stack(v, axis=1) for k, v in out.items()}

    def _solve_checked(self, days: list[int], scale: float) -> list[DaySchedule]:
        """Solve ``days`` and correct each until its AC replay respects the limits."""
        grid, model, limit_pct = self.grid, self.model, self.config["grid"]["max_loading_percent"]
        target = limit_pct * scale - LOADING_MARGIN_PERCENT
        rating = grid.branch_rating_mva * limit_pct / 100.0 * scale
        limits = {d: np.tile(rating[:, None], model.steps) for d in days}
        losses: dict[int, np.ndarray | None] = dict.fromkeys(days)
        done: dict[int, DaySchedule] = {}
        rounds: dict[int, list[dict[str, float]]] = {d: [] for d in days}
        pending = list(days)
        for round_ in range(1, self.max_rounds + 1):
            scheds = [model.solve(d, limit_mw=limits[d], loss_bus_mw=losses[d]) for d in pending]
            ac, pending = self.replay(scheds), []
            for b, s in enumerate(scheds):
                loading = ac["loading_percent"][b].T  # [n_branch, T]
                worst, cost = float(loading.max()), float(ac["system_cost_eur"][b].sum())
                record = {"worst_loading_percent": worst, "cost_eur": cost}
                rounds[s.day].append({**record, "objective_eur": s.objective_eur})
                s.rounds, done[s.day] = rounds[s.day], s
                failed = not ac["converged"][b].all()  # loading is 0 where the AC failed
                if worst <= limit_pct * scale + LOADING_TOLERANCE_PERCENT and not failed:
                    continue
                if round_ == self.max_rounds or failed:
                    warnings.warn(f"optimum: day {s.day}'s AC replay fails or overloads "
                                  f"(worst loading {worst:.2f} %)", stacklevel=3)  # fmt: skip
                    continue
                # Each branch's AC losses drawn half at each end: DC flows then carry them.
                loss = ac["branch_loss_mw"][b].T / 2
                losses[s.day] = np.zeros((grid.n_bus, model.steps))
                np.add.at(losses[s.day], grid.branch_from_bus, loss)
                np.add.at(losses[s.day], grid.branch_to_bus, loss)
                # Where AC loads a branch past the target, limit its DC flow to what the
                # observed AC/DC ratio maps to the target; limits never loosen.
                tight = np.abs(s.flow_mw) * target / np.maximum(loading, 1e-9)
                limits[s.day] = np.where(
                    loading > target, np.minimum(limits[s.day], tight), limits[s.day]
                )
                pending.append(s.day)
            if not pending:
                break
        return [done[d] for d in days]
