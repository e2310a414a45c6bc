"""Random actions: seeded, in range, one per agent and day."""

from __future__ import annotations

import numpy as np

from gridppo import BatchedGridEnv, PowerGrid
from gridppo.baselines.random import RandomPolicy


def test_random_actions_are_seeded_and_in_range(grid: PowerGrid) -> None:
    env = BatchedGridEnv(grid=grid, batch_size=5)
    obs, _ = env.reset(seed=0)
    first, again, other = RandomPolicy(1), RandomPolicy(1), RandomPolicy(2)
    a, b, c = first.act(obs, env), again.act(obs, env), other.act(obs, env)
    assert set(a) == set(env.agents)
    for name, space in env.action_spaces.items():
        assert a[name].shape == (5, space.shape[0])
        assert np.abs(a[name]).max() <= 1.0
        np.testing.assert_array_equal(a[name], b[name])
        assert not np.array_equal(a[name], c[name])
    # Each call draws afresh.
    assert not np.array_equal(first.act(obs, env)["battery_3"], a["battery_3"])
    # Over many draws the actions fill [-1, 1].
    draws = np.concatenate([first.act(obs, env)["producer_1"] for _ in range(200)])
    assert draws.min() < -0.95 and draws.max() > 0.95
