"""The day's optimum: DC model against pandapower's DC OPF, AC replay, and its economics."""

from __future__ import annotations

import copy
import time
import warnings
from typing import Any

import numpy as np
import pandapower as pp
import pytest

from gridppo import load_config
from gridppo.baselines.optimum import LOADING_TOLERANCE_PERCENT, DayOptimum, OptimumPolicy
from gridppo.baselines.policies import HeuristicPolicy
from gridppo.env import BatchedGridEnv
from gridppo.evaluation.simulate import run_days
from gridppo.grid.nodes import Battery, Business, Producer

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


@pytest.fixture(scope="module")
def policy(env: BatchedGridEnv) -> OptimumPolicy:
    """The optimum, with its own private grid."""
    return OptimumPolicy(env)


@pytest.fixture(scope="module")
def replayed(policy: OptimumPolicy, env: BatchedGridEnv, days: np.ndarray) -> Any:
    """The optimum's schedules replayed in AC on the test days, recorded."""
    return run_days(policy, env, days, record=True)


def _rundcopp_cost(grid: Any, day: int, t: int) -> tuple[float, pp.pandapowerNet]:
    """pandapower's DC OPF of step ``t`` with the levers held as ``fix_levers`` holds them."""
    net = copy.deepcopy(grid.net)
    load_pu, pv_pu = grid.profiles.load_pu[day, t], grid.profiles.pv_pu[day, t]
    net.load["p_mw"] = grid.base_load_p_mw * load_pu
    for node in grid.nodes:
        if isinstance(node, Business):  # flexible load spread evenly, PV uncurtailed
            net.load.loc[node.load_index, "p_mw"] += node.params["flex_energy_mwh"] / 24.0
            net.sgen.loc[node.sgen_index, "p_mw"] = node.params["pv_p_mw"] * pv_pu
    net.load["controllable"], net.sgen["controllable"] = False, False
    net.storage["p_mw"], net.storage["controllable"] = 0.0, False
    net.poly_cost.drop(net.poly_cost.index, inplace=True)
    for node in grid.nodes:
        if isinstance(node, Producer):
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
    p_mw = [schedule.nodes[n.name]["p_mw"][t] for n in model.producers]
    np.testing.assert_allclose(
        p_mw, net.res_gen.p_mw.values[[n.gen_index for n in model.producers]], atol=1e-4
    )


def test_day_costs_add_up(env: BatchedGridEnv, days: np.ndarray) -> None:
    model = DayOptimum(env.grid)
    schedule = model.solve(int(days[1]))
    # The QP's value plus the fixed part of the import bill is the schedule's cost.
    fixed_eur = -model.price_dt.value @ model.fixed_injections_mw(int(days[1])).sum(axis=0)
    assert schedule.objective_eur == pytest.approx(model.problem.value + fixed_eur, rel=1e-6)
    assert schedule.overflow_mw.max() < 1e-6
    assert np.all(np.abs(schedule.flow_mw) <= schedule.limit_mw + 1e-6)


def test_replay_respects_branch_limits(
    policy: OptimumPolicy, replayed: Any, env: BatchedGridEnv, days: np.ndarray
) -> None:
    limit = env.config["grid"]["max_loading_percent"] + LOADING_TOLERANCE_PERCENT
    assert replayed.record.loading_percent.max() <= limit
    assert replayed.kpis["failed_days"] == 0
    schedules = policy.schedules(days)
    # The lossless DC schedule alone overloads in AC: the correction had work to do.
    assert max(s.rounds[0]["worst_loading_percent"] for s in schedules) > limit
    # The actions replay the schedule exactly: producers and batteries inject what it says.
    for b, schedule in enumerate(schedules):
        assert 1 <= len(schedule.rounds) <= policy.max_rounds
        for node in env.nodes:
            if isinstance(node, Producer):
                np.testing.assert_allclose(
                    replayed.record.injection_mw[node.name][:, b],
                    schedule.nodes[node.name]["p_mw"],
                    atol=1e-6,
                )
            if isinstance(node, Battery):
                np.testing.assert_allclose(
                    replayed.record.injection_mw[node.name][:, b],
                    -schedule.nodes[node.name]["p_mw"],
                    atol=1e-6,
                )


def test_optimum_is_no_worse_than_the_heuristic(
    replayed: Any, env: BatchedGridEnv, days: np.ndarray
) -> None:
    heuristic = run_days(HeuristicPolicy(env), env, days)
    assert np.all(replayed.per_day_cost_eur <= heuristic.per_day_cost_eur)


def test_batteries_end_at_or_above_initial_soc(replayed: Any, env: BatchedGridEnv) -> None:
    for node in env.nodes:
        if isinstance(node, Battery):
            soc_end = replayed.record.local_features[node.name][-1, :, 0]
            assert np.all(soc_end >= node.params["initial_soc"] - 1e-6)
            assert np.abs(replayed.record.reward_components[node.name]["end_soc_eur"]).max() < 1e-3


def test_nothing_is_shed_at_default_prices(
    policy: OptimumPolicy, replayed: Any, days: np.ndarray
) -> None:
    assert replayed.kpis["unserved_energy_mwh"] == 0.0
    for schedule in policy.schedules(days):
        for quantities in schedule.nodes.values():
            if "shed_mw" in quantities:
                assert quantities["shed_mw"].max() == 0.0


def test_schedules_are_cached(policy: OptimumPolicy, replayed: Any, days: np.ndarray) -> None:
    first = policy.schedules(days)
    start = time.perf_counter()
    again = policy.schedules(days)
    assert time.perf_counter() - start < 0.01
    assert all(a is b for a, b in zip(first, again, strict=True))
