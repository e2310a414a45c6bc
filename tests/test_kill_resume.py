"""Kill and resume: a training process killed at random moments never leaves a corrupt
``last.pt``, and resuming after each kill ends exactly where an uninterrupted run ends.

``gridppo train`` runs as a real subprocess. Each cycle waits until the process has
completed at least one update of its own, then waits a random (seeded) extra moment, so
the signal lands anywhere: mid-rollout, mid-update, mid-evaluation or mid-save. SIGKILL
cannot be handled, so it tests the atomic checkpoint writes; SIGTERM must stop cleanly
after the update in progress (exit status 143); SIGINT (Ctrl-C) stops at once (exit
status 130). After every kill ``last.pt`` must load and the next ``--resume`` must
carry on from it; at the end the run must complete with every metrics row exactly once
and the same final checkpoint and metrics as a run that was never interrupted.

(``tests/test_resume.py`` covers a second SIGTERM, which abandons the update at once,
in-process.)
"""

from __future__ import annotations

import csv
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gridppo.training.checkpoints import CheckpointError, load_checkpoint

UPDATES = 20
CONFIG = {
    "train.num_days": 2,
    "train.total_updates": UPDATES,
    "train.eval_interval": 3,
    "train.checkpoint_interval": 4,
    "train.tensorboard": False,
    "time.train_days": 10,
    "time.validation_days": 2,
    "time.test_days": 2,
}
# The signal of each cycle.
CYCLES = (signal.SIGKILL, signal.SIGTERM, signal.SIGINT, signal.SIGKILL)
EXIT_STATUS = {signal.SIGKILL: -signal.SIGKILL, signal.SIGTERM: 143, signal.SIGINT: 130}
SEED = 1124  # the random moments of the kills
MAX_EXTRA_WAIT_S = 0.4
TIMING = ("time_s", "charts/steps_per_s")
# numba would compile pandapower's power flow afresh in every process (about two
# seconds each); the few start-up power flows it would speed up run fine without it.
ENV = {**os.environ, "NUMBA_DISABLE_JIT": "1", "MPLBACKEND": "Agg"}


def launch(root: Path, run: str, resume: bool = False) -> subprocess.Popen:
    command = [sys.executable, "-m", "gridppo.cli", "train", "--quiet"]
    if resume:
        command += ["--resume", f"checkpoints/{run}/last.pt"]
    else:
        command += ["--run-name", run]
        command += [a for k, v in CONFIG.items() for a in ("--set", f"{k}={v}")]
    return subprocess.Popen(
        command,
        cwd=root,
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # A shell running these tests in the background ignores SIGINT, and the child
        # would inherit that (Python then installs no KeyboardInterrupt handler).
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def saved_update(path: Path) -> int:
    """The update last.pt holds (-1 if there is none yet). Any read must succeed."""
    if not path.exists():
        return -1
    return int(load_checkpoint(path)["update"])


def wait_for_progress(process: subprocess.Popen, last: Path, after: int) -> int:
    """Wait until the process has saved an update past ``after``; return it."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, f"training ended early: {process.communicate()}"
        try:
            update = saved_update(last)
        except CheckpointError:  # never expected: the writes are atomic
            raise
        if update > after:
            return update
        time.sleep(0.02)
    raise AssertionError("no progress within 60 s")


def metrics(root: Path, run: str) -> list[dict[str, str]]:
    with open(root / "logs" / run / "metrics.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def test_killed_at_random_moments_training_resumes_to_the_same_result(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    reference = launch(tmp_path, "reference")  # runs alongside, never interrupted
    last = tmp_path / "checkpoints" / "killed" / "last.pt"
    saved, survived = -1, []
    for i, sig in enumerate(CYCLES):
        process = launch(tmp_path, "killed", resume=i > 0)
        wait_for_progress(process, last, saved)
        time.sleep(rng.uniform(0.0, MAX_EXTRA_WAIT_S))
        assert process.poll() is None, "the run finished before the kill; make it longer"
        process.send_signal(sig)
        out, err = process.communicate(timeout=60)
        assert process.returncode == EXIT_STATUS[sig], (sig.name, process.returncode, err)
        if sig != signal.SIGKILL:
            lines = err.strip().splitlines()  # one line, saying how to go on
            assert len(lines) == 1 and "--resume" in lines[0], err
            wanted = "stopped by SIGTERM after update" if sig == signal.SIGTERM else "interrupted"
            assert wanted in lines[0], err
        update = saved_update(last)  # loads: never corrupt, never half-written
        assert update > saved, "the run did not move on"
        saved = update
        survived.append((sig.name, update))
    # The last resume runs to the end.
    process = launch(tmp_path, "killed", resume=True)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    assert f"resuming at update {saved}" in out
    out, err = reference.communicate(timeout=120)
    assert reference.returncode == 0, err
    assert len(survived) == len(CYCLES)
    # Every row once, and the same numbers as the uninterrupted run.
    rows, want = metrics(tmp_path, "killed"), metrics(tmp_path, "reference")
    assert [float(r["update"]) for r in rows] == [float(u) for u in range(1, UPDATES + 1)]
    for row, expected in zip(rows, want, strict=True):
        for key in expected:
            if key not in TIMING:
                assert row[key] == expected[key], (row["update"], key)
    final = load_checkpoint(last)
    expected = load_checkpoint(tmp_path / "checkpoints" / "reference" / "last.pt")
    assert final["update"] == expected["update"] == UPDATES
    for state in (final, expected):
        state["run_name"] = state["training"]["train_time_s"] = None
        # Training never draws from torch's global generator (every learner has its
        # own), and each fresh process seeds that one at random.
        state["training"]["torch_rng"] = None
    assert_same(final, expected)
    assert not list(last.parent.glob(".*.tmp-*"))
    print(f"survived {len(survived)} kills: {survived}")


def assert_same(a: object, b: object, where: str = "last.pt") -> None:
    import math

    import torch

    if isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b), where
        for key in a:
            assert_same(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, list | tuple):
        assert isinstance(b, list | tuple) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, torch.Tensor):
        assert torch.equal(a, b), where
    elif isinstance(a, float) and math.isnan(a):
        assert isinstance(b, float) and math.isnan(b), where
    else:
        assert a == b, where


pytestmark = pytest.mark.skipif(
    sys.platform == "win32", reason="SIGKILL and SIGTERM are POSIX signals"
)
