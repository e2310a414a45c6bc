"""Independent or centralised? Four multi-agent algorithms trained alike and tested alike.

:func:`run_comparison` trains every algorithm of :data:`ALGORITHMS` with every seed,
one ordinary run each with the same budget (the configuration's ``train`` section:
updates, days and steps), and tests each run's ``best.pt`` (chosen on the validation
days) on the held-out test days against the day's optimum. It is a sweep whose
settings are the algorithms (:func:`~gridppo.sweep.trial.plan_sweep`,
:func:`~gridppo.sweep.trial.run_trial`), run one trial after another in this process,
so training times are measured alone on the machine; a rerun skips finished trials and
resumes unfinished ones.

The algorithms differ in one setting each from Independent PPO:

- **IPPO**: one actor-critic per node, each critic sees its node's observation;
- **IPPO, shared per type** (``ppo.parameter_sharing: per_type``): the nodes of one
  type share one actor-critic and pool their experience;
- **MAPPO** (``ppo.critic: centralised``): each critic sees every node's observation
  (:mod:`gridppo.agents.centralised`), the actors still act on their own;
- **IPPO-Lagrangian** (``ppo.constraint: lagrangian``): overloads and voltage violations
  are constraints priced by learned multipliers
  (:mod:`gridppo.training.constraints`) instead of the fixed penalty.

Every run of a seed draws the same days, so the algorithms are compared on the same test
days: :meth:`Comparison.paired` gives each algorithm's difference from IPPO seed by
seed, with its interval across seeds.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from gridppo.evaluation.simulate import mean_ci
from gridppo.sweep.summary import SweepSummary, summarize
from gridppo.sweep.trial import check_sweep_dir, plan_sweep, run_trial, setting_name
from gridppo.viz.sweep import plot_sweep_panels

__all__ = ["ALGORITHMS", "COMPARISON_KPIS", "Comparison", "run_comparison"]

# Each algorithm's settings. Every algorithm sets all three keys, so its runs' folders
# name it completely whatever the base configuration says.
ALGORITHMS: dict[str, dict[str, str]] = {
    "IPPO": {"ppo.parameter_sharing": "none", "ppo.critic": "local", "ppo.constraint": "none"},
    "IPPO, shared per type": {
        "ppo.parameter_sharing": "per_type",
        "ppo.critic": "local",
        "ppo.constraint": "none",
    },
    "MAPPO": {
        "ppo.parameter_sharing": "none",
        "ppo.critic": "centralised",
        "ppo.constraint": "none",
    },
    "IPPO-Lagrangian": {
        "ppo.parameter_sharing": "none",
        "ppo.critic": "local",
        "ppo.constraint": "lagrangian",
    },
}

# What the comparison reports per algorithm: the test days' KPIs and the training time.
COMPARISON_KPIS = (
    "system_cost_eur",
    "excess_over_optimum_eur",
    "gap_to_optimum_percent",
    "overload_rate",
    "voltage_violation_rate",
    "unserved_energy_mwh",
    "train_time_s",
)


@dataclass
class Comparison:
    """A finished comparison: the ``summary`` (one row per algorithm, labelled with its
    name, in the order of ``algorithms``; mean and interval across seeds per KPI) and
    where it lives (``folder``)."""

    folder: Path
    algorithms: list[str]
    summary: SweepSummary

    def table(self) -> str:
        """The summary as plain text (mean ± half the 95 % interval across seeds)."""
        return self.summary.table()

    def _repr_markdown_(self) -> str:  # a notebook shows the comparison as a table
        return self.summary.to_markdown()

    def values(self, kpi: str) -> dict[str, dict[Any, float]]:
        """Algorithm -> seed -> the KPI of that seed's run."""
        return {
            row.label: dict(zip(row.seeds, row.values[kpi], strict=True))
            for row in self.summary.rows
        }

    def paired(
        self, kpi: str = "system_cost_eur", reference: str = "IPPO"
    ) -> dict[str, tuple[float, float, float]]:
        """Each algorithm's KPI minus ``reference``'s, seed by seed (the same test days),
        as (mean, low, high) of the 95 % interval across the seeds both ran."""
        values = self.values(kpi)
        base = values[reference]
        out = {}
        for name, per_seed in values.items():
            seeds = [s for s in per_seed if s in base]
            if name != reference and seeds:
                differences = np.array([per_seed[s] - base[s] for s in seeds])
                out[name] = mean_ci(differences, self.summary.confidence)
        return out

    def plot(
        self,
        kpis: Sequence[str] = (
            "excess_over_optimum_eur",
            "overload_rate",
            "unserved_energy_mwh",
            "train_time_s",
        ),
    ) -> Figure:
        """One panel per KPI: each algorithm's mean with its interval across seeds, and
        every seed's value (:func:`~gridppo.viz.sweep.plot_sweep_panels`)."""
        values = {kpi: self.summary.kpi_values(kpi) for kpi in kpis}
        return plot_sweep_panels(values, self.summary.confidence)


def run_comparison(
    folder: str | os.PathLike,
    seeds: Sequence[int] = (0, 1, 2),
    algorithms: Sequence[str] = tuple(ALGORITHMS),
    overrides: Sequence[str] | Mapping[str, Any] | None = (),
    config: str | os.PathLike | Mapping[str, Any] | None = None,
    progress: Callable[[str], None] | None = print,
) -> Comparison:
    """Train and test every algorithm (names of :data:`ALGORITHMS`) with every seed, seed
    by seed, in
    ``folder`` (a sweep's folder: ``trials/<setting>/``, ``sweep.json``, and the
    summary files :data:`~gridppo.sweep.summary.SUMMARY_CSV` and ``SUMMARY_MD``).

    Every run starts from ``config`` (YAML path, dict or None for the default) with
    ``overrides`` (e.g. ``{"train.total_updates": 20}``), which must not set the
    algorithms' own keys. ``progress`` is told about each run as it starts (None: say
    nothing). Returns the :class:`Comparison` of these algorithms and seeds (the folder
    may hold more: another call's runs are kept and reused, not reported).
    """
    unknown = [name for name in algorithms if name not in ALGORITHMS]
    if unknown:
        raise ValueError(f"unknown algorithm {unknown[0]!r}; known: {', '.join(ALGORITHMS)}")
    settings = [ALGORITHMS[name] for name in algorithms]
    plan = plan_sweep({"seed": list(seeds)}, overrides, config, settings=settings)
    folder = Path(folder)
    check_sweep_dir(folder, plan)
    names = {setting_name(ALGORITHMS[name]): name for name in algorithms}
    # Seed by seed, so that a change in the machine's load over the comparison falls on
    # every algorithm alike instead of on whichever ran last.
    trials = sorted(plan.trials, key=lambda trial: list(seeds).index(trial.setting["seed"]))
    for i, trial in enumerate(trials, start=1):
        label = names[setting_name({k: v for k, v in trial.setting.items() if k != "seed"})]
        if progress is not None:
            progress(f"[{i}/{len(trials)}] {label}, seed {trial.setting['seed']}")
        run_trial(trial, folder)
    summary = summarize(folder, kpis=COMPARISON_KPIS)
    rows = [row for row in summary.rows if row.label in names]
    for row in rows:  # only the seeds asked for, though the folder may hold more
        row.label = names[row.label]
        kept = [i for i, seed in enumerate(row.seeds) if seed in seeds]
        row.seeds = [row.seeds[i] for i in kept]
        row.trials = [row.trials[i] for i in kept]
        row.values = {kpi: [v[i] for i in kept] for kpi, v in row.values.items()}
        row.ci = {kpi: mean_ci(v, summary.confidence) for kpi, v in row.values.items()}
    rows.sort(key=lambda row: list(algorithms).index(row.label))
    summary.rows = rows
    summary.write()
    return Comparison(folder, list(algorithms), summary)
