"""Branch ratings: the net's own where it has one, from planning cases where not.

A rating is the apparent power a branch carries at its thermal current limit at
nominal voltage; ``loading_percent`` is the current at the more loaded end over that
limit, ``100 |S| / (vm_pu * rating_mva)``, for lines and transformers alike, as
pandapower computes it (thermal limits are limits on current).

- **The net's own rating** (:func:`net_ratings_mva`): a line's
  ``sqrt(3) vn_kv max_i_ka`` (times ``df`` and ``parallel``), a transformer's
  ``sn_mva`` (times ``parallel``). MATPOWER's cases write 9,900 MVA for "no limit"
  (case14, case57 and case118 have no real ratings; case30 and cigre_mv have), so a
  rating of :data:`UNRATED_MVA` or more counts as none.
- **Planning cases** for a branch without one: it is rated ``branch_rating_margin``
  times the largest apparent flow of three AC planning cases, but at least
  ``min_branch_rating_mva``: the start case (every node at its starting setpoints), every
  node at full output (:meth:`~gridppo.grid.node.Node.write_full_output`: every producer
  at ``max_p_mw``), and the base load met by the producers in merit order
  (:func:`merit_order`), the dispatch a market without a network would choose. So the
  grid carries its textbook dispatches with a margin, and constraints bind when demand
  peaks, PV floods or a policy strays from them. On case14 the merit-order case never
  sets a rating (the other two are larger on every branch).
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandapower as pp

from gridppo.config.fields import ConfigError
from gridppo.grid.context import Dispatch

if TYPE_CHECKING:
    from gridppo.grid.network import PowerGrid
    from gridppo.grid.node import Node

__all__ = ["UNRATED_MVA", "merit_order", "net_ratings_mva", "rate_branches", "solves"]

# A branch rated this much or more has no real rating: MATPOWER's cases write 9,900 MVA
# (rateA 0 converted) for "unlimited".
UNRATED_MVA = 9000.0


def merit_order(nodes: Sequence[Node]) -> list[tuple[Node, Dispatch]]:
    """The dispatchable nodes, cheapest first by their cost per MWh at half output."""
    generators = [(node, node.dispatch()) for node in nodes]
    generators = [(node, d) for node, d in generators if d is not None]

    def half_output_cost(item: tuple[Node, Dispatch]) -> float:
        node, d = item
        return float(node.generation_cost_eur(np.array(d.max_p_mw / 2), 1.0) / (d.max_p_mw / 2))

    return sorted(generators, key=half_output_cost)


def net_ratings_mva(net: pp.pandapowerNet) -> np.ndarray:
    """The net's own rating of each branch (lines, then transformers) in MVA;
    :data:`UNRATED_MVA` or more means none."""
    line, trafo = net.line, net.trafo
    vn_kv = net.bus.vn_kv.values[line.from_bus.values]
    line_mva = np.sqrt(3) * vn_kv * line.max_i_ka.values * line.df.values * line.parallel.values
    trafo_mva = trafo.sn_mva.values * trafo.parallel.values
    own = np.concatenate([line_mva, trafo_mva]).astype(float)
    return np.where(np.isfinite(own), own, np.inf)


def solves(net: pp.pandapowerNet, max_iterations: int) -> bool:
    """Run pandapower's AC power flow on ``net`` in place; whether it converged."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            pp.runpp(net, numba=True, max_iteration=max_iterations)
        except pp.LoadflowNotConverged:
            return False
    return True


def _flows_mva(net: pp.pandapowerNet) -> np.ndarray:
    """Largest apparent flow at either end of each branch after a power flow (MVA)."""
    line, trafo = net.res_line, net.res_trafo
    s_line = np.maximum(
        np.hypot(line.p_from_mw, line.q_from_mvar), np.hypot(line.p_to_mw, line.q_to_mvar)
    )
    s_trafo = np.maximum(
        np.hypot(trafo.p_hv_mw, trafo.q_hv_mvar), np.hypot(trafo.p_lv_mw, trafo.q_lv_mvar)
    )
    return np.concatenate([s_line.values, s_trafo.values])


def rate_branches(grid: PowerGrid) -> np.ndarray:
    """The rating of every branch of ``grid`` (lines, then transformers) in MVA."""
    g = grid.config["grid"]
    start = copy.deepcopy(grid.net)
    full = copy.deepcopy(grid.net)
    for node in grid.nodes:
        node.write_full_output(full)
    merit = copy.deepcopy(grid.net)
    remaining_mw = float(merit.load.p_mw.sum())
    for _, d in merit_order(grid.nodes):
        p_mw = float(np.clip(remaining_mw, d.min_p_mw, d.max_p_mw))
        merit.gen.loc[d.gen_index, "p_mw"] = p_mw
        remaining_mw -= p_mw
    flows = []
    for net in (start, full, merit):
        if not solves(net, g["max_iterations"]):
            raise ConfigError(
                "nodes: the planning power flow does not converge with these nodes; "
                "check producer sizes and voltage setpoints"
            )
        flows.append(_flows_mva(net))
    planned = np.max(flows, axis=0)
    derived = np.maximum(g["branch_rating_margin"] * planned, g["min_branch_rating_mva"])
    own = net_ratings_mva(grid.net)
    return np.where(own < UNRATED_MVA, own, derived)
