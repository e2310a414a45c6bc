"""Sweeps on Ray Tune: a real 2 x 2 sweep on a local Ray, run again, and resumed."""

from __future__ import annotations

import csv
import json
import logging
import shutil
import sys
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from helpers import TINY  # noqa: E402
from scipy import stats  # noqa: E402

from gridppo.config.fields import ConfigError  # noqa: E402
from gridppo.sweep.runner import (  # noqa: E402
    RAY_MISSING,
    TUNE_DIR,
    RayMissingError,
    SweepResult,
    run_sweep,
)
from gridppo.sweep.trial import RESULTS_FILE, TEST_KPIS, TRIALS_DIR  # noqa: E402

# TINY with fewer days: each trial solves the day's optimum once per test day.
SMALL = {
    **TINY,
    "time.train_days": 8,
    "time.validation_days": 1,
    "time.test_days": 1,
    "train.tensorboard": True,
}
VALUES = {"ppo.lr": [1e-3, 3e-4], "seed": [0, 1]}
NAMES = [
    "ppo.lr=0.001,seed=0",
    "ppo.lr=0.001,seed=1",
    "ppo.lr=0.0003,seed=0",
    "ppo.lr=0.0003,seed=1",
]


@pytest.fixture(scope="module")
def local_ray() -> Any:
    """One local Ray for the module (starting it takes seconds); run_sweep uses it."""
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.WARNING)
    yield ray
    ray.shutdown()


def sweep(directory: Path) -> SweepResult:
    """The module's sweep: two learning rates, two seeds, a tiny budget."""
    overrides = [f"{k}={v}" for k, v in SMALL.items()]
    return run_sweep(VALUES, overrides, directory=directory, name="lr", verbose=False)


@pytest.fixture(scope="module")
def first_run(local_ray: Any, tmp_path_factory: pytest.TempPathFactory) -> SweepResult:
    result = sweep(tmp_path_factory.mktemp("sweeps"))
    assert local_ray.is_initialized()  # a running Ray is used, and left running
    return result


def results_of(result: SweepResult, name: str) -> dict[str, Any]:
    return json.loads((result.sweep_dir / TRIALS_DIR / name / RESULTS_FILE).read_text())


def snapshot(result: SweepResult) -> dict[str, int]:
    """Every file of every trial, with its modification time."""
    trials = result.sweep_dir / TRIALS_DIR
    return {str(p.relative_to(trials)): p.stat().st_mtime_ns for p in trials.rglob("*")}


def test_each_trial_is_an_ordinary_run_tested_on_the_test_days(first_run: SweepResult) -> None:
    assert first_run.trials == NAMES and first_run.ran == NAMES
    assert first_run.failed == [] and first_run.unfinished == []
    for name in NAMES:
        folder = first_run.sweep_dir / TRIALS_DIR / name
        for file in ("metrics.csv", "config.yaml", "best.pt", "last.pt", RESULTS_FILE):
            assert (folder / file).is_file(), f"{name}/{file}"
        assert list(folder.glob("events.out.tfevents.*")), name
        results = results_of(first_run, name)
        assert list(results["kpis"]) == list(TEST_KPIS) and results["updates"] == 3
        lr, seed = results["setting"]["ppo.lr"], results["setting"]["seed"]
        assert name == f"ppo.lr={lr},seed={seed}"
        config = (folder / "config.yaml").read_text()
        assert f"lr: {lr}" in config and "torch_threads: 1" in config
        # What the trial reported to Ray Tune is what its results file holds.
        reported = json.loads((first_run.sweep_dir / TUNE_DIR / name / "result.json").read_text())
        assert reported["gap_to_optimum_percent"] == results["kpis"]["gap_to_optimum_percent"]


def test_the_summary_has_each_setting_with_its_interval_over_seeds(first_run: SweepResult) -> None:
    summary = first_run.summary
    assert [row.label for row in summary.rows] == ["ppo.lr=0.0003", "ppo.lr=0.001"]
    for row in summary.rows:
        lr = row.setting["ppo.lr"]
        for kpi in TEST_KPIS:
            per_seed = [results_of(first_run, f"ppo.lr={lr},seed={s}")["kpis"][kpi] for s in (0, 1)]
            half = stats.t.ppf(0.975, 1) * np.std(per_seed, ddof=1) / np.sqrt(2)
            mean = np.mean(per_seed)
            assert row.ci[kpi] == pytest.approx((mean, mean - half, mean + half)), kpi
    assert first_run.files["plot"] == first_run.sweep_dir / "summary_gap_to_optimum_percent.png"
    assert first_run.files["plot"].stat().st_size > 5000
    with open(first_run.files["csv"]) as handle:
        rows = list(csv.DictReader(handle))
    assert [row["ppo.lr"] for row in rows] == ["0.0003", "0.001"]
    assert first_run.files["markdown"].read_text().startswith("| setting |")


def test_the_same_sweep_again_redoes_nothing(first_run: SweepResult) -> None:
    before = snapshot(first_run)
    again = sweep(first_run.sweep_dir.parent)
    assert again.sweep_dir == first_run.sweep_dir
    assert again.ran == [] and again.trials == NAMES
    assert snapshot(again) == before
    assert again.summary.table() == first_run.summary.table()


def test_a_trial_killed_midway_resumes_from_its_last_checkpoint(first_run: SweepResult) -> None:
    name = "ppo.lr=0.0003,seed=1"
    folder = first_run.sweep_dir / TRIALS_DIR / name
    finished = results_of(first_run, name)
    rows = (folder / "metrics.csv").read_text().splitlines()
    assert len(rows) == 4  # the header and updates 1-3
    # Killed during update 3, after its metrics row and before last.pt was saved and
    # the trial was tested: last.pt holds update 2 and there are no results.
    (folder / RESULTS_FILE).unlink()
    shutil.copy(folder / "update_000002.pt", folder / "last.pt")
    others = {k: v for k, v in snapshot(first_run).items() if not k.startswith(name)}
    again = sweep(first_run.sweep_dir.parent)
    assert again.ran == [name] and again.failed == [] and again.unfinished == []
    resumed = results_of(again, name)
    assert resumed["resumed_from_update"] == 2 and resumed["updates"] == 3
    # Rows 1-2 are the first session's (their times too): update 3 alone ran again,
    # and a resumed run ends where the uninterrupted one did.
    after = (folder / "metrics.csv").read_text().splitlines()
    assert after[:3] == rows[:3] and len(after) == 4
    assert resumed["kpis"] == pytest.approx(finished["kpis"], rel=1e-6)
    assert {k: v for k, v in snapshot(again).items() if not k.startswith(name)} == others


def test_another_base_configuration_needs_another_folder(first_run: SweepResult) -> None:
    overrides = [f"{k}={v}" for k, v in {**SMALL, "ppo.gamma": 0.9}.items()]
    with pytest.raises(ConfigError, match="^ppo.gamma: differs from the configuration"):
        run_sweep(VALUES, overrides, directory=first_run.sweep_dir.parent, name="lr")


def test_without_ray_a_sweep_says_how_to_install_it(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # what `import ray` finds without Ray
    monkeypatch.setitem(sys.modules, "ray.tune", None)
    with pytest.raises(RayMissingError) as err:
        run_sweep({"seed": [0]}, directory=tmp_path)
    assert str(err.value) == RAY_MISSING == 'sweeps need Ray Tune: pip install "gridppo[sweep]"'
    assert list(tmp_path.iterdir()) == []  # nothing was started or written
