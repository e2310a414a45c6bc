"""The evaluation protocol: every reported number comes from the test days.

Training sees the training days; :class:`gridppo.training.trainer.Trainer` chooses
``best.pt`` on the validation days; the functions here run a trained policy and the
baselines on the *test* days, which chose nothing, and compare each with the day's
optimum (:mod:`gridppo.baselines.optimum`) day by day. The optimum knows the whole day
in advance (perfect foresight), while the agents see a few steps of price forecast: the
gap to it is the price of not knowing the future plus the price of learning. The
optimum is not a strict lower bound in AC, though: it keeps every branch a little below
its limit, leaves the voltage setpoints at their neutral values and prices the losses
with an approximation (resistive losses at 1 p.u., no reactive flow), so an agent may
come out slightly cheaper; a clearly negative gap would point to a flaw in the model or
the optimum.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gridppo.baselines.registry import make_baseline
from gridppo.env import BatchedGridEnv
from gridppo.evaluation.simulate import EvalResult, paired_gap_percent, run_days

__all__ = ["DEFAULT_BASELINES", "evaluate_on_test_days", "with_gap_to_optimum"]

DEFAULT_BASELINES = ("optimum", "heuristic", "random")


def evaluate_on_test_days(
    config: dict[str, Any],
    policies: list[Any] = (),
    baselines: tuple[str, ...] = DEFAULT_BASELINES,
    n_days: int | None = None,
) -> dict[str, EvalResult]:
    """Run ``policies`` (objects with ``act(observations, env)`` and a ``name``) and the
    named ``baselines`` on the first ``n_days`` test days (default: all of them).

    Returns ``{name: EvalResult}``, in the order given, each KPI dict completed with
    ``gap_to_optimum_percent`` when the optimum is among the baselines.
    """
    first = config["time"]["train_days"] + config["time"]["validation_days"]
    test_days = first + np.arange(config["time"]["test_days"])
    if n_days is not None:
        test_days = test_days[:n_days]
    env = BatchedGridEnv(config, batch_size=len(test_days), mode="test", autoreset=False)
    results: dict[str, EvalResult] = {}
    for policy in policies:
        results[policy.name] = run_days(policy, env, days=test_days, record=True)
    for name in baselines:
        policy = make_baseline(name, env, seed=config["seed"])
        results[name] = run_days(policy, env, days=test_days, record=True)
    return with_gap_to_optimum(results)


def with_gap_to_optimum(results: dict[str, EvalResult]) -> dict[str, EvalResult]:
    """Add ``gap_to_optimum_percent`` (mean of the day-by-day gaps of system cost) to
    every result's KPIs, if ``results`` holds the optimum; returns ``results``."""
    optimum = results.get("optimum")
    if optimum is not None:
        for result in results.values():
            gaps = paired_gap_percent(result, optimum)
            result.kpis["gap_to_optimum_percent"] = float(gaps.mean())
    return results
