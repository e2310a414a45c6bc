"""Whole days run with a policy: the KPIs, the record, paired gaps and intervals."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import ConstantPolicy
from scipy import stats

from gridppo import BatchedGridEnv, PowerGrid
from gridppo.evaluation.simulate import (
    KPI_NAMES,
    EvalResult,
    kpi_table,
    mean_ci,
    paired_gap_percent,
    run_days,
)


class HighVoltageCharging(ConstantPolicy):
    """Every producer's voltage setpoint at the top of its range (1.06 p.u., above the
    band) and both batteries charging all day; every other action 0."""

    def act(self, observations: dict, env: BatchedGridEnv) -> dict:
        """The actions above."""
        actions = super().act(observations, env)
        for node in env.nodes:
            if node.type_name == "producer":
                actions[node.name][:, 1] = 1.0
        return actions


@pytest.fixture(scope="module")
def result(grid: PowerGrid) -> EvalResult:
    """Two test days of :class:`HighVoltageCharging`, recorded."""
    env = BatchedGridEnv(grid=grid, batch_size=2, mode="test", autoreset=False)
    policy = HighVoltageCharging(0.0, battery_3=1.0, battery_8=1.0)
    return run_days(policy, env, days=grid.profiles.test_days[:2], record=True)


def test_the_kpis_are_what_the_record_says(grid: PowerGrid, result: EvalResult) -> None:
    record, kpis = result.record, result.kpis
    steps, days = record.system_cost_eur.shape
    assert (steps, days) == (grid.config["time"]["steps_per_day"], 2)
    np.testing.assert_array_equal(result.days, grid.profiles.test_days[:2])
    np.testing.assert_allclose(result.per_day_cost_eur, record.system_cost_eur.sum(axis=0))
    assert kpis["system_cost_eur"] == pytest.approx(result.per_day_cost_eur.mean())
    m = record.metrics
    voltage_rate = (m["voltage_violations"] > 0).mean(axis=0).mean()
    assert kpis["voltage_violation_rate"] == pytest.approx(voltage_rate)
    assert kpis["voltage_violation_rate"] == 1.0  # the high setpoints violate the band
    assert kpis["overload_rate"] == pytest.approx(
        (m["overloaded_branches"] > 0).mean(axis=0).mean()
    )
    assert kpis["worst_loading_percent"] == pytest.approx(record.loading_percent.max())
    dt_h = 24.0 / steps
    assert kpis["losses_mwh"] == pytest.approx((m["losses_mw"] * dt_h).sum(axis=0).mean())
    assert kpis["unserved_energy_mwh"] == 0.0 and kpis["failed_days"] == 0.0
    assert not result.failed.any()
    # Rewards: per agent the mean day's total, per type the mean over its agents.
    totals = {a: sum(parts.values()).sum(axis=0) for a, parts in record.reward_components.items()}
    for agent, total in totals.items():
        assert result.agent_reward[agent] == pytest.approx(total.mean())
    batteries = [totals[a].mean() for a in ("battery_3", "battery_8")]
    assert result.type_reward["battery"] == pytest.approx(np.mean(batteries))
    # Money is conserved: the team reward is minus the system cost, less the penalty
    # counted (n_agents * weight - 1) more times.
    weight = grid.config["reward"]["grid_penalty_weight"]
    penalty = -record.reward_components["battery_3"]["grid_penalty_eur"].sum(axis=0) / weight
    assert penalty.min() > 0
    team = -result.per_day_cost_eur - (len(grid.nodes) * weight - 1) * penalty
    assert kpis["team_reward"] == pytest.approx(team.mean())
    # What the record holds, step by step.
    battery = grid.node("battery_3")
    np.testing.assert_array_equal(record.actions["battery_3"], 1.0)
    assert np.all(np.diff(record.local_features["battery_3"][..., 0], axis=0) >= 0)  # charging
    np.testing.assert_allclose(
        record.local_features["battery_3"][-1, :, 0], battery.params["max_soc"]
    )
    assert record.vm_pu.shape == (steps, 2, grid.n_bus)
    assert record.p_from_mw.shape == record.loading_percent.shape == (steps, 2, grid.n_branch)


def test_the_days_must_fill_the_batch(grid: PowerGrid) -> None:
    env = BatchedGridEnv(grid=grid, batch_size=2, mode="test", autoreset=False)
    with pytest.raises(ValueError, match=r"env\.batch_size \(2\) must equal the number of days"):
        run_days(ConstantPolicy(), env, days=[1, 2, 3])
    # Without days: every day of the environment's split (the test days for training).
    env = BatchedGridEnv(grid=grid, batch_size=len(grid.profiles.test_days), autoreset=False)
    out = run_days(ConstantPolicy(), env)
    np.testing.assert_array_equal(out.days, grid.profiles.test_days)
    assert out.record is None and out.policy == "constant"


def fake(policy: str, costs: list[float], days: list[int] | None = None) -> EvalResult:
    """A result with the given per-day costs."""
    cost = np.array(costs, dtype=float)
    days = list(range(len(costs))) if days is None else days
    return EvalResult(policy, {"system_cost_eur": float(cost.mean())}, {}, {}, cost, np.array(days))


def test_the_paired_gap_is_day_by_day() -> None:
    gaps = paired_gap_percent(fake("a", [110.0, 90.0, -50.0]), fake("ref", [100.0, 100.0, -100.0]))
    np.testing.assert_allclose(gaps, [10.0, -10.0, 50.0])
    with pytest.raises(ValueError, match="a and ref ran different days"):
        paired_gap_percent(fake("a", [1.0, 2.0], [0, 1]), fake("ref", [1.0, 2.0], [0, 2]))


def test_mean_ci_is_students_t_interval() -> None:
    values = np.array([3.0, 5.0, 4.0, 8.0])
    mean, low, high = mean_ci(values, confidence=0.9)
    assert mean == pytest.approx(5.0)
    expected = stats.t.interval(0.9, 3, loc=5.0, scale=np.std(values, ddof=1) / 2.0)
    assert (low, high) == pytest.approx(expected)
    assert low < mean < high
    assert mean_ci(np.array([2.5])) == (2.5, 2.5, 2.5)
    assert mean_ci(np.array([1.0, 1.0, 1.0])) == (1.0, 1.0, 1.0)


def test_the_kpi_table_has_a_column_per_policy() -> None:
    a, b = fake("heuristic", [1234.5]), fake("a_long_policy_name", [0.25])
    a.kpis["failed_days"], b.kpis["failed_days"] = 0.0, 1.0
    lines = kpi_table([a, b]).splitlines()
    assert lines[0].split() == ["KPI", "heuristic", "a_long_policy_name"]
    rows = {line.split()[0]: line.split()[1:] for line in lines[2:-1]}
    assert rows == {"system_cost_eur": ["1,234.5", "0.250"], "failed_days": ["0.000", "1.000"]}
    assert set(rows) <= set(KPI_NAMES)  # KPIs no result has are left out
    assert lines[-1].startswith("(means per day")
