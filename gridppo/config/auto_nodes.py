"""``nodes: auto``: place the agents from a net's own elements, by one documented rule.

The rule, for a net with ``L`` loads (after :func:`~gridppo.config.networks.load_network`
has prepared it), with ``k = max(2, round(L / 10))``:

1. **Producers**: one at every generator (``net.gen``), named ``producer_<bus>``. Output
   limits are the generator's ``max_p_mw`` and ``min_p_mw`` (below 0 counts as 0; a
   generator without a finite positive ``max_p_mw`` gets twice its ``p_mw``, at least
   1 MW). Fuel costs are the net's polynomial costs (``poly_cost``: ``cp1_eur_per_mw``
   and ``cp2_eur_per_mw2``), or the producer's defaults where the net has none. The
   neutral voltage setpoint is the generator's, clipped to 0.98-1.03 p.u., so that it
   starts inside the 0.95-1.05 band with room to act either way.
2. **Batteries**: at the buses of the ``k`` largest loads, counting only buses without a
   generator or the external grid (a battery helps most where demand is large and no
   plant stands). Power ``0.4 x`` that load, three hours of energy.
3. **Businesses**: at the ``k`` load buses farthest (in branches) from the external
   grid, ties broken by the larger load, among buses without a generator, the external
   grid or a battery: the ends of feeders, where PV raises voltages most. Each takes the
   first load at its bus: PV ``1.5 x`` that load, a flexible load of ``0.5 x`` that
   load, run six hours a day.
4. **Consumers**: one at every load that no business took, named ``consumer_<bus>``.

On ``case14`` the rule places the default configuration's 17 agents at the same buses
with the same producer limits, costs and setpoints; the battery and business sizes
differ a little from the hand-written ones. A second node of one type at one bus gets
the suffix ``_2``, ``_3``, ... Nodes are listed producers, batteries, businesses,
consumers, the order in which they claim the net's elements.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import networkx as nx
import numpy as np
import pandapower as pp

__all__ = ["auto_nodes", "auto_count"]

# Fractions of a bus's load that size the storage and prosumer nodes (see above).
BATTERY_POWER_PER_LOAD = 0.4
BATTERY_HOURS = 3.0
PV_PER_LOAD = 1.5
FLEX_PER_LOAD = 0.5
FLEX_HOURS = 6.0
# Neutral producer voltage setpoints are clipped to this band (p.u.).
PRODUCER_VM_PU_BAND = (0.98, 1.03)


def auto_count(n_loads: int) -> int:
    """How many batteries (and as many businesses) a net with ``n_loads`` loads gets."""
    return max(2, round(n_loads / 10))


def _hops_from(net: pp.pandapowerNet, bus: int) -> dict[int, int]:
    """Branches between ``bus`` and every bus it reaches."""
    graph = nx.Graph()
    graph.add_nodes_from(net.bus.index)
    graph.add_edges_from(zip(net.line.from_bus, net.line.to_bus, strict=True))
    graph.add_edges_from(zip(net.trafo.hv_bus, net.trafo.lv_bus, strict=True))
    return nx.single_source_shortest_path_length(graph, bus)


def _costs(net: pp.pandapowerNet) -> dict[int, tuple[float, float]]:
    """Generator index -> (linear EUR/MWh, quadratic EUR/MW^2h) from ``poly_cost``."""
    out = {}
    if "poly_cost" in net and len(net.poly_cost):
        rows = net.poly_cost[net.poly_cost.et == "gen"]
        for _, row in rows.iterrows():
            out[int(row.element)] = (float(row.cp1_eur_per_mw), float(row.cp2_eur_per_mw2))
    return out


def _r(value: float) -> float:
    """Round a size to 4 significant digits, so configs read cleanly."""
    return float(f"{value:.4g}")


def auto_nodes(net: pp.pandapowerNet) -> list[dict[str, Any]]:
    """The node list of ``nodes: auto`` for a prepared net (see the module docstring),
    as raw config entries (name, type, bus and parameters)."""
    names: Counter[str] = Counter()

    def name_for(type_name: str, bus: int) -> str:
        base = f"{type_name}_{bus}"
        names[base] += 1
        return base if names[base] == 1 else f"{base}_{names[base]}"

    nodes: list[dict[str, Any]] = []
    costs = _costs(net)
    for index, gen in net.gen.iterrows():
        max_p = float(gen.get("max_p_mw", math.nan))
        if not (math.isfinite(max_p) and max_p > 0):
            max_p = max(2.0 * float(gen.p_mw), 1.0)
        min_p = float(gen.get("min_p_mw", 0.0))
        min_p = min(max(min_p, 0.0), max_p) if math.isfinite(min_p) else 0.0
        spec = {
            "name": name_for("producer", int(gen.bus)),
            "type": "producer",
            "bus": int(gen.bus),
            "max_p_mw": _r(max_p),
            "min_p_mw": _r(min_p),
            "vm_pu": float(np.clip(gen.vm_pu, *PRODUCER_VM_PU_BAND)),
        }
        if index in costs:
            spec["cost_eur_per_mwh"], spec["cost_eur_per_mw2h"] = costs[index]
        nodes.append(spec)

    k = auto_count(len(net.load))
    slack_bus = int(net.ext_grid.bus.iloc[0])
    busy = set(net.gen.bus.astype(int)) | {slack_bus}
    load_p_mw = net.load.p_mw.astype(float)
    load_bus = net.load.bus.astype(int)
    battery_buses: list[int] = []
    for index in load_p_mw.sort_values(ascending=False, kind="stable").index:
        bus = int(load_bus[index])
        if bus not in busy and bus not in battery_buses and len(battery_buses) < k:
            battery_buses.append(bus)
            p_mw = BATTERY_POWER_PER_LOAD * float(load_p_mw[index])
            nodes.append(
                {
                    "name": name_for("battery", bus),
                    "type": "battery",
                    "bus": bus,
                    "max_p_mw": _r(max(p_mw, 0.01)),
                    "capacity_mwh": _r(max(p_mw, 0.01) * BATTERY_HOURS),
                }
            )

    hops = _hops_from(net, slack_bus)
    first_load = {}  # bus -> index of its first load, in table order
    for index in net.load.index:
        first_load.setdefault(int(load_bus[index]), index)
    candidates = [b for b in first_load if b not in busy and b not in battery_buses and b in hops]
    candidates.sort(key=lambda b: (-hops[b], -float(load_p_mw[first_load[b]]), b))
    taken = set()
    for bus in candidates[:k]:
        load_mw = float(load_p_mw[first_load[bus]])
        flex_mw = _r(FLEX_PER_LOAD * load_mw)
        nodes.append(
            {
                "name": name_for("business", bus),
                "type": "business",
                "bus": bus,
                "pv_p_mw": _r(PV_PER_LOAD * load_mw),
                "flex_max_p_mw": flex_mw,
                "flex_energy_mwh": _r(flex_mw * FLEX_HOURS),
            }
        )
        taken.add(first_load[bus])

    for index in net.load.index:
        if index not in taken:
            bus = int(load_bus[index])
            nodes.append({"name": name_for("consumer", bus), "type": "consumer", "bus": bus})
    return nodes
