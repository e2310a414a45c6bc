"""Auto-checkers for the coursework in ``notebooks/assignments/``, one module per checker.

Each checker takes a student's answer (a function, a node class, a trained
:class:`~gridppo.training.trainer.Trainer`, reported numbers), compares it with the
package's own reference and either returns a :class:`Passed` message or raises
:class:`ExerciseError` saying where the answer goes wrong and the usual cause.

=======================================  ======================================================
checker                                  assignment
=======================================  ======================================================
:func:`check_gae`                        01: generalised advantage estimation
:func:`check_clipped_loss`               01: PPO's clipped surrogate loss
:func:`check_ev_charger`                 02: a new node type, an EV charging hub
:func:`check_ev_training`                02: the EV charger trained beside the other agents
:func:`check_reward_experiment`          03: what a reward setting does to overloads and cost
:func:`check_centralised_critic_input`   04: the input of a centralised critic (MAPPO)
:func:`check_lagrange_step`              04: one step of the Lagrange multipliers
=======================================  ======================================================
"""

from gridppo.course.centralised_critic import check_centralised_critic_input
from gridppo.course.clipped_loss import check_clipped_loss
from gridppo.course.common import ExerciseError, Passed, default_raw_config
from gridppo.course.ev_charger import EV_PARAMS, check_ev_charger
from gridppo.course.ev_training import check_ev_training
from gridppo.course.gae import check_gae
from gridppo.course.lagrange import check_lagrange_step
from gridppo.course.reward_experiment import CHANGES, EXPERIMENT_KPIS, check_reward_experiment

__all__ = [
    "ExerciseError",
    "Passed",
    "check_gae",
    "check_clipped_loss",
    "check_ev_charger",
    "check_ev_training",
    "check_reward_experiment",
    "check_centralised_critic_input",
    "check_lagrange_step",
    "default_raw_config",
    "EV_PARAMS",
    "EXPERIMENT_KPIS",
    "CHANGES",
]
