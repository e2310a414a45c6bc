"""NaN and infinity: detected, reported (which agent, which update), and never saved.

Each test injects one non-finite value at a chosen update: into an observation, a
reward, a loss, or the parameters after an update (as NaN or infinite gradients would
leave them). Training must stop with :class:`~gridppo.TrainingDivergedError` naming the
agent and the update, the trainer must be back at the last completed update, and
``last.pt`` must still hold that update's finite weights.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import gridppo.agents.ppo
from gridppo import Trainer, TrainingDivergedError
from gridppo.cli import main
from gridppo.training.checkpoints import load_checkpoint

CONFIG = {
    "train.num_days": 2,
    "train.total_updates": 4,
    "train.eval_interval": 1,
    "train.tensorboard": False,
    "time.train_days": 10,
    "time.validation_days": 2,
    "time.test_days": 2,
}
BAD_UPDATE = 3  # the update during which the value goes bad


def during_bad_update(trainer: Trainer) -> bool:
    return trainer.update == BAD_UPDATE - 1


def poison_observation(trainer: Trainer, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    original = trainer.env.step

    def step(actions: dict) -> Any:
        obs, *rest = original(actions)
        if during_bad_update(trainer) and trainer.env.step_index[0] == 5:
            obs["battery_8"][1, 0] = np.nan
        return (obs, *rest)

    monkeypatch.setattr(trainer.env, "step", step)
    return "battery_8", "observation"


def poison_reward(trainer: Trainer, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    original = trainer.env.step

    def step(actions: dict) -> Any:
        obs, rewards, *rest = original(actions)
        if during_bad_update(trainer) and trainer.env.step_index[0] == 7:
            rewards["consumer_3"][0] = np.inf
        return (obs, rewards, *rest)

    monkeypatch.setattr(trainer.env, "step", step)
    return "consumer_3", "reward"


def poison_loss(trainer: Trainer, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    k = trainer.learners.names.index("producer_5")
    original = gridppo.agents.ppo.value_loss

    def value_loss(*args: Any, **kwargs: Any) -> torch.Tensor:
        loss = original(*args, **kwargs)
        if during_bad_update(trainer):
            loss = loss.clone()
            loss[k] = torch.nan
        return loss

    monkeypatch.setattr(gridppo.agents.ppo, "value_loss", value_loss)
    return "producer_5", "value loss"


def poison_parameters(trainer: Trainer, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    """What an infinite gradient leaves behind: a non-finite weight after the step."""
    learners = trainer.learners
    original = learners.update

    def update(*args: Any, **kwargs: Any) -> Any:
        out = original(*args, **kwargs)
        if during_bad_update(trainer):
            with torch.no_grad():  # one weight of one learner
                learners.ppo.network.params[learners.learner_names.index(agent), 0] = torch.inf
        return out

    monkeypatch.setattr(learners, "update", update)
    agent = learners.learner_of["business_13"]
    return agent, "parameters after the update (NaN or infinite gradients)"


@pytest.mark.parametrize(
    ("poison", "extra"),
    [
        pytest.param(poison_observation, {}, id="observation"),
        pytest.param(poison_reward, {}, id="reward"),
        pytest.param(poison_loss, {}, id="loss"),
        pytest.param(poison_parameters, {}, id="gradients"),
        pytest.param(
            poison_observation, {"ppo.parameter_sharing": "per_type"}, id="shared-observation"
        ),
        pytest.param(
            poison_parameters, {"ppo.parameter_sharing": "per_type"}, id="shared-gradients"
        ),
    ],
)
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_non_finite_values_stop_training_and_keep_the_last_good_checkpoint(
    poison: Any, extra: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    trainer = Trainer.from_config(None, {**CONFIG, **extra}, run_name="nan", root=tmp_path)
    agent, what = poison(trainer, monkeypatch)
    with pytest.raises(TrainingDivergedError) as info:
        trainer.train(progress_bar=False)
    err = info.value
    assert (err.agent, err.update, err.what) == (agent, BAD_UPDATE, what)
    message = str(err)
    assert "\n" not in message
    assert f"training diverged in update {BAD_UPDATE}: {what} of agent '{agent}'" in message
    assert f"keeps update {BAD_UPDATE - 1}" in message
    # Nothing of the bad update was saved or logged; the trainer is back before it.
    good = BAD_UPDATE - 1
    assert trainer.update == good
    for name in ("last.pt", "best.pt"):
        state = load_checkpoint(trainer.checkpoint_dir / name)
        assert state["update"] <= good
        assert all(torch.isfinite(t).all() for t in tensors(state["learners"]))
    assert load_checkpoint(trainer.checkpoint_dir / "last.pt")["update"] == good
    with open(trainer.log_dir / "metrics.csv", newline="") as handle:
        assert [float(r["update"]) for r in csv.DictReader(handle)] == [1.0, 2.0]
    assert all(torch.isfinite(t).all() for t in tensors(trainer.learners.state_dict()))


def tensors(state: Any) -> list[torch.Tensor]:
    """Every floating-point tensor in a nested state dict."""
    if isinstance(state, torch.Tensor):
        return [state] if state.is_floating_point() else []
    if isinstance(state, dict):
        return [t for v in state.values() for t in tensors(v)]
    if isinstance(state, list | tuple):
        return [t for v in state for t in tensors(v)]
    return []


def test_cli_reports_divergence_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    original = gridppo.agents.ppo.value_loss
    calls = {"n": 0}

    def value_loss(*args: Any, **kwargs: Any) -> torch.Tensor:
        calls["n"] += 1  # 4 epochs x 4 minibatches per update: NaN from update 2 on
        loss = original(*args, **kwargs)
        return loss * torch.nan if calls["n"] > 16 else loss

    monkeypatch.setattr(gridppo.agents.ppo, "value_loss", value_loss)
    sets = [a for k, v in CONFIG.items() for a in ("--set", f"{k}={v}")]
    assert main(["train", "--run-name", "nan", "--quiet", *sets]) == 1
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert err.startswith("gridppo: training diverged in update 2: ") and "of agent" in err
    assert "\n" not in err and "Traceback" not in captured.err + captured.out
    assert load_checkpoint(Path("checkpoints/nan/last.pt"))["update"] == 1
