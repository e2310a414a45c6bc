"""The checker of assignment 03's reward experiment (gridppo.course.reward_experiment).

Two tiny runs are trained once per module; the checker must accept their right report
and name each usual slip in a wrong one: swapped runs, a percentage, a baseline's or the
validation days' value, the team reward, a made-up number, a wrong reading, a bad setup.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from gridppo.course.common import ExerciseError
from gridppo.course.reward_experiment import check_reward_experiment
from gridppo.evaluation.protocol import evaluate_on_test_days
from gridppo.training.trainer import TrainedPolicy, Trainer

# Tiny runs on a grid with tight branch limits, so that overloads happen at all.
COMMON = {
    "seed": 0,
    "train.total_updates": 2,
    "train.num_days": 4,
    "train.eval_interval": 1,
    "train.tensorboard": False,
    "time.validation_days": 2,
    "time.test_days": 2,
    "grid.max_loading_percent": 60.0,
}
RUNS = {
    "baseline": COMMON,
    "changed": {**COMMON, "reward.overload_penalty_eur_per_percent": 400.0},
}


@pytest.fixture(scope="module")
def summaries(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Each run as a student's notebook has it: its best.pt on the test days beside the
    baselines, and the validation days' KPIs best.pt was chosen by."""
    root = tmp_path_factory.mktemp("runs")
    out = {}
    for run, overrides in RUNS.items():
        trainer = Trainer.from_config(None, overrides, run_name=run, root=root)
        summary = trainer.train(progress_bar=False)
        policy, config = TrainedPolicy.from_checkpoint(Path(summary["checkpoint_dir"]) / "best.pt")
        results = evaluate_on_test_days(config, [policy], baselines=("heuristic", "random"))
        out[run] = {
            "test": {name: result.kpis for name, result in results.items()},
            "validation": summary["best_eval"],
        }
    return out


def report(summaries: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, float]]:
    return {
        run: {k: s["test"]["ippo"][k] for k in ("overload_rate", "system_cost_eur")}
        for run, s in summaries.items()
    }


def directions(summaries: Mapping[str, Mapping[str, Any]]) -> tuple[str, str]:
    def change(kpi: str, same: float) -> str:
        a, b = (summaries[run]["test"]["ippo"][kpi] for run in ("baseline", "changed"))
        return "same" if abs(b - a) < same * max(abs(a), 1) else ("higher" if b > a else "lower")

    return change("overload_rate", 1e-3), change("system_cost_eur", 5e-3)


def test_check_reward_experiment_accepts_a_right_report(summaries: dict) -> None:
    reported = report(summaries)
    assert reported["baseline"]["overload_rate"] > 0  # the mistakes below need overloads
    result = check_reward_experiment(reported, RUNS, *directions(summaries))
    assert result.startswith("Passed: your numbers match a re-run")
    rounded = {r: {k: round(v, 3) for k, v in kpis.items()} for r, kpis in reported.items()}
    assert check_reward_experiment(rounded, RUNS, *directions(summaries)).startswith("Passed")


def _swap(reported: dict) -> dict:
    return {"baseline": reported["changed"], "changed": reported["baseline"]}


def _percent(reported: dict) -> dict:
    out = {run: dict(kpis) for run, kpis in reported.items()}
    out["baseline"]["overload_rate"] *= 100
    return out


def _field(summaries: dict, run: str, kpi: str, source: Any) -> dict:
    out = report(summaries)
    out[run][kpi] = source(summaries[run])
    return out


@pytest.mark.parametrize(
    ("mistake", "message"),
    [
        (lambda s: _swap(report(s)), "did you swap the runs"),
        (lambda s: _percent(report(s)), "a share of steps in \\[0, 1\\], not a percentage"),
        (
            lambda s: _field(
                s,
                "changed",
                "system_cost_eur",
                lambda x: x["test"]["heuristic"]["system_cost_eur"],
            ),
            "the heuristic baseline's value",
        ),
        (
            lambda s: _field(
                s, "baseline", "system_cost_eur", lambda x: x["validation"]["system_cost_eur"]
            ),
            "that is the validation days' value",
        ),
        (
            lambda s: _field(
                s, "baseline", "system_cost_eur", lambda x: x["test"]["ippo"]["team_reward"]
            ),
            "that is the team reward",
        ),
        (
            lambda s: _field(
                s,
                "baseline",
                "system_cost_eur",
                lambda x: 1.2 * x["test"]["ippo"]["system_cost_eur"],
            ),
            "training it again gives",
        ),
    ],
    ids=["swapped", "percent", "baseline-value", "validation-value", "team-reward", "made-up"],
)
def test_check_reward_experiment_names_a_wrong_number(
    summaries: dict, mistake: Any, message: str
) -> None:
    with pytest.raises(ExerciseError, match=message):
        check_reward_experiment(mistake(summaries), RUNS, *directions(summaries))


def test_check_reward_experiment_checks_the_reading(summaries: dict) -> None:
    overload, cost = directions(summaries)
    wrong = "lower" if cost != "lower" else "higher"
    with pytest.raises(ExerciseError, match=f"counts as '{cost}', not '{wrong}'"):
        check_reward_experiment(report(summaries), RUNS, overload, wrong)
    with pytest.raises(ExerciseError, match="should be one of lower, higher, same"):
        check_reward_experiment(report(summaries), RUNS, "down", cost)


@pytest.mark.parametrize(
    ("runs", "reported", "message"),
    [
        ({"baseline": COMMON, "changed": COMMON}, None, "use the same overrides"),
        (
            {"baseline": COMMON, "changed": {**RUNS["changed"], "ppo.lr": 1e-3}},
            None,
            "differ in ppo.lr, reward.overload_penalty_eur_per_percent: change one",
        ),
        ({"baseline": COMMON, "changed": {**COMMON, "seed": 1}}, None, "differ in seed"),
        ({"only": COMMON}, None, "must hold two runs"),
        (
            RUNS,
            {"baseline": {"overload_rate": 0.1, "system_cost_eur": 1.0}},
            "no entry for run 'changed'",
        ),
        (
            RUNS,
            {"baseline": {"overload_rate": "0.1", "system_cost_eur": 1.0}, "changed": {}},
            "should be a number",
        ),
    ],
    ids=["no-change", "two-changes", "seed-changed", "one-run", "missing-run", "not-a-number"],
)
def test_check_reward_experiment_rejects_a_bad_setup(
    runs: dict, reported: Any, message: str
) -> None:
    reported = reported or {run: {"overload_rate": 0.0, "system_cost_eur": 1.0} for run in runs}
    with pytest.raises(ExerciseError, match=message):
        check_reward_experiment(reported, runs, "same", "same")


def test_check_reward_experiment_asks_for_the_report() -> None:
    # The handed-out notebook leaves `reported = None` for the student to fill in.
    with pytest.raises(ExerciseError, match="reported should be a dict: run name -> "):
        check_reward_experiment(None, RUNS, "same", "same")
