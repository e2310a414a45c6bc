"""``nodes: auto``: the documented placement rule, on every shipped network."""

from __future__ import annotations

from collections import Counter

import pytest

from gridppo import PowerGrid, load_config
from gridppo.config.auto_nodes import auto_count, auto_nodes
from gridppo.config.loader import DEFAULT_CONFIG_PATH
from gridppo.config.networks import NETWORKS, load_network

# Agents per type that the rule gives each shipped network.
EXPECTED = {
    "case14": {"producer": 4, "battery": 2, "business": 2, "consumer": 9},
    "case30": {"producer": 5, "battery": 2, "business": 2, "consumer": 18},
    "case57": {"producer": 6, "battery": 4, "business": 4, "consumer": 38},
    "case118": {"producer": 53, "battery": 10, "business": 10, "consumer": 89},
    "cigre_mv": {"battery": 2, "business": 2, "consumer": 16},
}


@pytest.mark.parametrize("name", list(NETWORKS))
def test_the_rule_on_every_shipped_network(name: str) -> None:
    net = load_network(name)
    nodes = auto_nodes(net)
    assert Counter(n["type"] for n in nodes) == EXPECTED[name]
    assert len({n["name"] for n in nodes}) == len(nodes)
    # A producer at every generator, and every load owned by exactly one node.
    assert sorted(n["bus"] for n in nodes if n["type"] == "producer") == sorted(net.gen.bus)
    grid = PowerGrid(load_config(None, [f"grid.network={name}", "nodes=auto"]))
    assert sorted(grid.claimed_loads) == list(net.load.index)
    assert len(grid.unowned_loads) == 0
    # Batteries and businesses stand where no generator or the slack does.
    busy = set(net.gen.bus) | set(net.ext_grid.bus)
    assert not busy & {n["bus"] for n in nodes if n["type"] in ("battery", "business")}


def test_case14_gets_the_default_agents_at_the_default_buses() -> None:
    default = load_config(DEFAULT_CONFIG_PATH)["nodes"]
    auto = load_config(None, ["nodes=auto"])["nodes"]
    place = lambda nodes: sorted((n["name"], n["type"], n["bus"]) for n in nodes)  # noqa: E731
    assert place(auto) == place(default)
    # Producers take the case's limits, MATPOWER costs and (clipped) setpoints, which
    # are the default file's too.
    producers = [a for a in auto if a["type"] == "producer"]
    assert len(producers) == 4
    for a in producers:
        assert a["params"] == next(n for n in default if n["name"] == a["name"])["params"]


def test_sizes_follow_the_bus_load() -> None:
    net = load_network("case14")
    nodes = {n["name"]: n for n in auto_nodes(net)}
    load_at = lambda bus: float(net.load.p_mw[net.load.bus == bus].iloc[0])  # noqa: E731
    assert nodes["battery_3"]["max_p_mw"] == pytest.approx(0.4 * load_at(3), rel=1e-3)
    assert nodes["battery_3"]["capacity_mwh"] == pytest.approx(3 * 0.4 * load_at(3), rel=1e-3)
    assert nodes["business_13"]["pv_p_mw"] == pytest.approx(1.5 * load_at(13), rel=1e-3)
    assert nodes["business_13"]["flex_energy_mwh"] == pytest.approx(
        6 * nodes["business_13"]["flex_max_p_mw"]
    )


def test_two_loads_at_one_bus_get_two_consumers() -> None:
    names = [n["name"] for n in auto_nodes(load_network("cigre_mv"))]
    assert "consumer_3" in names and "consumer_3_2" in names


def test_count_grows_with_the_net() -> None:
    assert [auto_count(n) for n in (1, 11, 20, 42, 99)] == [2, 2, 2, 4, 10]


def test_other_networks_default_to_auto_and_node_overrides_apply() -> None:
    cfg = load_config(None, ["grid.network=case30"])
    assert len(cfg["nodes"]) == sum(EXPECTED["case30"].values())
    cfg = load_config(None, ["grid.network=case30", "nodes.battery_7.max_p_mw=1.5"])
    battery = next(n for n in cfg["nodes"] if n["name"] == "battery_7")
    assert battery["params"]["max_p_mw"] == 1.5
    # The default network keeps the default file's hand-written nodes.
    assert load_config(None)["nodes"] == load_config(DEFAULT_CONFIG_PATH)["nodes"]
