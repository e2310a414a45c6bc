"""gridppo: Independent PPO agents on the IEEE 14-bus power grid, for teaching.

Start with::

    from gridppo import load_config, PowerGrid, GridEnv
    from gridppo import Trainer, PPOAgent, Policy, RolloutBuffer
"""

from gridppo.config import ConfigError, load_config
from gridppo.ensemble import AgentEnsemble
from gridppo.env import ActionError, BatchedGridEnv, GridEnv
from gridppo.grid import PowerGrid
from gridppo.ppo import Policy, PPOAgent, RolloutBuffer
from gridppo.trainer import CheckpointError, TrainedPolicy, Trainer, TrainingDivergedError

__version__ = "0.1.0"

__all__ = [
    "ActionError",
    "AgentEnsemble",
    "CheckpointError",
    "PPOAgent",
    "Policy",
    "RolloutBuffer",
    "TrainedPolicy",
    "Trainer",
    "TrainingDivergedError",
    "BatchedGridEnv",
    "ConfigError",
    "GridEnv",
    "PowerGrid",
    "load_config",
]
