"""The battery: charging within its limits, the end-of-day shortfall, and its answers to
the baselines."""

from __future__ import annotations

import cvxpy as cp
import numpy as np
import pytest
from helpers import attached, context, empty_injections, one_day

from gridppo import BatchedGridEnv, ConfigError, PowerGrid
from gridppo.grid.context import OperatorView


def test_battery_charges_and_discharges_within_its_limits() -> None:
    node, stub = attached("battery", 8, max_p_mw=20.0, capacity_mwh=100.0)
    assert stub.net.storage.bus[node.storage_index] == 8
    node.reset(3, np.random.default_rng(0))
    np.testing.assert_array_equal(node.soc, 0.5)
    inj = empty_injections(stub.net, 3)
    ctx = context(3, price=30.0)
    node.apply_action(np.array([[-0.5], [0.0], [0.5]]), ctx, inj)
    np.testing.assert_allclose(node.p_mw, [-10.0, 0.0, 10.0])
    np.testing.assert_allclose(inj.storage_p_mw[:, node.storage_index], node.p_mw)
    np.testing.assert_allclose(node.injection_mw, -node.p_mw)
    # Charging stores p * 0.95; discharging removes |p| / 0.95.
    np.testing.assert_allclose(node.soc, [0.5 - 10 / 0.95 / 100, 0.5, 0.5 + 10 * 0.95 / 100])
    parts = node.reward_components(ctx, None)
    np.testing.assert_allclose(parts["energy_eur"], -30.0 * node.p_mw)
    np.testing.assert_allclose(parts["degradation_eur"], -2.0 * np.abs(node.p_mw))
    # Not the day's last step: no end-of-day shortfall, even below initial_soc.
    np.testing.assert_array_equal(parts["end_soc_eur"], 0.0)


def test_battery_pays_for_an_end_of_day_shortfall_on_the_last_step_only() -> None:
    node, stub = attached("battery", 8, capacity_mwh=100.0, initial_soc=0.5, charge_efficiency=0.9)
    node.reset(3, np.random.default_rng(0))
    node.soc = np.array([0.3, 0.5, 0.7])  # below, at and above initial_soc
    # Idle on the last step: the state of charge stays as set.
    node.apply_action(np.zeros((3, 1)), context(3, step=23), empty_injections(stub.net, 3))
    # Refilling 0.2 * 100 MWh of charge takes 20 / 0.9 MWh at 150 EUR/MWh.
    shortfall = np.array([20.0 / 0.9, 0.0, 0.0])
    np.testing.assert_allclose(node.end_shortfall_mwh(), shortfall)
    last = node.reward_components(context(3, step=23), None)
    np.testing.assert_allclose(last["end_soc_eur"], -150.0 * shortfall)
    for step in (0, 12, 22):
        parts = node.reward_components(context(3, step=step), None)
        np.testing.assert_array_equal(parts["end_soc_eur"], 0.0)


def test_battery_end_soc_charge_in_a_whole_day(grid: PowerGrid) -> None:
    """In the environment: a battery that discharges all day pays for the missing charge
    at its end-of-day price on the last step, and on no other."""
    env = BatchedGridEnv(grid=grid, batch_size=2, autoreset=False)
    env.reset(days=[0, 1])
    battery = grid.node("battery_3")
    p = battery.params
    actions = {name: np.zeros((2, space.shape[0])) for name, space in env.action_spaces.items()}
    actions["battery_3"][:] = -1.0  # discharge at full power, down to min_soc
    for t in range(env.steps_per_day):
        _, _, terminations, _, infos = env.step(actions)
        end_soc = infos["reward_components"]["battery_3"]["end_soc_eur"]
        if t < env.steps_per_day - 1:
            np.testing.assert_array_equal(end_soc, 0.0)
            assert not terminations["battery_3"].any()
    assert terminations["battery_3"].all()
    np.testing.assert_allclose(battery.soc, p["min_soc"])
    missing_mwh = (p["initial_soc"] - p["min_soc"]) * p["capacity_mwh"]
    expected = p["end_soc_price_eur_per_mwh"] * missing_mwh / p["charge_efficiency"]
    np.testing.assert_allclose(end_soc, -expected)
    # It is a cost to the system, not a market payment.
    assert "end_soc_eur" not in battery.MARKET_COMPONENTS


def test_battery_stops_at_its_state_of_charge_limits() -> None:
    node, stub = attached("battery", 3, max_p_mw=20.0, capacity_mwh=10.0)
    node.reset(2, np.random.default_rng(0))
    node.soc = np.array([0.85, 0.15])
    inj = empty_injections(stub.net, 2)
    # Full charge near the top, full discharge near the bottom: both limited.
    node.apply_action(np.array([[1.0], [-1.0]]), context(2), inj)
    np.testing.assert_allclose(node.p_mw, [0.05 * 10 / 0.95, -0.05 * 10 * 0.95])
    np.testing.assert_allclose(node.soc, [0.9, 0.1])
    # At the limit, asking for more does nothing.
    node.apply_action(np.array([[1.0], [-1.0]]), context(2), inj)
    np.testing.assert_allclose(node.p_mw, [0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(node.soc, [0.9, 0.1])
    # Restarting a day returns to the initial state of charge, row by row.
    node.reset_rows(np.array([True, False]), np.random.default_rng(0))
    np.testing.assert_allclose(node.soc, [0.5, 0.1])


def test_battery_initial_soc_must_lie_in_its_band() -> None:
    with pytest.raises(ConfigError, match=r"^nodes\.battery_3\.initial_soc: must lie within"):
        attached("battery", 3, min_soc=0.2, initial_soc=0.1)


def test_the_heuristic_buys_cheap_and_sells_dear_down_to_the_initial_charge() -> None:
    node, _ = attached("battery", 3, max_p_mw=20.0, capacity_mwh=60.0)
    node.reset(3, np.random.default_rng(0))
    node.soc = np.array([0.5, 0.55, 0.9])
    levels = {30: 30.0, 70: 60.0}
    for price, expected in [
        (20.0, [1.0, 1.0, 1.0]),  # cheap: charge at full power
        (45.0, [0.0, 0.0, 0.0]),  # neither: idle
        # dear: discharge what lies above initial_soc, at most full power
        (80.0, [0.0, -0.05 * 60.0 * 0.95 / 20.0, -1.0]),
    ]:
        view = OperatorView(context(3, price=price), np.zeros((3, 14)), 1.05, levels.__getitem__)
        np.testing.assert_allclose(node.heuristic_action(view)[:, 0], expected)
    np.testing.assert_array_equal(node.steady_action(3), 0.0)  # idle


def test_random_power_stays_within_its_limit() -> None:
    node, stub = attached("battery", 3, max_p_mw=20.0)
    inj = empty_injections(stub.net, 500)
    node.random_injection(inj, np.random.default_rng(0))
    p = inj.storage_p_mw[:, node.storage_index]
    assert -20.0 <= p.min() < -15.0 and 15.0 < p.max() <= 20.0


def test_its_plan_in_the_days_optimum_replays_exactly() -> None:
    node, stub = attached("battery", 3, max_p_mw=20.0, capacity_mwh=60.0)
    price = np.array([10.0, 10.0, 90.0, 90.0])  # buy low, sell high
    day = one_day(price=price, steps=4)
    terms = node.optimum_terms(day.steps, day.dt_h, hold_levers=False)
    energy = -cp.sum(cp.multiply(price * day.dt_h, terms.injection_mw))  # what it pays
    cp.Problem(cp.Minimize(energy + terms.cost_eur), terms.constraints).solve(cp.CLARABEL)
    values = {k: v.value for k, v in terms.variables.items()}
    planned, cost = node.optimum_schedule(values, day)
    assert planned["p_mw"][:2].min() > 0 and planned["p_mw"][2:].max() < 0
    assert planned["soc"][-1] == pytest.approx(node.params["initial_soc"], abs=1e-6)
    # Played through the environment's dynamics, the plan gives the planned charge.
    node.reset(1, np.random.default_rng(0))
    for t in range(day.steps):
        action = node.schedule_action({"p_mw": planned["p_mw"][[t]]}, 1)
        node.apply_action(action, day.context(t), empty_injections(stub.net, 1))
        assert node.soc[0] == pytest.approx(planned["soc"][t], abs=1e-6)
    wear = node.params["degradation_cost_eur_per_mwh"] * np.abs(planned["p_mw"]) * day.dt_h
    np.testing.assert_allclose(cost, wear, atol=1e-6)  # no shortfall at the end
    # Held, it stays idle.
    held = node.optimum_terms(day.steps, day.dt_h, hold_levers=True)
    cp.Problem(cp.Minimize(-cp.sum(held.injection_mw)), held.constraints).solve(cp.CLARABEL)
    np.testing.assert_allclose(held.injection_mw.value, 0.0, atol=1e-9)
