"""The grid penalty: what voltage violations, overloads and failures cost, read from the
config's ``reward`` section, and how a failed power flow ends a day as a blackout."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest
from helpers import zero_actions

from gridppo import BatchedGridEnv, PowerGrid, load_config
from gridppo.config.schema import SCHEMA
from gridppo.evaluation.simulate import run_days
from gridppo.grid.battery import Battery
from gridppo.grid.consumer import Consumer
from gridppo.grid.penalty import PENALTY_PARTS, GridPenalty
from gridppo.grid.physics import PowerFlowResult


def flow_result(vm_pu: list[list[float]], converged: list[bool]) -> PowerFlowResult:
    """A hand-made power-flow result with the given voltages (two branches, no flows)."""
    vm = np.array(vm_pu, dtype=float)
    zeros = np.zeros((len(vm), 2))
    return PowerFlowResult(
        vm_pu=vm,
        va_degree=np.zeros_like(vm),
        p_from_mw=zeros,
        q_from_mvar=zeros,
        p_to_mw=zeros,
        q_to_mvar=zeros,
        ext_grid_p_mw=np.zeros(len(vm)),
        converged=np.array(converged),
    )


def test_each_part_prices_what_it_says(default_config: dict) -> None:
    penalty = GridPenalty(default_config)
    r = default_config["reward"]
    # Day 0: one bus 0.02 p.u. below the band, one 0.01 above, a branch at 130 %.
    # Day 1: inside every limit. Day 2: a failure that loses 40 MWh.
    pf = flow_result([[0.93, 1.06, 1.0], [1.0, 1.0, 1.0], [1.0, 1.0, 1.0]], [True, True, False])
    loading = np.array([[130.0, 90.0], [100.0, 50.0], [0.0, 0.0]])
    parts = penalty.parts_eur(pf, loading, lost_load_mwh=np.array([0.0, 0.0, 40.0]))
    assert tuple(parts) == PENALTY_PARTS
    np.testing.assert_allclose(parts["voltage_eur"], [0.03 * r["voltage_penalty_eur_per_pu"], 0, 0])
    np.testing.assert_allclose(
        parts["overload_eur"], [30.0 * r["overload_penalty_eur_per_percent"], 0, 0]
    )
    failure = r["nonconvergence_penalty_eur"] + 40.0 * r["value_of_lost_load_eur_per_mwh"]
    np.testing.assert_allclose(parts["failure_eur"], [0.0, 0.0, failure])
    np.testing.assert_allclose(
        penalty.shared_reward_eur(np.array([10.0])), [-10.0 * penalty.weight]
    )


def test_every_reward_setting_is_read_here(default_config: dict) -> None:
    """The penalty module owns the ``reward`` section: each of its settings changes what
    the penalty computes."""
    pf = flow_result([[0.93, 1.0]], [True])
    failed = flow_result([[1.0, 1.0]], [False])
    loading, lost = np.array([[130.0, 0.0]]), np.array([40.0])

    def outcome(cfg: dict) -> list[float]:
        penalty = GridPenalty(cfg)
        parts = [*penalty.parts_eur(pf, loading, lost).values()]
        parts += [*penalty.parts_eur(failed, loading, lost).values()]
        return [float(np.sum(parts)), float(penalty.shared_reward_eur(np.ones(1))[0])]

    base = outcome(default_config)
    for key in SCHEMA["reward"]:
        changed = {**default_config, "reward": dict(default_config["reward"])}
        changed["reward"][key] = default_config["reward"][key] * 2.0 + 1.0
        assert outcome(changed) != base, key


@pytest.fixture(scope="module", params=["fast", "pandapower"])
def overloaded_grid(request: pytest.FixtureRequest) -> PowerGrid:
    """A grid whose consumer_3 demands 5 GW once the day runs: the power flow cannot
    converge. (A config asking for 5 GW is refused when the grid is built, because its
    planning power flow fails; here the demand jumps after the build, as a fault would.)"""
    grid = PowerGrid(load_config(), backend=request.param)
    grid.node("consumer_3").base_p_mw = 5000.0
    return grid


def rest_of_day_demand_mwh(grid: PowerGrid, day: int, step: int) -> float:
    """What every load of the net draws from ``step`` to the end of ``day`` (MWh), at the
    load profile: the demand a failure at ``step`` leaves unserved."""
    dt_h = 24.0 / grid.config["time"]["steps_per_day"]
    return float(grid.base_load_p_mw.sum() * grid.profiles.load_pu[day, step:].sum() * dt_h)


def test_env_penalises_and_terminates_a_nonconverging_step(overloaded_grid: PowerGrid) -> None:
    env = BatchedGridEnv(grid=overloaded_grid, batch_size=2, autoreset=True)
    obs, _ = env.reset(seed=0)
    days = env.day.copy()
    # The day starts from the case setpoints, which converge.
    assert all(np.isfinite(o).all() for o in obs.values())
    obs, rewards, terminations, truncations, infos = env.step(zero_actions(env))
    r = overloaded_grid.config["reward"]
    weight = r["grid_penalty_weight"]
    # A blackout at the first step: the whole day's demand is lost.
    lost = np.array([rest_of_day_demand_mwh(overloaded_grid, d, 0) for d in days])
    penalty = r["nonconvergence_penalty_eur"] + r["value_of_lost_load_eur_per_mwh"] * lost
    np.testing.assert_array_equal(infos["metrics"]["converged"], 0.0)
    np.testing.assert_allclose(infos["penalty_eur"]["failure_eur"], penalty, rtol=1e-12)
    np.testing.assert_allclose(infos["metrics"]["unserved_energy_mwh"], lost, rtol=1e-12)
    np.testing.assert_array_equal(infos["penalty_eur"]["voltage_eur"], 0.0)
    np.testing.assert_array_equal(infos["penalty_eur"]["overload_eur"], 0.0)
    for agent in env.agents:
        grid_part = infos["reward_components"][agent]["grid_penalty_eur"]
        np.testing.assert_allclose(grid_part, -weight * penalty, rtol=1e-12)
        assert (grid_part < 0).all()
        assert np.isfinite(rewards[agent]).all()
        assert terminations[agent].all()
        assert not truncations[agent].any()
        assert np.isfinite(obs[agent]).all()
        assert np.isfinite(infos["final_observation"][agent]).all()
    assert infos["day_ended"].all()
    np.testing.assert_allclose(infos["system_cost_eur"], penalty, rtol=1e-12)
    # Autoreset restarted both days at their first step.
    np.testing.assert_array_equal(env.step_index, 0)


@contextmanager
def demand_of(node: Consumer, base_p_mw: np.ndarray | float) -> Iterator[None]:
    """Give ``node`` another base demand (per day of the batch) for a ``with`` block."""
    saved = node.base_p_mw
    node.base_p_mw = base_p_mw
    try:
        yield
    finally:
        node.base_p_mw = saved


def test_a_failed_step_terminates_the_day_as_a_blackout(overloaded_grid: PowerGrid) -> None:
    """Mid-day, one of two days fails: it terminates, its nodes trade nothing, and its
    penalty prices the rest of the day's demand (this step included) at the value of
    lost load. The other day runs on untouched."""
    grid = overloaded_grid
    node = grid.node("consumer_3")
    normal = float(grid.base_load_p_mw[node.load_index])
    r = grid.config["reward"]
    env = BatchedGridEnv(grid=grid, batch_size=2, autoreset=False)
    days = [int(d) for d in grid.profiles.test_days[:2]]
    env.reset(days=days)
    fail_at = 5
    with demand_of(node, normal):
        for _ in range(fail_at):
            _, _, terminations, _, infos = env.step(zero_actions(env))
            assert not terminations["consumer_3"].any()
            assert infos["metrics"]["converged"].all()
    with demand_of(node, np.array([normal, 5000.0])):
        _, rewards, terminations, truncations, infos = env.step(zero_actions(env))
    np.testing.assert_array_equal(infos["metrics"]["converged"], [1.0, 0.0])
    for agent in env.agents:
        np.testing.assert_array_equal(terminations[agent], [False, True])
        assert not truncations[agent].any()
    np.testing.assert_array_equal(infos["day_ended"], [False, True])
    lost = rest_of_day_demand_mwh(grid, days[1], fail_at)
    failure = r["nonconvergence_penalty_eur"] + r["value_of_lost_load_eur_per_mwh"] * lost
    np.testing.assert_allclose(infos["penalty_eur"]["failure_eur"], [0.0, failure], rtol=1e-12)
    assert infos["metrics"]["unserved_energy_mwh"][1] == pytest.approx(lost, rel=1e-12)
    assert infos["metrics"]["unserved_energy_mwh"][0] == 0.0
    # Nothing is produced, consumed or traded in the failed day: every node component
    # but the shared penalty is zero there, while the other day trades.
    weight = r["grid_penalty_weight"]
    for agent in env.agents:
        parts = infos["reward_components"][agent]
        for key, value in parts.items():
            if key == "grid_penalty_eur":
                assert value[1] == pytest.approx(-weight * failure, rel=1e-12)
            else:
                assert value[1] == 0.0, (agent, key)
        assert rewards[agent][1] == pytest.approx(-weight * failure, rel=1e-12)
        if not isinstance(grid.node(agent), Battery):  # an idle battery trades nothing
            assert parts["energy_eur"][0] != 0.0, agent
    assert infos["upstream_payment_eur"][1] == 0.0
    assert infos["system_cost_eur"][1] == pytest.approx(failure, rel=1e-12)


class FaultAtLastStep:
    """Neutral actions; at the day's last step, ``consumer_3`` demands ``faulty_mw`` in
    the days ``rows`` (a fault the power flow cannot carry) and its normal demand
    elsewhere."""

    name = "fault"

    def __init__(self, grid: PowerGrid, rows: np.ndarray, faulty_mw: float = 5000.0):
        self.node = grid.node("consumer_3")
        self.normal = float(grid.base_load_p_mw[self.node.load_index])
        self.demand = np.where(rows, faulty_mw, self.normal)

    def act(self, observations: dict[str, np.ndarray], env: BatchedGridEnv) -> dict:
        last = env.step_index[0] == env.steps_per_day - 1
        self.node.base_p_mw = self.demand if last else self.normal
        return zero_actions(env)


def test_a_failed_day_costs_more_than_the_same_day_run_through(
    overloaded_grid: PowerGrid,
) -> None:
    """Even a blackout on the day's very last step, where the least demand is left to
    lose, makes the day cost more than running it: a failure never pays."""
    grid = overloaded_grid
    node = grid.node("consumer_3")
    day = int(grid.profiles.test_days[0])
    env = BatchedGridEnv(grid=grid, batch_size=2, autoreset=False)
    with demand_of(node, node.base_p_mw):
        result = run_days(FaultAtLastStep(grid, np.array([False, True])), env, days=[day, day])
    np.testing.assert_array_equal(result.failed, [False, True])
    assert result.kpis["failed_days"] == 1.0
    assert result.per_day_cost_eur[1] > result.per_day_cost_eur[0]
    # By the fixed penalty plus the last step's demand at the value of lost load, less
    # that step's energy and costs, which the blackout does not incur.
    r = grid.config["reward"]
    lost = rest_of_day_demand_mwh(grid, day, env.steps_per_day - 1)
    floor = r["nonconvergence_penalty_eur"] + r["value_of_lost_load_eur_per_mwh"] * lost
    gap = result.per_day_cost_eur[1] - result.per_day_cost_eur[0]
    assert 0.9 * floor < gap < floor
    # The lost load is unserved energy: half of it per day on average over the two days.
    assert result.kpis["unserved_energy_mwh"] == pytest.approx(lost / 2, rel=1e-9)
