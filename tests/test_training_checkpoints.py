"""Checkpoint files (gridppo.training.checkpoints): atomic writes, safe reads, fallbacks.

The catalogue of broken checkpoints (truncated, foreign, older format, ...) and their
one-line errors is in test_bad_inputs.py; resuming from them in test_resume.py.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gridppo.config.fields import ConfigError
from gridppo.evaluation.simulate import EvalResult
from gridppo.training.checkpoints import (
    CHECKPOINT_FORMAT_VERSION,
    CheckpointError,
    find_resumable_checkpoint,
    load_checkpoint,
    read_for_resume,
    remove_stale_temporaries,
    results_from_state,
    results_to_state,
    run_root,
    save_checkpoint,
    to_numpy,
    to_tensors,
)


def fake_checkpoint(update: int) -> dict:
    """The smallest dict load_checkpoint accepts."""
    return {
        "format_version": CHECKPOINT_FORMAT_VERSION,
        "config": {},
        "run_name": "run",
        "update": update,
        "global_step": 10 * update,
        "learners": {"params": torch.ones(2, 3) * update},
        "training": {},
    }


def test_save_is_atomic_and_load_round_trips(tmp_path):
    path = tmp_path / "run" / "last.pt"
    save_checkpoint(fake_checkpoint(3), path)
    assert [p.name for p in path.parent.iterdir()] == ["last.pt"]  # no temporary left
    state = load_checkpoint(path)
    assert state["update"] == 3 and torch.equal(
        state["learners"]["params"], torch.full((2, 3), 3.0)
    )


def test_objects_other_than_tensors_are_refused(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({**fake_checkpoint(1), "extra": np.random.default_rng(0)}, path)
    with pytest.raises(CheckpointError, match="objects other than tensors"):
        load_checkpoint(path)


def test_fallback_picks_the_newest_readable_checkpoint(tmp_path):
    for name, update in (("best.pt", 2), ("update_000004.pt", 4)):
        save_checkpoint(fake_checkpoint(update), tmp_path / name)
    (tmp_path / "last.pt").write_bytes(b"not a checkpoint")
    path, state, note = find_resumable_checkpoint(tmp_path / "last.pt")
    assert path.name == "update_000004.pt" and state["update"] == 4
    assert note and "resuming from" in note and "\n" not in note


def test_resume_accepts_only_the_resume_overrides(tmp_path):
    with pytest.raises(ConfigError, match="ppo.lr: cannot be changed when resuming"):
        read_for_resume(tmp_path / "last.pt", {"ppo.lr": 0.1})


def test_stale_temporaries_are_removed(tmp_path):
    (tmp_path / ".last.pt.tmp-123").write_bytes(b"half")
    (tmp_path / "last.pt").write_bytes(b"kept")
    remove_stale_temporaries(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"]


def test_run_root_undoes_the_checkpoint_folder(tmp_path):
    folder = tmp_path / "checkpoints" / "run7"
    assert run_root(folder, "checkpoints", "run7") == tmp_path
    assert run_root(tmp_path / "elsewhere", "checkpoints", "run7") == type(tmp_path)(".")


def test_arrays_and_results_survive_the_trip_through_tensors():
    data = {"a": np.arange(3.0), "b": [np.ones(2)], "c": 5}
    back = to_numpy(to_tensors(data))
    np.testing.assert_array_equal(back["a"], data["a"])
    np.testing.assert_array_equal(back["b"][0], data["b"][0])
    assert back["c"] == 5
    result = EvalResult(
        policy="heuristic",
        kpis={"system_cost_eur": 1.5},
        agent_reward={"battery_3": -2.0},
        type_reward={"battery": -2.0},
        per_day_cost_eur=np.array([1.0, 2.0]),
    )
    again = results_from_state(results_to_state({"heuristic": result}))["heuristic"]
    assert again.kpis == result.kpis and again.agent_reward == result.agent_reward
    np.testing.assert_array_equal(again.per_day_cost_eur, result.per_day_cost_eur)
