"""Assignment 02, part 2: the checker that the student's EV charging hub trained beside
the other agents.

:func:`check_ev_training` reads the trainer the notebook trained: its grid must hold a
node of the new type, and every update must have logged a finite policy loss for it.
"""

from __future__ import annotations

import math

from gridppo.course.common import ExerciseError, Passed
from gridppo.training.trainer import Trainer

__all__ = ["check_ev_training"]


def check_ev_training(trainer: Trainer, type_name: str = "ev_charger") -> Passed:
    """Check that ``trainer`` trained at least one node of ``type_name`` beside the others.

    The trainer must have run at least one update, its grid must hold a node of that
    type, and every training update must have logged a finite loss for it. Returns a
    pass message with the charger's latest episodic return.
    """
    if not isinstance(trainer, Trainer):
        raise ExerciseError(
            f"check_ev_training expects the Trainer you trained, got {type(trainer).__name__}"
        )
    names = [n.name for n in trainer.grid.nodes if n.type_name == type_name]
    if not names:
        types = sorted({n.type_name for n in trainer.grid.nodes})
        raise ExerciseError(
            f"your trainer's grid has no node of type {type_name!r} (types: "
            f"{', '.join(types)}): append one to raw['nodes'] before Trainer.from_config"
        )
    if trainer.update < 1 or not trainer.history:
        raise ExerciseError("your trainer has not trained yet: call trainer.train()")
    name = names[0]
    losses = [row.get(f"losses/policy_loss/{name}", math.nan) for row in trainer.history]
    if not all(math.isfinite(v) for v in losses):
        raise ExerciseError(
            f"the policy loss of {name} is missing or not finite in some updates: check that "
            "its observations and rewards are finite numbers"
        )
    returns = [row.get(f"charts/episodic_return/{name}", math.nan) for row in trainer.history]
    finite = [v for v in returns if math.isfinite(v)]
    latest = f"{finite[-1]:,.0f} EUR per day" if finite else "not yet measured"
    return Passed(
        f"Passed: {name} trained for {trainer.update} updates beside "
        f"{len(trainer.grid.nodes) - 1} other agents; its latest episodic return: {latest}."
    )
