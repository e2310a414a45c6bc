"""Property tests: whatever the agents do, the simulation stays physical and finite.

Hypothesis draws whole days of actions, mixing ordinary values, the exact bounds +-1
and values far out of range; every step must keep batteries inside their state-of-
charge band, flexible energy non-negative, and observations and rewards finite.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from gridppo import BatchedGridEnv, PowerGrid
from gridppo.config.node_specs import validate_nodes
from gridppo.grid.battery import Battery
from gridppo.grid.business import Business
from gridppo.grid.node import make_node

BATCH = 2
STEPS = 24  # the default configuration's steps per day

PROPERTY_SETTINGS = settings(
    max_examples=25, deadline=None, derandomize=True, database=None, print_blob=True
)

# One action value: ordinary, exactly on a bound, or far out of range.
action_values = st.one_of(
    st.floats(-1.0, 1.0),
    st.sampled_from([-1.0, 1.0, 0.0, -1e9, 1e9, 1.0 + 1e-12, -1.0 - 1e-12]),
    st.floats(-1e6, 1e6),
)


@pytest.fixture(scope="module")
def env(grid: PowerGrid) -> BatchedGridEnv:
    """One batched environment on the shared grid, reset by each example."""
    return BatchedGridEnv(grid=grid, batch_size=BATCH, autoreset=False)


def day_plans(env: BatchedGridEnv) -> st.SearchStrategy[np.ndarray]:
    """A whole day of actions for every agent: an array [steps, B, total action size]."""
    width = sum(space.shape[0] for space in env.action_spaces.values())
    return hnp.arrays(np.float64, (STEPS, BATCH, width), elements=action_values)


def split_actions(env: BatchedGridEnv, flat: np.ndarray) -> dict[str, np.ndarray]:
    """Cut one step's [B, total action size] array into per-agent actions."""
    out, start = {}, 0
    for name, space in env.action_spaces.items():
        out[name] = flat[:, start : start + space.shape[0]]
        start += space.shape[0]
    return out


def check_day(env: BatchedGridEnv, plan: np.ndarray, days: list[int]) -> None:
    """Play ``plan`` on ``days`` and check the invariants after every step."""
    assert env.steps_per_day == STEPS
    obs, _ = env.reset(days=days)
    batteries = [n for n in env.nodes if isinstance(n, Battery)]
    businesses = [n for n in env.nodes if isinstance(n, Business)]
    for t in range(STEPS):
        obs, rewards, terminations, truncations, infos = env.step(split_actions(env, plan[t]))
        for node in batteries:
            p = node.params
            assert (node.soc >= p["min_soc"] - 1e-12).all()
            assert (node.soc <= p["max_soc"] + 1e-12).all()
            assert (np.abs(node.p_mw) <= p["max_p_mw"] + 1e-9).all()
        for node in businesses:
            assert (node.flex_remaining_mwh >= 0).all()
            assert (node.flex_mw >= 0).all()
            assert (node.flex_mw <= node.params["flex_max_p_mw"] + 1e-9).all()
            assert (node.pv_mw >= 0).all()
        for agent in env.agents:
            assert np.isfinite(obs[agent]).all()
            assert np.isfinite(rewards[agent]).all()
        assert np.isfinite(infos["system_cost_eur"]).all()
        # A day terminates at its end (or as a blackout), and is never truncated.
        failed = infos["metrics"]["converged"] < 1
        for agent in env.agents:
            np.testing.assert_array_equal(terminations[agent], (t == STEPS - 1) | failed)
            assert not truncations[agent].any()
        assert not failed.any(), f"the power flow failed at step {t}"


@PROPERTY_SETTINGS
@given(data=st.data(), day=st.integers(0, 199))
def test_any_day_of_actions_stays_physical(
    env: BatchedGridEnv, data: st.DataObject, day: int
) -> None:
    plan = data.draw(day_plans(env))
    check_day(env, plan, [day, (day + 100) % 200])


@PROPERTY_SETTINGS
@given(
    value=st.sampled_from([-1.0, 1.0, -1e12, 1e12]),
    day=st.integers(0, 199),
)
def test_constant_extreme_actions_all_day(env: BatchedGridEnv, value: float, day: int) -> None:
    """Every agent at one bound for the whole day: batteries hit their limits and stay."""
    plan = np.full((STEPS, BATCH, sum(s.shape[0] for s in env.action_spaces.values())), value)
    check_day(env, plan, [day, 199 - day])
    for node in env.nodes:
        if isinstance(node, Battery):
            limit = node.params["max_soc"] if value > 0 else node.params["min_soc"]
            np.testing.assert_allclose(node.soc, limit, atol=1e-9)


@PROPERTY_SETTINGS
@given(
    soc=st.floats(0.1, 0.9),
    requested=st.floats(-1e6, 1e6),
    dt_h=st.sampled_from([0.25, 0.5, 1.0]),
)
def test_battery_power_limit_keeps_soc_in_band(soc: float, requested: float, dt_h: float) -> None:
    battery = make_node(validate_nodes([{"name": "b", "type": "battery", "bus": 8}])[0])
    p = battery.params
    battery.soc = np.array([soc])
    feasible = battery.feasible_p_mw(np.array([requested]), dt_h)[0]
    stored = (
        feasible * p["charge_efficiency"] if feasible >= 0 else feasible / p["discharge_efficiency"]
    )
    new_soc = soc + stored * dt_h / p["capacity_mwh"]
    assert p["min_soc"] - 1e-12 <= new_soc <= p["max_soc"] + 1e-12
    # The limit only ever shrinks a request toward zero, never flips its sign.
    assert abs(feasible) <= abs(requested) + 1e-12
    assert feasible * requested >= 0
