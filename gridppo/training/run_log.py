"""A run's log: ``metrics.csv`` (one row per update) and TensorBoard events.

The log survives kills and resumes: rows cut short by a kill, rows of updates the
checkpoint does not hold and rows under another header are dropped when a run
(re)opens its log, so ``metrics.csv`` always matches ``last.pt``.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from gridppo.agents.ppo import DIAGNOSTICS
from gridppo.grid.network import METRIC_NAMES

__all__ = ["EVAL_KPIS", "RunLog", "log_columns", "log_row"]

# The validation KPIs logged in every row (blank where the update did not validate).
EVAL_KPIS = (
    "system_cost_eur",
    "team_reward",
    "voltage_violation_rate",
    "overload_rate",
    "unserved_energy_mwh",
)


def log_columns(agents: list[str], extra: Sequence[str] = ()) -> list[str]:
    """The columns of ``metrics.csv`` for these agents, named as CleanRL logs them, and
    any ``extra`` ones (a Lagrangian run's multipliers) after the grid's metrics."""
    cols = ["update", "global_step", "time_s", "charts/steps_per_s", "charts/team_return"]
    cols += [f"charts/episodic_return/{a}" for a in agents]
    cols += [f"losses/{k}/{a}" for a in agents for k in DIAGNOSTICS]
    cols += [f"grid/{k}" for k in METRIC_NAMES]
    cols += list(extra)
    cols += [f"validation/{k}" for k in EVAL_KPIS]
    return cols


def log_row(
    update: int,
    global_step: int,
    time_s: float,
    rollout: Mapping[str, float],
    diagnostics: Mapping[str, Mapping[str, float]],
) -> dict[str, float]:
    """One update's row: counters, the rollout's returns and grid metrics, every
    agent's PPO diagnostics (``losses/KEY/AGENT``) and blank validation KPIs (NaN; the
    trainer fills them in on the updates it validates)."""
    row = {"update": float(update), "global_step": float(global_step), "time_s": time_s}
    row.update(rollout)
    for name, values in diagnostics.items():
        for key in DIAGNOSTICS:
            row[f"losses/{key}/{name}"] = values[key]
    for key in EVAL_KPIS:
        row[f"validation/{key}"] = math.nan
    return row


class RunLog:
    """``metrics.csv`` with the given ``columns`` in ``log_dir`` (and TensorBoard events)."""

    def __init__(self, log_dir: Path, columns: list[str]):
        self.log_dir, self.columns = Path(log_dir), list(columns)
        self.path = self.log_dir / "metrics.csv"
        self._handle: Any = None
        self._csv: csv.DictWriter | None = None
        self._tb: Any = None

    def read(self, up_to_update: int) -> tuple[list[dict[str, str]], list[dict[str, float]]]:
        """The complete rows of ``metrics.csv`` up to ``up_to_update``, as text and as
        floats (NaN for blanks). Rows after it (written by a process that stopped before
        saving them), rows cut short by a kill and rows under another header are left out."""
        kept: list[dict[str, str]] = []
        parsed: list[dict[str, float]] = []
        if not self.path.exists():
            return kept, parsed
        with open(self.path, newline="") as handle:
            reader = csv.DictReader(handle)
            if reader.fieldnames != self.columns:
                return kept, parsed
            for row in reader:
                if None in row or any(v is None for v in row.values()):
                    continue  # a row cut short (or run over) by a kill
                try:
                    values = {k: float(v) if v != "" else math.nan for k, v in row.items()}
                except ValueError:
                    continue
                if values["update"] <= up_to_update:
                    kept.append(row)
                    parsed.append(values)
        return kept, parsed

    def open(
        self, config: dict[str, Any], update: int, global_step: int, tensorboard: bool
    ) -> list[dict[str, float]]:
        """Write ``config.yaml``, make ``metrics.csv`` hold exactly the rows of updates
        1..``update`` (rewritten atomically) and open it for appending; returns those
        rows as floats. TensorBoard events after ``global_step`` are hidden."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_dir / "config.yaml", "w") as handle:
            yaml.safe_dump(config, handle, sort_keys=False)
        kept, parsed = self.read(update)
        tmp = self.path.with_name(f".{self.path.name}.tmp-{os.getpid()}")
        with open(tmp, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=self.columns)
            writer.writeheader()
            writer.writerows(kept)
        os.replace(tmp, self.path)
        self._handle = open(self.path, "a", newline="")
        self._csv = csv.DictWriter(self._handle, fieldnames=self.columns)
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter  # optional: loaded only if asked

            self._tb = SummaryWriter(str(self.log_dir), purge_step=global_step + 1)
        return parsed

    def write(self, row: dict[str, float], global_step: int) -> None:
        """Append one row (NaN as a blank) and flush it; log it to TensorBoard too."""
        assert self._csv is not None and self._handle is not None, "open() the log first"
        self._csv.writerow(
            {
                k: ("" if isinstance(v, float) and math.isnan(v) else v)
                for k, v in row.items()
                if k in self.columns
            }
        )
        self._handle.flush()
        if self._tb is not None:
            for key, value in row.items():
                if key not in ("update", "global_step") and not math.isnan(value):
                    self._tb.add_scalar(key, value, global_step)

    def close(self) -> None:
        """Close the files (safe to call twice)."""
        if self._handle is not None:
            self._handle.close()
            self._handle, self._csv = None, None
        if self._tb is not None:
            self._tb.close()
            self._tb = None
