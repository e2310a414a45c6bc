"""The environment contract: PettingZoo API, spaces, determinism, episodes and actions."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium import spaces
from helpers import random_actions, zero_actions
from pettingzoo.test import parallel_api_test

from gridppo import ActionError, BatchedGridEnv, GridEnv, PowerGrid, load_config
from gridppo.grid.battery import Battery
from gridppo.grid.node import COMMON_FEATURES

# Observation and action sizes per node type with the default forecast of 3 steps.
EXPECTED_OBS_DIM = {"producer": 13, "consumer": 14, "battery": 14, "business": 16}
EXPECTED_ACTION_DIM = {"producer": 2, "consumer": 1, "battery": 1, "business": 2}


def run_single_day(env: GridEnv, seed: int, day: int | None = None) -> tuple[list, list, int]:
    """Reset ``env`` and play one whole day with seeded random actions.

    Returns the observations and rewards of every step (dicts keyed by agent) and the
    day that was played.
    """
    rng = np.random.default_rng(seed)
    options = None if day is None else {"day": day}
    obs, info = env.reset(seed=seed, options=options)
    observations, rewards = [obs], []
    while env.agents:
        actions = {a: rng.uniform(-1, 1, env.action_space(a).shape) for a in env.agents}
        obs, rew, _, _, _ = env.step(actions)
        observations.append(obs)
        rewards.append(rew)
    return observations, rewards, info[env.possible_agents[0]]["day"]


def test_parallel_api() -> None:
    env = GridEnv()
    for i, agent in enumerate(env.possible_agents):
        env.action_space(agent).seed(i)  # the checker samples from the spaces
    parallel_api_test(env, num_cycles=env.batched.steps_per_day + 5)


def test_spaces_match_the_documented_features(grid: PowerGrid) -> None:
    env = GridEnv(grid=grid)
    assert env.possible_agents == [n.name for n in grid.nodes]
    assert len(env.possible_agents) == 17
    for node in grid.nodes:
        obs_space = env.observation_space(node.name)
        act_space = env.action_space(node.name)
        names = env.batched.feature_names[node.name]
        assert isinstance(obs_space, spaces.Box)
        assert isinstance(act_space, spaces.Box)
        assert obs_space.dtype == np.float32
        assert obs_space.shape == (len(names),) == (EXPECTED_OBS_DIM[node.type_name],)
        assert tuple(names[: len(COMMON_FEATURES)]) == COMMON_FEATURES
        assert names[len(COMMON_FEATURES) :] == [
            "price_plus_1",
            "price_plus_2",
            "price_plus_3",
            *node.LOCAL_FEATURES,
        ]
        assert act_space.shape == (EXPECTED_ACTION_DIM[node.type_name],)
        np.testing.assert_array_equal(act_space.low, -1.0)
        np.testing.assert_array_equal(act_space.high, 1.0)


def test_observations_are_finite_float32_and_mean_what_they_say(grid: PowerGrid) -> None:
    env = BatchedGridEnv(grid=grid, batch_size=2, autoreset=False)
    obs, info = env.reset(days=[3, 7])
    rng = np.random.default_rng(0)
    prices = grid.profiles.price_eur_per_mwh
    steps = env.steps_per_day
    limit = grid.config["grid"]["max_loading_percent"]
    for t in range(steps):
        for name, o in obs.items():
            assert o.dtype == np.float32
            assert o.shape == (2, env.observation_spaces[name].shape[0])
            assert np.isfinite(o).all()
        for node in env.nodes:
            f = dict(zip(env.feature_names[node.name], obs[node.name].T, strict=True))
            np.testing.assert_allclose(f["price"], prices[[3, 7], t], rtol=1e-6)
            ahead = min(t + 2, steps - 1)
            np.testing.assert_allclose(f["price_plus_2"], prices[[3, 7], ahead], rtol=1e-6)
            np.testing.assert_allclose(f["day_fraction"], t / steps, atol=1e-7)
            np.testing.assert_allclose(f["time_sin"], np.sin(2 * np.pi * t / steps), atol=1e-6)
            np.testing.assert_allclose(f["time_cos"], np.cos(2 * np.pi * t / steps), atol=1e-6)
            if t > 0:
                vm = env.last_power_flow.vm_pu
                np.testing.assert_allclose(f["vm_pu"], vm[:, node.bus], atol=1e-6)
                near = vm[:, node.neighbour_buses]
                np.testing.assert_allclose(f["neighbour_vm_min"], near.min(axis=1), atol=1e-6)
                np.testing.assert_allclose(f["neighbour_vm_max"], near.max(axis=1), atol=1e-6)
                np.testing.assert_allclose(
                    f["injection_mw"], node.injection_mw, rtol=1e-6, atol=1e-5
                )
                # The most loaded branch at the node's bus, as a fraction of the limit.
                assert len(node.branches) > 0
                loading = grid.loading_percent(env.last_power_flow)[:, node.branches]
                np.testing.assert_allclose(
                    f["branch_loading"], loading.max(axis=1) / limit, rtol=1e-6, atol=1e-7
                )
                buses = np.union1d(
                    grid.branch_from_bus[node.branches], grid.branch_to_bus[node.branches]
                )
                assert node.bus in buses
            assert (f["branch_loading"] >= 0).all()
            if isinstance(node, Battery):
                np.testing.assert_allclose(f["soc"], node.soc, atol=1e-7)
        obs, *_ = env.step(random_actions(env, rng))


def test_same_seed_same_game_different_seed_different_days() -> None:
    # Two independent environments, each with its own grid, played side by side.
    first, second = GridEnv(), GridEnv()
    obs_a, rew_a, day_a = run_single_day(first, seed=11)
    obs_b, rew_b, day_b = run_single_day(second, seed=11)
    assert day_a == day_b
    assert len(obs_a) == len(obs_b) == first.batched.steps_per_day + 1
    for step_a, step_b in zip(obs_a, obs_b, strict=True):
        for agent in step_a:
            np.testing.assert_array_equal(step_a[agent], step_b[agent])
    assert rew_a == rew_b
    days_a = [first.reset(seed=s)[1]["producer_1"]["day"] for s in range(5)]
    days_b = [second.reset(seed=s)[1]["producer_1"]["day"] for s in range(5)]
    assert days_a == days_b
    assert len(set(days_a)) > 1, "different seeds must draw different days"
    # Different days have different prices, so different observations.
    obs_x, _ = first.reset(options={"day": days_a[0]})
    other = next(d for d in days_a if d != days_a[0])
    obs_y, _ = first.reset(options={"day": other})
    assert not np.array_equal(obs_x["battery_3"], obs_y["battery_3"])


def test_batched_days_equal_single_days(grid: PowerGrid) -> None:
    days = [2, 50, 150]
    steps = grid.config["time"]["steps_per_day"]
    rng = np.random.default_rng(3)
    batched = BatchedGridEnv(grid=grid, batch_size=3, autoreset=False)
    plan = [random_actions(batched, rng) for _ in range(steps)]
    obs, _ = batched.reset(days=days)
    batch_obs, batch_rewards = [obs], []
    for actions in plan:
        obs, rewards, *_ = batched.step(actions)
        batch_obs.append(obs)
        batch_rewards.append(rewards)
    for i, day in enumerate(days):
        single = BatchedGridEnv(grid=grid, batch_size=1, autoreset=False)
        obs, _ = single.reset(days=[day])
        for agent in obs:
            np.testing.assert_allclose(obs[agent][0], batch_obs[0][agent][i], atol=1e-5)
        for t, actions in enumerate(plan):
            obs, rewards, *_ = single.step({a: v[[i]] for a, v in actions.items()})
            for agent in obs:
                np.testing.assert_allclose(
                    rewards[agent][0], batch_rewards[t][agent][i], rtol=0, atol=1e-6
                )
                np.testing.assert_allclose(
                    obs[agent][0], batch_obs[t + 1][agent][i], rtol=1e-6, atol=1e-5
                )


def test_single_env_terminates_at_the_end_of_the_day(grid: PowerGrid) -> None:
    env = GridEnv(grid=grid)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    steps = grid.config["time"]["steps_per_day"]
    for t in range(steps):
        assert env.agents == env.possible_agents
        actions = {a: rng.uniform(-1, 1, env.action_space(a).shape) for a in env.agents}
        _, _, terminations, truncations, infos = env.step(actions)
        # The day is the whole task: every agent terminates together, on the day's last
        # step and only then; the environment never truncates.
        assert set(terminations.values()) == {t == steps - 1}
        assert not any(truncations.values())
        assert infos["battery_3"]["converged"] == 1.0
    assert env.agents == []
    with pytest.raises(RuntimeError):
        env.step(actions)


def test_autoreset_returns_the_final_observation(grid: PowerGrid) -> None:
    env = BatchedGridEnv(grid=grid, batch_size=2, autoreset=True)
    env.reset(seed=5)
    charge = zero_actions(env, 1.0)  # every battery charges at full power all day
    battery = grid.node("battery_3")
    soc_at = env.feature_names["battery_3"].index("soc")
    frac_at = env.feature_names["battery_3"].index("day_fraction")
    for t in range(env.steps_per_day):
        obs, _, terminations, truncations, infos = env.step(charge)
        last = t == env.steps_per_day - 1
        for name in env.agents:
            assert terminations[name].all() == last and terminations[name].any() == last
            assert not truncations[name].any()
        assert infos["day_ended"].all() == last
        assert ("final_observation" in infos) == last
    final = infos["final_observation"]["battery_3"]
    np.testing.assert_allclose(final[:, soc_at], battery.params["max_soc"], atol=1e-6)
    # The returned observation is the first of a new day.
    np.testing.assert_allclose(obs["battery_3"][:, soc_at], battery.params["initial_soc"])
    np.testing.assert_array_equal(obs["battery_3"][:, frac_at], 0.0)
    np.testing.assert_array_equal(env.step_index, 0)
    assert set(env.day) <= set(grid.profiles.train_days)
    # And the new day runs.
    _, _, terminations, truncations, _ = env.step(charge)
    assert not terminations["battery_3"].any()
    assert not truncations["battery_3"].any()


def test_train_validation_and_test_days_are_disjoint(grid: PowerGrid) -> None:
    profiles, t = grid.profiles, grid.config["time"]
    train = set(profiles.train_days)
    validation = set(profiles.validation_days)
    test = set(profiles.test_days)
    assert (len(train), len(validation), len(test)) == (
        t["train_days"],
        t["validation_days"],
        t["test_days"],
    )
    assert train.isdisjoint(validation) and train.isdisjoint(test)
    assert validation.isdisjoint(test)
    assert train | validation | test == set(range(profiles.n_days))
    trainer = BatchedGridEnv(grid=grid, batch_size=64, mode="train")
    seen = set()
    for seed in range(3):
        _, info = trainer.reset(seed=seed)
        seen |= set(info["day"].tolist())
    assert seen <= train
    assert len(seen) > 50


@pytest.mark.parametrize("split", ["validation", "test"])
def test_held_out_modes_visit_their_own_days_in_order(grid: PowerGrid, split: str) -> None:
    env = GridEnv(grid=grid, mode=split)
    days = grid.profiles.days(split)
    visited = [
        env.reset(seed=0 if i == 0 else None)[1]["producer_1"]["day"] for i in range(len(days) + 2)
    ]
    assert set(visited) == set(days.tolist())
    # The days come in order, then start over.
    assert visited[: len(days)] == days.tolist()
    batched = BatchedGridEnv(grid=grid, batch_size=4, mode=split, autoreset=True)
    batched.reset(seed=0)
    rng = np.random.default_rng(0)
    for _ in range(3 * batched.steps_per_day):
        batched.step(random_actions(batched, rng))
        assert set(batched.day.tolist()) <= set(days.tolist())


@pytest.mark.parametrize("steps_per_day", [24, 96])
def test_hourly_and_quarter_hourly_days(steps_per_day: int, grid: PowerGrid) -> None:
    if steps_per_day == grid.config["time"]["steps_per_day"]:
        day_grid = grid
    else:
        cfg = load_config(None, overrides=[f"time.steps_per_day={steps_per_day}"])
        day_grid = PowerGrid(cfg)
    env = GridEnv(grid=day_grid)
    assert env.batched.dt_h == pytest.approx(24.0 / steps_per_day)
    assert day_grid.profiles.load_pu.shape[1] == steps_per_day
    env.reset(seed=1)
    battery = day_grid.node("battery_3")
    p = battery.params
    actions = {a: np.zeros(env.action_space(a).shape) for a in env.possible_agents}
    actions["battery_3"] = np.array([0.5])
    soc_before = float(battery.soc[0])
    steps = 0
    while env.agents:
        obs, rewards, _, _, infos = env.step(actions)
        if steps == 0:
            # One step of charging at half power stores p * efficiency * dt MWh.
            stored = 0.5 * p["max_p_mw"] * p["charge_efficiency"] * 24.0 / steps_per_day
            assert battery.soc[0] - soc_before == pytest.approx(stored / p["capacity_mwh"])
        assert all(np.isfinite(r) for r in rewards.values())
        steps += 1
    assert steps == steps_per_day


def test_bad_actions_raise_action_error(grid: PowerGrid) -> None:
    env = GridEnv(grid=grid)
    env.reset(seed=0)
    good = {a: np.zeros(env.action_space(a).shape) for a in env.possible_agents}
    bad_cases = {
        "business too short": {**good, "business_9": np.zeros(1)},
        "producer too short": {**good, "producer_1": np.zeros(1)},
        "producer too long": {**good, "producer_1": np.zeros(3)},
        "scalar": {**good, "battery_3": 0.5},
        "batched shape": {**good, "consumer_1": np.zeros((2, 1))},
        "nan": {**good, "consumer_1": np.array([np.nan])},
        "inf": {**good, "business_13": np.array([0.0, np.inf])},
        "-inf": {**good, "producer_2": np.array([0.0, -np.inf])},
        "missing": {a: v for a, v in good.items() if a != "battery_8"},
    }
    for case, actions in bad_cases.items():
        with pytest.raises(ActionError):
            env.step(actions)
        assert int(env.batched.step_index[0]) == 0, f"{case}: the failed step changed the state"
    # The environment still works after rejecting those.
    env.step(good)
    batched = BatchedGridEnv(grid=grid, batch_size=2)
    batched.reset(seed=0)
    ok = zero_actions(batched)
    for actions in (
        {**ok, "producer_1": np.zeros((3, 2))},
        {**ok, "producer_1": np.zeros((2, 1))},
        {**ok, "business_9": np.zeros((2, 1))},
        {**ok, "battery_3": np.array([[0.0], [np.nan]])},
        {**ok, "no_such_agent": np.zeros((2, 1))},
    ):
        with pytest.raises(ActionError):
            batched.step(actions)
    batched.step(ok)


def test_out_of_range_actions_are_clipped(grid: PowerGrid) -> None:
    env = BatchedGridEnv(grid=grid, batch_size=4, autoreset=False)
    rng = np.random.default_rng(9)
    plan = [random_actions(env, rng, -5.0, 5.0) for _ in range(6)]
    assert any((np.abs(v) > 1).any() for actions in plan for v in actions.values())

    def play(actions_plan: list[dict[str, np.ndarray]]) -> list:
        """Rewards and observations of a few steps from a fixed start."""
        env.reset(days=[0, 1, 2, 3])
        out = []
        for actions in actions_plan:
            obs, rewards, *_ = env.step(actions)
            out.append((obs, rewards))
        return out

    raw = play(plan)
    clipped = play([{a: np.clip(v, -1, 1) for a, v in actions.items()} for actions in plan])
    for (obs_r, rew_r), (obs_c, rew_c) in zip(raw, clipped, strict=True):
        for agent in env.agents:
            np.testing.assert_allclose(rew_r[agent], rew_c[agent], rtol=1e-9, atol=1e-6)
            np.testing.assert_allclose(obs_r[agent], obs_c[agent], rtol=1e-6, atol=1e-5)


@pytest.mark.parametrize("autoreset", [False, True])
def test_batched_days_terminate_and_never_truncate(grid: PowerGrid, autoreset: bool) -> None:
    """A day's end is a termination (nothing follows it), never a truncation, for every
    agent and every day of the batch, over several days in a row."""
    env = BatchedGridEnv(grid=grid, batch_size=3, autoreset=autoreset)
    env.reset(seed=2)
    rng = np.random.default_rng(2)
    for t in range(2 * env.steps_per_day if autoreset else env.steps_per_day):
        _, _, terminations, truncations, infos = env.step(random_actions(env, rng))
        last = (t + 1) % env.steps_per_day == 0
        assert infos["metrics"]["converged"].all()
        np.testing.assert_array_equal(infos["day_ended"], last)
        for name in env.agents:
            assert terminations[name].dtype == bool and truncations[name].dtype == bool
            np.testing.assert_array_equal(terminations[name], last)
            assert not truncations[name].any()
