"""A run's metrics as columns, from its log directory or from a live trainer's rows.

The trainer writes one row per PPO update to ``metrics.csv``, with per-agent columns
named ``<metric>/<agent>`` (``charts/episodic_return/battery_3``,
``losses/entropy/battery_3``), and the resolved ``config.yaml`` beside it. The training
figures (:mod:`gridppo.viz.training`) read both through the functions here.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from gridppo.agents.ppo import DIAGNOSTICS
from gridppo.viz.style import NODE_STYLE

__all__ = ["read_metrics", "read_agent_types"]


def read_metrics(log_dir: str | Path) -> dict[str, np.ndarray]:
    """A run's ``metrics.csv`` as a dict column -> float array (one entry per update).

    Empty cells (e.g. evaluation columns on updates without an evaluation) are NaN.
    """
    path = Path(log_dir) / "metrics.csv"
    if not path.is_file():
        raise FileNotFoundError(f"no metrics.csv in '{log_dir}'")
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    return columns(rows)


def read_agent_types(log_dir: str | Path) -> dict[str, str]:
    """Agent name -> node type, from the ``nodes`` list of a run's ``config.yaml``."""
    path = Path(log_dir) / "config.yaml"
    if not path.is_file():
        raise FileNotFoundError(f"no config.yaml in '{log_dir}'")
    config = yaml.safe_load(path.read_text()) or {}
    types = {}
    for spec in config.get("nodes", []):
        params = spec.get("params") if isinstance(spec.get("params"), Mapping) else {}
        type_name = spec.get("type", params.get("type"))
        types[str(spec["name"])] = str(type_name)
    return types


def _to_float(value: Any) -> float:
    """A cell as a float; an empty or unreadable cell is NaN."""
    if value is None or value == "":
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def columns(rows: Sequence[Mapping[str, Any]]) -> dict[str, np.ndarray]:
    """Rows (dicts) -> columns (float arrays); a key missing from a row is NaN there."""
    keys = list(dict.fromkeys(k for row in rows for k in row))
    return {k: np.array([_to_float(row.get(k)) for row in rows], dtype=float) for k in keys}


def load_source(
    source: Any, agent_types: Mapping[str, str] | None
) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Columns and agent types from a log directory, a list of row dicts or a DataFrame."""
    types = dict(agent_types) if agent_types is not None else {}
    if isinstance(source, (str, Path)):
        data = read_metrics(source)
        if agent_types is None and (Path(source) / "config.yaml").is_file():
            types = read_agent_types(source)
    elif hasattr(source, "to_dict"):  # a pandas DataFrame
        data = columns(source.to_dict("records"))
    elif isinstance(source, Mapping):  # already columns
        data = {k: np.asarray(v, dtype=float) for k, v in source.items()}
    else:
        data = columns(list(source))
    return data, types


def agents_in(data: Mapping[str, np.ndarray], prefix: str, types: Mapping[str, str]) -> list[str]:
    """Agents with a column ``prefix/NAME``, in the order of ``types`` where known."""
    found = [k[len(prefix) + 1 :] for k in data if k.startswith(prefix + "/")]
    order = {name: i for i, name in enumerate(types)}
    return sorted(found, key=lambda n: (order.get(n, len(order)), found.index(n)))


def type_of(name: str, types: Mapping[str, str]) -> str:
    """An agent's type: from ``types``, else from a name like ``battery_3``.

    A learner shared by a whole type (parameter sharing) logs under the type's name,
    which is its own type.
    """
    if name in types:
        return types[name]
    if name in NODE_STYLE or name in set(types.values()):
        return name
    guess = name.rsplit("_", 1)[0]
    if guess in NODE_STYLE:
        return guess
    raise ValueError(
        f"agent {name!r}: unknown type; pass agent_types={{name: type}} or a log directory "
        "with a config.yaml"
    )


def metric_prefix(metric: str) -> str:
    """The column prefix of a metric: ``"reward"`` -> ``charts/episodic_return``, a PPO
    diagnostic such as ``"entropy"`` -> ``losses/entropy``, anything else as given."""
    if metric in ("reward", "return", "episodic_return"):
        return "charts/episodic_return"
    if metric in DIAGNOSTICS:
        return f"losses/{metric}"
    return metric.rstrip("/")


def x_axis(data: Mapping[str, np.ndarray]) -> tuple[np.ndarray, str]:
    """What the curves are drawn against: environment steps if logged, else updates."""
    for key, label in (("global_step", "environment steps"), ("update", "PPO update")):
        if key in data and np.isfinite(data[key]).any():
            return data[key], label
    n = len(next(iter(data.values()))) if data else 0
    return np.arange(n, dtype=float), "PPO update"
