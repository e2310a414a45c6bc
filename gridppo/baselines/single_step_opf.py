"""The single-step AC-OPF: pandapower's optimal power flow of the producers, step by step.

It dispatches the producers only, one step at a time, so it solves a smaller problem
than the agents do and is shown for what it is; the yardstick for the learners is the
day's optimum (:mod:`gridppo.baselines.optimum`), which uses every lever they have.
"""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pandapower as pp

from gridppo.env import BatchedGridEnv

__all__ = ["SingleStepOPFPolicy"]


class SingleStepOPFPolicy:
    """Producers only, one step at a time: pandapower's AC optimal power flow.

    With the demand fixed (every node at its steady action: no shedding, PV
    uncurtailed, flexible loads spread evenly over the day, batteries idle),
    ``pandapower.runopp`` chooses the output of every dispatchable generator (see
    :meth:`~gridppo.grid.node.Node.dispatch`: the producers) to minimise fuel cost plus
    energy bought upstream at the price, subject to voltage and branch limits (the same
    loading limit as the environment's), with generator voltages held at their neutral
    setpoints. It is the cost-optimal *dispatch* for those loads, but it has fewer
    levers than the agents (no storage, no demand response, no flexibility) and no view
    of the day, so it is not a yardstick for them:
    :class:`gridppo.baselines.optimum.OptimumPolicy` is. It solves one OPF per day and
    step: slow, for evaluation only.
    """

    name = "single_step_opf"

    def __init__(self, env: BatchedGridEnv):
        grid = env.grid
        net = copy.deepcopy(grid.net)
        net.poly_cost.drop(net.poly_cost.index, inplace=True)
        g = grid.config["grid"]
        dispatches = [(node, node.dispatch()) for node in env.nodes]
        # The dispatchable generators (the producers) and what the OPF needs of them.
        self.generators = [(node, d) for node, d in dispatches if d is not None]
        for _, d in self.generators:
            net.gen.loc[d.gen_index, "controllable"] = True
            pp.create_poly_cost(
                net,
                d.gen_index,
                "gen",
                cp1_eur_per_mw=d.cost_eur_per_mwh,
                cp2_eur_per_mw2=d.cost_eur_per_mw2h,
            )
        # The environment holds every generator at its voltage setpoint; the OPF must
        # too, or its dispatch would be optimal for voltages the agents cannot choose.
        # Reactive limits are relaxed for the same reason: the environment's power flow
        # does not enforce them (pandapower's runpp default), so the OPF does not either.
        for _, gen in net.gen.iterrows():
            net.bus.loc[gen.bus, ["min_vm_pu", "max_vm_pu"]] = gen.vm_pu
        net.gen["min_q_mvar"], net.gen["max_q_mvar"] = -1e4, 1e4
        # Generators no node dispatches keep their setpoint.
        owned = {d.gen_index for _, d in self.generators}
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

    def act(self, observations: dict[str, np.ndarray], env: BatchedGridEnv) -> dict:
        """Solve the OPF for every day in the batch at the current step."""
        actions = {node.name: node.steady_action(env.batch_size) for node in env.nodes}
        ctx = env.context()
        # A dry run: the demand this step, without changing any node's state.
        inj = env.grid.apply_actions(actions, ctx, dry_run=True)
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
            except Exception:  # an infeasible step keeps the generators at minimum output
                self.failures += 1
                p_mw = None
            for node, d in self.generators:
                value = d.min_p_mw if p_mw is None else float(p_mw[d.gen_index])
                row = node.dispatch_action(np.array([value]))[0]
                actions[node.name][b] = np.clip(row, -1, 1)
        return actions
