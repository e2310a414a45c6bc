"""Lagrange multipliers (gridppo.agents.lagrangian): the dual step and its bookkeeping."""

from __future__ import annotations

import numpy as np
import pytest

from gridppo.agents.lagrangian import LagrangeMultipliers, lagrange_step


def test_the_dual_step_rises_on_violation_falls_on_slack_and_stays_non_negative():
    # Violated by 0.5: up by lr * 0.5. Slack of 0.25: down by lr * 0.25. Far below: 0.
    np.testing.assert_allclose(lagrange_step(1.0, 1.5, 1.0, 2.0), 2.0)
    np.testing.assert_allclose(lagrange_step(1.0, 0.75, 1.0, 2.0), 0.5)
    np.testing.assert_allclose(lagrange_step(1.0, 0.0, 1.0, 2.0), 0.0)
    # Element by element, each with its own step size.
    np.testing.assert_allclose(
        lagrange_step([1.0, 3.0], [2.0, 0.0], [0.0, 1.0], [0.5, 10.0]), [2.0, 0.0]
    )


def test_multipliers_price_steps_and_learn_from_the_rollouts_mean_cost():
    lm = LagrangeMultipliers(["a", "b"], limits=[1.0, 0.0], lrs=[0.5, 2.0], initial=[1.0, 3.0])
    costs = {"a": np.array([2.0, 0.0]), "b": np.array([1.0, 1.0])}
    np.testing.assert_allclose(lm.penalty(costs), [1 * 2 + 3 * 1, 0 + 3 * 1])
    lm.record(costs)
    lm.record({"a": np.array([4.0, 2.0]), "b": np.array([0.0, 0.0])})
    np.testing.assert_allclose(lm.mean_costs(), [2.0, 0.5])  # over 4 steps
    report = lm.update()
    # a: 1 + 0.5 * (2 - 1) = 1.5; b: 3 + 2 * (0.5 - 0) = 4.
    assert report == {"a": 2.0, "b": 0.5, "a_multiplier": 1.5, "b_multiplier": 4.0}
    with pytest.raises(RuntimeError, match="no costs recorded"):
        lm.update()  # each update consumes its rollout


def test_state_round_trip_and_refusals():
    lm = LagrangeMultipliers(["a"], [0.0], [1.0], [0.5])
    lm.record({"a": np.array([2.0])})
    lm.update()
    other = LagrangeMultipliers(["a"], [0.0], [1.0], [0.0])
    other.record({"a": np.array([7.0])})  # a half-recorded rollout is dropped on load
    other.load_state_dict(lm.state_dict())
    np.testing.assert_array_equal(other.values, [2.5])
    with pytest.raises(RuntimeError):
        other.mean_costs()
    with pytest.raises(ValueError, match="saved multipliers are for"):
        LagrangeMultipliers(["b"], [0.0], [1.0], [0.0]).load_state_dict(lm.state_dict())
    with pytest.raises(ValueError, match="one limit"):
        LagrangeMultipliers(["a", "b"], [0.0], [1.0], [0.0])
