"""gridppo: Independent PPO agents on the IEEE 14-bus power grid, for teaching.

Start with::

    from gridppo import load_config, PowerGrid, GridEnv
"""

from gridppo.config import ConfigError, load_config
from gridppo.env import ActionError, BatchedGridEnv, GridEnv
from gridppo.grid import PowerGrid

__version__ = "0.1.0"

__all__ = [
    "ActionError",
    "BatchedGridEnv",
    "ConfigError",
    "GridEnv",
    "PowerGrid",
    "load_config",
]
