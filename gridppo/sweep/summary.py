"""A sweep's summary: one row per setting, each test KPI's mean and 95 % interval across seeds.

Reads only the trials' results files (``SWEEP/trials/*/results.json``, written by
:func:`~gridppo.sweep.trial.run_trial`), so a finished sweep's folder can be
summarised anywhere, without Ray::

    from gridppo.sweep import summarize
    summary = summarize("sweeps/ppo.lr+seed")
    print(summary.table())
    fig = summary.plot("gap_to_optimum_percent")

A *setting* is a trial's swept values without its seed; its trials are its seeds.
Intervals are Student-t intervals over the seeds
(:func:`~gridppo.evaluation.simulate.mean_ci`): each seed trains once and is tested
on its own held-out days, so the seeds are the independent repetitions.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from gridppo.evaluation.simulate import mean_ci
from gridppo.sweep.trial import TEST_KPIS, TRIALS_DIR, read_trial_results, setting_name
from gridppo.viz.sweep import plot_sweep

__all__ = ["SettingRow", "SweepSummary", "summarize", "SUMMARY_CSV", "SUMMARY_KPIS", "SUMMARY_MD"]

# The summary's KPIs: the trials' test KPIs and each trial's system cost above the
# optimum of its own test days. Every seed draws its own profiles, so the seeds of a
# setting are tested on different days: the excess over each day set's optimum
# compares like with like, where the system cost mixes the seeds' days.
SUMMARY_KPIS = (TEST_KPIS[0], "excess_over_optimum_eur", *TEST_KPIS[1:])

SUMMARY_CSV = "summary.csv"
SUMMARY_MD = "summary.md"

# Column headings of the printed table, and the factor from a KPI to what it shows
# (rates are shares of steps, shown in percent).
_HEADINGS = {
    "system_cost_eur": ("system cost (EUR/day)", 1.0),
    "excess_over_optimum_eur": ("above optimum (EUR/day)", 1.0),
    "gap_to_optimum_percent": ("gap to optimum (%)", 1.0),
    "overload_rate": ("overload rate (%)", 100.0),
    "voltage_violation_rate": ("voltage violations (%)", 100.0),
    "unserved_energy_mwh": ("unserved (MWh/day)", 1.0),
    "train_time_s": ("training (s)", 1.0),
}


@dataclass
class SettingRow:
    """One setting of a sweep: its swept values (``setting``, no seed), a ``label``
    such as ``ppo.lr=0.001``, its ``seeds`` and ``trials``, each KPI's value per seed
    (``values``) and ``ci``: KPI -> (mean, low, high) across the seeds."""

    setting: dict[str, Any]
    label: str
    seeds: list[Any] = field(default_factory=list)
    trials: list[str] = field(default_factory=list)
    values: dict[str, list[float]] = field(default_factory=dict)
    ci: dict[str, tuple[float, float, float]] = field(default_factory=dict)


@dataclass
class SweepSummary:
    """The finished trials of a sweep, one :class:`SettingRow` per setting, ordered by
    the settings' values. ``keys`` are the swept keys other than ``seed``."""

    sweep_dir: Path
    keys: list[str]
    rows: list[SettingRow]
    kpis: tuple[str, ...] = SUMMARY_KPIS
    confidence: float = 0.95

    def kpi_values(self, kpi: str) -> dict[str, list[float]]:
        """Setting label -> the KPI of each of its seeds (what :func:`plot_sweep` takes)."""
        return {row.label: row.values[kpi] for row in self.rows}

    def plot(self, kpi: str = "gap_to_optimum_percent", ax: Axes | None = None) -> Figure:
        """One KPI per setting with its interval across seeds
        (:func:`~gridppo.viz.sweep.plot_sweep`)."""
        return plot_sweep(self.kpi_values(kpi), kpi, ax=ax, confidence=self.confidence)

    def _cells(self, row: SettingRow) -> list[str]:
        cells = [row.label, str(len(row.seeds))]
        for kpi in self.kpis:
            mean, low, high = row.ci[kpi]
            scale = _HEADINGS.get(kpi, (kpi, 1.0))[1]
            digits = 0 if kpi.endswith("_eur") else 2
            text = f"{mean * scale:,.{digits}f}"
            if len(row.seeds) > 1:  # the interval is symmetric: mean ± half its width
                text += f" ± {(high - low) / 2 * scale:,.{digits}f}"
            cells.append(text)
        return cells

    def _header(self) -> list[str]:
        return ["setting", "seeds", *(_HEADINGS.get(k, (k, 1.0))[0] for k in self.kpis)]

    def table(self) -> str:
        """The summary as plain text: one line per setting, each KPI as mean ± half
        the width of its interval across seeds."""
        if not self.rows:
            return f"No finished trials in {self.sweep_dir}."
        lines = [self._header(), *(self._cells(r) for r in self.rows)]
        widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
        text = [
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(line, widths, strict=True))
            )
            for line in lines
        ]
        text.insert(1, "-" * len(text[0]))
        return "\n".join([*text, self._note()])

    def _note(self) -> str:
        return (
            f"Test-day means per setting ± half the {100 * self.confidence:.0f} % "
            "confidence interval across seeds (Student t); each seed is tested on its "
            "own days, against their optimum."
        )

    def to_markdown(self) -> str:
        """The summary as a Markdown table (what :data:`SUMMARY_MD` holds)."""
        lines = [self._header(), ["---"] + ["---:"] * (len(self.kpis) + 1)]
        lines += [[c.replace("|", "\\|") for c in self._cells(r)] for r in self.rows]
        return "\n".join("| " + " | ".join(line) + " |" for line in lines) + f"\n\n{self._note()}\n"

    def _repr_markdown_(self) -> str:  # a notebook shows the summary as a table
        return self.to_markdown()

    def csv_rows(self) -> list[dict[str, Any]]:
        """One dict per setting: the swept keys, ``seeds`` (how many), and for each KPI
        ``KPI_mean``, ``KPI_ci_low``, ``KPI_ci_high`` in the KPI's own units."""
        out = []
        for row in self.rows:
            record: dict[str, Any] = {k: row.setting.get(k, "") for k in self.keys}
            record["seeds"] = len(row.seeds)
            for kpi in self.kpis:
                mean, low, high = row.ci[kpi]
                record.update({f"{kpi}_mean": mean, f"{kpi}_ci_low": low, f"{kpi}_ci_high": high})
            out.append(record)
        return out

    def write(self, directory: str | os.PathLike | None = None) -> dict[str, Path]:
        """Write :data:`SUMMARY_CSV` and :data:`SUMMARY_MD` into ``directory`` (default:
        the sweep's); returns their paths by format."""
        directory = Path(directory or self.sweep_dir)
        paths = {"csv": directory / SUMMARY_CSV, "markdown": directory / SUMMARY_MD}
        rows = self.csv_rows()
        columns = [*self.keys, "seeds"] + [
            f"{kpi}_{part}" for kpi in self.kpis for part in ("mean", "ci_low", "ci_high")
        ]
        with open(paths["csv"], "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns)
            writer.writeheader()
            writer.writerows(rows)
        paths["markdown"].write_text(self.to_markdown(), encoding="utf-8")
        return paths


def _order(value: Any) -> tuple[int, Any]:
    """Sorts numbers by value, before anything else sorted as text."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return (0, value)
    return (1, str(value))


def summarize(
    sweep_dir: str | os.PathLike,
    kpis: Sequence[str] = SUMMARY_KPIS,
    confidence: float = 0.95,
) -> SweepSummary:
    """The summary of the finished trials in ``sweep_dir`` (trials without results,
    still running or failed, are left out). Raises FileNotFoundError if ``sweep_dir``
    holds no sweep."""
    sweep_dir = Path(sweep_dir)
    trials_dir = sweep_dir / TRIALS_DIR
    if not trials_dir.is_dir():
        raise FileNotFoundError(f"{sweep_dir}: not a sweep's folder (no {TRIALS_DIR}/ in it)")
    results = [r for r in map(read_trial_results, sorted(trials_dir.iterdir())) if r is not None]
    groups: dict[str, SettingRow] = {}
    for result in results:
        setting = {k: v for k, v in result["setting"].items() if k != "seed"}
        label = setting_name(setting) if setting else "base configuration"
        row = groups.setdefault(label, SettingRow(setting=setting, label=label))
        row.seeds.append(result["setting"].get("seed"))
        row.trials.append(result["trial"])
        for kpi in kpis:
            row.values.setdefault(kpi, []).append(float(_kpi(result, kpi)))
    keys = sorted({k for row in groups.values() for k in row.setting})
    rows = sorted(groups.values(), key=lambda r: [_order(r.setting.get(k, "")) for k in keys])
    for row in rows:
        row.ci = {kpi: mean_ci(row.values[kpi], confidence) for kpi in kpis}
    return SweepSummary(sweep_dir, keys, rows, tuple(kpis), confidence)


def _kpi(result: Mapping[str, Any], kpi: str) -> float:
    """A KPI of a trial's results: one of the reported ones, or any other test KPI."""
    if kpi == "excess_over_optimum_eur":
        return result["kpis"]["system_cost_eur"] - result["optimum_kpis"]["system_cost_eur"]
    if kpi in result["kpis"]:
        return result["kpis"][kpi]
    if kpi == "train_time_s":  # results written before it was recorded have none
        return result.get("train_time_s", float("nan"))
    return result["test_kpis"][kpi]
