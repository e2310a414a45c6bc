"""The ``nodes`` list of a config: the registry of node types and each node's checks.

A node type (see :mod:`gridppo.grid.node`) declares its parameters as
:class:`~gridppo.config.fields.Field` objects in ``PARAMS`` and registers itself here
with :func:`register_node_type`; a config then accepts ``type: <type_name>``, and
:func:`validate_nodes` checks each entry against its type's declaration. So a new type
brings its own validation with it, and the configuration never imports the grid: this
module depends on :mod:`gridppo.config.fields` alone.

The shipped types register themselves when :mod:`gridppo.grid` is imported, which
``import gridppo`` does.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any, Protocol

from gridppo.config.fields import ConfigError, Field

__all__ = ["NODE_TYPES", "NodeSpec", "register_node_type", "validate_nodes"]


class NodeSpec(Protocol):
    """What the configuration needs from a node type: its name in configs, its
    parameters and the checks of parameters that constrain each other."""

    type_name: str
    PARAMS: dict[str, Field]

    @classmethod
    def check_params(cls, name: str, params: Mapping[str, Any]) -> None:
        """Raise ConfigError if the parameters clash together."""


# type name -> the node class (a subclass of gridppo.grid.node.Node).
NODE_TYPES: dict[str, Any] = {}


def register_node_type(cls: type[NodeSpec]) -> type[NodeSpec]:
    """Class decorator: make ``cls`` available to configs as ``type: cls.type_name``."""
    if not getattr(cls, "type_name", None):
        raise TypeError(f"{cls.__name__} needs a type_name")
    NODE_TYPES[cls.type_name] = cls
    return cls


def _close(word: str, candidates: list[str], cutoff: float = 0.6) -> str | None:
    """The candidate nearest to ``word``, if any is near enough."""
    hits = difflib.get_close_matches(word, candidates, n=1, cutoff=cutoff)
    return hits[0] if hits else None


def validate_nodes(raw: Any, n_bus: int = 14, network: str = "case14") -> list[dict[str, Any]]:
    """Check the ``nodes`` list of a config: names, types, buses and parameters.

    Returns a list of ``{"name", "type", "bus", "params"}`` dicts with defaults filled
    in. The bus must exist in ``network`` (0 .. ``n_bus`` - 1); whether it has a load or
    generator a node can claim is checked when the grid is built.
    """
    if not isinstance(raw, list) or not raw:
        raise ConfigError("nodes: expected a non-empty list of nodes")
    out, seen = [], set()
    for i, spec in enumerate(raw):
        where = f"nodes[{i}]"
        if not isinstance(spec, Mapping):
            raise ConfigError(f"{where}: expected a mapping with name, type and bus, got {spec!r}")
        if isinstance(spec.get("params"), Mapping):
            # A validated config nests the parameters; accept it as input too, so a run's
            # saved config.yaml or a checkpoint's config loads again unchanged. A key
            # beside "params" (where a dotted override writes) wins over the nested one.
            spec = {**spec["params"], **{k: v for k, v in spec.items() if k != "params"}}
        for required in ("name", "type", "bus"):
            if required not in spec:
                raise ConfigError(f"{where}.{required}: missing")
        name = spec["name"]
        if not isinstance(name, str) or not name.isidentifier():
            raise ConfigError(f"{where}.name: must be an identifier-like string, got {name!r}")
        if name in seen:
            raise ConfigError(f"nodes.{name}: the name is used twice")
        seen.add(name)
        type_name = spec["type"]
        if not isinstance(type_name, str) or type_name not in NODE_TYPES:
            close = _close(str(type_name), list(NODE_TYPES))
            hint = f" (did you mean '{close}'?)" if close else ""
            known = ", ".join(sorted(NODE_TYPES))
            raise ConfigError(
                f"nodes.{name}.type: unknown node type {type_name!r}{hint}; known: {known}"
            )
        cls = NODE_TYPES[type_name]
        bus = spec["bus"]
        if isinstance(bus, bool) or not isinstance(bus, int):
            raise ConfigError(f"nodes.{name}.bus: expected a bus index (integer), got {bus!r}")
        if not 0 <= bus < n_bus:
            raise ConfigError(
                f"nodes.{name}.bus: bus {bus} does not exist ({network} has buses 0..{n_bus - 1})"
            )
        valid = ["name", "type", "bus", *cls.PARAMS]
        for key in spec:
            if key not in valid:
                close = _close(str(key), valid, cutoff=0.5)
                hint = f" (did you mean 'nodes.{name}.{close}'?)" if close else ""
                raise ConfigError(f"nodes.{name}.{key}: unknown key for a {type_name}{hint}")
        params = {
            key: field.check(f"nodes.{name}.{key}", spec.get(key, field.default))
            for key, field in cls.PARAMS.items()
        }
        cls.check_params(name, params)
        out.append({"name": name, "type": type_name, "bus": bus, "params": params})
    return out
