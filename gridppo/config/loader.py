"""Configuration: one schema, YAML files, dotted overrides and one-line errors.

Every setting gridppo knows is declared once, in :data:`SCHEMA`, with its default, its
type, its valid range and a one-line help text. ``configs/default.yaml`` mirrors the
schema with a comment above every key; a test keeps the two in step.

Node parameters are declared by each node type (see :mod:`gridppo.nodes`), so a new
type brings its own validation with it.

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

from gridppo.config.fields import ConfigError, Field, first_line, parse_settings

__all__ = [
    "ConfigError",
    "Field",
    "SCHEMA",
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


# The whole schema, section by section. `nodes` is validated by the node types.
SCHEMA: dict[str, dict[str, Field]] = {
    "": {
        "seed": Field(0, "int", "Seed for profiles, initial states, networks and sampling.", 0),
    },
    "grid": {
        "min_vm_pu": Field(0.95, "float", "Lower bus voltage limit (p.u.).", 0.8, 1.0),
        "max_vm_pu": Field(1.05, "float", "Upper bus voltage limit (p.u.).", 1.0, 1.2),
        "max_loading_percent": Field(
            100.0, "float", "Branch loading limit, lines and transformers (%).", 10.0, 200.0
        ),
        "ext_grid_vm_pu": Field(
            1.03, "float", "Voltage setpoint of the slack (upstream grid) bus (p.u.).", 0.9, 1.1
        ),
        "branch_rating_margin": Field(
            1.1,
            "float",
            "Branch rating = margin x base-case apparent flow (case14 ships no ratings).",
            1.0,
            10.0,
        ),
        "min_branch_rating_mva": Field(
            15.0,
            "float",
            "Smallest branch rating, for lightly used branches (MVA).",
            1.0,
            1000.0,
            low_exclusive=True,
        ),
        "power_flow_backend": Field(
            "fast", "choice", "Power-flow solver.", choices=("fast", "pandapower")
        ),
        "max_iterations": Field(30, "int", "Newton-Raphson iteration limit.", 1, 1000),
        "tolerance_pu": Field(
            1e-10,
            "float",
            "Newton-Raphson mismatch tolerance (p.u. of 1 MVA base).",
            0.0,
            1e-3,
            low_exclusive=True,
        ),
    },
    "time": {
        "steps_per_day": Field(
            24, "int", "Steps per day (24 = hourly, 96 = 15 minutes); must divide 1440.", 1, 1440
        ),
        "train_days": Field(200, "int", "Number of distinct training days.", 1, 100000),
        "validation_days": Field(
            10, "int", "Held-out days that choose best.pt (never reported).", 1, 10000
        ),
        "test_days": Field(20, "int", "Held-out days every reported number comes from.", 1, 10000),
        "forecast_steps": Field(3, "int", "Steps of price forecast in each observation.", 0, 24),
        "profiles_csv": Field(
            None, "path", "CSV of load/pv/price profiles to use instead of the generator."
        ),
    },
    "profiles": {
        "load_day_sigma": Field(0.05, "float", "Day-to-day spread of the load level.", 0.0, 0.5),
        "load_noise_sigma": Field(0.02, "float", "Step-to-step load noise.", 0.0, 0.5),
        "price_base_eur_per_mwh": Field(
            20.0, "float", "Night-time energy price (EUR/MWh).", 0.0, 1000.0
        ),
        "price_peak_eur_per_mwh": Field(
            75.0, "float", "Evening-peak energy price (EUR/MWh).", 0.0, 5000.0
        ),
        "price_pv_discount_eur_per_mwh": Field(
            15.0, "float", "Price drop at full midday sun (EUR/MWh).", 0.0, 1000.0
        ),
        "price_noise_sigma": Field(3.0, "float", "Price noise (EUR/MWh).", 0.0, 100.0),
    },
    "reward": {
        "grid_penalty_weight": Field(
            1.0, "float", "Weight of the shared grid penalty in every agent's reward.", 0.0, 1e4
        ),
        "voltage_penalty_eur_per_pu": Field(
            100000.0,
            "float",
            "Penalty per p.u. of voltage outside the limits, summed over buses.",
            0.0,
            1e7,
        ),
        "overload_penalty_eur_per_percent": Field(
            1000.0,
            "float",
            "Penalty per % of loading above the limit, summed over branches.",
            0.0,
            1e6,
        ),
        "nonconvergence_penalty_eur": Field(
            5000.0,
            "float",
            "Fixed penalty when the power flow fails, on top of the rest of the day's "
            "demand priced at the value of lost load.",
            0.0,
            1e8,
        ),
        "value_of_lost_load_eur_per_mwh": Field(
            10000.0,
            "float",
            "Value of lost load: the price of demand left unserved when a day fails (EUR/MWh).",
            0.0,
            1e6,
        ),
    },
    "ppo": {
        "parameter_sharing": Field(
            "none",
            "choice",
            "none: one network per node (IPPO); per_type: one network per node type.",
            choices=("none", "per_type"),
        ),
        "hidden_sizes": Field(
            [32, 32], "int_list", "Hidden layer widths of actor and critic.", 1, 4096
        ),
        "lr": Field(1e-3, "float", "Adam learning rate.", 0.0, 1.0, low_exclusive=True),
        "anneal_lr": Field(True, "bool", "Decay the learning rate linearly to 0 over training."),
        "gamma": Field(0.99, "float", "Discount factor.", 0.0, 1.0),
        "gae_lambda": Field(0.95, "float", "GAE lambda (bias-variance trade-off).", 0.0, 1.0),
        "clip_coef": Field(
            0.2, "float", "PPO clip range for the probability ratio.", 0.0, 1.0, low_exclusive=True
        ),
        "clip_vloss": Field(False, "bool", "Clip the value loss around the old values."),
        "ent_coef": Field(0.0, "float", "Entropy bonus coefficient.", 0.0, 1.0),
        "vf_coef": Field(0.5, "float", "Value loss coefficient.", 0.0, 10.0),
        "max_grad_norm": Field(
            0.5, "float", "Global gradient-norm clip.", 0.0, 100.0, low_exclusive=True
        ),
        "update_epochs": Field(4, "int", "Passes over each rollout per update.", 1, 100),
        "num_minibatches": Field(
            4, "int", "Minibatches per epoch (at most num_days x rollout_steps).", 1, 1024
        ),
        "target_kl": Field(
            None, "float_or_none", "Stop an update early above this KL (null: never).", 0.0, 10.0
        ),
        "norm_adv": Field(True, "bool", "Normalise advantages per minibatch."),
        "norm_obs": Field(True, "bool", "Normalise observations with running statistics."),
        "norm_reward": Field(True, "bool", "Scale rewards by the running std of the return."),
        "init_log_std": Field(
            -1.0, "float", "Initial log standard deviation of the actions.", -5.0, 2.0
        ),
    },
    "train": {
        "total_updates": Field(100, "int", "Number of PPO updates (rollout + learning).", 1, 10**7),
        "num_days": Field(64, "int", "Days simulated in parallel (B).", 1, 4096),
        "rollout_steps": Field(
            24,
            "int",
            "Steps per rollout: time.steps_per_day, a divisor of it or a multiple of it.",
            1,
            10000,
        ),
        "eval_interval": Field(10, "int", "Evaluate every this many updates.", 1, 10**7),
        "checkpoint_interval": Field(25, "int", "Keep a numbered checkpoint this often.", 1, 10**7),
        "log_dir": Field("logs", "str", "Where run logs go (one folder per run)."),
        "checkpoint_dir": Field("checkpoints", "str", "Where checkpoints go (one folder per run)."),
        "tensorboard": Field(True, "bool", "Also write TensorBoard event files."),
        "torch_threads": Field(
            1, "int", "CPU threads for torch (small networks: 1 is fastest).", 1, 256
        ),
    },
}


def all_sections() -> dict[str, dict[str, Field]]:
    """The full schema, every section."""
    return SCHEMA


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
    """The shipped default configuration (``configs/default.yaml``), validated."""
    return load_config(DEFAULT_CONFIG_PATH)


def validate_config(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Check a nested config dict against the schema and fill in defaults.

    Returns a new dict with every section present and every value converted to its
    declared type. Nodes are checked by :func:`gridppo.nodes.validate_nodes`.
    """
    from gridppo.grid.nodes import validate_nodes  # the node types own their parameters

    if not isinstance(raw, Mapping):
        raise ConfigError(f"config: expected a mapping of sections, got {type(raw).__name__}")
    sections = all_sections()
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
        raise ConfigError("nodes: missing; the config must list the grid's nodes")
    out["nodes"] = validate_nodes(raw["nodes"])
    return out


def _check_cross_field(cfg: dict[str, Any]) -> None:
    """Checks that involve more than one key."""
    grid = cfg["grid"]
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
    for hook in _CROSS_CHECKS:
        hook(cfg)


_CROSS_CHECKS: list[Any] = []


def register_cross_check(fn: Any) -> Any:
    """Register a function ``fn(cfg)`` that raises ConfigError on a bad combination."""
    _CROSS_CHECKS.append(fn)
    return fn


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
    valid = _known_keys(all_sections())
    for key, value in overrides.items():
        parts = key.split(".")
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
    takes its default (the schema's defaults are the default file's values), and the
    nodes are the default grid's unless it lists its own. Returns the validated config
    as a plain nested dict.
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
    if "nodes" not in raw and source != DEFAULT_CONFIG_PATH:
        raw["nodes"] = _default_nodes()
    return validate_config(apply_overrides(raw, overrides))


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
