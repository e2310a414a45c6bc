"""The baselines by name."""

from __future__ import annotations

import numpy as np
import pytest

from gridppo import BatchedGridEnv, PowerGrid
from gridppo.baselines.heuristic import HeuristicPolicy
from gridppo.baselines.optimum import OptimumPolicy
from gridppo.baselines.random import RandomPolicy
from gridppo.baselines.registry import BASELINES, make_baseline
from gridppo.baselines.single_step_opf import SingleStepOPFPolicy


def test_every_baseline_is_built_by_its_name(grid: PowerGrid) -> None:
    env = BatchedGridEnv(grid=grid, batch_size=1, mode="test", autoreset=False)
    classes = {
        "optimum": OptimumPolicy,
        "heuristic": HeuristicPolicy,
        "single_step_opf": SingleStepOPFPolicy,
        "random": RandomPolicy,
    }
    assert set(BASELINES) == set(classes)
    for name in BASELINES:
        policy = make_baseline(name, env, seed=3)
        assert type(policy) is classes[name] and policy.name == name
    # The seed reaches the random policy.
    obs, _ = env.reset(days=grid.profiles.test_days[:1])
    a, b = make_baseline("random", env, seed=3), make_baseline("random", env, seed=3)
    first, second = a.act(obs, env), b.act(obs, env)
    for name, action in first.items():
        np.testing.assert_array_equal(action, second[name])


def test_an_unknown_name_lists_the_known_ones(grid: PowerGrid) -> None:
    env = BatchedGridEnv(grid=grid, batch_size=1)
    with pytest.raises(ValueError, match="unknown policy 'greedy'; choose optimum, heuristic"):
        make_baseline("greedy", env)
