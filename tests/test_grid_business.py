"""The business: PV curtailment and a flexible load with a daily energy, and its answers
to the baselines."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import attached, context, empty_injections, one_day

from gridppo import ConfigError
from gridppo.grid.context import OperatorView


def test_business_curtails_pv_and_runs_its_flexible_load() -> None:
    node, stub = attached(
        "business", 9, base_p_mw=10.0, pv_p_mw=20.0, flex_max_p_mw=5.0, flex_energy_mwh=12.0
    )
    assert stub.net.sgen.bus[node.sgen_index] == 9
    node.reset(4, np.random.default_rng(0))
    inj = empty_injections(stub.net, 4)
    ctx = context(4, load_pu=1.0, pv_pu=0.5, price=60.0)
    curtail = np.array([-1.0, -0.5, 0.0, 1.0])
    flex = np.array([-1.0, 0.0, 1.0, 1.0])
    node.apply_action(np.column_stack([curtail, flex]), ctx, inj)
    np.testing.assert_allclose(node.pv_mw, [0.0, 5.0, 10.0, 10.0])
    np.testing.assert_allclose(inj.sgen_p_mw[:, node.sgen_index], node.pv_mw)
    np.testing.assert_allclose(node.flex_mw, [0.0, 2.5, 5.0, 5.0])
    np.testing.assert_allclose(node.flex_remaining_mwh, [12.0, 9.5, 7.0, 7.0])
    np.testing.assert_allclose(inj.load_p_mw[:, node.load_index], 10.0 + node.flex_mw)
    np.testing.assert_allclose(node.injection_mw, node.pv_mw - 10.0 - node.flex_mw)
    parts = node.reward_components(ctx, None)
    np.testing.assert_allclose(parts["energy_eur"], -60.0 * (10.0 + node.flex_mw - node.pv_mw))
    np.testing.assert_array_equal(parts["unmet_flex_eur"], 0.0)  # not the last step
    # The flexible load cannot take more than the energy still needed today ...
    node.apply_action(np.column_stack([curtail, np.ones(4)]), ctx, inj)
    node.apply_action(np.column_stack([curtail, np.ones(4)]), ctx, inj)
    np.testing.assert_allclose(node.flex_remaining_mwh, [2.0, 0.0, 0.0, 0.0])
    np.testing.assert_allclose(node.flex_mw, [5.0, 4.5, 2.0, 2.0])
    # ... and what is missing at the end of the day is charged once, on the last step.
    last = context(4, step=23, price=60.0)
    node.apply_action(np.column_stack([curtail, -np.ones(4)]), last, inj)
    parts = node.reward_components(last, None)
    np.testing.assert_allclose(parts["unmet_flex_eur"], [-150.0 * 2.0, 0.0, 0.0, 0.0])
    features = node.local_features(last)
    np.testing.assert_allclose(features[:, 0], 0.5)  # pv_pu
    np.testing.assert_allclose(features[:, 1], [2.0 / 12.0, 0.0, 0.0, 0.0])  # flex_remaining
    np.testing.assert_allclose(features[:, 2], 1.0 / 24.0)  # steps_left


def test_business_that_cannot_deliver_its_energy_is_rejected() -> None:
    with pytest.raises(ConfigError, match=r"^nodes\.business_9\.flex_energy_mwh:"):
        attached("business", 9, flex_max_p_mw=1.0, flex_energy_mwh=30.0)


def test_its_steady_action_spreads_the_flexible_energy_over_the_day() -> None:
    node, stub = attached(
        "business", 9, base_p_mw=10.0, pv_p_mw=20.0, flex_max_p_mw=5.0, flex_energy_mwh=24.0
    )
    assert node.base_demand_mw() == 10.0 and node.pv_capacity_mw() == 20.0
    node.reset(1, np.random.default_rng(0))
    for step in range(24):
        node.apply_action(
            node.steady_action(1), context(1, step=step), empty_injections(stub.net, 1)
        )
        np.testing.assert_allclose(node.flex_mw, 1.0)  # 24 MWh over 24 hours
        np.testing.assert_allclose(node.pv_mw, 10.0)  # no curtailment
    np.testing.assert_allclose(node.flex_remaining_mwh, 0.0, atol=1e-9)


def test_the_heuristic_curtails_near_the_upper_voltage_limit_and_runs_flex_when_cheap() -> None:
    node, _ = attached("business", 9, flex_max_p_mw=5.0, flex_energy_mwh=30.0)
    node.reset(3, np.random.default_rng(0))
    observation = np.zeros((3, 16))
    observation[:, 0] = [1.03, 1.045, 1.06]  # vm_pu: far from, near and above 1.05
    view = OperatorView(context(3, price=30.0), observation, 1.05, lambda q: 40.0)
    action = node.heuristic_action(view)
    np.testing.assert_allclose(action[:, 0], [0.0, -0.5, -1.0])
    np.testing.assert_array_equal(action[:, 1], 1.0)  # below the 40th percentile
    dear = OperatorView(context(3, price=50.0), observation, 1.05, lambda q: 40.0)
    np.testing.assert_array_equal(node.heuristic_action(dear)[:, 1], -1.0)
    # Late in the day it must run, whatever the price: 30 MWh left, 5 MW, 2 steps to go.
    late = OperatorView(context(3, price=50.0, step=22), observation, 1.05, lambda q: 40.0)
    np.testing.assert_array_equal(node.heuristic_action(late)[:, 1], 1.0)


def test_random_pv_stays_within_its_installed_power() -> None:
    node, stub = attached("business", 9, pv_p_mw=20.0)
    inj = empty_injections(stub.net, 500)
    node.random_injection(inj, np.random.default_rng(0))
    pv = inj.sgen_p_mw[:, node.sgen_index]
    assert 0.0 <= pv.min() < 2.0 and 18.0 < pv.max() <= 20.0


def test_its_plan_in_the_days_optimum_replays_exactly() -> None:
    node, stub = attached(
        "business", 9, base_p_mw=10.0, pv_p_mw=20.0, flex_max_p_mw=5.0, flex_energy_mwh=12.0
    )
    pv_pu = np.array([0.0, 0.5, 1.0, 0.5])
    day = one_day(pv_pu=pv_pu, steps=4)  # 6-hour steps
    terms = node.optimum_terms(day.steps, day.dt_h, hold_levers=True)
    assert set(terms.variables) == {"curtail_mw", "flex_mw"}
    ((_, value_of),) = terms.day_parameters
    np.testing.assert_allclose(value_of(day), 20.0 * pv_pu)  # the PV it could curtail
    inj = empty_injections(stub.net, day.steps)
    node.write_fixed_injections(inj, day)
    np.testing.assert_allclose(inj.sgen_p_mw[:, node.sgen_index], 20.0 * pv_pu)
    np.testing.assert_allclose(inj.load_p_mw[:, node.load_index], 10.0)
    values = {"curtail_mw": np.array([0.0, 5.0, 1e-9, 0.0]), "flex_mw": np.array([1, 0, 0, 0.0])}
    planned, cost = node.optimum_schedule(values, day)
    np.testing.assert_allclose(planned["curtail_mw"], [0.0, 5.0, 0.0, 0.0])  # residue is 0
    np.testing.assert_allclose(planned["curtail_share"], [0.0, 0.5, 0.0, 0.0])
    # 6 of 12 MWh delivered: the 6 MWh missing are paid once, at the end of the day.
    np.testing.assert_allclose(cost, [0.0, 0.0, 0.0, 150.0 * 6.0])
    node.reset(1, np.random.default_rng(0))
    for t in range(day.steps):
        action = node.schedule_action({k: v[[t]] for k, v in planned.items()}, 1)
        node.apply_action(action, day.context(t), empty_injections(stub.net, 1))
        np.testing.assert_allclose(node.pv_mw, 20.0 * pv_pu[t] - planned["curtail_mw"][t])
        np.testing.assert_allclose(node.flex_mw, planned["flex_mw"][t], atol=1e-12)
    np.testing.assert_allclose(node.flex_remaining_mwh, 6.0)
