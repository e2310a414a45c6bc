"""Loading a configuration: YAML files, dotted overrides, validation, one-line errors.

Every setting is declared once, in :data:`~gridppo.config.schema.SCHEMA`;
``gridppo/config/default.yaml`` is the shipped configuration. A user's file or dict
holds only what it changes. Node parameters are declared by each node type and checked
by :func:`~gridppo.config.node_specs.validate_nodes`.

Every problem raises :class:`ConfigError` with a message that names the key and the
problem on one line, e.g. ``ppo.lr: unknown key 'ppo.lrr' (did you mean 'ppo.lr'?)``.
"""

from __future__ import annotations

import copy
import difflib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from gridppo.config.auto_nodes import auto_nodes
from gridppo.config.fields import ConfigError, Field, first_line, parse_settings
from gridppo.config.networks import (
    DEFAULT_NETWORK,
    check_network,
    load_network,
    network_bus_count,
    network_voltage_settings,
)
from gridppo.config.node_specs import validate_nodes
from gridppo.config.schema import SCHEMA

__all__ = [
    "DEFAULT_CONFIG_PATH",
    "load_config",
    "apply_overrides",
    "default_config",
    "validate_config",
    "QUICK_ENV_VAR",
    "QUICK_OVERRIDES",
    "quick_overrides",
]

DEFAULT_CONFIG_PATH = Path(__file__).resolve().parent / "default.yaml"
# ``nodes: auto`` places the nodes from the net's elements (gridppo.config.auto_nodes).
AUTO = "auto"


def _known_keys(sections: Mapping[str, Mapping[str, Field]]) -> list[str]:
    keys = ["nodes"]
    for section, fields in sections.items():
        keys += [f"{section}.{k}" if section else k for k in fields]
    return keys


def _unknown_key_error(key: str, valid: list[str]) -> ConfigError:
    close: list[str] = []
    if "." not in key:
        # A top-level key is most likely a misspelt section ('trian' -> 'train').
        top = [v for v in valid if "." not in v] + [s for s in SCHEMA if s]
        close = difflib.get_close_matches(key, top, n=1, cutoff=0.6)
    if not close:
        close = difflib.get_close_matches(key, valid, n=1, cutoff=0.5)
    if not close:
        # Compare the last part alone too: 'ppo.learning_rat' -> 'ppo.learning_rate'.
        tails = {v.split(".")[-1]: v for v in valid}
        hit = difflib.get_close_matches(key.split(".")[-1], list(tails), n=1, cutoff=0.5)
        close = [tails[hit[0]]] if hit else []
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return ConfigError(f"{key}: unknown key{hint}")


def default_config() -> dict[str, Any]:
    """The shipped default configuration (``gridppo/config/default.yaml``), validated."""
    return load_config(DEFAULT_CONFIG_PATH)


def validate_config(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Check a nested config dict against the schema and fill in defaults.

    Returns a new dict with every section present and every value converted to its
    declared type. Nodes are checked by
    :func:`~gridppo.config.node_specs.validate_nodes`.
    """
    if not isinstance(raw, Mapping):
        raise ConfigError(f"config: expected a mapping of sections, got {type(raw).__name__}")
    sections = SCHEMA
    valid = _known_keys(sections)
    out: dict[str, Any] = {}
    for key in raw:
        if key != "nodes" and key not in sections and key not in sections[""]:
            raise _unknown_key_error(str(key), valid)
    for section, fields in sections.items():
        given = raw if section == "" else raw.get(section, {})
        if given is None:
            given = {}
        if not isinstance(given, Mapping):
            raise ConfigError(f"{section}: expected a mapping, got {given!r}")
        target = out if section == "" else out.setdefault(section, {})
        for key in given:
            if section == "" and (key in sections or key == "nodes"):
                continue
            if key not in fields:
                raise _unknown_key_error(f"{section}.{key}" if section else str(key), valid)
        for key, field in fields.items():
            dotted = f"{section}.{key}" if section else key
            value = given.get(key, copy.deepcopy(field.default))
            target[key] = field.check(dotted, value)
    _check_cross_field(out)
    if "nodes" not in raw:
        raise ConfigError("nodes: missing; the config must list the grid's nodes or say auto")
    network = out["grid"]["network"]
    nodes = raw["nodes"]
    if nodes == AUTO:
        nodes = auto_nodes(load_network(network))
    out["nodes"] = validate_nodes(nodes, network_bus_count(network), network)
    return out


def _check_cross_field(cfg: dict[str, Any]) -> None:
    """Checks that involve more than one key."""
    grid = cfg["grid"]
    check_network(grid["network"])
    for key, value in network_voltage_settings(grid["network"]).items():
        if grid[key] is None:
            grid[key] = value
    if grid["min_vm_pu"] >= grid["max_vm_pu"]:
        raise ConfigError(
            f"grid.min_vm_pu: must be below grid.max_vm_pu ({grid['max_vm_pu']}), "
            f"got {grid['min_vm_pu']}"
        )
    steps = cfg["time"]["steps_per_day"]
    if 1440 % steps:
        raise ConfigError(f"time.steps_per_day: must divide 1440 minutes evenly, got {steps}")
    train, ppo = cfg["train"], cfg["ppo"]
    rollout = train["rollout_steps"]
    # Rollouts cover whole days or equal parts of a day, so every update sees the same
    # share of each time of day and logs comparable returns.
    if steps % rollout and rollout % steps:
        raise ConfigError(
            f"train.rollout_steps: must divide time.steps_per_day ({steps}) or be a "
            f"multiple of it, got {rollout}"
        )
    samples = train["num_days"] * rollout
    if ppo["num_minibatches"] > samples:
        raise ConfigError(
            f"ppo.num_minibatches: must be at most train.num_days x train.rollout_steps "
            f"({samples} samples per agent and update), got {ppo['num_minibatches']}"
        )
    # A Lagrange multiplier is a multiple of its violation's price: at 0 it prices nothing.
    if ppo["constraint"] == "lagrangian":
        for key in ("overload_penalty_eur_per_percent", "voltage_penalty_eur_per_pu"):
            if cfg["reward"][key] <= 0:
                raise ConfigError(
                    f"reward.{key}: must be above 0 with ppo.constraint: lagrangian (its "
                    f"multiplier is a multiple of this price), got {cfg['reward'][key]}"
                )


def apply_overrides(raw: dict[str, Any], overrides: Mapping[str, Any] | list[str] | None) -> dict:
    """Apply dotted overrides to a raw (unvalidated) config dict, returning a copy.

    ``overrides`` is either a mapping ``{"ppo.lr": 1e-4}`` or a list of strings
    ``["ppo.lr=1e-4"]`` as the command line gives them. Node parameters are reached by
    the node's name: ``nodes.battery_4.max_p_mw=30``.
    """
    out = copy.deepcopy(raw)
    if not overrides:
        return out
    overrides = parse_settings(overrides)
    valid = _known_keys(SCHEMA)
    for key, value in overrides.items():
        parts = key.split(".")
        if key == "nodes":
            if value != AUTO:
                raise ConfigError(f"nodes: only nodes=auto can be set this way, got {value!r}")
            out["nodes"] = value
            continue
        if parts[0] == "nodes":
            if len(parts) != 3:
                raise ConfigError(f"{key}: node overrides look like nodes.NAME.PARAMETER")
            names = [n.get("name") for n in out.get("nodes", []) if isinstance(n, Mapping)]
            if parts[1] not in names:
                close = difflib.get_close_matches(parts[1], [str(n) for n in names], n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                raise ConfigError(f"{key}: no node named '{parts[1]}'{hint}")
            out["nodes"][names.index(parts[1])][parts[2]] = value
            continue
        if key in SCHEMA and key:
            example = next(iter(SCHEMA[key]))
            raise ConfigError(
                f"{key}: is a section; override one of its keys, e.g. {key}.{example}=VALUE"
            )
        if key not in valid:
            raise _unknown_key_error(key, valid)
        if len(parts) == 1:
            out[key] = value
        else:
            section = out.setdefault(parts[0], {})
            if section is None:
                section = out[parts[0]] = {}
            if not isinstance(section, dict):
                raise ConfigError(f"{parts[0]}: expected a mapping, got {section!r}")
            section[parts[1]] = value
    return out


def load_config(
    source: str | Path | Mapping[str, Any] | None = None,
    overrides: Mapping[str, Any] | list[str] | None = None,
) -> dict[str, Any]:
    """Load, override and validate a configuration.

    ``source`` is a YAML path, an already-parsed dict, or None for the default
    configuration. A file or dict holds only what it changes: every key it leaves out
    takes its default (the schema's defaults are the default file's values). The nodes
    are the default file's unless it lists its own, or says ``nodes: auto``, or names
    another ``grid.network`` (then they are placed by
    :func:`~gridppo.config.auto_nodes.auto_nodes`). The validated config always lists
    its nodes, so a run's saved config says exactly which agents it trained. Returns the
    validated config as a plain nested dict.
    """
    if source is None:
        source = DEFAULT_CONFIG_PATH
    if isinstance(source, Mapping):
        raw = copy.deepcopy(dict(source))
    else:
        path = Path(source)
        if not path.is_file():
            raise ConfigError(f"config: no such file '{path}'")
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as err:
            raise ConfigError(f"config: '{path}' is not valid YAML ({first_line(err)})") from None
        except (OSError, UnicodeDecodeError) as err:
            raise ConfigError(f"config: cannot read '{path}' ({err})") from None
        if raw is None:
            raw = {}
    if not isinstance(raw, Mapping):
        raise ConfigError(f"config: expected a mapping of sections, got {type(raw).__name__}")
    raw = dict(raw)
    default_nodes = "nodes" not in raw or source == DEFAULT_CONFIG_PATH
    # Node parameters are reached by name, so they apply once the node list is known.
    settings = parse_settings(overrides) if overrides else {}
    node_settings = {k: v for k, v in settings.items() if k.startswith("nodes.")}
    raw = apply_overrides(raw, {k: v for k, v in settings.items() if k not in node_settings})
    if "nodes" in settings:
        default_nodes = False
    if default_nodes:
        # The default node list is case14's; on any other network the nodes are placed
        # from the net's own elements.
        raw["nodes"] = AUTO if _network(raw) != DEFAULT_NETWORK else _default_nodes()
    if raw.get("nodes") == AUTO and node_settings:
        raw["nodes"] = auto_nodes(load_network(_network(raw)))
    return validate_config(apply_overrides(raw, node_settings))


def _network(raw: Mapping[str, Any]) -> Any:
    """The ``grid.network`` a raw config asks for."""
    grid = raw.get("grid")
    return grid.get("network", DEFAULT_NETWORK) if isinstance(grid, Mapping) else DEFAULT_NETWORK


def _default_nodes() -> list[dict[str, Any]]:
    """The node list of the default configuration file, as written there."""
    return yaml.safe_load(DEFAULT_CONFIG_PATH.read_text(encoding="utf-8"))["nodes"]


# -- a small training budget for continuous integration --------------------------------

QUICK_ENV_VAR = "GRIDPPO_QUICK"

# What ``GRIDPPO_QUICK=1`` shrinks: a handful of updates on a few parallel days, with
# evaluations along the way so that learning curves still have points.
QUICK_OVERRIDES: dict[str, Any] = {
    "train.total_updates": 6,
    "train.num_days": 8,
    "train.eval_interval": 3,
}


def quick_overrides() -> dict[str, Any]:
    """Dotted overrides for a tiny training budget when ``GRIDPPO_QUICK=1``, else ``{}``.

    The tutorial notebooks train for real when a student runs them (the default
    configuration takes about half a minute). Continuous integration runs them with the
    environment variable ``GRIDPPO_QUICK=1``, and every training call in a notebook
    merges these overrides last::

        trainer = Trainer.from_config(None, {"ppo.lr": 1e-3, **quick_overrides()})

    so each notebook runs in well under a minute. Trained numbers then differ from a
    full run. Returns a new dict (:data:`QUICK_OVERRIDES`) when the variable is set to
    anything but ``""``, ``0``, ``false`` or ``no``; an empty dict otherwise.
    """
    value = os.environ.get(QUICK_ENV_VAR, "").strip().lower()
    if value in ("", "0", "false", "no"):
        return {}
    return dict(QUICK_OVERRIDES)
