"""The day's optimum as a policy: its AC replay respects the limits and beats the
heuristic; its plans are cached and replayed exactly."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from gridppo import load_config
from gridppo.baselines.heuristic import HeuristicPolicy
from gridppo.baselines.optimum import LOADING_TOLERANCE_PERCENT, OptimumPolicy, schedule_actions
from gridppo.env import BatchedGridEnv
from gridppo.evaluation.simulate import run_days
from gridppo.grid.battery import Battery
from gridppo.grid.producer import Producer

SMALL = {"time.train_days": 4, "time.validation_days": 2, "time.test_days": 3}


@pytest.fixture(scope="module")
def env() -> BatchedGridEnv:
    """An environment over the three test days of a small config."""
    config = load_config(None, SMALL)
    return BatchedGridEnv(config, batch_size=3, mode="test", autoreset=False)


@pytest.fixture(scope="module")
def days(env: BatchedGridEnv) -> np.ndarray:
    """The test days."""
    return env.grid.profiles.test_days


@pytest.fixture(scope="module")
def policy(env: BatchedGridEnv) -> OptimumPolicy:
    """The optimum, with its own private grid."""
    return OptimumPolicy(env)


@pytest.fixture(scope="module")
def replayed(policy: OptimumPolicy, env: BatchedGridEnv, days: np.ndarray) -> Any:
    """The optimum's schedules replayed in AC on the test days, recorded."""
    return run_days(policy, env, days, record=True)


def test_replay_respects_branch_limits(
    policy: OptimumPolicy, replayed: Any, env: BatchedGridEnv, days: np.ndarray
) -> None:
    limit = env.config["grid"]["max_loading_percent"] + LOADING_TOLERANCE_PERCENT
    assert replayed.record.loading_percent.max() <= limit
    assert replayed.kpis["failed_days"] == 0
    schedules = policy.schedules(days)
    # The lossless DC schedule alone overloads in AC: the correction had work to do.
    assert max(s.rounds[0]["worst_loading_percent"] for s in schedules) > limit
    # The actions replay the schedule exactly: producers and batteries inject what it says.
    for b, schedule in enumerate(schedules):
        assert 1 <= len(schedule.rounds) <= policy.max_rounds
        for node in env.nodes:
            if isinstance(node, Producer):
                np.testing.assert_allclose(
                    replayed.record.injection_mw[node.name][:, b],
                    schedule.nodes[node.name]["p_mw"],
                    atol=1e-6,
                )
            if isinstance(node, Battery):
                np.testing.assert_allclose(
                    replayed.record.injection_mw[node.name][:, b],
                    -schedule.nodes[node.name]["p_mw"],
                    atol=1e-6,
                )


def test_optimum_is_no_worse_than_the_heuristic(
    replayed: Any, env: BatchedGridEnv, days: np.ndarray
) -> None:
    heuristic = run_days(HeuristicPolicy(env), env, days)
    assert np.all(replayed.per_day_cost_eur <= heuristic.per_day_cost_eur)


def test_batteries_end_at_or_above_initial_soc(replayed: Any, env: BatchedGridEnv) -> None:
    for node in env.nodes:
        if isinstance(node, Battery):
            soc_end = replayed.record.local_features[node.name][-1, :, 0]
            assert np.all(soc_end >= node.params["initial_soc"] - 1e-6)
            assert np.abs(replayed.record.reward_components[node.name]["end_soc_eur"]).max() < 1e-3


def test_nothing_is_shed_at_default_prices(
    policy: OptimumPolicy, replayed: Any, days: np.ndarray
) -> None:
    assert replayed.kpis["unserved_energy_mwh"] == 0.0
    for schedule in policy.schedules(days):
        for quantities in schedule.nodes.values():
            if "shed_mw" in quantities:
                assert quantities["shed_mw"].max() == 0.0


def test_schedules_are_cached(policy: OptimumPolicy, replayed: Any, days: np.ndarray) -> None:
    first = policy.schedules(days)
    solved = set(policy.cache)
    again = policy.schedules(days)
    assert set(policy.cache) == solved == {(int(d), 1.0) for d in days}
    assert all(a is b for a, b in zip(first, again, strict=True))


def test_schedule_actions_replay_each_days_plan_at_its_step(
    policy: OptimumPolicy, replayed: Any, env: BatchedGridEnv, days: np.ndarray
) -> None:
    schedules = policy.schedules(days)
    steps = np.array([0, 12, 23])
    actions = schedule_actions(env.nodes, schedules, steps)
    assert set(actions) == set(env.agents)
    for node in env.nodes:
        assert actions[node.name].shape == (3, len(node.ACTIONS))
        assert np.abs(actions[node.name]).max() <= 1.0
        if isinstance(node, Battery):
            planned = [s.nodes[node.name]["p_mw"][t] for s, t in zip(schedules, steps, strict=True)]
            np.testing.assert_allclose(
                actions[node.name][:, 0], np.array(planned) / node.params["max_p_mw"]
            )
