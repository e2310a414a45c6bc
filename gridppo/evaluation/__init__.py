"""Evaluation: whole days run with a policy, the KPIs and step-by-step records, paired
gaps and confidence intervals, and the test-day protocol every reported number
follows."""

from gridppo.evaluation.protocol import (
    DEFAULT_BASELINES,
    evaluate_on_test_days,
    with_gap_to_optimum,
)
from gridppo.evaluation.simulate import (
    KPI_NAMES,
    DayRecord,
    EvalResult,
    kpi_table,
    mean_ci,
    paired_gap_percent,
    run_days,
)

__all__ = [
    "DEFAULT_BASELINES",
    "DayRecord",
    "EvalResult",
    "KPI_NAMES",
    "evaluate_on_test_days",
    "kpi_table",
    "mean_ci",
    "paired_gap_percent",
    "run_days",
    "with_gap_to_optimum",
]
