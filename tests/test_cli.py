"""The command line (gridppo.cli): simulate, train, evaluate, and ``python -m gridppo``.

Its one-line errors are tested with every other bad input in test_bad_inputs.py, and
resuming and SIGTERM in test_resume.py.
"""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import TINY

from gridppo.cli import main
from gridppo.evaluation.simulate import KPI_NAMES


def test_python_dash_m_runs_the_command_line() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "gridppo", "simulate", "--days", "0"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "gridppo: error: --days: must be between 1 and time.test_days (20), got 0"
    )


def test_cli_simulate_prints_kpis_and_plots(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plot = tmp_path / "plots" / "day.png"
    code = main(["simulate", "--policy", "random", "--days", "1", "--plot", str(plot)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "On 1 test day(s)" in captured.out
    for kpi in KPI_NAMES:
        # The gap to the optimum is shown only when the optimum ran too.
        assert (kpi in captured.out) == (kpi != "gap_to_optimum_percent"), kpi
    assert "random" in captured.out
    assert plot.is_file() and plot.stat().st_size > 1000


def test_cli_rejects_more_days_than_the_test_split(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["simulate", "--policy", "random", "--days", "21"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert "--days: must be between 1 and time.test_days (20), got 21" in err


def test_cli_train_writes_logs_and_checkpoints(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    sets = [f"{k}={v}" for k, v in {**TINY, "train.tensorboard": True}.items()]
    args = ["train", "--run-name", "cli", "--quiet"] + [a for s in sets for a in ("--set", s)]
    assert main(args) == 0
    out = capsys.readouterr().out
    log_dir, ckpt_dir = tmp_path / "logs" / "cli", tmp_path / "checkpoints" / "cli"
    assert str(log_dir) in out or "logs/cli" in out
    assert "system_cost_eur" in out and "heuristic" in out
    with open(log_dir / "metrics.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(float(r["update"])) for r in rows] == [1, 2, 3]
    assert "losses/approx_kl/battery_3" in rows[0] and "grid/max_loading_percent" in rows[0]
    assert rows[1]["validation/system_cost_eur"] != ""
    assert rows[0]["validation/system_cost_eur"] == ""
    assert not any(key.startswith("eval/") for key in rows[0])
    assert (log_dir / "config.yaml").is_file()
    assert list(log_dir.glob("events.out.tfevents.*"))
    assert (log_dir / "learning_curve.png").is_file()
    for name in ("best.pt", "last.pt", "update_000002.pt"):
        assert (ckpt_dir / name).is_file(), name
    assert main(["evaluate", "--checkpoint", str(ckpt_dir / "best.pt"), "--days", "1"]) == 0
    out = capsys.readouterr().out
    assert "ippo" in out and "Reward per type" in out and "battery" in out
    # On the test days, against the day's optimum (the single-step OPF only on request).
    assert "1 test day(s)" in out
    assert "optimum" in out and "gap_to_optimum_percent" in out
    assert "single_step_opf" not in out
