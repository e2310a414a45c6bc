"""Baselines: the policies a learner is compared with. Random actions (the floor), a
rule-based operator, the single-step AC-OPF of the producers, and the day's optimum
(the yardstick), each asking the nodes rather than knowing their types."""

from gridppo.baselines.day_qp import OVERFLOW_EUR_PER_MWH, DayOptimum, DaySchedule
from gridppo.baselines.heuristic import HeuristicPolicy
from gridppo.baselines.optimum import (
    LOADING_MARGIN_PERCENT,
    LOADING_TOLERANCE_PERCENT,
    OptimumPolicy,
    schedule_actions,
)
from gridppo.baselines.random import RandomPolicy
from gridppo.baselines.registry import BASELINES, GridPolicy, make_baseline
from gridppo.baselines.single_step_opf import SingleStepOPFPolicy

__all__ = [
    "BASELINES",
    "DayOptimum",
    "DaySchedule",
    "GridPolicy",
    "HeuristicPolicy",
    "LOADING_MARGIN_PERCENT",
    "LOADING_TOLERANCE_PERCENT",
    "OVERFLOW_EUR_PER_MWH",
    "OptimumPolicy",
    "RandomPolicy",
    "SingleStepOPFPolicy",
    "make_baseline",
    "schedule_actions",
]
