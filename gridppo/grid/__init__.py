"""The grid: daily profiles, the node types (agents), the power-flow backends, the
network they live in, the grid penalty and the market's settlement."""

from gridppo.grid.battery import Battery
from gridppo.grid.business import Business
from gridppo.grid.consumer import Consumer
from gridppo.grid.context import (
    DayProfile,
    Dispatch,
    OperatorView,
    OptimumTerms,
    StepContext,
    snap_residue,
)
from gridppo.grid.network import METRIC_NAMES, GridMetrics, PowerGrid
from gridppo.grid.node import COMMON_FEATURES, Node, make_node, shared_features, unit_interval
from gridppo.grid.penalty import PENALTY_PARTS, GridPenalty
from gridppo.grid.physics import (
    FastBackend,
    Injections,
    PandapowerBackend,
    PowerFlowResult,
    make_backend,
)
from gridppo.grid.producer import Producer
from gridppo.grid.profiles import (
    SPLITS,
    DailyProfiles,
    build_profiles,
    clock,
    generate_profiles,
    read_profiles_csv,
)
from gridppo.grid.settlement import NEGLIGIBLE_MW, Settlement, settle

__all__ = [
    "Battery",
    "Business",
    "COMMON_FEATURES",
    "Consumer",
    "DailyProfiles",
    "DayProfile",
    "Dispatch",
    "FastBackend",
    "GridMetrics",
    "GridPenalty",
    "Injections",
    "METRIC_NAMES",
    "NEGLIGIBLE_MW",
    "Node",
    "OperatorView",
    "OptimumTerms",
    "PENALTY_PARTS",
    "PandapowerBackend",
    "PowerFlowResult",
    "PowerGrid",
    "Producer",
    "SPLITS",
    "Settlement",
    "StepContext",
    "build_profiles",
    "clock",
    "generate_profiles",
    "make_backend",
    "make_node",
    "read_profiles_csv",
    "settle",
    "shared_features",
    "snap_residue",
    "unit_interval",
]
