"""Resumable runs: a run that stops and resumes ends exactly where an uninterrupted run
ends, whether it stopped cleanly, was interrupted half-way through an update, or lost
its last checkpoint to corruption.

Every test compares against one uninterrupted reference run of the same configuration:
the learners' parameters and optimizer states, the environment's state and every row of
``metrics.csv`` (except wall-clock timings) must be *identical*, not merely close.
"""

from __future__ import annotations

import csv
import math
import os
import shutil
import signal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from helpers import TINY

from gridppo import BatchedGridEnv, Trainer, load_config
from gridppo.cli import main
from gridppo.training.checkpoints import load_checkpoint

UPDATES = 6
CONFIG = {**TINY, "train.total_updates": UPDATES}
TIMING = ("time_s", "charts/steps_per_s")


def metrics_rows(trainer: Trainer) -> list[dict[str, str]]:
    with open(trainer.log_dir / "metrics.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def assert_same_state(a: Any, b: Any, where: str = "state") -> None:
    """Recursively equal: tensors and arrays bit for bit, NaN equal to NaN."""
    if isinstance(a, dict):
        assert set(a) == set(b), where
        for key in a:
            assert_same_state(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same_state(x, y, f"{where}[{i}]")
    elif isinstance(a, torch.Tensor):
        assert torch.equal(a, b), where
    elif isinstance(a, np.ndarray):
        np.testing.assert_array_equal(a, b, err_msg=where)
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b), where
    else:
        assert a == b, where


def assert_same_files(root: Path, run: str, reference: Trainer) -> None:
    """The run's last.pt and metrics.csv equal the reference run's (except the run's
    name, wall-clock timings and whether TensorBoard was on)."""
    with open(root / "logs" / run / "metrics.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    expected = metrics_rows(reference)
    assert [r["update"] for r in rows] == [str(float(u)) for u in range(1, UPDATES + 1)]
    for row, want in zip(rows, expected, strict=True):
        for key in want:
            if key not in TIMING:
                assert row[key] == want[key], (row["update"], key)
    last = load_checkpoint(root / "checkpoints" / run / "last.pt")
    want = load_checkpoint(reference.checkpoint_dir / "last.pt")
    for state in (last, want):
        state["run_name"] = None
        state["training"]["train_time_s"] = None
        state["config"]["train"]["tensorboard"] = None
    assert last["update"] == UPDATES
    assert_same_state(last, want, "last.pt")


def assert_same_run(trainer: Trainer, reference: Trainer) -> None:
    """Same parameters, optimizer, statistics, environments, history and files."""
    assert trainer.update == reference.update == UPDATES
    assert trainer.global_step == reference.global_step
    assert_same_state(trainer.learners.state_dict(), reference.learners.state_dict())
    assert_same_state(trainer.env.state_dict(), reference.env.state_dict(), "env")
    assert_same_state(trainer.eval_history, reference.eval_history, "eval_history")
    assert trainer.best_score == reference.best_score
    for row, want in zip(trainer.history, reference.history, strict=True):
        assert_same_state(
            {k: v for k, v in row.items() if k not in TIMING},
            {k: v for k, v in want.items() if k not in TIMING},
            "history",
        )
    assert_same_files(trainer.log_dir.parents[1], trainer.run_name, reference)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Trainer:
    """The uninterrupted run, with TensorBoard on."""
    root = tmp_path_factory.mktemp("reference")
    trainer = Trainer.from_config(
        None, {**CONFIG, "train.tensorboard": True}, run_name="ref", root=root
    )
    trainer.train(progress_bar=False)
    return trainer


@pytest.fixture(scope="module")
def stopped(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same run stopped cleanly after update 5 (of 6), with TensorBoard on; it kept
    update_000002.pt and update_000004.pt, and best.pt from an evaluation."""
    root = tmp_path_factory.mktemp("stopped")
    trainer = Trainer.from_config(
        None, {**CONFIG, "train.tensorboard": True}, run_name="run", root=root
    )
    trainer.add_callback("on_update", lambda tr, row: tr.request_stop() if tr.update == 5 else None)
    trainer.train(progress_bar=False)
    assert trainer.update == 5
    return root


@pytest.fixture
def copy_of_stopped(stopped: Path, tmp_path: Path) -> Path:
    """A private copy of the stopped run's folders, to resume or damage."""
    shutil.copytree(stopped, tmp_path, dirs_exist_ok=True)
    return tmp_path


def test_a_stopped_and_resumed_run_equals_an_uninterrupted_one(
    reference: Trainer, copy_of_stopped: Path
) -> None:
    resumed = Trainer.resume(copy_of_stopped / "checkpoints" / "run" / "last.pt")
    # The run's folders are found from the checkpoint's path; the history from its log.
    assert resumed.log_dir == copy_of_stopped / "logs" / "run"
    assert resumed.checkpoint_dir == copy_of_stopped / "checkpoints" / "run"
    assert resumed.update == 5 and resumed.run_name == "run"
    assert [row["update"] for row in resumed.history] == [1.0, 2.0, 3.0, 4.0, 5.0]
    resumed.train(progress_bar=False)
    assert_same_run(resumed, reference)
    # TensorBoard: one more event file in the same folder, no duplicated steps.
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    assert len(list(resumed.log_dir.glob("events.out.tfevents.*"))) == 2
    steps = []
    for log_dir in (resumed.log_dir, reference.log_dir):
        events = EventAccumulator(str(log_dir))
        events.Reload()
        steps.append([e.step for e in events.Scalars("charts/team_return")])
    assert steps[0] == steps[1] and len(steps[0]) == UPDATES


def test_resume_falls_back_to_the_newest_good_checkpoint(
    reference: Trainer, copy_of_stopped: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = copy_of_stopped / "checkpoints" / "run"
    last = folder / "last.pt"
    last.write_bytes(last.read_bytes()[:1000])  # truncated
    (folder / ".last.pt.tmp-99999").write_bytes(b"left by a killed process")
    # metrics.csv has rows 1..5; the newest good checkpoint holds update 4.
    resumed = Trainer.resume(last)
    note = capsys.readouterr().err.strip()
    assert "\n" not in note and "last.pt' is corrupt or truncated" in note
    assert "resuming from" in note and "(update 4) instead" in note
    assert resumed.update == 4
    assert not list(folder.glob(".*.tmp-*"))
    resumed.train(progress_bar=False)
    assert_same_run(resumed, reference)  # row 5 was dropped and redone, once


def test_resume_picks_the_highest_update_among_the_rest(
    reference: Trainer, copy_of_stopped: Path
) -> None:
    folder = copy_of_stopped / "checkpoints" / "run"
    (folder / "last.pt").unlink()
    (folder / "update_000004.pt").write_bytes(b"")
    best = load_checkpoint(folder / "best.pt")["update"]
    resumed = Trainer.resume(folder / "last.pt")
    assert resumed.update == max(best, 2)
    resumed.train(progress_bar=False)
    assert_same_run(resumed, reference)


class Interrupt(KeyboardInterrupt):
    """A Ctrl-C delivered at a chosen moment."""


# Env steps of a run (24 per update; an evaluation adds 24 after updates 2, 4 and 6):
# update 1 = steps 1-24, update 2 = 25-48 + eval 49-72, update 3 = 73-96,
# update 4 = 97-120 + eval 121-144, ...
@pytest.mark.parametrize(
    ("calls", "completed"),
    [
        pytest.param(3, 0, id="update 1, before any checkpoint"),
        pytest.param(105, 3, id="update 4, mid-rollout"),
        pytest.param(125, 3, id="update 4, during its evaluation"),
    ],
)
def test_an_interrupted_update_is_rolled_back(
    reference: Trainer, tmp_path: Path, calls: int, completed: int
) -> None:
    """Ctrl-C anywhere in an update: the exception propagates, the trainer is back at
    its last completed update, and training again finishes like the reference."""
    trainer = Trainer.from_config(None, CONFIG, run_name="run", root=tmp_path)
    trainer.evaluate_baselines()  # before counting: baselines run once, on the eval days
    count = {"steps": 0}
    for env in (trainer.env, trainer.validation_env):
        original = env.step

        def counting_step(actions: dict, _original: Any = original) -> Any:
            count["steps"] += 1
            if count["steps"] == calls:
                raise Interrupt()
            return _original(actions)

        env.step = counting_step
    with pytest.raises(Interrupt):
        trainer.train(progress_bar=False)
    assert trainer.update == completed
    assert len(trainer.history) == completed
    assert len(metrics_rows(trainer)) == completed
    if completed:
        assert load_checkpoint(trainer.checkpoint_dir / "last.pt")["update"] == completed
    else:
        assert not (trainer.checkpoint_dir / "last.pt").exists()
    trainer.train(progress_bar=False)
    assert_same_run(trainer, reference)


def test_cli_resume_and_the_existing_run_guard(
    reference: Trainer,
    copy_of_stopped: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(copy_of_stopped)
    sets = [a for k, v in CONFIG.items() for a in ("--set", f"{k}={v}")]
    # A fresh run must not silently overwrite an existing one.
    assert main(["train", "--run-name", "run", "--quiet", *sets]) == 2
    err = capsys.readouterr().err.strip()
    assert "already has checkpoints" in err and "--resume" in err and "\n" not in err
    assert main(["train", "--resume", "checkpoints/run/last.pt", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "resuming at update 5" in out and "system_cost_eur" in out
    assert_same_files(copy_of_stopped, "run", reference)


def test_environment_state_round_trip(tmp_path: Path) -> None:
    """BatchedGridEnv.state_dict: a restored environment continues step for step."""
    cfg = load_config(None, {"time.train_days": 20, "time.validation_days": 2, "time.test_days": 2})
    env = BatchedGridEnv(cfg, batch_size=3)
    twin = BatchedGridEnv(cfg, batch_size=3)
    rng = np.random.default_rng(4)
    plan = [
        {a: rng.uniform(-1, 1, (3, s.shape[0])) for a, s in env.action_spaces.items()}
        for _ in range(40)
    ]
    env.reset(seed=11)
    for actions in plan[:30]:  # past a day boundary, so autoreset drew new days
        env.step(actions)
    twin.load_state_dict(env.state_dict())
    for actions in plan[30:]:
        obs, rewards, _, trunc, info = env.step(actions)
        obs2, rewards2, _, trunc2, info2 = twin.step(actions)
        for agent in env.agents:
            np.testing.assert_array_equal(obs[agent], obs2[agent])
            np.testing.assert_array_equal(rewards[agent], rewards2[agent])
    assert_same_state(env.state_dict(), twin.state_dict())
    battery = twin.grid.node("battery_3")
    assert set(battery.state_dict()) == {"injection_mw", "soc"}
    assert set(twin.grid.node("business_9").state_dict()) == {"injection_mw", "flex_remaining_mwh"}
    with pytest.raises(ValueError, match="does not fit this environment"):
        BatchedGridEnv(cfg, batch_size=2).load_state_dict(env.state_dict())


@pytest.mark.parametrize("signals", [1, 2], ids=["SIGTERM", "SIGTERM twice"])
def test_cli_sigterm_stops_cleanly(
    signals: int,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """One SIGTERM finishes the update in progress and saves it; a second one abandons
    the update at once. Either way: exit status 143, one line, last.pt intact."""
    monkeypatch.chdir(tmp_path)
    original = Trainer.train_one_update

    def train_one_update(self: Trainer) -> dict:
        if self.update == 2:  # in update 3
            for _ in range(signals):
                os.kill(os.getpid(), signal.SIGTERM)
        return original(self)

    monkeypatch.setattr(Trainer, "train_one_update", train_one_update)
    sets = [a for k, v in CONFIG.items() for a in ("--set", f"{k}={v}")]
    assert main(["train", "--run-name", "term", "--quiet", *sets]) == 143
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "--resume checkpoints/term/last.pt" in err
    if signals == 1:
        assert "stopped by SIGTERM after update 3 of 6" in err
    else:
        assert "interrupted during update 3; last.pt holds update 2" in err
    assert load_checkpoint(Path("checkpoints/term/last.pt"))["update"] == 4 - signals
    # The default SIGTERM handling is back once the command returns.
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_ctrl_c_inside_torch_save_is_an_interruption(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C while torch writes the archive makes torch raise a RuntimeError about the
    unfinished archive; save_checkpoint reports the KeyboardInterrupt instead, removes
    its temporary file and leaves the previous checkpoint as it was."""
    import torch.serialization

    from gridppo.training.checkpoints import save_checkpoint

    path = tmp_path / "last.pt"
    save_checkpoint({"weights": torch.ones(3)}, path)
    before = path.read_bytes()
    writer = torch.serialization._open_zipfile_writer

    class Unfinished:
        def __init__(self, f: Any) -> None:
            self.inner = writer(f)

        def __enter__(self) -> Any:
            return self.inner.__enter__()

        def __exit__(self, *exc: Any) -> None:
            self.inner.__exit__(*exc)
            raise RuntimeError("[enforce fail at inline_container.cc] unexpected pos")

    def interrupted(*args: Any, **kwargs: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(torch.serialization, "_open_zipfile_writer", Unfinished)
    monkeypatch.setattr(torch.serialization, "_save", interrupted)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint({"weights": torch.zeros(3)}, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]
