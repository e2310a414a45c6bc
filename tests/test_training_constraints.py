"""Safety-constrained IPPO (gridppo.training.constraints): the grid's limits priced by
learned Lagrange multipliers, logged, checkpointed and resumed."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from helpers import TINY

from gridppo import BatchedGridEnv, PowerGrid, Trainer, load_config
from gridppo.config.fields import ConfigError
from gridppo.grid.penalty import VIOLATIONS
from gridppo.training.constraints import CONSTRAINT_LOG_KEYS, GridConstraints

LAGRANGIAN = {"ppo.constraint": "lagrangian"}


def steps_with_violations(config: dict, steps: int = 6):
    """(rewards, info) of a few steps of strong random actions on the default grid, some
    of which overload a branch or leave the voltage band."""
    env = BatchedGridEnv(grid=PowerGrid(config), batch_size=8)
    env.reset(seed=0)
    rng = np.random.default_rng(1)
    out = []
    for _ in range(steps):
        actions = {a: rng.uniform(-1, 1, s.shape) for a, s in env.action_spaces.items()}
        actions = {a: np.broadcast_to(v, (8, *v.shape)).copy() for a, v in actions.items()}
        _, rewards, _, _, info = env.step(actions)
        out.append((rewards, info))
    return out


def test_violations_are_what_the_fixed_penalty_prices():
    config = load_config()
    steps = steps_with_violations(config)
    assert any(info["violations"]["overload_percent"].any() for _, info in steps)
    assert any(info["violations"]["voltage_pu"].any() for _, info in steps)
    reward = config["reward"]
    for _, info in steps:
        v, parts = info["violations"], info["penalty_eur"]
        overload_price = reward["overload_penalty_eur_per_percent"]
        np.testing.assert_allclose(parts["overload_eur"], overload_price * v["overload_percent"])
        np.testing.assert_allclose(
            parts["voltage_eur"], reward["voltage_penalty_eur_per_pu"] * v["voltage_pu"]
        )


@pytest.mark.parametrize("weight", [1.0, 0.5])
def test_multipliers_replace_the_fixed_prices_in_every_reward(weight):
    """Starting at 1 (the fixed penalty, whatever its weight w) gives back the
    environment's reward exactly; at 0 removes the voltage and overload parts."""
    for init, removed in ((1.0, 0.0), (0.0, weight)):
        config = load_config(
            None,
            {**LAGRANGIAN, "ppo.lagrange_init": init, "reward.grid_penalty_weight": weight},
        )
        constraints = GridConstraints(config)
        for rewards, info in steps_with_violations(config):
            shaped = constraints.shape(rewards, info["violations"])
            parts = info["penalty_eur"]
            back = removed * (parts["overload_eur"] + parts["voltage_eur"])
            for agent, reward in rewards.items():
                np.testing.assert_allclose(shaped[agent], reward + back, rtol=1e-12)


def test_prices_rise_while_a_limit_is_broken_and_fall_while_it_holds():
    config = load_config(
        None,
        {**LAGRANGIAN, "ppo.overload_limit_percent": 1.0, "ppo.voltage_limit_pu": 0.01},
    )
    constraints = GridConstraints(config)
    price = config["reward"]["overload_penalty_eur_per_percent"]
    # Mean overload 3 % against a limit of 1 %: up by lr * price * 2 % (multiples of price).
    constraints.shape({"a": np.zeros(2)}, {"overload_percent": np.array([2.0, 4.0]),
                                           "voltage_pu": np.zeros(2)})  # fmt: skip
    log = constraints.update()
    assert set(log) == set(CONSTRAINT_LOG_KEYS)
    assert log["constraint/overload_percent"] == pytest.approx(3.0)
    step = config["ppo"]["lagrange_lr"] * price * 2.0
    assert log["constraint/overload_price_eur_per_percent"] == pytest.approx(price * (1 + step))
    # No voltage violation against a limit of 0.01 p.u.: the voltage price falls.
    voltage_price = config["reward"]["voltage_penalty_eur_per_pu"]
    assert log["constraint/voltage_price_eur_per_pu"] < voltage_price
    assert list(constraints.state_dict()["names"]) == list(VIOLATIONS)


def test_a_lagrangian_run_logs_checkpoints_and_resumes_its_multipliers(tmp_path):
    config = {**TINY, **LAGRANGIAN, "train.total_updates": 4}
    whole = Trainer.from_config(None, config, run_name="whole", root=tmp_path)
    whole.train(progress_bar=False)
    half = Trainer.from_config(None, config, run_name="half", root=tmp_path)
    half.train(total_updates=2, progress_bar=False)
    resumed = Trainer.resume(half.checkpoint_dir / "last.pt")
    assert resumed.learners.constraints.multipliers.values.tolist() == (
        half.learners.constraints.multipliers.values.tolist()
    )
    resumed.train(progress_bar=False)
    np.testing.assert_array_equal(
        resumed.learners.constraints.multipliers.values,
        whole.learners.constraints.multipliers.values,
    )
    with open(resumed.log_dir / "metrics.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    with open(whole.log_dir / "metrics.csv", newline="") as handle:
        expected = list(csv.DictReader(handle))
    assert len(rows) == 4
    for row, want in zip(rows, expected, strict=True):
        for key in CONSTRAINT_LOG_KEYS:
            assert row[key] == want[key] != ""
    # The prices moved from the fixed ones (the agents explore into violations).
    assert float(rows[-1]["constraint/overload_price_eur_per_percent"]) != 1000.0
    # A checkpoint of an unconstrained run does not fit a constrained one.
    plain = Trainer.from_config(None, {**TINY, "train.total_updates": 1}, run_name="p",
                                root=tmp_path)  # fmt: skip
    with pytest.raises(ValueError, match="constrained"):
        half.learners.load_state_dict(plain.learners.state_dict())


def test_a_zero_price_cannot_be_learned_from_and_is_refused():
    with pytest.raises(ConfigError, match="overload_penalty_eur_per_percent: must be above 0"):
        load_config(None, {**LAGRANGIAN, "reward.overload_penalty_eur_per_percent": 0.0})
    load_config(None, {"reward.overload_penalty_eur_per_percent": 0.0})  # fine without
