"""The evaluation protocol: policies and baselines on the same test days, each compared
with the day's optimum."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import ConstantPolicy

from gridppo import load_config
from gridppo.config.networks import NETWORKS
from gridppo.evaluation.protocol import (
    DEFAULT_BASELINES,
    evaluate_on_test_days,
    with_gap_to_optimum,
)
from gridppo.evaluation.simulate import EvalResult, paired_gap_percent

SMALL = {"time.train_days": 4, "time.validation_days": 2, "time.test_days": 3}


def test_every_policy_runs_the_same_test_days_and_is_compared_with_the_optimum() -> None:
    config = load_config(None, SMALL)
    results = evaluate_on_test_days(
        config, policies=[ConstantPolicy()], baselines=("optimum", "heuristic"), n_days=2
    )
    assert list(results) == ["constant", "optimum", "heuristic"]
    test_days = np.arange(6, 8)  # after 4 training and 2 validation days
    for result in results.values():
        np.testing.assert_array_equal(result.days, test_days)
        assert result.record is not None
    optimum = results["optimum"]
    assert optimum.kpis["gap_to_optimum_percent"] == 0.0
    for name in ("constant", "heuristic"):
        gap = results[name].kpis["gap_to_optimum_percent"]
        assert gap == pytest.approx(paired_gap_percent(results[name], optimum).mean())
        assert gap > 0.0  # the optimum is cheaper on these days
    assert set(DEFAULT_BASELINES) == {"optimum", "heuristic", "random"}


def test_without_the_optimum_there_is_no_gap() -> None:
    config = load_config(None, SMALL)
    results = evaluate_on_test_days(config, baselines=("random",), n_days=1)
    assert list(results) == ["random"]
    assert "gap_to_optimum_percent" not in results["random"].kpis


def test_the_gap_is_the_mean_of_the_daily_gaps() -> None:
    def fake(policy: str, costs: list[float]) -> EvalResult:
        cost = np.array(costs)
        return EvalResult(policy, {}, {}, {}, cost, np.arange(len(costs)))

    results = {"optimum": fake("optimum", [100.0, 200.0]), "mine": fake("mine", [110.0, 200.0])}
    assert with_gap_to_optimum(results) is results
    assert results["mine"].kpis["gap_to_optimum_percent"] == pytest.approx(5.0)
    alone = {"mine": fake("mine", [1.0])}
    assert with_gap_to_optimum(alone)["mine"].kpis == {}


@pytest.mark.parametrize("network", [n for n in NETWORKS if n != "case14"])
def test_every_baseline_runs_on_every_shipped_network(network: str) -> None:
    # case14 runs every baseline in tests/test_baselines_*. case118's day's optimum is a
    # QP with 162 agents and 186 branches at every step (about 40 s a day on two cores),
    # so it plans a day of 6 steps here.
    steps = ["time.steps_per_day=6", "train.rollout_steps=6"] if network == "case118" else []
    config = load_config(None, [f"grid.network={network}", *steps, *_small()])
    names = ("optimum", "heuristic", "random", "single_step_opf")
    results = evaluate_on_test_days(config, baselines=names, n_days=1)
    for result in results.values():
        assert all(np.isfinite(v) for v in result.kpis.values()), result.policy
    optimum = results["optimum"].kpis
    assert optimum["failed_days"] == 0 and optimum["unserved_energy_mwh"] == 0
    assert optimum["worst_loading_percent"] < 102.0
    # With every lever and the whole day known, the optimum is the cheapest.
    for name in ("heuristic", "random"):
        assert optimum["system_cost_eur"] < results[name].kpis["system_cost_eur"], name
        assert results[name].kpis["gap_to_optimum_percent"] > 0


def _small() -> list[str]:
    return [f"{key}={value}" for key, value in SMALL.items()]
