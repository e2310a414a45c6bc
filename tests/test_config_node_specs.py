"""The ``nodes`` list of a config: the registry of node types and each node's checks."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import pytest
import yaml

from gridppo import ConfigError, load_config
from gridppo.config.fields import Field
from gridppo.config.loader import DEFAULT_CONFIG_PATH
from gridppo.config.node_specs import NODE_TYPES, register_node_type, validate_nodes


@pytest.fixture(scope="module")
def raw_default() -> dict[str, Any]:
    """The shipped YAML, parsed but not validated."""
    return yaml.safe_load(DEFAULT_CONFIG_PATH.read_text())


def with_node(raw: dict[str, Any], name: str, **changes: Any) -> dict[str, Any]:
    """A copy of ``raw`` with the node called ``name`` changed."""
    out = copy.deepcopy(raw)
    for node in out["nodes"]:
        if node["name"] == name:
            node.update(changes)
            return out
    raise KeyError(name)


def node_error(raw_nodes: Any) -> str:
    """The one-line ConfigError message ``validate_nodes`` raises for ``raw_nodes``."""
    with pytest.raises(ConfigError) as info:
        validate_nodes(raw_nodes)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_the_shipped_types_are_registered() -> None:
    assert {"producer", "consumer", "battery", "business"} <= set(NODE_TYPES)
    for type_name, cls in NODE_TYPES.items():
        assert cls.type_name == type_name
        assert all(isinstance(field, Field) for field in cls.PARAMS.values())


def test_validated_nodes_have_every_parameter_filled_in() -> None:
    nodes = validate_nodes([{"name": "battery_3", "type": "battery", "bus": 3, "max_p_mw": 30}])
    assert nodes == [
        {
            "name": "battery_3",
            "type": "battery",
            "bus": 3,
            "params": {
                key: 30.0 if key == "max_p_mw" else field.default
                for key, field in NODE_TYPES["battery"].PARAMS.items()
            },
        }
    ]
    # A validated list (parameters nested under "params") validates to itself, and a
    # key beside "params" (where a dotted override writes) wins over the nested one.
    assert validate_nodes(nodes) == nodes
    changed = [{**nodes[0], "max_p_mw": 10}]
    assert validate_nodes(changed)[0]["params"]["max_p_mw"] == 10.0


def test_unknown_node_type_suggests_the_nearest(raw_default: dict[str, Any]) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(with_node(raw_default, "battery_3", type="baterry"))
    message = str(info.value)
    assert message.startswith("nodes.battery_3.type:")
    assert "unknown node type 'baterry'" in message
    assert "did you mean 'battery'" in message
    assert "known: battery, business, consumer, producer" in message


def test_bus_that_does_not_exist() -> None:
    message = node_error([{"name": "battery_3", "type": "battery", "bus": 99}])
    assert message.startswith("nodes.battery_3.bus:")
    assert "99" in message and "does not exist" in message and "case14 has buses 0..13" in message
    # The bus range is the network's: bus 20 exists in case30, not in case14.
    spec = [{"name": "battery_20", "type": "battery", "bus": 20}]
    assert validate_nodes(spec, n_bus=30, network="case30")[0]["bus"] == 20
    with pytest.raises(ConfigError, match="case30 has buses 0..29"):
        validate_nodes([{"name": "battery_30", "type": "battery", "bus": 30}], 30, "case30")
    message = node_error([{"name": "battery_3", "type": "battery", "bus": True}])
    assert message.startswith("nodes.battery_3.bus: expected a bus index")


def test_negative_capacity(raw_default: dict[str, Any]) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(with_node(raw_default, "battery_3", capacity_mwh=-5))
    message = str(info.value)
    assert message.startswith("nodes.battery_3.capacity_mwh:")
    assert "greater than 0" in message and "-5" in message


def test_unknown_node_parameter_suggests_the_nearest() -> None:
    message = node_error([{"name": "battery_3", "type": "battery", "bus": 3, "capacity_mw": 5}])
    assert message.startswith("nodes.battery_3.capacity_mw:")
    assert "did you mean 'nodes.battery_3.capacity_mwh'" in message


def test_names_must_be_identifiers_used_once() -> None:
    twice = [{"name": "n", "type": "battery", "bus": 3}, {"name": "n", "type": "battery", "bus": 6}]
    message = node_error(twice)
    assert message.startswith("nodes.n:") and "used twice" in message
    assert node_error([{"name": "two words", "type": "battery", "bus": 3}]).startswith(
        "nodes[0].name: must be an identifier"
    )
    assert node_error([{"type": "battery", "bus": 3}]) == "nodes[0].name: missing"
    assert node_error([]).startswith("nodes: expected a non-empty list")
    assert node_error(["battery"]).startswith("nodes[0]: expected a mapping")


def test_clashing_parameters_are_checked_by_their_type() -> None:
    message = node_error([{"name": "battery_3", "type": "battery", "bus": 3, "min_soc": 0.95}])
    assert message.startswith("nodes.battery_3.min_soc: must be below max_soc")


def test_a_registered_type_is_accepted_until_removed() -> None:
    class Toy:
        """A node type as the configuration sees it: a name, parameters, checks."""

        type_name = "toy_spec"
        PARAMS = {"size_mw": Field(1.0, "float", "Size (MW).", 0.0, 10.0)}

        @classmethod
        def check_params(cls, name: str, params: Mapping[str, Any]) -> None:
            if params["size_mw"] == 7.0:
                raise ConfigError(f"nodes.{name}.size_mw: unlucky")

    assert register_node_type(Toy) is Toy
    try:
        spec = validate_nodes([{"name": "t", "type": "toy_spec", "bus": 1, "size_mw": 2}])
        assert spec[0]["params"] == {"size_mw": 2.0}
        assert node_error([{"name": "t", "type": "toy_spec", "bus": 1, "size_mw": 7}]) == (
            "nodes.t.size_mw: unlucky"
        )
    finally:
        NODE_TYPES.pop("toy_spec")
    assert "unknown node type 'toy_spec'" in node_error(
        [{"name": "t", "type": "toy_spec", "bus": 1}]
    )


def test_a_type_needs_a_name() -> None:
    class Nameless:
        type_name = ""

    with pytest.raises(TypeError, match="needs a type_name"):
        register_node_type(Nameless)
