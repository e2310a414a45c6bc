"""Packaging and end-to-end use: dependency lists, imports, and the baselines."""

from __future__ import annotations

import re
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pytest
import yaml
from packaging.specifiers import SpecifierSet

from gridppo import BatchedGridEnv, PowerGrid
from gridppo.baselines.heuristic import HeuristicPolicy
from gridppo.baselines.random import RandomPolicy
from gridppo.baselines.registry import BASELINES
from gridppo.baselines.single_step_opf import SingleStepOPFPolicy
from gridppo.evaluation.simulate import run_days

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

REPO = Path(__file__).resolve().parents[1]
REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(.*?)\s*$")


def parse_requirement(text: str) -> tuple[str, str]:
    """Split ``"numpy>=1.24"`` into a normalised name and its version constraint."""
    match = REQUIREMENT.match(text.split(";")[0].split("#")[0])
    assert match, f"cannot parse requirement {text!r}"
    name = re.sub(r"[-_.]+", "-", match[1]).lower()
    return name, match[2].replace(" ", "")


def pyproject_requirements() -> dict[str, str]:
    """pyproject.toml's dependencies plus its ``dev`` and ``sweep`` extras (what ``make``
    installs), name -> constraint."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    listed = [*project["dependencies"], *extras["dev"], *extras["sweep"]]
    return dict(parse_requirement(r) for r in listed)


def conda_requirements() -> dict[str, str]:
    """environment.yml's conda and pip dependencies, name -> constraint."""
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    listed = []
    for entry in env["dependencies"]:
        if isinstance(entry, dict):
            listed += entry["pip"]
        else:
            listed.append(entry)
    out = dict(parse_requirement(r) for r in listed)
    out.pop("python")
    out.pop("pip")
    return out


def test_environment_yml_and_pyproject_list_the_same_packages() -> None:
    pip, conda = pyproject_requirements(), conda_requirements()
    assert sorted(pip) == sorted(conda), (
        f"only in pyproject: {sorted(set(pip) - set(conda))}; "
        f"only in environment.yml: {sorted(set(conda) - set(pip))}"
    )
    assert {"numpy", "pandapower", "lightsim2grid", "pettingzoo", "hypothesis"} <= set(pip)


def test_environment_yml_and_pyproject_agree_on_versions() -> None:
    pip, conda = pyproject_requirements(), conda_requirements()
    differ = {
        name: (pip[name], conda[name])
        for name in pip
        if pip[name] != conda.get(name) and name != "torch"
    }
    assert not differ, f"version constraints differ (pyproject, environment.yml): {differ}"


def test_install_paths_pin_the_cpu_torch_the_package_accepts() -> None:
    # The package accepts a range; both install paths pin the one CI runs (a CPU build).
    accepted = SpecifierSet(pyproject_requirements()["torch"])
    pinned = conda_requirements()["torch"]
    makefile = (REPO / "Makefile").read_text()
    assert pinned == "==2.13.0"
    assert f"TORCH_PIN := torch{pinned}" in makefile
    assert "2.13.0" in accepted and "2.3.0" not in accepted
    assert version("torch").split("+")[0] in accepted


def test_the_documented_import_works_in_a_fresh_interpreter() -> None:
    code = "from gridppo import load_config, PowerGrid, GridEnv; print(GridEnv.metadata['name'])"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "gridppo_v0"


def test_every_baseline_has_a_name_the_cli_accepts(grid: PowerGrid) -> None:
    from gridppo.cli import build_parser

    assert set(BASELINES) == {"random", "heuristic", "single_step_opf", "optimum"}
    for name in BASELINES:
        args = build_parser().parse_args(["simulate", "--policy", name])
        assert args.policy == name
    with pytest.raises(SystemExit):
        build_parser().parse_args(["simulate", "--policy", "opf"])


@pytest.fixture(scope="module")
def held_out_env(grid: PowerGrid) -> BatchedGridEnv:
    """A non-resetting environment with one row per test day."""
    days = len(grid.profiles.test_days)
    return BatchedGridEnv(grid=grid, batch_size=days, mode="test", autoreset=False)


def test_heuristic_beats_random_on_the_test_days(held_out_env: BatchedGridEnv) -> None:
    random_result = run_days(RandomPolicy(seed=0), held_out_env)
    heuristic_result = run_days(HeuristicPolicy(held_out_env), held_out_env)
    np.testing.assert_array_equal(heuristic_result.days, held_out_env.grid.profiles.test_days)
    assert heuristic_result.kpis["failed_days"] == 0
    assert heuristic_result.kpis["system_cost_eur"] < random_result.kpis["system_cost_eur"]
    # Day by day, not just on average.
    assert (heuristic_result.per_day_cost_eur < random_result.per_day_cost_eur).mean() >= 0.8
    assert all(np.isfinite(v) for v in heuristic_result.kpis.values())


class NeutralPolicy:
    """Every action 0: producers at half output and their neutral voltage setpoints,
    nothing shed, batteries idle."""

    name = "neutral"

    def act(self, observations: dict[str, np.ndarray], env: BatchedGridEnv) -> dict:
        return {
            name: np.zeros((env.batch_size, space.shape[0]))
            for name, space in env.action_spaces.items()
        }


def test_random_voltage_setpoints_violate_the_band_and_neutral_ones_do_not(
    held_out_env: BatchedGridEnv,
) -> None:
    """The producers' voltage actions matter: random setpoints push some bus outside
    the voltage band on some test-day steps, while the neutral setpoints keep every
    bus inside it all day."""
    neutral = run_days(NeutralPolicy(), held_out_env, record=True)
    random_result = run_days(RandomPolicy(seed=0), held_out_env, record=True)
    assert neutral.kpis["voltage_violation_rate"] == 0.0
    assert neutral.kpis["failed_days"] == 0
    np.testing.assert_array_equal(neutral.record.metrics["voltage_violations"], 0)
    assert random_result.kpis["voltage_violation_rate"] > 0.0
    assert (random_result.record.metrics["voltage_violations"] > 0).any()
    # The random days run to their end: the violations are voltages, not failures.
    assert random_result.kpis["failed_days"] == 0


def test_opf_policy_returns_actions_in_range(grid: PowerGrid) -> None:
    env = BatchedGridEnv(grid=grid, batch_size=1, mode="validation", autoreset=False)
    obs, _ = env.reset(days=[int(grid.profiles.validation_days[0])])
    policy = SingleStepOPFPolicy(env)
    for _ in range(2):
        actions = policy.act(obs, env)
        assert set(actions) == set(env.agents)
        for name, action in actions.items():
            assert action.shape == (1, env.action_spaces[name].shape[0])
            assert np.isfinite(action).all()
            assert (np.abs(action) <= 1.0).all()
        obs, *_ = env.step(actions)
    assert policy.failures == 0
