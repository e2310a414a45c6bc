"""The networks a config can name in ``grid.network``, and how each is prepared.

A network is a pandapower net. gridppo ships five, all built by pandapower itself (no
download): the IEEE test cases ``case14`` (the default), ``case30``, ``case57`` and
``case118`` as MATPOWER publishes them, and ``cigre_mv``, CIGRE's medium-voltage
benchmark feeder (pandapower's ``create_cigre_network_mv``, without its DER). Any other
net works when saved with ``pandapower.to_json``: give the file's path instead of a name.

Every net goes through :func:`load_network`, which makes it fit gridppo's model:

- **Switches.** An open line or transformer switch takes its branch out of service; a
  closed one is the same as no switch. Then the switch table is emptied, because the
  batched solver models branches, not breakers. Bus-bus switches would merge buses and
  are refused (``pandapower.toolbox.fuse_buses`` merges them before saving the file).
- **Out-of-service elements** are dropped (with their costs), and every table is
  renumbered 0, 1, 2, ...
  (pandapower's ``create_continuous_elements_index``), so that bus ``i`` is row ``i`` of
  every result array and a node's ``bus`` is that index.
- **Buses cut off** from the external grid (an open switch can leave some) are refused
  in one line: no power flow could supply them.
- **Unsupported elements** (three-winding transformers, DC lines, impedances, wards,
  motors, asymmetric elements) and more than one external grid are refused with one
  line: gridppo's branches are lines and two-winding transformers, and one external grid
  is the slack.
- **case57's transformer taps.** pandapower 3's ``case57`` puts every tap changer on the
  high-voltage side; MATPOWER's tap ratio acts on the from-bus side, which in this case
  is the low-voltage one. As shipped, the base case then solves to 0.72 p.u. at bus 30;
  with the taps on the low-voltage side it reproduces MATPOWER's published base-case
  solution (lowest voltage 0.936 p.u., bus 31 in MATPOWER's numbering). gridppo moves
  them there.

**Voltage band and slack setpoint.** ``grid.min_vm_pu``, ``grid.max_vm_pu`` and
``grid.ext_grid_vm_pu`` left at null take the network's own values
(:func:`network_voltage_settings`): the tightest bus limits the net gives its buses
but the slack's, which MATPOWER often pins at 1.0 (``net.bus.min_vm_pu`` /
``max_vm_pu``: 0.95-1.05 for case30, 0.94-1.06 for case57 and case118), and its
external grid's setpoint; a value outside the schema's range, or no band at all, gives
way to the usual 0.95-1.05 p.u. Two shipped nets differ on purpose:
``case14`` keeps gridppo's 0.95-1.05 p.u. band at a 1.03 p.u. slack (its published
generators hold up to 1.09 p.u., outside any band), and ``cigre_mv``, which carries no
limits, gets the +-10 % of nominal voltage that EN 50160 allows on medium-voltage
supply (its far feeder ends sit near 0.92 p.u. at peak load). A net without limits gets
0.95-1.05 p.u.

Loading a case parses a JSON file (about half a second), so the prepared net is cached
and every caller gets its own deep copy.
"""

from __future__ import annotations

import copy
import functools
import math
import warnings
from collections.abc import Callable
from pathlib import Path

import pandapower as pp
import pandapower.networks as pn
import pandapower.toolbox as tb
import pandapower.topology as top

from gridppo.config.fields import ConfigError

__all__ = [
    "NETWORKS",
    "DEFAULT_NETWORK",
    "check_network",
    "load_network",
    "network_bus_count",
    "network_voltage_settings",
]


def _case57() -> pp.pandapowerNet:
    """MATPOWER's case57 with its tap changers on the side MATPOWER puts them (see the
    module docstring)."""
    net = pn.case57()
    net.trafo["tap_side"] = "lv"
    return net


def _cigre_mv() -> pp.pandapowerNet:
    """CIGRE's medium-voltage benchmark (20 kV, two feeders), without DER: the PV of
    gridppo's businesses is the only generation besides the upstream grid."""
    return pn.create_cigre_network_mv(with_der=False)


# name -> a function that builds the net (pandapower's own, no download).
NETWORKS: dict[str, Callable[[], pp.pandapowerNet]] = {
    "case14": pn.case14,
    "case30": pn.case30,
    "case57": _case57,
    "case118": pn.case118,
    "cigre_mv": _cigre_mv,
}
DEFAULT_NETWORK = "case14"

# Voltage settings that replace a shipped net's own (see the module docstring).
_VOLTAGE_SETTINGS: dict[str, dict[str, float]] = {
    "case14": {"min_vm_pu": 0.95, "max_vm_pu": 1.05, "ext_grid_vm_pu": 1.03},
    "cigre_mv": {"min_vm_pu": 0.90, "max_vm_pu": 1.10},
}

# Element tables gridppo's model has no place for.
_UNSUPPORTED = (
    "trafo3w",
    "dcline",
    "impedance",
    "ward",
    "xward",
    "motor",
    "asymmetric_load",
    "asymmetric_sgen",
)


def check_network(name: str) -> None:
    """Raise ConfigError unless ``name`` is a shipped network or an existing JSON file."""
    if name in NETWORKS:
        return
    if name.endswith(".json"):
        if not Path(name).is_file():
            raise ConfigError(f"grid.network: no such file '{name}'")
        return
    known = ", ".join(NETWORKS)
    raise ConfigError(
        f"grid.network: unknown network {name!r}; use one of {known} or a pandapower "
        "JSON file (pandapower.to_json)"
    )


def load_network(name: str) -> pp.pandapowerNet:
    """The prepared net called ``name`` (a shipped name or a JSON path), a fresh copy."""
    return copy.deepcopy(_shared(name))


def _shared(name: str) -> pp.pandapowerNet:
    """The cached prepared net ``name`` itself: only to read, never to change."""
    check_network(name)
    if name in NETWORKS:
        return _prepared(name, (0, 0))
    path = Path(name).resolve()
    stat = path.stat()
    return _prepared(str(path), (stat.st_mtime_ns, stat.st_size))


def network_bus_count(name: str) -> int:
    """Number of buses of the prepared net ``name``."""
    return len(_shared(name).bus)


def network_voltage_settings(name: str) -> dict[str, float]:
    """The voltage band and slack setpoint (``min_vm_pu``, ``max_vm_pu``,
    ``ext_grid_vm_pu``) the network ``name`` brings (see the module docstring)."""
    net = _shared(name)  # read only
    # The slack bus is left out: MATPOWER cases often pin it at Vmin = Vmax = 1.
    bus = net.bus.drop(index=net.ext_grid.bus.values)
    own = {
        "min_vm_pu": float(bus.min_vm_pu.max()) if "min_vm_pu" in bus else math.nan,
        "max_vm_pu": float(bus.max_vm_pu.min()) if "max_vm_pu" in bus else math.nan,
        "ext_grid_vm_pu": float(net.ext_grid.vm_pu.iloc[0]),
    }
    fallback = {"min_vm_pu": 0.95, "max_vm_pu": 1.05, "ext_grid_vm_pu": 1.0}
    usable = {"min_vm_pu": (0.8, 1.0), "max_vm_pu": (1.0, 1.2), "ext_grid_vm_pu": (0.9, 1.1)}
    out = {
        k: v if math.isfinite(v) and usable[k][0] <= v <= usable[k][1] else fallback[k]
        for k, v in own.items()
    }
    if out["min_vm_pu"] >= out["max_vm_pu"]:  # no band to speak of: the usual one
        out["min_vm_pu"], out["max_vm_pu"] = fallback["min_vm_pu"], fallback["max_vm_pu"]
    out.update(_VOLTAGE_SETTINGS.get(name, {}))
    return out


@functools.lru_cache(maxsize=8)
def _prepared(key: str, version: tuple[int, int]) -> pp.pandapowerNet:
    """Build (or read) and prepare a net once; ``version`` (a file's modification time
    and size) makes an edited file reload."""
    if key in NETWORKS:
        net = NETWORKS[key]()
    else:
        try:
            net = pp.from_json(key)
        except Exception as err:  # pandapower raises many kinds for a bad file
            message = str(err).splitlines()[0] if str(err) else type(err).__name__
            raise ConfigError(
                f"grid.network: '{key}' is not a pandapower JSON net ({message})"
            ) from None
    _prepare(net, key)
    return net


def _prepare(net: pp.pandapowerNet, name: str) -> None:
    """Make ``net`` fit gridppo's model in place (see the module docstring)."""
    for table in _UNSUPPORTED:
        if table in net and len(net[table]):
            raise ConfigError(
                f"grid.network: {name} has {len(net[table])} {table} element(s), which "
                "gridppo does not model (it models lines and two-winding transformers)"
            )
    if len(net.ext_grid) != 1:
        raise ConfigError(
            f"grid.network: {name} has {len(net.ext_grid)} external grids; gridppo needs "
            "exactly one (the slack)"
        )
    switch = net.switch
    if (switch.et == "b").any():
        raise ConfigError(
            f"grid.network: {name} has bus-bus switches; merge the buses first "
            "(pandapower.toolbox.fuse_buses) and save the net again"
        )
    for et, table in (("l", "line"), ("t", "trafo")):
        opened = switch.element[(switch.et == et) & ~switch.closed.astype(bool)]
        net[table].loc[opened.unique(), "in_service"] = False
    net.switch.drop(net.switch.index, inplace=True)
    # Costs of elements about to be dropped would land on others once renumbered.
    for et in ("gen", "sgen", "ext_grid", "load", "storage"):
        if "poly_cost" in net and et in net:
            gone = net[et].index[~net[et].in_service.astype(bool)]
            stale = (net.poly_cost.et == et) & net.poly_cost.element.isin(gone)
            net.poly_cost.drop(net.poly_cost.index[stale], inplace=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tb.drop_out_of_service_elements(net)
        tb.create_continuous_elements_index(net)
    if not len(net.load):
        raise ConfigError(f"grid.network: {name} has no loads")
    cut_off = sorted(int(b) for b in top.unsupplied_buses(net))
    if cut_off:
        raise ConfigError(
            f"grid.network: {name} has buses no branch connects to the external grid "
            f"({', '.join(map(str, cut_off[:10]))}); remove them or close a switch"
        )
    _charging_to_shunts(net)


def _charging_to_shunts(net: pp.pandapowerNet) -> None:
    """Move the line charging of untapped transformers into shunts at their ends.

    MATPOWER gives some branches both a voltage ratio and line charging; pandapower's
    converter writes that charging as a negative magnetising current (``i0_percent``
    below 0: case118 has four). lightsim2grid and pandapower model such a transformer
    differently (their voltages differ by 0.014 p.u. at case118's bus 80), so each
    one's charging, ``-i0_percent / 100 x sn_mva`` Mvar at 1 p.u., becomes two equal
    shunts at its two buses: MATPOWER's own pi model of the branch, which both solvers
    solve alike.
    """
    trafo = net.trafo
    untapped = trafo.tap_pos.isna() | (trafo.tap_pos == trafo.tap_neutral)
    charging = trafo.index[(trafo.i0_percent < 0) & (trafo.pfe_kw == 0) & untapped]
    for index in charging:
        q_mvar = float(trafo.at[index, "i0_percent"]) / 100.0 * float(trafo.at[index, "sn_mva"])
        for side in ("hv_bus", "lv_bus"):
            pp.create_shunt(net, int(trafo.at[index, side]), q_mvar=q_mvar / 2.0, p_mw=0.0)
        trafo.at[index, "i0_percent"] = 0.0
