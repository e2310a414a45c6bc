"""The producer: actions onto its output range and voltage, fuel cost, and its answers
as a dispatchable generator."""

from __future__ import annotations

import copy

import cvxpy as cp
import numpy as np
import pytest
from helpers import attached, case14, context, empty_injections, one_day

from gridppo import ConfigError
from gridppo.grid.context import Dispatch
from gridppo.grid.producer import Producer

ACTIONS = np.array([-1.0, 0.0, 1.0])


def test_producer_maps_actions_onto_its_output_range() -> None:
    node, stub = attached("producer", 2, min_p_mw=20.0, max_p_mw=100.0)
    assert isinstance(node, Producer)
    assert stub.claimed_gens == {node.gen_index: node.name}
    assert stub.net.gen.bus[node.gen_index] == 2
    assert node.ACTIONS == ("setpoint", "voltage")
    inj = empty_injections(stub.net, 3)
    ctx = context(3, price=50.0, dt_h=0.5)
    # The two actions move independently: output up, voltage setpoint down.
    node.apply_action(np.column_stack([ACTIONS, -ACTIONS]), ctx, inj)
    np.testing.assert_allclose(node.p_mw, [20.0, 60.0, 100.0])
    np.testing.assert_allclose(inj.gen_p_mw[:, node.gen_index], [20.0, 60.0, 100.0])
    # Voltage setpoint: the neutral vm_pu (1.02) moved by a * vm_range_pu (0.04).
    np.testing.assert_allclose(inj.gen_vm_pu[:, node.gen_index], [1.06, 1.02, 0.98])
    others = np.arange(len(stub.net.gen)) != node.gen_index
    np.testing.assert_array_equal(inj.gen_vm_pu[:, others], 1.0)  # other generators untouched
    np.testing.assert_allclose(node.injection_mw, node.p_mw)
    parts = node.reward_components(ctx, None)
    np.testing.assert_allclose(parts["energy_eur"], 50.0 * node.p_mw * 0.5)
    fuel = (40.0 * node.p_mw + 0.01 * node.p_mw**2) * 0.5  # the type's default costs
    np.testing.assert_allclose(parts["generation_cost_eur"], -fuel)


def test_producer_without_a_case_generator_creates_one() -> None:
    node, stub = attached("producer", 4, max_p_mw=50.0)
    assert len(stub.net.gen) == 5  # case14's four plus the new one
    assert stub.net.gen.bus[node.gen_index] == 4
    assert stub.net.gen.max_p_mw[node.gen_index] == 50.0


def test_an_empty_output_range_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"^nodes\.producer_2\.min_p_mw: must not exceed"):
        attached("producer", 2, min_p_mw=60.0, max_p_mw=50.0)


def test_producer_is_a_dispatchable_generator() -> None:
    node, stub = attached("producer", 2, min_p_mw=20.0, max_p_mw=100.0, cost_eur_per_mwh=30.0)
    assert node.dispatch() == Dispatch(node.gen_index, 20.0, 100.0, 30.0, 0.01)
    # dispatch_action inverts the setpoint mapping and keeps the neutral voltage.
    p_mw = np.array([20.0, 35.0, 100.0])
    action = node.dispatch_action(p_mw)
    np.testing.assert_allclose(action[:, 1], 0.0)
    inj = empty_injections(stub.net, 3)
    node.apply_action(action, context(3), inj)
    np.testing.assert_allclose(node.p_mw, p_mw)
    np.testing.assert_allclose(inj.gen_vm_pu[:, node.gen_index], node.params["vm_pu"])
    np.testing.assert_allclose(
        node.generation_cost_eur(p_mw, 2.0), (30.0 * p_mw + 0.01 * p_mw**2) * 2.0
    )
    # Neither shedding demand nor owning PV.
    assert node.base_demand_mw() is None and node.pv_capacity_mw() == 0.0


def test_random_setpoints_stay_within_the_limits() -> None:
    node, stub = attached("producer", 2, min_p_mw=20.0, max_p_mw=100.0)
    inj = empty_injections(stub.net, 500)
    node.random_injection(inj, np.random.default_rng(0))
    p, vm = inj.gen_p_mw[:, node.gen_index], inj.gen_vm_pu[:, node.gen_index]
    assert 20.0 <= p.min() and p.max() <= 100.0 and np.ptp(p) > 70.0
    assert 0.98 <= vm.min() and vm.max() <= 1.06 and np.ptp(vm) > 0.07
    others = np.arange(len(stub.net.gen)) != node.gen_index
    np.testing.assert_array_equal(inj.gen_p_mw[:, others], 0.0)


def test_full_output_for_the_planning_case() -> None:
    node, stub = attached("producer", 2, max_p_mw=77.0)
    net = copy.deepcopy(stub.net)
    node.write_full_output(net)
    assert net.gen.p_mw[node.gen_index] == 77.0
    assert (net.gen.p_mw.drop(node.gen_index) == case14().gen.p_mw.drop(node.gen_index)).all()


def test_its_part_of_the_days_optimum() -> None:
    node, stub = attached("producer", 2, min_p_mw=20.0, max_p_mw=100.0)
    day = one_day(steps=4)
    terms = node.optimum_terms(day.steps, day.dt_h, hold_levers=True)  # dispatched anyway
    assert set(terms.variables) == {"p_mw"}
    p_mw = terms.variables["p_mw"]
    # Alone with a price, the cheapest output is the lowest: fuel costs, nothing pays.
    cp.Problem(cp.Minimize(terms.cost_eur), terms.constraints).solve(solver=cp.CLARABEL)
    np.testing.assert_allclose(p_mw.value, 20.0, atol=1e-6)
    inj = empty_injections(stub.net, day.steps)
    inj.gen_p_mw[:] = 5.0
    node.write_fixed_injections(inj, day)
    np.testing.assert_array_equal(inj.gen_p_mw[:, node.gen_index], 0.0)  # all decision
    planned, cost = node.optimum_schedule({"p_mw": np.array([20.0, 60.0, 100.0, 20.0])}, day)
    np.testing.assert_allclose(cost, node.generation_cost_eur(planned["p_mw"], day.dt_h))
    action = node.schedule_action({"p_mw": np.array([60.0])}, 1)
    np.testing.assert_allclose(action, [[0.0, 0.0]])
