"""Hyperparameter and seed sweeps on Ray Tune, and their summaries.

An application layer like the command line: it uses the core (a sweep's trial is an
ordinary :class:`~gridppo.training.trainer.Trainer` run, tested on the held-out test
days) and the figures; nothing in the core imports it. Ray is needed only to *run* a
sweep (:func:`run_sweep`); :func:`summarize` reads a finished sweep's folder anywhere.

- :mod:`~gridppo.sweep.trial`: the trials of a sweep and one trial from training to
  test results (no Ray);
- :mod:`~gridppo.sweep.runner`: :func:`run_sweep` on Ray Tune, locally or on a cluster;
- :mod:`~gridppo.sweep.summary`: :func:`summarize`, the table per setting with
  intervals across seeds, and its plot;
- :mod:`~gridppo.sweep.compare`: :func:`run_comparison`, IPPO against per-type
  sharing, MAPPO and IPPO-Lagrangian, trained and tested alike (no Ray).
"""

from gridppo.sweep.compare import ALGORITHMS, COMPARISON_KPIS, Comparison, run_comparison
from gridppo.sweep.runner import RAY_MISSING, RayMissingError, SweepResult, run_sweep
from gridppo.sweep.summary import SettingRow, SweepSummary, summarize
from gridppo.sweep.trial import (
    RESULTS_FILE,
    TEST_KPIS,
    SweepPlan,
    Trial,
    parse_values,
    plan_sweep,
    run_trial,
    setting_name,
)

__all__ = [
    "ALGORITHMS",
    "COMPARISON_KPIS",
    "Comparison",
    "run_comparison",
    "RAY_MISSING",
    "RESULTS_FILE",
    "TEST_KPIS",
    "RayMissingError",
    "SettingRow",
    "SweepPlan",
    "SweepResult",
    "SweepSummary",
    "Trial",
    "parse_values",
    "plan_sweep",
    "run_sweep",
    "run_trial",
    "setting_name",
    "summarize",
]
