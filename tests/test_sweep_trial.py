"""A sweep's trials without Ray: --values, trial names, the plan, the sweep's folder, one trial."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandapower as pp
import pandapower.networks as pn
import pytest
from helpers import TINY

from gridppo.config.fields import ConfigError, parse_settings
from gridppo.sweep.trial import (
    RESULTS_FILE,
    SWEEP_FILE,
    TEST_KPIS,
    TRIALS_DIR,
    check_sweep_dir,
    parse_values,
    plan_sweep,
    read_trial_results,
    run_trial,
    setting_name,
)

# TINY with fewer days: each trial solves the day's optimum once per test day.
SMALL = {**TINY, "time.train_days": 8, "time.validation_days": 1, "time.test_days": 1}


def test_values_read_like_set_values() -> None:
    values = parse_values(["ppo.lr=1e-3,3e-4", "seed=0,1,2", "ppo.parameter_sharing=none,per_type"])
    assert values == {
        "ppo.lr": [0.001, 0.0003],
        "seed": [0, 1, 2],
        "ppo.parameter_sharing": ["none", "per_type"],
    }
    assert isinstance(values["seed"][0], int)


def test_values_keep_commas_inside_brackets_and_drop_repeats() -> None:
    values = parse_values(["ppo.hidden_sizes=[64,64],[32]", "seed=1,1,2"])
    assert values == {"ppo.hidden_sizes": [[64, 64], [32]], "seed": [1, 2]}


def test_values_from_a_dict_accept_numpy() -> None:
    values = parse_values({"ppo.lr": np.array([1e-3, 1e-4]), "seed": range(2), "ppo.gamma": 0.9})
    assert values == {"ppo.lr": [0.001, 0.0001], "seed": [0, 1], "ppo.gamma": [0.9]}
    assert type(values["ppo.lr"][0]) is float


@pytest.mark.parametrize(
    "items, message",
    [
        (["ppo.lr"], "a setting must look like KEY=VALUE"),
        (["ppo.lr=1,seed=2"], "one key per --values"),
        (["seed=0", "seed=1"], "seed: swept twice"),
        ([], "nothing to sweep"),
    ],
)
def test_bad_values_raise_one_line_config_errors(items: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as err:
        parse_values(items)
    assert "\n" not in str(err.value)


def test_a_setting_names_its_folder_and_reads_back() -> None:
    setting = {"seed": 0, "train.num_days": 8, "ppo.lr": 0.001, "ppo.anneal_lr": True}
    name = setting_name(setting)
    assert name == "ppo.anneal_lr=true,ppo.lr=0.001,train.num_days=8,seed=0"
    assert parse_settings(name.split(",")) == setting
    assert setting_name({"ppo.hidden_sizes": [64, 64]}) == "ppo.hidden_sizes=[64,64]"
    assert "/" not in setting_name({"time.profiles_csv": "data/days.csv"})


def test_the_plan_is_the_grid_with_every_config_checked() -> None:
    plan = plan_sweep({"ppo.lr": [1e-3, 3e-4, 1e-4], "seed": [0, 1]}, ["train.num_days=4"])
    assert [t.name for t in plan.trials] == [
        f"ppo.lr={lr},seed={seed}" for lr in ("0.001", "0.0003", "0.0001") for seed in (0, 1)
    ]
    trial = plan.trials[3]
    assert trial.setting == {"ppo.lr": 0.0003, "seed": 1}
    assert trial.config["ppo"]["lr"] == 0.0003 and trial.config["seed"] == 1
    assert trial.config["train"]["num_days"] == 4
    # One folder per trial under SWEEP/trials, one torch thread each unless told otherwise.
    assert trial.config["train"]["log_dir"] == trial.config["train"]["checkpoint_dir"] == TRIALS_DIR
    assert trial.config["train"]["torch_threads"] == 1
    assert plan.base["ppo"]["lr"] != 0.0003 and plan.base["seed"] == 0
    threads = plan_sweep({"seed": [0]}, ["train.torch_threads=2"], torch_threads=1)
    assert threads.trials[0].config["train"]["torch_threads"] == 2


@pytest.mark.parametrize(
    "values, overrides, message",
    [
        ({"ppo.lrr": [1e-3]}, [], "ppo.lrr: unknown key (did you mean 'ppo.lr'?)"),
        ({"ppo.lr": [1e-3, -1.0]}, [], "ppo.lr: must be"),
        ({"seed": [0]}, ["seed=1"], "seed: given both to --values and --set"),
    ],
)
def test_a_bad_key_or_value_fails_before_anything_runs(values, overrides, message) -> None:
    with pytest.raises(ConfigError) as err:
        plan_sweep(values, overrides)
    assert message in str(err.value)


def test_random_search_draws_the_same_settings_each_time_with_every_seed() -> None:
    values = {"ppo.lr": [1e-3, 3e-4, 1e-4, 3e-5], "ppo.gamma": [0.9, 0.99], "seed": [0, 1]}
    first = [t.name for t in plan_sweep(values, samples=3).trials]
    assert first == [t.name for t in plan_sweep(values, samples=3).trials]
    settings = {name.rsplit(",seed=", 1)[0] for name in first}
    assert len(first) == 6 and len(settings) == 3
    assert all(f"{s},seed={seed}" in first for s in settings for seed in (0, 1))
    assert len(plan_sweep(values, samples=100).trials) == 16  # more than the grid: the grid
    with pytest.raises(ConfigError, match="--samples: must be at least 1"):
        plan_sweep(values, samples=0)


def test_profile_paths_are_made_absolute(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "days.csv").write_text("")
    plan = plan_sweep({"seed": [0]}, ["time.profiles_csv=days.csv"])
    assert plan.base["time"]["profiles_csv"] == str(tmp_path / "days.csv")


def test_a_sweep_folder_keeps_one_base_configuration(tmp_path: Path) -> None:
    plan = plan_sweep({"seed": [0, 1]}, ["ppo.gamma=0.95"])
    check_sweep_dir(tmp_path, plan)
    stored = json.loads((tmp_path / SWEEP_FILE).read_text())
    assert stored["trials"] == ["seed=0", "seed=1"] and stored["base"]["ppo"]["gamma"] == 0.95
    # More seeds, or more CPUs per trial: the same sweep, continued.
    check_sweep_dir(tmp_path, plan_sweep({"seed": [2]}, ["ppo.gamma=0.95"], torch_threads=2))
    stored = json.loads((tmp_path / SWEEP_FILE).read_text())
    assert stored["trials"] == ["seed=0", "seed=1", "seed=2"]
    assert stored["values"] == {"seed": [0, 1, 2]}
    with pytest.raises(ConfigError) as err:
        check_sweep_dir(tmp_path, plan_sweep({"seed": [0]}, ["ppo.gamma=0.9"]))
    assert str(err.value).startswith("ppo.gamma: differs from the configuration of the sweep in")


def test_a_trial_trains_tests_best_pt_and_then_stays_finished(tmp_path: Path) -> None:
    plan = plan_sweep({"seed": [3]}, {**SMALL, "train.tensorboard": True})
    trial = plan.trials[0]
    folder = tmp_path / TRIALS_DIR / trial.name
    assert read_trial_results(folder) is None
    results = run_trial(trial, tmp_path)
    for name in ("metrics.csv", "config.yaml", "best.pt", "last.pt", RESULTS_FILE):
        assert (folder / name).is_file(), name
    assert list(folder.glob("events.out.tfevents.*"))
    assert results == read_trial_results(folder)
    assert results["setting"] == {"seed": 3} and results["trial"] == "seed=3"
    assert list(results["kpis"]) == list(TEST_KPIS)
    assert (
        results["kpis"]["gap_to_optimum_percent"] == results["test_kpis"]["gap_to_optimum_percent"]
    )
    assert results["optimum_kpis"]["system_cost_eur"] > 0
    assert results["test_days"] == 1 and results["updates"] == 3
    assert results["resumed_from_update"] == 0
    # The gap is the trained policy's cost against the optimum's, on the same test day.
    cost, optimum = results["kpis"]["system_cost_eur"], results["optimum_kpis"]["system_cost_eur"]
    assert results["kpis"]["gap_to_optimum_percent"] == pytest.approx(100 * (cost / optimum - 1))
    before = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    # A finished trial is not trained again (here even a plain dict of it, as Ray passes it).
    again = run_trial({"name": trial.name, "setting": trial.setting, "config": {}}, tmp_path)
    assert again == results
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == before


def test_a_relative_network_file_is_made_absolute(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    pp.to_json(pn.create_cigre_network_mv(with_der=False), "mv.json")
    plan = plan_sweep({"seed": [0]}, ["grid.network=mv.json"])
    assert plan.trials[0].config["grid"]["network"] == str(tmp_path / "mv.json")
