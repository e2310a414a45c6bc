"""Packaging and end-to-end use: dependency lists, imports, the CLI, and the baselines."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from gridppo import BatchedGridEnv, PowerGrid
from gridppo.cli import main
from gridppo.policies import HeuristicPolicy, OPFPolicy, RandomPolicy
from gridppo.simulate import KPI_NAMES, run_days

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
    """pyproject.toml's dependencies plus its ``dev`` extra, name -> constraint."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    listed = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
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
    differ = {name: (pip[name], conda[name]) for name in pip if pip[name] != conda.get(name)}
    assert not differ, f"version constraints differ (pyproject, environment.yml): {differ}"


def test_the_documented_import_works_in_a_fresh_interpreter() -> None:
    code = "from gridppo import load_config, PowerGrid, GridEnv; print(GridEnv.metadata['name'])"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "gridppo_v0"


def test_cli_simulate_prints_kpis_and_plots(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plot = tmp_path / "plots" / "day.png"
    code = main(["simulate", "--policy", "random", "--days", "1", "--plot", str(plot)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    for kpi in KPI_NAMES:
        assert kpi in captured.out
    assert "random" in captured.out
    assert plot.is_file() and plot.stat().st_size > 1000


@pytest.fixture(scope="module")
def eval_env(grid: PowerGrid) -> BatchedGridEnv:
    """A non-resetting environment with one row per evaluation day."""
    days = len(grid.profiles.eval_days)
    return BatchedGridEnv(grid=grid, batch_size=days, mode="eval", autoreset=False)


def test_heuristic_beats_random_on_the_evaluation_days(eval_env: BatchedGridEnv) -> None:
    random_result = run_days(RandomPolicy(seed=0), eval_env)
    heuristic_result = run_days(HeuristicPolicy(eval_env), eval_env)
    assert heuristic_result.kpis["nonconverged_steps"] == 0
    assert heuristic_result.kpis["system_cost_eur"] < random_result.kpis["system_cost_eur"]
    # Day by day, not just on average.
    assert (heuristic_result.per_day_cost_eur < random_result.per_day_cost_eur).mean() >= 0.8
    assert all(np.isfinite(v) for v in heuristic_result.kpis.values())


def test_opf_policy_returns_actions_in_range(grid: PowerGrid) -> None:
    env = BatchedGridEnv(grid=grid, batch_size=1, mode="eval", autoreset=False)
    obs, _ = env.reset(days=[int(grid.profiles.eval_days[0])])
    policy = OPFPolicy(env)
    for _ in range(2):
        actions = policy.act(obs, env)
        assert set(actions) == set(env.agents)
        for name, action in actions.items():
            assert action.shape == (1, env.action_spaces[name].shape[0])
            assert np.isfinite(action).all()
            assert (np.abs(action) <= 1.0).all()
        obs, *_ = env.step(actions)
    assert policy.failures == 0
