"""The run's log (gridppo.training.run_log): metrics.csv that always matches last.pt."""

from __future__ import annotations

import csv
import math

from gridppo.training.run_log import EVAL_KPIS, RunLog, log_columns


def row(update: int, columns: list[str]) -> dict[str, float]:
    values = dict.fromkeys(columns, math.nan)
    values.update(update=float(update), global_step=100.0 * update)
    return values


def test_columns_name_every_agents_losses_and_the_validation_kpis():
    columns = log_columns(["battery_3", "producer_1"])
    assert (
        "losses/approx_kl/battery_3" in columns and "charts/episodic_return/producer_1" in columns
    )
    assert [c for c in columns if c.startswith("validation/")] == [
        f"validation/{k}" for k in EVAL_KPIS
    ]


def test_reopening_keeps_only_the_rows_the_checkpoint_holds(tmp_path):
    columns = log_columns(["a"])
    log = RunLog(tmp_path, columns)
    assert log.open({"seed": 0}, update=0, global_step=0, tensorboard=False) == []
    for update in (1, 2, 3):
        log.write(row(update, columns), global_step=100 * update)
    log.close()
    with open(log.path, "a") as handle:
        handle.write("4,400,1.0")  # a row cut short by a kill
    kept = RunLog(tmp_path, columns).open({"seed": 0}, update=2, global_step=200, tensorboard=False)
    assert [r["update"] for r in kept] == [1.0, 2.0]
    with open(tmp_path / "metrics.csv", newline="") as handle:
        assert [r["update"] for r in csv.DictReader(handle)] == ["1.0", "2.0"]
    assert (tmp_path / "config.yaml").read_text().strip() == "seed: 0"


def test_nan_is_written_as_a_blank_and_read_back_as_nan(tmp_path):
    columns = log_columns(["a"])
    log = RunLog(tmp_path, columns)
    log.open({}, update=0, global_step=0, tensorboard=False)
    log.write(row(1, columns), global_step=100)
    log.close()
    log.close()  # closing twice is harmless
    text, parsed = log.read(up_to_update=5)
    assert text[0]["validation/system_cost_eur"] == ""
    assert math.isnan(parsed[0]["validation/system_cost_eur"])
