"""A rule-based operator: the baseline IPPO must beat."""

from __future__ import annotations

import numpy as np

from gridppo.env import BatchedGridEnv
from gridppo.grid.context import OperatorView
from gridppo.grid.ratings import merit_order

__all__ = ["HeuristicPolicy"]


class HeuristicPolicy:
    """A documented rule-based operator, the baseline IPPO must beat.

    - **Dispatchable generators** (every node whose
      :meth:`~gridppo.grid.node.Node.dispatch` says so: the producers) run in merit
      order to meet the net load (demand minus PV): ordered by their cost at half
      output, each runs at full output while that cost is below the energy price and
      net load remains; the upstream grid supplies the rest. They keep their neutral
      voltage setpoints.
    - **Every other node** follows its own rule,
      :meth:`~gridppo.grid.node.Node.heuristic_action`: batteries charge when the
      price is cheap and discharge when it is dear, never below their initial state of
      charge; consumers never shed; businesses curtail PV near the upper voltage limit
      and run their flexible load when it is cheap or must (see each type). A type
      without a rule plays its steady action.

    Cheap and dear are percentiles of the training days' prices.
    """

    name = "heuristic"

    def __init__(self, env: BatchedGridEnv):
        self.train_prices_eur_per_mwh = env.grid.profiles.price_eur_per_mwh[
            env.grid.profiles.train_days
        ]
        self._percentiles: dict[float, float] = {}

    def price_percentile(self, q: float) -> float:
        """The ``q``-th percentile of the training days' prices (EUR/MWh)."""
        if q not in self._percentiles:
            self._percentiles[q] = float(np.percentile(self.train_prices_eur_per_mwh, q))
        return self._percentiles[q]

    def act(self, observations: dict[str, np.ndarray], env: BatchedGridEnv) -> dict:
        """Apply the rules above to every day in the batch."""
        ctx = env.context()
        price = ctx.price_eur_per_mwh
        actions: dict[str, np.ndarray] = {}
        demand = env.grid.base_injections(env.batch_size, ctx.load_pu).load_p_mw.sum(axis=1)
        pv = sum(n.pv_capacity_mw() * ctx.pv_pu for n in env.nodes)
        remaining = demand - pv
        # Merit order: the cost per MWh at half output, cheapest first.
        for node, d in merit_order(env.nodes):
            half_cost = node.generation_cost_eur(np.array(d.max_p_mw / 2), 1.0) / (d.max_p_mw / 2)
            runs = price > half_cost
            p_mw = np.where(runs, np.clip(remaining, d.min_p_mw, d.max_p_mw), d.min_p_mw)
            remaining = remaining - p_mw
            actions[node.name] = node.dispatch_action(p_mw)
        max_vm_pu = env.config["grid"]["max_vm_pu"]
        for node in env.nodes:
            if node.name not in actions:
                view = OperatorView(ctx, observations[node.name], max_vm_pu, self.price_percentile)
                actions[node.name] = node.heuristic_action(view)
        return actions
