"""Training: the trainer, the grid's agents as one PPO, checkpoints and the run log."""

from gridppo.training.checkpoints import (
    CHECKPOINT_FORMAT_VERSION,
    RESUME_OVERRIDES,
    CheckpointError,
    find_resumable_checkpoint,
    load_checkpoint,
    save_checkpoint,
)
from gridppo.training.node_agents import NodeAgents
from gridppo.training.rollout import TrainingDivergedError
from gridppo.training.run_log import RunLog
from gridppo.training.trained_policy import TrainedPolicy
from gridppo.training.trainer import EVENTS, Trainer

__all__ = [
    "CHECKPOINT_FORMAT_VERSION",
    "EVENTS",
    "RESUME_OVERRIDES",
    "CheckpointError",
    "NodeAgents",
    "RunLog",
    "TrainedPolicy",
    "Trainer",
    "TrainingDivergedError",
    "find_resumable_checkpoint",
    "load_checkpoint",
    "save_checkpoint",
]
