"""The rule-based operator: merit order for the producers, each node's own rule."""

from __future__ import annotations

import numpy as np
import pytest

from gridppo import BatchedGridEnv, PowerGrid
from gridppo.baselines.heuristic import HeuristicPolicy
from gridppo.evaluation.simulate import run_days


@pytest.fixture(scope="module")
def day_record(grid: PowerGrid):
    """The heuristic's two test days, recorded."""
    env = BatchedGridEnv(grid=grid, batch_size=2, mode="test", autoreset=False)
    policy = HeuristicPolicy(env)
    return policy, run_days(policy, env, days=grid.profiles.test_days[:2], record=True)


def test_cheap_and_dear_are_percentiles_of_the_training_prices(grid: PowerGrid) -> None:
    env = BatchedGridEnv(grid=grid, batch_size=1)
    policy = HeuristicPolicy(env)
    prices = grid.profiles.price_eur_per_mwh[grid.profiles.train_days]
    for q in (30, 40, 70):
        assert policy.price_percentile(q) == np.percentile(prices, q)
    assert policy.price_percentile(30) < policy.price_percentile(70)


def test_producers_run_in_merit_order_to_meet_the_net_load(grid: PowerGrid, day_record) -> None:
    policy, result = day_record
    record = result.record
    producers = [n for n in grid.nodes if n.dispatch() is not None]
    assert len(producers) == 4
    half_cost = {
        n.name: n.generation_cost_eur(n.params["max_p_mw"] / 2, 1.0) / (n.params["max_p_mw"] / 2)
        for n in producers
    }
    order = sorted(producers, key=lambda n: half_cost[n.name])
    price = record.price_eur_per_mwh
    for node in producers:
        p = node.params
        output = record.injection_mw[node.name]
        # Never more than the plant can, and idle at minimum where the price is below its cost.
        assert output.min() >= p["min_p_mw"] - 1e-9 and output.max() <= p["max_p_mw"] + 1e-9
        below = price <= half_cost[node.name]
        np.testing.assert_allclose(output[below], p["min_p_mw"])
        # The voltage setpoint stays neutral.
        np.testing.assert_array_equal(record.actions[node.name][..., 1], 0.0)
    # A dearer plant runs above minimum only when every cheaper one is at full output.
    for cheaper, dearer in zip(order, order[1:], strict=False):
        runs = record.injection_mw[dearer.name] > dearer.params["min_p_mw"] + 1e-6
        full = record.injection_mw[cheaper.name] >= cheaper.params["max_p_mw"] - 1e-6
        assert np.all(full[runs])


def test_the_other_nodes_follow_their_own_rules(grid: PowerGrid, day_record) -> None:
    policy, result = day_record
    record = result.record
    price = record.price_eur_per_mwh
    for node in grid.nodes:
        actions = record.actions[node.name]
        if node.type_name == "consumer":
            np.testing.assert_array_equal(actions, -1.0)  # never shed
        if node.type_name == "battery":
            cheap = price < policy.price_percentile(30)
            assert cheap.any() and np.all(actions[cheap, 0] == 1.0)
            # It ends the day no lower than it started: nothing to buy back.
            soc = record.local_features[node.name][-1, :, 0]
            assert np.all(soc >= node.params["initial_soc"] - 1e-9)
        if node.type_name == "business":
            # The flexible energy is delivered by the day's end.
            flex_left = record.local_features[node.name][-1, :, 1]
            np.testing.assert_allclose(flex_left, 0.0, atol=1e-9)
    assert result.kpis["unserved_energy_mwh"] == 0.0
