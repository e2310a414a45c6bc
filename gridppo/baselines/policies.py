"""Baseline policies: random, a rule-based heuristic and a single-step AC-OPF.

The yardstick for the learners is not here but in :mod:`gridppo.optimum`: the day's
optimum, which uses every lever the agents have. The single-step AC-OPF below
dispatches the producers only, one step at a time, so it solves a smaller problem than
the agents do and is shown for what it is.

A policy maps the batched observations to batched actions::

    actions = policy.act(observations, env)   # dicts keyed by agent, arrays [B, ...]

It may read the environment (its grid, profiles and current step), as a rule-based
controller with a view of the system would. Trained PPO agents are wrapped the same
way by :class:`gridppo.trainer.TrainedPolicy`.
"""

from __future__ import annotations

import copy
import warnings
from typing import Protocol

import numpy as np
import pandapower as pp

from gridppo.baselines.optimum import OptimumPolicy
from gridppo.env import BatchedGridEnv
from gridppo.grid.nodes import Battery, Business, Consumer, Producer

__all__ = ["Policy", "RandomPolicy", "HeuristicPolicy", "SingleStepOPFPolicy", "make_baseline"]


class Policy(Protocol):
    """Anything with ``act(observations, env) -> actions``."""

    name: str

    def act(self, observations: dict[str, np.ndarray], env: BatchedGridEnv) -> dict:
        """Batched actions for the batched observations."""
        ...


class RandomPolicy:
    """Uniformly random actions in [-1, 1]: the floor any learner must clear."""

    name = "random"

    def __init__(self, seed: int = 0):
        self.rng = np.random.default_rng(seed)

    def act(self, observations: dict[str, np.ndarray], env: BatchedGridEnv) -> dict:
        """Draw one uniform action per agent and day."""
        return {
            name: self.rng.uniform(-1.0, 1.0, (env.batch_size, space.shape[0]))
            for name, space in env.action_spaces.items()
        }


class HeuristicPolicy:
    """A documented rule-based operator, the baseline IPPO must beat.

    - **Producers** dispatch in merit order to meet the net load (demand minus PV):
      ordered by their cost at half output, each runs at full output while that cost is
      below the energy price and net load remains; the upstream grid supplies the rest.
      They keep their neutral voltage setpoints.
    - **Batteries** charge at full power when the price is below the 30th percentile of
      the training days' prices and discharge at full power above the 70th, but never
      below their initial state of charge, so that a day ends where it started and owes
      no shortfall.
    - **Consumers** never shed demand.
    - **Businesses** curtail PV in proportion to how far their bus voltage is within
      0.01 p.u. of the upper limit, and run the flexible load at full power when the
      price is below the 40th percentile (or when it must, to finish by the day's end).
    """

    name = "heuristic"

    def __init__(self, env: BatchedGridEnv):
        prices = env.grid.profiles.price_eur_per_mwh[env.grid.profiles.train_days]
        self.cheap_eur, self.flex_cheap_eur, self.dear_eur = np.percentile(prices, [30, 40, 70])

    def act(self, observations: dict[str, np.ndarray], env: BatchedGridEnv) -> dict:
        """Apply the rules above to every day in the batch."""
        ctx = env.context()
        price = ctx.price_eur_per_mwh
        batch = env.batch_size
        actions: dict[str, np.ndarray] = {}
        producers = [n for n in env.nodes if isinstance(n, Producer)]
        demand = env.grid.base_injections(batch, ctx.load_pu).load_p_mw.sum(axis=1)
        pv = sum(n.params["pv_p_mw"] * ctx.pv_pu for n in env.nodes if isinstance(n, Business))
        remaining = demand - pv
        half_cost = {
            n.name: n.generation_cost_eur(np.array(n.params["max_p_mw"] / 2), 1.0)
            / (n.params["max_p_mw"] / 2)
            for n in producers
        }
        for node in sorted(producers, key=lambda n: half_cost[n.name]):
            lo, hi = node.params["min_p_mw"], node.params["max_p_mw"]
            runs = price > half_cost[node.name]
            p_mw = np.where(runs, np.clip(remaining, lo, hi), lo)
            remaining = remaining - p_mw
            setpoint = 2.0 * (p_mw - lo) / max(hi - lo, 1e-9) - 1.0
            actions[node.name] = np.column_stack([setpoint, np.zeros(batch)])
        vmax = env.config["grid"]["max_vm_pu"]
        for node in env.nodes:
            obs = observations[node.name]
            if isinstance(node, Battery):
                p = node.params
                # Discharge at most down to the initial state of charge.
                spare_mwh = np.maximum(node.soc - p["initial_soc"], 0.0) * p["capacity_mwh"]
                spare_mw = spare_mwh * p["discharge_efficiency"] / env.dt_h
                discharge = -np.minimum(spare_mw / p["max_p_mw"], 1.0)
                act = np.where(
                    price < self.cheap_eur, 1.0, np.where(price > self.dear_eur, discharge, 0)
                )
                actions[node.name] = act[:, None]
            elif isinstance(node, Consumer):
                actions[node.name] = -np.ones((batch, 1))
            elif isinstance(node, Business):
                vm = obs[:, 0]
                curtail = np.clip((vm - (vmax - 0.01)) / 0.01, 0.0, 1.0)
                steps_left = env.steps_per_day - ctx.step
                must = (
                    node.flex_remaining_mwh
                    > (steps_left - 1) * node.params["flex_max_p_mw"] * env.dt_h
                )
                flex = np.where((price < self.flex_cheap_eur) | must, 1.0, -1.0)
                actions[node.name] = np.column_stack([-curtail, flex])
        for node in env.nodes:  # a type the rules do not know stays neutral
            actions.setdefault(node.name, np.zeros((batch, node.action_space().shape[0])))
        return actions


class SingleStepOPFPolicy:
    """Producers only, one step at a time: pandapower's AC optimal power flow.

    With the demand fixed (no shedding, PV uncurtailed, flexible loads spread evenly
    over the day, batteries idle), ``pandapower.runopp`` chooses every producer's
    output to minimise fuel cost plus energy bought upstream at the price, subject to
    voltage and branch limits (the same loading limit as the environment's), with
    generator voltages held at their neutral setpoints. It is the cost-optimal
    *dispatch* for those loads, but it has fewer levers than the agents (no storage, no
    demand response, no flexibility) and no view of the day, so it is not a yardstick
    for them: :class:`gridppo.optimum.OptimumPolicy` is. It solves one OPF per day and
    step: slow, for evaluation only.
    """

    name = "single_step_opf"

    def __init__(self, env: BatchedGridEnv):
        grid = env.grid
        net = copy.deepcopy(grid.net)
        net.poly_cost.drop(net.poly_cost.index, inplace=True)
        g = grid.config["grid"]
        self.producers = [n for n in env.nodes if isinstance(n, Producer)]
        for node in self.producers:
            net.gen.loc[node.gen_index, "controllable"] = True
            pp.create_poly_cost(
                net,
                node.gen_index,
                "gen",
                cp1_eur_per_mw=node.params["cost_eur_per_mwh"],
                cp2_eur_per_mw2=node.params["cost_eur_per_mw2h"],
            )
        # The environment holds every generator at its voltage setpoint; the OPF must
        # too, or its dispatch would be optimal for voltages the agents cannot choose.
        # Reactive limits are relaxed for the same reason: the environment's power flow
        # does not enforce them (pandapower's runpp default), so the OPF does not either.
        for _, gen in net.gen.iterrows():
            net.bus.loc[gen.bus, ["min_vm_pu", "max_vm_pu"]] = gen.vm_pu
        net.gen["min_q_mvar"], net.gen["max_q_mvar"] = -1e4, 1e4
        # Unowned generators keep their setpoint.
        owned = {n.gen_index for n in self.producers}
        for idx in net.gen.index:
            if idx not in owned:
                net.gen.loc[idx, "controllable"] = False
        self.ext_cost = pp.create_poly_cost(
            net, net.ext_grid.index[0], "ext_grid", cp1_eur_per_mw=0
        )
        n_line = len(net.line)
        # Loading is current over the thermal limit, as in the environment: lines carry
        # max_i_ka from the ratings (see PowerGrid), and transformer loading in
        # pandapower is relative to sn_mva, so its limit is rescaled to our rating.
        limit = g["max_loading_percent"]
        net.line["max_loading_percent"] = limit
        net.trafo["max_loading_percent"] = (
            limit * grid.branch_rating_mva[n_line:] / net.trafo.sn_mva.values
        )
        net.ext_grid["max_p_mw"], net.ext_grid["min_p_mw"] = 1e4, -1e4
        net.ext_grid["max_q_mvar"], net.ext_grid["min_q_mvar"] = 1e4, -1e4
        self.net = net
        self.failures = 0

    def _fixed_actions(self, env: BatchedGridEnv) -> dict[str, np.ndarray]:
        batch = env.batch_size
        actions = {}
        for node in env.nodes:
            if isinstance(node, Business):
                share = node.params["flex_energy_mwh"] / (
                    24.0 * max(node.params["flex_max_p_mw"], 1e-9)
                )
                actions[node.name] = np.tile([1.0, 2.0 * share - 1.0], (batch, 1))
            elif isinstance(node, Consumer):
                actions[node.name] = -np.ones((batch, 1))
            else:
                actions[node.name] = np.zeros((batch, node.action_space().shape[0]))
        return actions

    def act(self, observations: dict[str, np.ndarray], env: BatchedGridEnv) -> dict:
        """Solve the OPF for every day in the batch at the current step."""
        actions = self._fixed_actions(env)
        ctx = env.context()
        # Dry run on copies of the nodes: the demand this step, without changing state.
        inj = env.grid.base_injections(env.batch_size, ctx.load_pu)
        for node in env.nodes:
            if not isinstance(node, Producer):
                copy.deepcopy(node).apply_action(actions[node.name], ctx, inj)
        net = self.net
        for b in range(env.batch_size):
            net.load["p_mw"] = inj.load_p_mw[b]
            net.load["q_mvar"] = inj.load_q_mvar[b]
            net.sgen["p_mw"] = inj.sgen_p_mw[b]
            net.storage["p_mw"] = inj.storage_p_mw[b]
            net.poly_cost.loc[self.ext_cost, "cp1_eur_per_mw"] = ctx.price_eur_per_mwh[b]
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    pp.runopp(net, numba=True, verbose=False)
                p_mw = net.res_gen.p_mw.values
            except Exception:  # an infeasible step keeps producers at minimum output
                self.failures += 1
                p_mw = None
            for node in self.producers:
                lo, hi = node.params["min_p_mw"], node.params["max_p_mw"]
                value = lo if p_mw is None else float(p_mw[node.gen_index])
                actions[node.name][b, 0] = np.clip(
                    2.0 * (value - lo) / max(hi - lo, 1e-9) - 1, -1, 1
                )
        return actions


BASELINES = ("optimum", "heuristic", "single_step_opf", "random")


def make_baseline(name: str, env: BatchedGridEnv, seed: int = 0) -> Policy:
    """Build a baseline policy by name (one of :data:`BASELINES`)."""
    if name == "random":
        return RandomPolicy(seed)
    if name == "heuristic":
        return HeuristicPolicy(env)
    if name == "single_step_opf":
        return SingleStepOPFPolicy(env)
    if name == "optimum":
        return OptimumPolicy(env)
    raise ValueError(f"policy: unknown policy {name!r}; choose {', '.join(BASELINES)}")
