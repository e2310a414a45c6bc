"""Branch ratings: the net's own where it has them, planning cases where not, and the
merit order that both the third planning case and the heuristic use."""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pandapower as pp

from gridppo import PowerGrid, load_config
from gridppo.config.networks import load_network
from gridppo.grid.producer import Producer
from gridppo.grid.ratings import UNRATED_MVA, merit_order, net_ratings_mva


def planning_flows(net: pp.pandapowerNet) -> np.ndarray:
    """The largest apparent flow at either end of each branch after ``runpp`` (MVA)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pp.runpp(net, numba=True)
    s_line = np.maximum(
        np.hypot(net.res_line.p_from_mw, net.res_line.q_from_mvar),
        np.hypot(net.res_line.p_to_mw, net.res_line.q_to_mvar),
    )
    s_trafo = np.maximum(
        np.hypot(net.res_trafo.p_hv_mw, net.res_trafo.q_hv_mvar),
        np.hypot(net.res_trafo.p_lv_mw, net.res_trafo.q_lv_mvar),
    )
    return np.concatenate([s_line.values, s_trafo.values])


def test_case14_branches_are_rated_from_two_planning_cases(grid: PowerGrid) -> None:
    g = grid.config["grid"]
    base = planning_flows(copy.deepcopy(grid.net))
    full = copy.deepcopy(grid.net)
    for node in grid.nodes:
        if isinstance(node, Producer):
            full.gen.loc[node.gen_index, "p_mw"] = node.params["max_p_mw"]
    full_flows = planning_flows(full)
    expected = np.maximum(
        g["branch_rating_margin"] * np.maximum(base, full_flows), g["min_branch_rating_mva"]
    )
    np.testing.assert_allclose(grid.branch_rating_mva, expected, rtol=1e-9)
    # Both cases matter, and the floor holds for lightly used branches.
    assert (full_flows > base + 1.0).any() and (base > full_flows + 1.0).any()
    assert (grid.branch_rating_mva == g["min_branch_rating_mva"]).any()
    # pandapower's own line limits say the same.
    n_line = len(grid.net.line)
    vn_kv = grid.net.bus.vn_kv.values[grid.net.line.from_bus.values]
    np.testing.assert_allclose(
        grid.net.line.max_i_ka * np.sqrt(3) * vn_kv, grid.branch_rating_mva[:n_line]
    )


def test_ratings_are_the_nets_own_where_it_has_them() -> None:
    # case30 rates every line (MATPOWER's rateA); gridppo keeps those ratings.
    net = load_network("case30")
    vn_kv = net.bus.vn_kv.values[net.line.from_bus.values]
    own_mva = np.sqrt(3) * vn_kv * net.line.max_i_ka.values
    grid = PowerGrid(load_config(None, ["grid.network=case30"]))
    np.testing.assert_allclose(grid.branch_rating_mva, own_mva)
    assert own_mva.max() < UNRATED_MVA
    # case14's 9,900 MVA are "no limit": every branch is rated from the planning cases.
    grid14 = PowerGrid(load_config(None))
    assert (grid14.branch_rating_mva < 300).all()
    # cigre_mv rates its lines and its two 25 MVA transformers.
    mv = PowerGrid(load_config(None, ["grid.network=cigre_mv"]))
    np.testing.assert_allclose(mv.branch_rating_mva[-2:], [25.0, 25.0])


def test_merit_order_is_cheapest_first_and_rates_case118() -> None:
    grid = PowerGrid(load_config(None, ["grid.network=case118"]))
    order = merit_order(grid.nodes)
    assert len(order) == 53 and all(isinstance(node, Producer) for node, _ in order)
    half = [
        n.generation_cost_eur(np.array(d.max_p_mw / 2), 1.0) / (d.max_p_mw / 2) for n, d in order
    ]
    assert half == sorted(half)
    # The base load met in merit order fits every branch with the margin to spare.
    merit = copy.deepcopy(grid.net)
    remaining = merit.load.p_mw.sum()
    for _, d in order:
        p_mw = float(np.clip(remaining, d.min_p_mw, d.max_p_mw))
        merit.gen.loc[d.gen_index, "p_mw"] = p_mw
        remaining -= p_mw
    margin = grid.config["grid"]["branch_rating_margin"]
    assert (margin * planning_flows(merit) <= grid.branch_rating_mva * (1 + 1e-9)).all()


def test_unrated_is_matpowers_9900_mva() -> None:
    assert (net_ratings_mva(load_network("case14")) >= UNRATED_MVA).all()
    assert (net_ratings_mva(load_network("case30")) < UNRATED_MVA).all()
