"""The command line (gridppo.cli): simulate, train, evaluate, sweep, and ``python -m gridppo``.

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

from gridppo import cli
from gridppo.cli import build_parser, main
from gridppo.evaluation.simulate import KPI_NAMES
from gridppo.sweep import SweepResult, SweepSummary


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


def test_cli_sweep_takes_values_settings_and_ray_options() -> None:
    argv = "sweep --values ppo.lr=1e-3,3e-4 --values seed=0,1 --set train.num_days=4"
    argv += (
        " --samples 3 --address auto --cpus-per-trial 2 --name lr --dir runs --kpi overload_rate"
    )
    args = build_parser().parse_args(argv.split())
    assert args.values == ["ppo.lr=1e-3,3e-4", "seed=0,1"] and args.set == ["train.num_days=4"]
    assert (args.samples, args.address, args.cpus_per_trial) == (3, "auto", 2)
    assert (args.name, args.dir, args.kpi) == ("lr", "runs", "overload_rate")
    defaults = build_parser().parse_args(["sweep", "--values", "seed=0"])
    assert (defaults.samples, defaults.address, defaults.cpus_per_trial) == (None, None, 1)
    assert (defaults.dir, defaults.kpi) == ("sweeps", "gap_to_optimum_percent")
    with pytest.raises(SystemExit):
        build_parser().parse_args(["sweep"])  # nothing to sweep


def test_cli_sweep_prints_the_summary_and_names_unfinished_trials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    calls = []

    def fake_run_sweep(values, overrides, config, **options):
        calls.append((values, overrides, config, options))
        summary = SweepSummary(tmp_path, [], [])
        unfinished = ["seed=1"] if len(calls) > 1 else []
        failed = ["seed=1"] if len(calls) > 2 else []
        files = {"csv": tmp_path / "summary.csv"}
        trials = ["seed=0", "seed=1"]
        return SweepResult(tmp_path, summary, trials, [], failed, unfinished, files)

    monkeypatch.setattr(cli, "run_sweep", fake_run_sweep)
    argv = ["sweep", "--values", "seed=0,1", "--set", "ppo.lr=1e-4", "--dir", str(tmp_path)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert f"No finished trials in {tmp_path}." in out and "summary.csv" in out
    values, overrides, config, options = calls[0]
    assert (values, overrides, config) == (["seed=0,1"], ["ppo.lr=1e-4"], None)
    assert options["directory"] == str(tmp_path) and options["cpus_per_trial"] == 1
    assert main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert err == (
        "gridppo: 1 of 2 trials did not finish (seed=1); "
        "run the same command again to continue them"
    )
    assert main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert err == f"gridppo: 1 of 2 trials failed (seed=1); why: {tmp_path}/tune/TRIAL/error.txt"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--values", "ppo.lrr=1,2"], "gridppo: config error: ppo.lrr: unknown key (did you mean"),
        (["--values", "seed"], "gridppo: config error: seed: a setting must look like KEY=VALUE"),
        (["--values", "seed=0", "--cpus-per-trial", "0"], "gridppo: error: --cpus-per-trial: must"),
    ],
)
def test_cli_sweep_refuses_bad_values_in_one_line(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["sweep", *argv, "--dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(message) and "\n" not in err
    assert list(tmp_path.iterdir()) == []


def test_cli_sweep_without_ray_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # what `import ray` finds without Ray
    monkeypatch.setitem(sys.modules, "ray.tune", None)
    assert main(["sweep", "--values", "seed=0,1", "--dir", str(tmp_path)]) == 2
    captured = capsys.readouterr()
    assert captured.err == 'gridppo: sweeps need Ray Tune: pip install "gridppo[sweep]"\n'
    assert captured.out == ""
