"""gridppo: Independent PPO agents on pandapower grids (IEEE 14-bus by default), for teaching.

Start with::

    from gridppo import load_config, PowerGrid, GridEnv, Trainer

The package is layered; each folder uses only the ones above it in this list:

- :mod:`gridppo.config`: the schema of every setting, the networks a config can name
  and the ``nodes: auto`` rule, YAML loading, one-line errors.
- :mod:`gridppo.grid`: profiles, node types, power-flow backends, ratings, the network.
- :mod:`gridppo.env`: the multi-agent environment (PettingZoo ``ParallelEnv``).
- :mod:`gridppo.baselines` and :mod:`gridppo.evaluation`: policies to compare
  against, whole days simulated, KPIs and the test-day protocol.
- :mod:`gridppo.agents`: PPO, written once over a leading agent axis.
- :mod:`gridppo.training`: the trainer, checkpoints and the run log.
- :mod:`gridppo.viz`, :mod:`gridppo.notebook`, :mod:`gridppo.course`,
  :mod:`gridppo.sweep`: figures, widgets, coursework checkers and sweeps on Ray Tune,
  on top of everything else.
"""

from gridppo.config.fields import ConfigError
from gridppo.config.loader import load_config
from gridppo.env import ActionError, BatchedGridEnv, GridEnv
from gridppo.grid.network import PowerGrid
from gridppo.training.checkpoints import CheckpointError
from gridppo.training.trained_policy import TrainedPolicy
from gridppo.training.trainer import Trainer, TrainingDivergedError

__version__ = "0.1.0"

__all__ = [
    "ActionError",
    "BatchedGridEnv",
    "CheckpointError",
    "ConfigError",
    "GridEnv",
    "PowerGrid",
    "TrainedPolicy",
    "Trainer",
    "TrainingDivergedError",
    "load_config",
]
