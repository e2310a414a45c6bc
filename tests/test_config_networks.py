"""The networks a config can name: the shipped five, JSON files, and what is refused."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandapower as pp
import pandapower.networks as pn
import pytest

from gridppo import ConfigError, load_config
from gridppo.config.networks import (
    NETWORKS,
    check_network,
    load_network,
    network_bus_count,
    network_voltage_settings,
)

BUS_COUNTS = {"case14": 14, "case30": 30, "case57": 57, "case118": 118, "cigre_mv": 15}


@pytest.mark.parametrize("name", list(NETWORKS))
def test_every_shipped_network_loads_prepared(name: str) -> None:
    net = load_network(name)
    assert len(net.bus) == network_bus_count(name) == BUS_COUNTS[name]
    # Bus i is row i, every element is in service, no switch is left.
    assert list(net.bus.index) == list(range(len(net.bus)))
    for table in ("line", "trafo", "gen", "load", "sgen"):
        assert list(net[table].index) == list(range(len(net[table])))
        assert net[table].in_service.all()
    assert len(net.switch) == 0 and len(net.ext_grid) == 1
    pp.runpp(net)
    assert net.converged


def test_each_caller_gets_its_own_copy() -> None:
    first = load_network("case14")
    first.load.loc[0, "p_mw"] = 999.0
    assert load_network("case14").load.p_mw[0] != 999.0


def test_case57_reproduces_matpowers_base_case() -> None:
    # As shipped by pandapower 3 the lowest voltage is 0.72 p.u.; MATPOWER's published
    # solution of its case57 has 0.936 p.u. at bus 31 (index 30).
    shipped = pn.case57()
    pp.runpp(shipped)
    assert shipped.res_bus.vm_pu.min() < 0.75
    net = load_network("case57")
    pp.runpp(net)
    assert net.res_bus.vm_pu.idxmin() == 30
    assert net.res_bus.vm_pu.min() == pytest.approx(0.936, abs=0.001)


def test_cigre_mv_open_switches_take_their_lines_out() -> None:
    shipped = pn.create_cigre_network_mv(with_der=False)
    n_open = int((~shipped.switch.closed).sum())
    assert n_open == 3
    net = load_network("cigre_mv")
    assert len(net.line) == len(shipped.line) - n_open
    assert len(net.sgen) == 0  # without its DER: PV is the businesses'


def test_case118_line_charging_becomes_shunts() -> None:
    shipped = pn.case118()
    charged = shipped.trafo.i0_percent < 0
    assert charged.sum() == 4
    net = load_network("case118")
    assert (net.trafo.i0_percent >= 0).all()
    assert len(net.shunt) == len(shipped.shunt) + 2 * charged.sum()
    # The added shunts supply what the magnetising branches did: -i0 % of sn_mva.
    added = net.shunt.q_mvar.values[len(shipped.shunt) :].sum()
    expected = (shipped.trafo.i0_percent[charged] / 100 * shipped.trafo.sn_mva[charged]).sum()
    assert added == pytest.approx(expected)


def test_voltage_settings_are_the_networks_own() -> None:
    assert network_voltage_settings("case14") == {
        "min_vm_pu": 0.95,
        "max_vm_pu": 1.05,
        "ext_grid_vm_pu": 1.03,
    }
    assert network_voltage_settings("case118") == {
        "min_vm_pu": 0.94,
        "max_vm_pu": 1.06,
        "ext_grid_vm_pu": 1.035,
    }
    assert network_voltage_settings("cigre_mv")["min_vm_pu"] == 0.90
    # A config that leaves them null gets them; one that sets them keeps its own.
    assert load_config(None, ["grid.network=case57"])["grid"]["min_vm_pu"] == 0.94
    cfg = load_config(None, ["grid.network=case57", "grid.min_vm_pu=0.9"])
    assert cfg["grid"]["min_vm_pu"] == 0.9


def small_net() -> pp.pandapowerNet:
    """Three buses, one generator, two loads and a PV unit."""
    net = pp.create_empty_network()
    buses = [pp.create_bus(net, vn_kv=20.0) for _ in range(3)]
    pp.create_ext_grid(net, buses[0], vm_pu=1.02)
    for a, b in ((0, 1), (1, 2)):
        pp.create_line(net, buses[a], buses[b], 2.0, "NA2XS2Y 1x95 RM/25 12/20 kV")
    pp.create_gen(net, buses[1], p_mw=1.0, vm_pu=1.0, max_p_mw=3.0, min_p_mw=0.0)
    pp.create_load(net, buses[1], p_mw=2.0, q_mvar=0.5)
    pp.create_load(net, buses[2], p_mw=1.5, q_mvar=0.3)
    pp.create_sgen(net, buses[2], p_mw=0.4)
    return net


def test_a_json_file_is_a_network(tmp_path: Path) -> None:
    path = tmp_path / "three_bus.json"
    pp.to_json(small_net(), str(path))
    assert network_bus_count(str(path)) == 3
    cfg = load_config(None, [f"grid.network={path}"])
    assert {n["type"] for n in cfg["nodes"]} >= {"producer", "consumer"}
    assert cfg["grid"]["ext_grid_vm_pu"] == 1.02


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda net: pp.create_ext_grid(net, 2), "2 external grids"),
        (
            lambda net: pp.create_switch(net, 1, 2, et="b"),
            "bus-bus switches",
        ),
        (
            lambda net: pp.create_impedance(net, 0, 2, 0.01, 0.01, sn_mva=1.0),
            "impedance",
        ),
    ],
)
def test_unsupported_nets_are_refused_in_one_line(tmp_path: Path, change, message: str) -> None:
    net = small_net()
    change(net)
    path = tmp_path / "net.json"
    pp.to_json(net, str(path))
    with pytest.raises(ConfigError, match=message) as info:
        load_network(str(path))
    assert str(info.value).startswith("grid.network:") and "\n" not in str(info.value)


def test_bad_names_and_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown network 'case15'.*case14, case30"):
        check_network("case15")
    with pytest.raises(ConfigError, match="no such file"):
        load_config(None, [f"grid.network={tmp_path / 'missing.json'}"])
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(ConfigError, match="is not a pandapower JSON net"):
        load_network(str(broken))


def test_an_edited_file_is_read_again(tmp_path: Path) -> None:
    path = tmp_path / "net.json"
    pp.to_json(small_net(), str(path))
    assert np.isclose(load_network(str(path)).load.p_mw.sum(), 3.5)
    net = small_net()
    net.load.loc[0, "p_mw"] = 4.0
    pp.to_json(net, str(path))
    os.utime(path, (path.stat().st_atime + 5, path.stat().st_mtime + 5))
    assert np.isclose(load_network(str(path)).load.p_mw.sum(), 5.5)


def test_a_bus_cut_off_from_the_supply_is_refused(tmp_path: Path) -> None:
    net = pn.case30()
    line = net.line.index[(net.line.from_bus == 24) & (net.line.to_bus == 25)]
    net.line.loc[line, "in_service"] = False  # bus 25 hangs on this line alone
    path = tmp_path / "cut.json"
    pp.to_json(net, str(path))
    with pytest.raises(ConfigError, match=r"connects to the external grid \(25\)"):
        load_network(str(path))


def test_a_slack_pinned_at_one_pu_does_not_collapse_the_band(tmp_path: Path) -> None:
    # MATPOWER's case33bw pins its slack bus at Vmin = Vmax = 1; its other buses say
    # 0.9-1.1, and that is the band.
    path = tmp_path / "case33bw.json"
    pp.to_json(pn.case33bw(), str(path))
    settings = network_voltage_settings(str(path))
    assert (settings["min_vm_pu"], settings["max_vm_pu"]) == (0.9, 1.1)
    assert load_config(None, [f"grid.network={path}"])["grid"]["min_vm_pu"] == 0.9


def test_costs_of_dropped_generators_stay_behind(tmp_path: Path) -> None:
    net = pn.case30()
    net.gen.loc[0, "in_service"] = False  # its cost row must not land on the next gen
    path = tmp_path / "gen0_out.json"
    pp.to_json(net, str(path))
    prepared = load_network(str(path))
    rows = prepared.poly_cost[prepared.poly_cost.et == "gen"]
    assert len(rows) == len(prepared.gen) == 4
    assert not rows.element.duplicated().any()
