"""gridppo: Independent PPO agents on the IEEE 14-bus power grid, for teaching.

Start with::

    from gridppo import load_config, PowerGrid, GridEnv, Trainer

The package is layered; each folder uses only the ones above it in this list:

- :mod:`gridppo.config`: the schema of every setting, YAML loading, one-line errors.
- :mod:`gridppo.grid`: profiles, node types, power-flow backends, the network.
- :mod:`gridppo.env`: the multi-agent environment (PettingZoo ``ParallelEnv``).
- :mod:`gridppo.baselines` and :mod:`gridppo.evaluation`: policies to compare
  against, whole days simulated, KPIs and the test-day protocol.
- :mod:`gridppo.agents`: PPO, written once over a leading agent axis.
- :mod:`gridppo.training`: the trainer, checkpoints and the run log.
- :mod:`gridppo.viz`, :mod:`gridppo.notebook`, :mod:`gridppo.course`: figures,
  widgets and coursework checkers, on top of everything else.
"""

import os

# PyTorch's CPU builds use Intel's OpenMP runtime, whose idle threads keep spinning for
# 200 ms after each parallel region. Training alternates a one-core rollout (Python and
# the power flow) with a two-thread update, so the spinning thread would steal the core
# the rollout runs on (and, with another program on the machine, make training many times
# slower). The runtime reads this setting when it starts, so it is set before torch runs
# anything; an explicit setting of the user's wins.
os.environ.setdefault("KMP_BLOCKTIME", "0")

from gridppo.config.fields import ConfigError  # noqa: E402
from gridppo.config.loader import load_config  # noqa: E402
from gridppo.env import ActionError, BatchedGridEnv, GridEnv  # noqa: E402
from gridppo.grid.network import PowerGrid  # noqa: E402
from gridppo.training.checkpoints import CheckpointError  # noqa: E402
from gridppo.training.trained_policy import TrainedPolicy  # noqa: E402
from gridppo.training.trainer import Trainer, TrainingDivergedError  # noqa: E402

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
