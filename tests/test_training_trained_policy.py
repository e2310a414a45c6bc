"""A trained team as a policy (gridppo.training.trained_policy)."""

from __future__ import annotations

import numpy as np
import pytest

from gridppo.training.checkpoints import CheckpointError, load_checkpoint, save_checkpoint
from gridppo.training.trained_policy import TrainedPolicy
from gridppo.training.trainer import Trainer

TINY = {
    "train.num_days": 4,
    "train.total_updates": 1,
    "train.tensorboard": False,
    "time.train_days": 20,
    "time.validation_days": 2,
    "time.test_days": 2,
}


def test_from_checkpoint_acts_like_the_trainer_and_learns_nothing(tmp_path):
    trainer = Trainer.from_config(None, TINY, run_name="p", root=tmp_path)
    trainer.train(progress_bar=False)
    policy, cfg = TrainedPolicy.from_checkpoint(trainer.checkpoint_dir / "last.pt", name="mine")
    assert policy.name == "mine" and cfg == trainer.config
    obs, _ = trainer.validation_env.reset(days=trainer.validation_env.grid.profiles.validation_days)
    before = policy.learners.ppo.state_dict()
    ours = policy.act(obs, trainer.validation_env)
    theirs = trainer.policy().act(obs, trainer.validation_env)
    for name in obs:
        np.testing.assert_array_equal(ours[name], theirs[name])
    after = policy.learners.ppo.state_dict()
    np.testing.assert_array_equal(before["obs_stats"]["mean"], after["obs_stats"]["mean"])


def test_a_checkpoint_that_does_not_fit_its_config_is_one_line(tmp_path):
    trainer = Trainer.from_config(None, TINY, run_name="p", root=tmp_path)
    trainer.train(progress_bar=False)
    state = load_checkpoint(trainer.checkpoint_dir / "last.pt")
    state["learners"]["names"] = state["learners"]["names"][::-1]
    save_checkpoint(state, tmp_path / "odd.pt")
    with pytest.raises(CheckpointError, match="does not fit its own configuration") as info:
        TrainedPolicy.from_checkpoint(tmp_path / "odd.pt")
    assert "\n" not in str(info.value)
