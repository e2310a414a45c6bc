"""The consumer: shedding a share of its demand, priced at its contract, and its answers
to the baselines."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import ConstantPolicy, attached, context, empty_injections, one_day

from gridppo import BatchedGridEnv, PowerGrid
from gridppo.evaluation.simulate import run_days
from gridppo.grid.consumer import Consumer


def test_consumer_sheds_a_share_of_its_demand() -> None:
    node, stub = attached("consumer", 3, base_p_mw=10.0, max_shed_fraction=0.2)
    load = stub.net.load.loc[node.load_index]
    tan_phi = load.q_mvar / load.p_mw
    # Action 0 and every negative action shed nothing; positive actions shed up to 20 %.
    action = np.array([-1.0, -0.3, 0.0, 0.5, 1.0])
    fraction = np.array([0.0, 0.0, 0.0, 0.1, 0.2])
    inj = empty_injections(stub.net, 5)
    ctx = context(5, load_pu=1.5, price=40.0, dt_h=0.5)
    node.apply_action(action[:, None], ctx, inj)
    np.testing.assert_allclose(node.shed_fraction, fraction)
    served = 15.0 * (1.0 - fraction)
    np.testing.assert_allclose(node.p_mw, served)
    np.testing.assert_allclose(inj.load_p_mw[:, node.load_index], served)
    np.testing.assert_allclose(inj.load_q_mvar[:, node.load_index], served * tan_phi)
    np.testing.assert_allclose(node.injection_mw, -served)
    np.testing.assert_allclose(node.unserved_mw(), 15.0 * fraction)
    np.testing.assert_array_equal(node.unserved_mw()[:3], 0.0)
    parts = node.reward_components(ctx, None)
    assert set(parts) == {"energy_eur", "shed_cost_eur"}
    np.testing.assert_allclose(parts["energy_eur"], -40.0 * served * 0.5)
    # Shedding is linear: the contract price (default 300 EUR/MWh) for every MWh shed,
    # zero when nothing is shed.
    np.testing.assert_allclose(parts["shed_cost_eur"], -300.0 * 15.0 * fraction * 0.5)
    np.testing.assert_array_equal(parts["shed_cost_eur"][:3], 0.0)
    np.testing.assert_allclose(node.local_features(ctx), [[1.5]] * 5)


def test_shed_energy_is_unserved_energy_priced_at_the_contract(grid: PowerGrid) -> None:
    """What consumers shed shows in the KPI ``unserved_energy_mwh`` and costs
    ``shed_cost_eur_per_mwh`` per MWh, in the rewards and in the system cost."""
    env = BatchedGridEnv(grid=grid, batch_size=2, autoreset=False)
    days = grid.profiles.test_days[:2]
    node = grid.node("consumer_3")
    price = node.params["shed_cost_eur_per_mwh"]
    neutral = run_days(ConstantPolicy(0.0), env, days=days, record=True)
    negative = run_days(ConstantPolicy(0.0, consumer_3=-0.8), env, days=days)
    shedding = run_days(ConstantPolicy(0.0, consumer_3=0.5), env, days=days, record=True)
    # Action 0 and negative actions serve every MWh: the two days are the same day.
    assert neutral.kpis["unserved_energy_mwh"] == 0.0
    assert negative.kpis["unserved_energy_mwh"] == 0.0
    np.testing.assert_allclose(negative.per_day_cost_eur, neutral.per_day_cost_eur, rtol=1e-12)
    # Action 0.5 sheds half the largest share of the demand, every step.
    demand_mwh = node.base_p_mw * grid.profiles.load_pu[days].sum(axis=1) * env.dt_h
    shed_mwh = 0.5 * node.params["max_shed_fraction"] * demand_mwh
    assert shed_mwh.min() > 0
    assert shedding.kpis["unserved_energy_mwh"] == pytest.approx(shed_mwh.mean(), rel=1e-9)
    unserved = np.sum(shedding.record.metrics["unserved_energy_mwh"], axis=0)
    np.testing.assert_allclose(unserved, shed_mwh, rtol=1e-9)
    components = shedding.record.reward_components
    shed_cost = components["consumer_3"]["shed_cost_eur"].sum(axis=0)
    np.testing.assert_allclose(shed_cost, -price * shed_mwh, rtol=1e-9)
    for other in grid.nodes:
        if isinstance(other, Consumer) and other is not node:
            np.testing.assert_array_equal(components[other.name]["shed_cost_eur"], 0.0)
    # Shedding at 300 EUR/MWh costs the system more than the energy it saves.
    assert np.all(shedding.per_day_cost_eur > neutral.per_day_cost_eur)


def test_consumer_defaults_to_the_case_load() -> None:
    node, stub = attached("consumer", 2)
    assert node.base_p_mw == pytest.approx(94.2)  # case14's load at bus 2
    assert node.base_demand_mw() == node.base_p_mw
    assert stub.claimed_loads == {node.load_index: node.name}


def test_its_steady_and_heuristic_action_sheds_nothing() -> None:
    node, stub = attached("consumer", 3, base_p_mw=10.0)
    action = node.steady_action(4)
    np.testing.assert_array_equal(action, -1.0)
    node.apply_action(action, context(4), empty_injections(stub.net, 4))
    np.testing.assert_array_equal(node.unserved_mw(), 0.0)


def test_its_part_of_the_days_optimum() -> None:
    node, stub = attached("consumer", 3, base_p_mw=10.0, max_shed_fraction=0.2)
    load_pu = np.array([0.5, 1.0, 1.5, 1.0])
    day = one_day(load_pu=load_pu, steps=4)
    terms = node.optimum_terms(day.steps, day.dt_h, hold_levers=False)
    assert set(terms.variables) == {"shed_mw"}
    ((parameter, value_of),) = terms.day_parameters
    np.testing.assert_allclose(value_of(day), 0.2 * 10.0 * load_pu)  # the most it can shed
    inj = empty_injections(stub.net, day.steps)
    node.write_fixed_injections(inj, day)
    np.testing.assert_allclose(inj.load_p_mw[:, node.load_index], 10.0 * load_pu)
    # Solver residue is no decision; a real shed replays as its share of the demand.
    shed = np.array([1e-10, 1.0, 0.0, 2.0])
    planned, cost = node.optimum_schedule({"shed_mw": shed}, day)
    np.testing.assert_allclose(planned["shed_mw"], [0.0, 1.0, 0.0, 2.0])
    np.testing.assert_allclose(planned["shed_fraction"], [0.0, 0.1, 0.0, 0.2])
    np.testing.assert_allclose(cost, 300.0 * planned["shed_mw"] * day.dt_h)
    action = node.schedule_action({"shed_fraction": planned["shed_fraction"]}, 4)
    inj = empty_injections(stub.net, 4)
    node.apply_action(action, context(4, load_pu=1.0), inj)
    np.testing.assert_allclose(node.unserved_mw(), 10.0 * planned["shed_fraction"])


def test_a_consumer_that_cannot_shed_replays_as_serving_all() -> None:
    node, _ = attached("consumer", 3, max_shed_fraction=0.0)
    action = node.schedule_action({"shed_fraction": np.zeros(2)}, 2)
    np.testing.assert_array_equal(action, 0.0)
