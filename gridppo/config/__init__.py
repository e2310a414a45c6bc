"""Configuration: the schema of every setting, the node-type registry, YAML loading,
dotted overrides and one-line errors. The top layer: it imports no other part of
gridppo."""

from gridppo.config.fields import ConfigError, Field, first_line, parse_settings, parse_value
from gridppo.config.loader import (
    DEFAULT_CONFIG_PATH,
    QUICK_ENV_VAR,
    QUICK_OVERRIDES,
    apply_overrides,
    default_config,
    load_config,
    quick_overrides,
    validate_config,
)
from gridppo.config.networks import NETWORKS, load_network
from gridppo.config.node_specs import NODE_TYPES, register_node_type, validate_nodes
from gridppo.config.schema import SCHEMA

__all__ = [
    "ConfigError",
    "DEFAULT_CONFIG_PATH",
    "Field",
    "NODE_TYPES",
    "NETWORKS",
    "QUICK_ENV_VAR",
    "QUICK_OVERRIDES",
    "SCHEMA",
    "apply_overrides",
    "default_config",
    "first_line",
    "load_config",
    "load_network",
    "parse_settings",
    "parse_value",
    "quick_overrides",
    "register_node_type",
    "validate_config",
    "validate_nodes",
]
