"""The network: case14 with the nodes attached, branch ratings, loading, metrics and the
one way actions become setpoints."""

from __future__ import annotations

import copy
import dataclasses
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandapower as pp
import pytest
from helpers import random_actions

from gridppo import BatchedGridEnv, ConfigError, PowerGrid, load_config
from gridppo.config.networks import load_network
from gridppo.grid.battery import Battery
from gridppo.grid.business import Business
from gridppo.grid.consumer import Consumer
from gridppo.grid.network import METRIC_NAMES
from gridppo.grid.physics import PowerFlowResult
from gridppo.grid.producer import Producer

ACTIONS = np.array([-1.0, 0.0, 1.0])


def test_the_nodes_own_their_elements(grid: PowerGrid) -> None:
    assert [n.name for n in grid.nodes] == [n["name"] for n in grid.config["nodes"]]
    assert grid.n_bus == 14 and grid.n_branch == len(grid.net.line) + len(grid.net.trafo) == 20
    # The default grid's nodes own every load of the case.
    assert len(grid.unowned_loads) == 0
    assert sorted(grid.claimed_loads) == sorted(grid.net.load.index)
    assert grid.node("battery_3").bus == 3
    with pytest.raises(KeyError, match="no node named 'nobody'"):
        grid.node("nobody")
    # Neighbours and branches come from the branch ends.
    for node in grid.nodes:
        ends = np.union1d(grid.branch_from_bus[node.branches], grid.branch_to_bus[node.branches])
        assert node.bus in ends
        np.testing.assert_array_equal(node.neighbour_buses, np.setdiff1d(ends, [node.bus]))
    assert grid.branch_names[-1].startswith("trafo") and grid.branch_names[0].startswith("line")


def test_loading_is_current_over_the_thermal_limit(pandapower_grid: PowerGrid) -> None:
    """Branch loading is current-based, 100 |S| / (vm_pu * rating) at the more loaded end,
    and reads like pandapower's own line loading (lines carry max_i_ka from the ratings)."""
    grid = pandapower_grid
    scenarios = grid.random_injections(5, np.random.default_rng(1234))
    pf = grid.run_power_flow(scenarios)
    assert pf.converged.all()
    loading = grid.loading_percent(pf)
    s_from = np.hypot(pf.p_from_mw, pf.q_from_mvar) / pf.vm_pu[:, grid.branch_from_bus]
    s_to = np.hypot(pf.p_to_mw, pf.q_to_mvar) / pf.vm_pu[:, grid.branch_to_bus]
    expected = 100.0 * np.maximum(s_from, s_to) / grid.branch_rating_mva
    np.testing.assert_allclose(loading, expected, rtol=1e-12)
    # With both ends above 1 p.u. the current, and so the loading, is below the
    # apparent-power share of the rating.
    apparent = 100.0 * pf.apparent_mva() / grid.branch_rating_mva
    ends = np.minimum(pf.vm_pu[:, grid.branch_from_bus], pf.vm_pu[:, grid.branch_to_bus])
    high = ends > 1.0
    assert high.any()
    assert (loading[high] < apparent[high]).all()
    net = copy.deepcopy(grid.net)
    n_line = len(net.line)
    for b in range(scenarios.batch_size):
        net.gen["p_mw"] = scenarios.gen_p_mw[b]
        net.gen["vm_pu"] = scenarios.gen_vm_pu[b]
        net.sgen["p_mw"] = scenarios.sgen_p_mw[b]
        net.load["p_mw"] = scenarios.load_p_mw[b]
        net.load["q_mvar"] = scenarios.load_q_mvar[b]
        net.storage["p_mw"] = scenarios.storage_p_mw[b]
        with warnings.catch_warnings():  # pandapower's deprecation notes about case14
            warnings.simplefilter("ignore")
            pp.runpp(net, tolerance_mva=1e-10, max_iteration=30)
        np.testing.assert_allclose(
            loading[b, :n_line], net.res_line.loading_percent.values, rtol=1e-6
        )


def test_metrics_and_penalty_of_a_hand_made_overload(grid: PowerGrid) -> None:
    base = grid.run_power_flow(grid.base_injections(1))
    # Two scenarios from the base case: one as it is, one with two buses pushed out of the
    # band and the flows scaled until some branches overload.
    pf = PowerFlowResult(
        **{f.name: np.repeat(getattr(base, f.name), 2, axis=0) for f in dataclasses.fields(base)}
    )
    pf.vm_pu[1, [4, 9]] = [0.93, 1.07]
    for name in ("p_from_mw", "q_from_mvar", "p_to_mw", "q_to_mvar"):
        getattr(pf, name)[1] *= 3.0
    loading = grid.loading_percent(pf)
    over = np.clip(loading[1] - 100.0, 0.0, None)
    assert (loading[0] <= 100.0).all() and over.sum() > 0
    metrics = grid.metrics(pf, np.array([10.0, 20.0]), np.array([0.0, 5.0]))
    assert set(metrics) == set(METRIC_NAMES)
    np.testing.assert_array_equal(metrics["voltage_violations"], [0, 2])
    np.testing.assert_array_equal(metrics["overloaded_branches"], [0, (over > 0).sum()])
    np.testing.assert_allclose(metrics["max_loading_percent"], loading.max(axis=1))
    np.testing.assert_allclose(metrics["min_vm_pu"][1], 0.93)
    np.testing.assert_allclose(metrics["losses_mw"], pf.losses_mw)
    np.testing.assert_array_equal(metrics["unserved_energy_mwh"], [0.0, 5.0])
    np.testing.assert_array_equal(metrics["converged"], [1.0, 1.0])
    r = grid.config["reward"]
    penalty = grid.penalty_eur(pf, np.zeros(2))
    np.testing.assert_allclose(
        penalty["voltage_eur"], [0.0, 0.04 * r["voltage_penalty_eur_per_pu"]]
    )
    np.testing.assert_allclose(
        penalty["overload_eur"], [0.0, over.sum() * r["overload_penalty_eur_per_percent"]]
    )
    np.testing.assert_array_equal(penalty["failure_eur"], 0.0)


def test_actions_reach_the_power_flow(grid: PowerGrid) -> None:
    """In the environment, each node's action lands in its own element's column."""
    env = BatchedGridEnv(grid=grid, batch_size=3, autoreset=False)
    env.reset(days=[0, 0, 0])
    actions = {
        name: np.tile(ACTIONS[:, None], (1, space.shape[0]))
        for name, space in env.action_spaces.items()
    }
    env.step(actions)
    inj, net = env.last_injections, grid.net
    ctx_load = grid.profiles.load_pu[0, 0]
    for node in grid.nodes:
        p = node.params
        if isinstance(node, Producer):
            assert net.gen.bus[node.gen_index] == node.bus
            np.testing.assert_allclose(
                inj.gen_p_mw[:, node.gen_index],
                [p["min_p_mw"], (p["min_p_mw"] + p["max_p_mw"]) / 2, p["max_p_mw"]],
            )
            np.testing.assert_allclose(
                inj.gen_vm_pu[:, node.gen_index],
                p["vm_pu"] + p["vm_range_pu"] * ACTIONS,
            )
        elif isinstance(node, Consumer):
            assert net.load.bus[node.load_index] == node.bus
            shed = p["max_shed_fraction"] * np.array([0.0, 0.0, 1.0])  # a <= 0 sheds nothing
            np.testing.assert_allclose(
                inj.load_p_mw[:, node.load_index], node.base_p_mw * ctx_load * (1 - shed)
            )
        elif isinstance(node, Battery):
            assert net.storage.bus[node.storage_index] == node.bus
            np.testing.assert_allclose(
                inj.storage_p_mw[:, node.storage_index], [-1, 0, 1] * np.array(p["max_p_mw"])
            )
        elif isinstance(node, Business):
            assert net.sgen.bus[node.sgen_index] == node.bus
            pv = p["pv_p_mw"] * grid.profiles.pv_pu[0, 0]
            np.testing.assert_allclose(inj.sgen_p_mw[:, node.sgen_index], [0.0, pv, pv])
    assert env.last_power_flow.converged.all()


def test_a_dry_run_sets_the_same_setpoints_and_changes_no_node(grid: PowerGrid) -> None:
    env = BatchedGridEnv(grid=grid, batch_size=2, autoreset=False)
    env.reset(days=[5, 6])
    actions = random_actions(env, np.random.default_rng(4))
    ctx = env.context()
    states = {n.name: n.state_dict() for n in grid.nodes}
    dry = grid.apply_actions(actions, ctx, dry_run=True)
    for node in grid.nodes:
        for key, value in node.state_dict().items():
            np.testing.assert_array_equal(value, states[node.name][key])
    wet = grid.apply_actions(actions, ctx)
    for field in dataclasses.fields(dry):
        np.testing.assert_array_equal(getattr(dry, field.name), getattr(wet, field.name))
    battery = grid.node("battery_3")
    assert not np.array_equal(battery.soc, states["battery_3"]["soc"])  # now it acted


def test_a_failure_loses_the_rest_of_the_days_demand(grid: PowerGrid) -> None:
    days, steps = np.array([0, 3]), np.array([0, 20])
    lost = grid.rest_of_day_demand_mwh(days, steps)
    total_mw = grid.base_load_p_mw.sum()
    expected = [
        grid.profiles.load_pu[0].sum() * total_mw,
        grid.profiles.load_pu[3, 20:].sum() * total_mw,
    ]
    np.testing.assert_allclose(lost, expected, rtol=1e-12)


def test_random_setpoints_vary_every_node(grid: PowerGrid) -> None:
    inj = grid.random_injections(300, np.random.default_rng(0))
    base = grid.base_injections(300)
    scale = inj.load_p_mw / base.load_p_mw
    assert 0.3 <= scale.min() and scale.max() <= 1.6
    for node in grid.nodes:
        if isinstance(node, Producer):
            assert np.ptp(inj.gen_p_mw[:, node.gen_index]) > 0.8 * node.params["max_p_mw"]
        elif isinstance(node, Business):
            assert np.ptp(inj.sgen_p_mw[:, node.sgen_index]) > 0.8 * node.params["pv_p_mw"]
        elif isinstance(node, Battery):
            assert np.ptp(inj.storage_p_mw[:, node.storage_index]) > node.params["max_p_mw"]
    # Seeded: the same generator state gives the same scenarios.
    again = grid.random_injections(300, np.random.default_rng(0))
    np.testing.assert_array_equal(again.gen_vm_pu, inj.gen_vm_pu)


def test_overrides_reach_the_grid() -> None:
    grid = PowerGrid(load_config(None, ["nodes.battery_3.max_p_mw=30", "grid.max_vm_pu=1.04"]))
    assert grid.node("battery_3").params["max_p_mw"] == 30.0
    storage = grid.net.storage.loc[grid.node("battery_3").storage_index]
    assert storage.max_p_mw == 30.0 and storage.min_p_mw == -30.0
    assert (grid.net.bus.max_vm_pu == 1.04).all()


def test_own_base_demand_is_written_into_the_net_and_an_absurd_one_is_refused(
    grid: PowerGrid,
) -> None:
    case = grid
    other = PowerGrid(load_config(None, ["nodes.consumer_3.base_p_mw=60"]))
    node, case_node = other.node("consumer_3"), case.node("consumer_3")
    assert other.net.load.p_mw[node.load_index] == pytest.approx(60.0)
    # The power factor is the case's, whatever the demand.
    assert other.net.load.q_mvar[node.load_index] / 60.0 == pytest.approx(
        case.net.load.q_mvar[case_node.load_index] / case.net.load.p_mw[case_node.load_index]
    )
    with pytest.raises(ConfigError, match="planning power flow does not converge"):
        PowerGrid(load_config(None, ["nodes.consumer_3.base_p_mw=5000"]))


def test_a_net_whose_load_cannot_all_come_through_the_slack_starts_at_its_dispatch() -> None:
    # case118's 53 producers start at their lowest output elsewhere; 4,242 MW through
    # one slack bus has no AC solution, so they start at the case's own dispatch.
    grid = PowerGrid(load_config(None, ["grid.network=case118"]))
    assert len(grid.nodes) > 150
    np.testing.assert_allclose(grid.base_gen_p_mw, load_network("case118").gen.p_mw)
    pf = grid.run_power_flow(grid.base_injections(1))
    assert pf.converged.all()
    assert pf.ext_grid_p_mw[0] < 1000.0
    # case14's producers still start at their lowest output (0 MW).
    assert (PowerGrid(load_config(None)).base_gen_p_mw == 0).all()


def test_generation_no_node_owns_keeps_its_case_output() -> None:
    net = pp.create_empty_network()
    buses = [pp.create_bus(net, vn_kv=20.0) for _ in range(2)]
    pp.create_ext_grid(net, buses[0])
    pp.create_line(net, buses[0], buses[1], 1.0, "NA2XS2Y 1x95 RM/25 12/20 kV")
    pp.create_load(net, buses[1], p_mw=2.0)
    pp.create_sgen(net, buses[1], p_mw=0.7)
    path = Path(tempfile.mkdtemp()) / "two_bus.json"
    pp.to_json(net, str(path))
    grid = PowerGrid(load_config(None, [f"grid.network={path}"]))
    assert [n.name for n in grid.nodes] == ["battery_1", "consumer_1"]
    np.testing.assert_allclose(grid.base_injections(3).sgen_p_mw, 0.7)
