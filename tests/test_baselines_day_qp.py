"""The day's QP: the DC model against pandapower's DC OPF, and its costs add up."""

from __future__ import annotations

import copy
import warnings
from typing import Any

import numpy as np
import pandapower as pp
import pytest

from gridppo import load_config
from gridppo.baselines.day_qp import DayOptimum
from gridppo.env import BatchedGridEnv

SMALL = {"time.train_days": 4, "time.validation_days": 2, "time.test_days": 3}


@pytest.fixture(scope="module")
def env() -> BatchedGridEnv:
    """An environment over the three test days of a small config."""
    config = load_config(None, SMALL)
    return BatchedGridEnv(config, batch_size=3, mode="test", autoreset=False)


@pytest.fixture(scope="module")
def days(env: BatchedGridEnv) -> np.ndarray:
    """The test days."""
    return env.grid.profiles.test_days


def _rundcopp_cost(grid: Any, day: int, t: int) -> tuple[float, pp.pandapowerNet]:
    """pandapower's DC OPF of step ``t`` with the levers held as ``fix_levers`` holds them."""
    net = copy.deepcopy(grid.net)
    load_pu, pv_pu = grid.profiles.load_pu[day, t], grid.profiles.pv_pu[day, t]
    net.load["p_mw"] = grid.base_load_p_mw * load_pu
    for node in grid.nodes:
        if node.type_name == "business":  # flexible load spread evenly, PV uncurtailed
            net.load.loc[node.load_index, "p_mw"] += node.params["flex_energy_mwh"] / 24.0
            net.sgen.loc[node.sgen_index, "p_mw"] = node.params["pv_p_mw"] * pv_pu
    net.load["controllable"], net.sgen["controllable"] = False, False
    net.storage["p_mw"], net.storage["controllable"] = 0.0, False
    net.poly_cost.drop(net.poly_cost.index, inplace=True)
    for node in grid.nodes:
        if node.type_name == "producer":
            q = node.params
            net.gen.loc[node.gen_index, ["controllable", "min_p_mw", "max_p_mw"]] = [
                True,
                q["min_p_mw"],
                q["max_p_mw"],
            ]
            pp.create_poly_cost(
                net,
                node.gen_index,
                "gen",
                cp1_eur_per_mw=q["cost_eur_per_mwh"],
                cp2_eur_per_mw2=q["cost_eur_per_mw2h"],
            )
    # The upstream grid buys and sells any amount at the step's price.
    net.ext_grid[["min_p_mw", "max_p_mw"]] = [-1e4, 1e4]
    price = grid.profiles.price_eur_per_mwh[day, t]
    pp.create_poly_cost(net, net.ext_grid.index[0], "ext_grid", cp1_eur_per_mw=price)
    # pandapower's DC limits: lines max_i_ka * sqrt(3) * vn_kv, trafos sn_mva, each
    # times max_loading_percent; set both to the (reduced) ratings.
    limit = grid.config["grid"]["max_loading_percent"]
    n_line = len(net.line)
    vn_kv = net.bus.vn_kv.values[net.line.from_bus.values]
    net.line["max_i_ka"] = grid.branch_rating_mva[:n_line] / (np.sqrt(3) * vn_kv)
    net.line["max_loading_percent"] = limit
    net.trafo["max_loading_percent"] = limit * grid.branch_rating_mva[n_line:] / net.trafo.sn_mva
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pp.rundcopp(net)
    assert net.OPF_converged
    return float(net.res_cost), net


def test_dc_step_matches_pandapower_rundcopp(env: BatchedGridEnv, days: np.ndarray) -> None:
    grid = copy.copy(env.grid)  # shares the net and nodes (only read); own ratings
    grid.branch_rating_mva = grid.branch_rating_mva.copy()
    trafo = grid.branch_names.index("trafo 4-5")
    grid.branch_rating_mva[trafo] *= 0.5  # so that a limit binds at the evening peak
    model = DayOptimum(grid, fix_levers=True, losses=False)
    day = int(days[0])
    schedule = model.solve(day)
    t = int(np.argmax(grid.profiles.price_eur_per_mwh[day]))
    cost, net = _rundcopp_cost(grid, day, t)
    assert abs(schedule.cost_eur[t] - cost) <= 1e-4 * abs(cost)
    limit_mw = grid.branch_rating_mva[trafo] * grid.config["grid"]["max_loading_percent"] / 100
    n_line = len(net.line)
    assert abs(net.res_trafo.p_hv_mw.values[trafo - n_line]) == pytest.approx(limit_mw, rel=1e-6)
    assert abs(schedule.flow_mw[trafo, t]) == pytest.approx(limit_mw, rel=1e-6)
    producers = [n for n in grid.nodes if n.dispatch() is not None]
    p_mw = [schedule.nodes[n.name]["p_mw"][t] for n in producers]
    np.testing.assert_allclose(
        p_mw, net.res_gen.p_mw.values[[n.gen_index for n in producers]], atol=1e-4
    )
    # Held levers: batteries idle, nothing shed or curtailed, flexible loads even.
    for node in grid.nodes:
        planned = schedule.nodes[node.name]
        if node.type_name == "battery":
            np.testing.assert_allclose(planned["p_mw"], 0.0, atol=1e-6)
        if node.type_name == "business":
            np.testing.assert_allclose(planned["curtail_mw"], 0.0, atol=1e-6)
            np.testing.assert_allclose(planned["flex_mw"], node.params["flex_energy_mwh"] / 24.0)


def test_day_costs_add_up(env: BatchedGridEnv, days: np.ndarray) -> None:
    model = DayOptimum(env.grid)
    schedule = model.solve(int(days[1]))
    # The QP's value plus the fixed part of the import bill is the schedule's cost.
    fixed_eur = -model.price_dt.value @ model.fixed_injections_mw(int(days[1])).sum(axis=0)
    assert schedule.objective_eur == pytest.approx(model.problem.value + fixed_eur, rel=1e-6)
    assert schedule.overflow_mw.max() < 1e-6
    assert np.all(np.abs(schedule.flow_mw) <= schedule.limit_mw + 1e-6)
    assert schedule.objective_eur == pytest.approx(schedule.cost_eur.sum())
    # Every node has a plan, and the nodes with decisions have terms in the problem.
    assert set(schedule.nodes) == {n.name for n in env.grid.nodes}
    assert set(model.terms) == set(schedule.nodes)
    # The import balances the injections: what no lever changes, what the levers
    # inject, and the modelled losses.
    decided = sum(
        np.asarray(model.terms[n.name].injection_mw.value)
        for n in env.grid.nodes
        if model.terms[n.name].variables
    )
    fixed = model.fixed_injections_mw(int(days[1])).sum(axis=0)
    losses = np.asarray(model._loss_mw.value)
    np.testing.assert_allclose(schedule.import_mw, losses - fixed - decided, atol=1e-6)


def test_a_tighter_limit_costs_more(env: BatchedGridEnv, days: np.ndarray) -> None:
    model = DayOptimum(env.grid)
    day = int(days[0])
    loose, tight = model.solve(day), model.solve(day, branch_limit_scale=0.6)
    assert tight.objective_eur > loose.objective_eur
    np.testing.assert_allclose(tight.limit_mw, 0.6 * loose.limit_mw)
    assert np.all(np.abs(tight.flow_mw) <= tight.limit_mw + tight.overflow_mw + 1e-6)
