"""Assignment 03: the checker of the reward-design experiment.

:func:`check_reward_experiment` trains the student's two runs again (training and
evaluation are deterministic for a given seed), evaluates each run's ``best.pt`` on the
test days, and compares the reported numbers and the reading of them with the re-run.
A reported number that does not match is compared with the usual slips: a percentage
instead of a share, swapped runs, a baseline's value, the validation days' value, the
team reward instead of the system cost.
"""

from __future__ import annotations

import copy
import math
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gridppo.config.fields import ConfigError
from gridppo.course.common import ExerciseError, Passed
from gridppo.evaluation.protocol import evaluate_on_test_days
from gridppo.training.trainer import TrainedPolicy, Trainer

__all__ = ["EXPERIMENT_KPIS", "CHANGES", "check_reward_experiment"]

# The test-day KPIs a student reports for each run.
EXPERIMENT_KPIS = ("overload_rate", "system_cost_eur")
# How the changed run may compare with the baseline, KPI by KPI.
CHANGES = ("lower", "higher", "same")
# Two runs whose test-day KPIs differ by less than this count as "the same": the overload
# rate by less than one step in a thousand, the cost by 0.5 %.
_SAME = {"overload_rate": 1e-3, "system_cost_eur": 5e-3}
# The baselines a re-run is compared with, to recognise a baseline's number when a student
# reports one (the optimum is left out: it takes seconds per run and nobody mistakes it).
_RERUN_BASELINES = ("heuristic", "random")


# Each re-run, by its overrides and config, so checking again after fixing a typo in the
# report does not train again.
_RERUNS: dict[str, dict[str, Any]] = {}


def _rerun(overrides: Mapping[str, Any], config: Any) -> dict[str, Any]:
    """Train one run again, quietly, in a temporary folder, and evaluate its ``best.pt``
    on the test days. Returns ``{"test": {policy: KPIs}, "validation": KPIs}``: the
    trained policy (``"ippo"``) and the baselines on the test days, and the validation
    days' KPIs of the update ``best.pt`` holds."""
    key = repr((sorted((str(k), repr(v)) for k, v in overrides.items()), repr(config)))
    if key not in _RERUNS:
        with tempfile.TemporaryDirectory() as root:
            trainer = Trainer.from_config(config, overrides=dict(overrides), root=root)
            summary = trainer.train(progress_bar=False)
            policy, cfg = TrainedPolicy.from_checkpoint(Path(trainer.checkpoint_dir) / "best.pt")
        results = evaluate_on_test_days(cfg, policies=[policy], baselines=_RERUN_BASELINES)
        _RERUNS[key] = {
            "test": {name: dict(result.kpis) for name, result in results.items()},
            "validation": dict(summary["best_eval"]),
        }
    return copy.deepcopy(_RERUNS[key])


def _direction(kpi: str, before: float, after: float) -> str:
    """``"lower"``, ``"higher"`` or ``"same"`` (within :data:`_SAME`): ``after`` vs ``before``."""
    if kpi == "overload_rate":
        same = abs(after - before) < _SAME[kpi]
    else:
        same = abs(after - before) < _SAME[kpi] * max(abs(before), 1.0)
    if same:
        return "same"
    return "higher" if after > before else "lower"


def _number_hint(kpi: str, given: float, run: str, reruns: dict[str, dict[str, Any]]) -> str:
    """Why a reported number may differ from the re-run: the usual slips."""
    test = reruns[run]["test"]
    expected = test["ippo"][kpi]

    def near(a: float, b: float) -> bool:
        return math.isclose(a, b, rel_tol=1e-3, abs_tol=1e-3)

    if kpi == "overload_rate" and near(given, 100.0 * expected) and expected > 0:
        return "the overload rate is a share of steps in [0, 1], not a percentage"
    for other, rerun in reruns.items():
        if other != run and near(given, rerun["test"]["ippo"][kpi]) and not near(given, expected):
            return f"that is the value of run {other!r}: did you swap the runs?"
    for baseline, kpis in test.items():
        if baseline != "ippo" and near(given, kpis[kpi]) and not near(given, expected):
            return (
                f"that is the {baseline} baseline's value; report your trained policy's, "
                "results[run]['ippo'].kpis"
            )
    validation = reruns[run]["validation"]
    if kpi in validation and near(given, validation[kpi]) and not near(given, expected):
        return (
            "that is the validation days' value, which chose best.pt; report best.pt on "
            "the test days, results[run]['ippo'].kpis"
        )
    if kpi == "system_cost_eur" and near(given, test["ippo"]["team_reward"]):
        return (
            "that is the team reward; the system cost is "
            "results[run]['ippo'].kpis['system_cost_eur']"
        )
    if kpi == "system_cost_eur" and near(given, -expected):
        return "the system cost is a cost (positive EUR per day): check the sign"
    return "read it from results[run]['ippo'].kpis, best.pt of that run on the test days"


def check_reward_experiment(
    reported: Mapping[str, Mapping[str, float]],
    overrides_by_run: Mapping[str, Mapping[str, Any]],
    overload_change: str,
    cost_change: str,
    config: Any = None,
) -> Passed:
    """Check the reward-design experiment of assignment 03 by training both runs again.

    Arguments:
        reported: run name -> ``{"overload_rate": ..., "system_cost_eur": ...}`` of the
            run's ``best.pt`` on the test days (``evaluate_on_test_days`` with the
            policy and config of ``TrainedPolicy.from_checkpoint``: the KPIs of its
            ``"ippo"`` result).
        overrides_by_run: run name -> the exact overrides passed to
            :meth:`Trainer.from_config` (two runs: the baseline first, then the changed
            one).
        overload_change, cost_change: how the changed run compares with the baseline,
            each ``"lower"``, ``"higher"`` or ``"same"`` (the overload rate within
            0.001, the cost within 0.5 %).
        config: the config source both runs used (None: the default).

    The two runs must differ in one ``reward.*`` setting and nothing else (one change at
    a time). Training and evaluation are deterministic for a given seed, so the re-run's
    numbers must match the reported ones to 0.1 % (the rate to 0.001); a mismatch names
    the usual slip: a percentage instead of a share, swapped runs, a baseline's value,
    the validation days' value instead of the test days', the team reward instead of
    the system cost.
    """
    runs = list(overrides_by_run)
    if len(runs) != 2:
        raise ExerciseError(
            f"overrides_by_run must hold two runs (the baseline, then the changed one), got "
            f"{len(runs)}: {runs}"
        )
    base_run, changed_run = runs
    base, changed = dict(overrides_by_run[base_run]), dict(overrides_by_run[changed_run])
    differ = sorted(k for k in {*base, *changed} if base.get(k) != changed.get(k))
    if not differ:
        raise ExerciseError(
            f"runs {base_run!r} and {changed_run!r} use the same overrides: change one "
            "reward setting in the second, e.g. reward.overload_penalty_eur_per_percent"
        )
    not_reward = [k for k in differ if not k.startswith("reward.")]
    if not_reward or len(differ) > 1:
        raise ExerciseError(
            f"runs {base_run!r} and {changed_run!r} differ in {', '.join(differ)}: change one "
            "reward.* setting and nothing else, or you cannot tell which change caused "
            "what you see"
        )
    if not isinstance(reported, Mapping):
        raise ExerciseError(
            "reported should be a dict: run name -> {'overload_rate': ..., "
            f"'system_cost_eur': ...}}, got {type(reported).__name__}"
        )
    for run in runs:
        if run not in reported:
            raise ExerciseError(f"reported has no entry for run {run!r}")
        for kpi in EXPERIMENT_KPIS:
            value = reported[run].get(kpi) if isinstance(reported[run], Mapping) else None
            if value is None or isinstance(value, bool) or not isinstance(value, int | float):
                raise ExerciseError(f"reported[{run!r}][{kpi!r}] should be a number, got {value!r}")
    for name, answer in (("overload_change", overload_change), ("cost_change", cost_change)):
        if answer not in CHANGES:
            raise ExerciseError(f"{name} should be one of {', '.join(CHANGES)}, got {answer!r}")
    try:
        reruns = {run: _rerun(overrides_by_run[run], config) for run in runs}
    except ConfigError as err:
        raise ExerciseError(f"the run's overrides are not a valid config: {err}") from None
    for run in runs:
        for kpi in EXPERIMENT_KPIS:
            given = float(reported[run][kpi])
            expected = reruns[run]["test"]["ippo"][kpi]
            ok = (
                abs(given - expected) <= 1e-3
                if kpi == "overload_rate"
                else math.isclose(given, expected, rel_tol=1e-3, abs_tol=1.0)
            )
            if not ok:
                raise ExerciseError(
                    f"you report {kpi} = {given:,.4g} for run {run!r}, but training it again "
                    f"gives {expected:,.4g} on the test days: "
                    f"{_number_hint(kpi, given, run, reruns)}"
                )
    for kpi, answer in (("overload_rate", overload_change), ("system_cost_eur", cost_change)):
        before = reruns[base_run]["test"]["ippo"][kpi]
        after = reruns[changed_run]["test"]["ippo"][kpi]
        truth = _direction(kpi, before, after)
        if answer != truth:
            raise ExerciseError(
                f"{kpi} goes from {before:,.4g} ({base_run}) to {after:,.4g} "
                f"({changed_run}), which counts as {truth!r}, not {answer!r}"
            )
    (key,) = differ
    said = {"lower": "lower than", "higher": "higher than", "same": "the same as"}
    return Passed(
        f"Passed: your numbers match a re-run; with {key} = {changed.get(key)} the overload "
        f"rate on the test days is {said[overload_change]} in {base_run!r} and the system "
        f"cost is {said[cost_change]} in {base_run!r}."
    )
