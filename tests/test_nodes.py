"""Node types: each action maps to the documented setpoint, rewards add up, and a new
type can be added from outside the package."""

from __future__ import annotations

import copy
import functools
from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandapower as pp
import pandapower.networks as pn
import pytest
import yaml
from helpers import random_actions

from gridppo import ConfigError, GridEnv, PowerGrid, load_config
from gridppo.config.loader import DEFAULT_CONFIG_PATH, Field
from gridppo.env import BatchedGridEnv
from gridppo.evaluation.simulate import run_days
from gridppo.grid.nodes import (
    NODE_TYPES,
    Battery,
    Business,
    Consumer,
    Node,
    Producer,
    StepContext,
    make_node,
    register_node_type,
    validate_nodes,
)
from gridppo.grid.physics import Injections, PandapowerBackend

ACTIONS = np.array([-1.0, 0.0, 1.0])


# -- helpers -------------------------------------------------------------------------------


@functools.cache
def case14() -> pp.pandapowerNet:
    """pandapower's case14, loaded once (loading takes half a second); copy before use."""
    return pn.case14()


def attached(type_name: str, bus: int, **params: Any) -> tuple[Node, SimpleNamespace]:
    """A validated node of ``type_name`` attached to a bare case14 net (no power flow)."""
    spec = validate_nodes([{"name": f"{type_name}_{bus}", "type": type_name, "bus": bus, **params}])
    stub = SimpleNamespace(net=copy.deepcopy(case14()), claimed_loads={}, claimed_gens={})
    node = make_node(spec[0])
    node.attach(stub)
    return node, stub


def context(
    batch: int,
    dt_h: float = 1.0,
    load_pu: float = 1.0,
    pv_pu: float = 0.5,
    price: float = 50.0,
    step: int = 0,
    steps_per_day: int = 24,
) -> StepContext:
    """A step context with the same values for every day of the batch."""
    return StepContext(
        step=np.full(batch, step),
        steps_per_day=steps_per_day,
        dt_h=dt_h,
        load_pu=np.full(batch, load_pu),
        pv_pu=np.full(batch, pv_pu),
        price_eur_per_mwh=np.full(batch, price),
        price_forecast=np.full((batch, 3), price),
        is_last_step=np.full(batch, step == steps_per_day - 1),
    )


def empty_injections(net: pp.pandapowerNet, batch: int) -> Injections:
    """All-zero setpoints for every element of ``net``."""
    return Injections(
        gen_p_mw=np.zeros((batch, len(net.gen))),
        gen_vm_pu=np.ones((batch, len(net.gen))),
        sgen_p_mw=np.zeros((batch, len(net.sgen))),
        load_p_mw=np.zeros((batch, len(net.load))),
        load_q_mvar=np.zeros((batch, len(net.load))),
        storage_p_mw=np.zeros((batch, len(net.storage))),
    )


# -- the four types ------------------------------------------------------------------------


def test_producer_maps_actions_onto_its_output_range() -> None:
    node, stub = attached("producer", 2, min_p_mw=20.0, max_p_mw=100.0)
    assert stub.claimed_gens == {node.gen_index: node.name}
    assert stub.net.gen.bus[node.gen_index] == 2
    assert node.ACTIONS == ("setpoint", "voltage")
    inj = empty_injections(stub.net, 3)
    ctx = context(3, price=50.0, dt_h=0.5)
    # The two actions move independently: output up, voltage setpoint down.
    node.apply_action(np.column_stack([ACTIONS, -ACTIONS]), ctx, inj)
    np.testing.assert_allclose(node.p_mw, [20.0, 60.0, 100.0])
    np.testing.assert_allclose(inj.gen_p_mw[:, node.gen_index], [20.0, 60.0, 100.0])
    # Voltage setpoint: the neutral vm_pu (1.02) moved by a * vm_range_pu (0.04).
    np.testing.assert_allclose(inj.gen_vm_pu[:, node.gen_index], [1.06, 1.02, 0.98])
    others = np.arange(len(stub.net.gen)) != node.gen_index
    np.testing.assert_array_equal(inj.gen_vm_pu[:, others], 1.0)  # other generators untouched
    np.testing.assert_allclose(node.injection_mw, node.p_mw)
    parts = node.reward_components(ctx, None)
    np.testing.assert_allclose(parts["energy_eur"], 50.0 * node.p_mw * 0.5)
    fuel = (40.0 * node.p_mw + 0.01 * node.p_mw**2) * 0.5  # the type's default costs
    np.testing.assert_allclose(parts["generation_cost_eur"], -fuel)


def test_producer_without_a_case_generator_creates_one() -> None:
    node, stub = attached("producer", 4, max_p_mw=50.0)
    assert len(stub.net.gen) == 5  # case14's four plus the new one
    assert stub.net.gen.bus[node.gen_index] == 4
    assert stub.net.gen.max_p_mw[node.gen_index] == 50.0


def test_consumer_sheds_a_share_of_its_demand() -> None:
    node, stub = attached("consumer", 3, base_p_mw=10.0, max_shed_fraction=0.2)
    load = stub.net.load.loc[node.load_index]
    tan_phi = load.q_mvar / load.p_mw
    # Action 0 and every negative action shed nothing; positive actions shed up to 20 %.
    action = np.array([-1.0, -0.3, 0.0, 0.5, 1.0])
    fraction = np.array([0.0, 0.0, 0.0, 0.1, 0.2])
    inj = empty_injections(stub.net, 5)
    ctx = context(5, load_pu=1.5, price=40.0, dt_h=0.5)
    node.apply_action(action[:, None], ctx, inj)
    np.testing.assert_allclose(node.shed_fraction, fraction)
    served = 15.0 * (1.0 - fraction)
    np.testing.assert_allclose(node.p_mw, served)
    np.testing.assert_allclose(inj.load_p_mw[:, node.load_index], served)
    np.testing.assert_allclose(inj.load_q_mvar[:, node.load_index], served * tan_phi)
    np.testing.assert_allclose(node.injection_mw, -served)
    np.testing.assert_allclose(node.unserved_mw(), 15.0 * fraction)
    np.testing.assert_array_equal(node.unserved_mw()[:3], 0.0)
    parts = node.reward_components(ctx, None)
    assert set(parts) == {"energy_eur", "shed_cost_eur"}
    np.testing.assert_allclose(parts["energy_eur"], -40.0 * served * 0.5)
    # Shedding is linear: the contract price (default 300 EUR/MWh) for every MWh shed,
    # zero when nothing is shed.
    np.testing.assert_allclose(parts["shed_cost_eur"], -300.0 * 15.0 * fraction * 0.5)
    np.testing.assert_array_equal(parts["shed_cost_eur"][:3], 0.0)
    np.testing.assert_allclose(node.local_features(ctx), [[1.5]] * 5)


class ConstantPolicy:
    """The same actions at every step: ``value`` for everyone, ``overrides`` per agent."""

    name = "constant"

    def __init__(self, value: float = 0.0, **overrides: float):
        self.value, self.overrides = value, overrides

    def act(self, observations: dict[str, np.ndarray], env: BatchedGridEnv) -> dict:
        return {
            name: np.full((env.batch_size, space.shape[0]), self.overrides.get(name, self.value))
            for name, space in env.action_spaces.items()
        }


def test_shed_energy_is_unserved_energy_priced_at_the_contract(grid: PowerGrid) -> None:
    """What consumers shed shows in the KPI ``unserved_energy_mwh`` and costs
    ``shed_cost_eur_per_mwh`` per MWh, in the rewards and in the system cost."""
    env = BatchedGridEnv(grid=grid, batch_size=2, autoreset=False)
    days = grid.profiles.test_days[:2]
    node = grid.node("consumer_3")
    price = node.params["shed_cost_eur_per_mwh"]
    neutral = run_days(ConstantPolicy(0.0), env, days=days, record=True)
    negative = run_days(ConstantPolicy(0.0, consumer_3=-0.8), env, days=days)
    shedding = run_days(ConstantPolicy(0.0, consumer_3=0.5), env, days=days, record=True)
    # Action 0 and negative actions serve every MWh: the two days are the same day.
    assert neutral.kpis["unserved_energy_mwh"] == 0.0
    assert negative.kpis["unserved_energy_mwh"] == 0.0
    np.testing.assert_allclose(negative.per_day_cost_eur, neutral.per_day_cost_eur, rtol=1e-12)
    # Action 0.5 sheds half the largest share of the demand, every step.
    demand_mwh = node.base_p_mw * grid.profiles.load_pu[days].sum(axis=1) * env.dt_h
    shed_mwh = 0.5 * node.params["max_shed_fraction"] * demand_mwh
    assert shed_mwh.min() > 0
    assert shedding.kpis["unserved_energy_mwh"] == pytest.approx(shed_mwh.mean(), rel=1e-9)
    unserved = np.sum(shedding.record.metrics["unserved_energy_mwh"], axis=0)
    np.testing.assert_allclose(unserved, shed_mwh, rtol=1e-9)
    components = shedding.record.reward_components
    shed_cost = components["consumer_3"]["shed_cost_eur"].sum(axis=0)
    np.testing.assert_allclose(shed_cost, -price * shed_mwh, rtol=1e-9)
    for other in grid.nodes:
        if isinstance(other, Consumer) and other is not node:
            np.testing.assert_array_equal(components[other.name]["shed_cost_eur"], 0.0)
    # Shedding at 300 EUR/MWh costs the system more than the energy it saves.
    assert np.all(shedding.per_day_cost_eur > neutral.per_day_cost_eur)


def test_consumer_defaults_to_the_case_load() -> None:
    node, stub = attached("consumer", 2)
    assert node.base_p_mw == pytest.approx(94.2)  # case14's load at bus 2


def test_battery_charges_and_discharges_within_its_limits() -> None:
    node, stub = attached("battery", 8, max_p_mw=20.0, capacity_mwh=100.0)
    assert stub.net.storage.bus[node.storage_index] == 8
    node.reset(3, np.random.default_rng(0))
    np.testing.assert_array_equal(node.soc, 0.5)
    inj = empty_injections(stub.net, 3)
    ctx = context(3, price=30.0)
    node.apply_action(np.array([[-0.5], [0.0], [0.5]]), ctx, inj)
    np.testing.assert_allclose(node.p_mw, [-10.0, 0.0, 10.0])
    np.testing.assert_allclose(inj.storage_p_mw[:, node.storage_index], node.p_mw)
    np.testing.assert_allclose(node.injection_mw, -node.p_mw)
    # Charging stores p * 0.95; discharging removes |p| / 0.95.
    np.testing.assert_allclose(node.soc, [0.5 - 10 / 0.95 / 100, 0.5, 0.5 + 10 * 0.95 / 100])
    parts = node.reward_components(ctx, None)
    np.testing.assert_allclose(parts["energy_eur"], -30.0 * node.p_mw)
    np.testing.assert_allclose(parts["degradation_eur"], -2.0 * np.abs(node.p_mw))
    # Not the day's last step: no end-of-day shortfall, even below initial_soc.
    np.testing.assert_array_equal(parts["end_soc_eur"], 0.0)


def test_battery_pays_for_an_end_of_day_shortfall_on_the_last_step_only() -> None:
    node, stub = attached("battery", 8, capacity_mwh=100.0, initial_soc=0.5, charge_efficiency=0.9)
    node.reset(3, np.random.default_rng(0))
    node.soc = np.array([0.3, 0.5, 0.7])  # below, at and above initial_soc
    # Idle on the last step: the state of charge stays as set.
    node.apply_action(np.zeros((3, 1)), context(3, step=23), empty_injections(stub.net, 3))
    # Refilling 0.2 * 100 MWh of charge takes 20 / 0.9 MWh at 150 EUR/MWh.
    shortfall = np.array([20.0 / 0.9, 0.0, 0.0])
    np.testing.assert_allclose(node.end_shortfall_mwh(), shortfall)
    last = node.reward_components(context(3, step=23), None)
    np.testing.assert_allclose(last["end_soc_eur"], -150.0 * shortfall)
    for step in (0, 12, 22):
        parts = node.reward_components(context(3, step=step), None)
        np.testing.assert_array_equal(parts["end_soc_eur"], 0.0)


def test_battery_end_soc_charge_in_a_whole_day(grid: PowerGrid) -> None:
    """In the environment: a battery that discharges all day pays for the missing charge
    at its end-of-day price on the last step, and on no other."""
    env = BatchedGridEnv(grid=grid, batch_size=2, autoreset=False)
    env.reset(days=[0, 1])
    battery = grid.node("battery_3")
    p = battery.params
    actions = {name: np.zeros((2, space.shape[0])) for name, space in env.action_spaces.items()}
    actions["battery_3"][:] = -1.0  # discharge at full power, down to min_soc
    for t in range(env.steps_per_day):
        _, _, terminations, _, infos = env.step(actions)
        end_soc = infos["reward_components"]["battery_3"]["end_soc_eur"]
        if t < env.steps_per_day - 1:
            np.testing.assert_array_equal(end_soc, 0.0)
            assert not terminations["battery_3"].any()
    assert terminations["battery_3"].all()
    np.testing.assert_allclose(battery.soc, p["min_soc"])
    missing_mwh = (p["initial_soc"] - p["min_soc"]) * p["capacity_mwh"]
    expected = p["end_soc_price_eur_per_mwh"] * missing_mwh / p["charge_efficiency"]
    np.testing.assert_allclose(end_soc, -expected)
    # It is a cost to the system, not a market payment.
    assert "end_soc_eur" not in battery.MARKET_COMPONENTS


def test_battery_stops_at_its_state_of_charge_limits() -> None:
    node, stub = attached("battery", 3, max_p_mw=20.0, capacity_mwh=10.0)
    node.reset(2, np.random.default_rng(0))
    node.soc = np.array([0.85, 0.15])
    inj = empty_injections(stub.net, 2)
    # Full charge near the top, full discharge near the bottom: both limited.
    node.apply_action(np.array([[1.0], [-1.0]]), context(2), inj)
    np.testing.assert_allclose(node.p_mw, [0.05 * 10 / 0.95, -0.05 * 10 * 0.95])
    np.testing.assert_allclose(node.soc, [0.9, 0.1])
    # At the limit, asking for more does nothing.
    node.apply_action(np.array([[1.0], [-1.0]]), context(2), inj)
    np.testing.assert_allclose(node.p_mw, [0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(node.soc, [0.9, 0.1])
    # Restarting a day returns to the initial state of charge, row by row.
    node.reset_rows(np.array([True, False]), np.random.default_rng(0))
    np.testing.assert_allclose(node.soc, [0.5, 0.1])


def test_battery_initial_soc_must_lie_in_its_band() -> None:
    with pytest.raises(ConfigError, match=r"^nodes\.battery_3\.initial_soc: must lie within"):
        attached("battery", 3, min_soc=0.2, initial_soc=0.1)


def test_business_curtails_pv_and_runs_its_flexible_load() -> None:
    node, stub = attached(
        "business", 9, base_p_mw=10.0, pv_p_mw=20.0, flex_max_p_mw=5.0, flex_energy_mwh=12.0
    )
    assert stub.net.sgen.bus[node.sgen_index] == 9
    node.reset(4, np.random.default_rng(0))
    inj = empty_injections(stub.net, 4)
    ctx = context(4, load_pu=1.0, pv_pu=0.5, price=60.0)
    curtail = np.array([-1.0, -0.5, 0.0, 1.0])
    flex = np.array([-1.0, 0.0, 1.0, 1.0])
    node.apply_action(np.column_stack([curtail, flex]), ctx, inj)
    np.testing.assert_allclose(node.pv_mw, [0.0, 5.0, 10.0, 10.0])
    np.testing.assert_allclose(inj.sgen_p_mw[:, node.sgen_index], node.pv_mw)
    np.testing.assert_allclose(node.flex_mw, [0.0, 2.5, 5.0, 5.0])
    np.testing.assert_allclose(node.flex_remaining_mwh, [12.0, 9.5, 7.0, 7.0])
    np.testing.assert_allclose(inj.load_p_mw[:, node.load_index], 10.0 + node.flex_mw)
    np.testing.assert_allclose(node.injection_mw, node.pv_mw - 10.0 - node.flex_mw)
    parts = node.reward_components(ctx, None)
    np.testing.assert_allclose(parts["energy_eur"], -60.0 * (10.0 + node.flex_mw - node.pv_mw))
    np.testing.assert_array_equal(parts["unmet_flex_eur"], 0.0)  # not the last step
    # The flexible load cannot take more than the energy still needed today ...
    node.apply_action(np.column_stack([curtail, np.ones(4)]), ctx, inj)
    node.apply_action(np.column_stack([curtail, np.ones(4)]), ctx, inj)
    np.testing.assert_allclose(node.flex_remaining_mwh, [2.0, 0.0, 0.0, 0.0])
    np.testing.assert_allclose(node.flex_mw, [5.0, 4.5, 2.0, 2.0])
    # ... and what is missing at the end of the day is charged once, on the last step.
    last = context(4, step=23, price=60.0)
    node.apply_action(np.column_stack([curtail, -np.ones(4)]), last, inj)
    parts = node.reward_components(last, None)
    np.testing.assert_allclose(parts["unmet_flex_eur"], [-150.0 * 2.0, 0.0, 0.0, 0.0])
    features = node.local_features(last)
    np.testing.assert_allclose(features[:, 0], 0.5)  # pv_pu
    np.testing.assert_allclose(features[:, 1], [2.0 / 12.0, 0.0, 0.0, 0.0])  # flex_remaining
    np.testing.assert_allclose(features[:, 2], 1.0 / 24.0)  # steps_left


def test_business_that_cannot_deliver_its_energy_is_rejected() -> None:
    with pytest.raises(ConfigError, match=r"^nodes\.business_9\.flex_energy_mwh:"):
        attached("business", 9, flex_max_p_mw=1.0, flex_energy_mwh=30.0)


def test_actions_reach_the_power_flow(grid: PowerGrid) -> None:
    """In the environment, each node's action lands in its own element's column."""
    env = BatchedGridEnv(grid=grid, batch_size=3, autoreset=False)
    env.reset(days=[0, 0, 0])
    actions = {
        name: np.tile(ACTIONS[:, None], (1, space.shape[0]))
        for name, space in env.action_spaces.items()
    }
    env.step(actions)
    inj, net = env.last_injections, grid.net
    ctx_load = grid.profiles.load_pu[0, 0]
    for node in grid.nodes:
        p = node.params
        if isinstance(node, Producer):
            assert net.gen.bus[node.gen_index] == node.bus
            np.testing.assert_allclose(
                inj.gen_p_mw[:, node.gen_index],
                [p["min_p_mw"], (p["min_p_mw"] + p["max_p_mw"]) / 2, p["max_p_mw"]],
            )
            np.testing.assert_allclose(
                inj.gen_vm_pu[:, node.gen_index],
                p["vm_pu"] + p["vm_range_pu"] * ACTIONS,
            )
        elif isinstance(node, Consumer):
            assert net.load.bus[node.load_index] == node.bus
            shed = p["max_shed_fraction"] * np.array([0.0, 0.0, 1.0])  # a <= 0 sheds nothing
            np.testing.assert_allclose(
                inj.load_p_mw[:, node.load_index], node.base_p_mw * ctx_load * (1 - shed)
            )
        elif isinstance(node, Battery):
            assert net.storage.bus[node.storage_index] == node.bus
            np.testing.assert_allclose(
                inj.storage_p_mw[:, node.storage_index], [-1, 0, 1] * np.array(p["max_p_mw"])
            )
        elif isinstance(node, Business):
            assert net.sgen.bus[node.sgen_index] == node.bus
            pv = p["pv_p_mw"] * grid.profiles.pv_pu[0, 0]
            np.testing.assert_allclose(inj.sgen_p_mw[:, node.sgen_index], [0.0, pv, pv])
    assert env.last_power_flow.converged.all()


def test_reward_components_add_up(grid: PowerGrid) -> None:
    env = BatchedGridEnv(grid=grid, batch_size=4, autoreset=False)
    env.reset(seed=3)
    rng = np.random.default_rng(3)
    weight = grid.config["reward"]["grid_penalty_weight"]
    for _ in range(env.steps_per_day):
        price = env.context().price_eur_per_mwh
        _, rewards, _, _, infos = env.step(random_actions(env, rng))
        penalty = sum(infos["penalty_eur"].values())
        non_market = np.zeros(env.batch_size)
        for node in env.nodes:
            parts = infos["reward_components"][node.name]
            assert "grid_penalty_eur" in parts
            np.testing.assert_allclose(rewards[node.name], sum(parts.values()), rtol=1e-12)
            np.testing.assert_allclose(parts["grid_penalty_eur"], -weight * penalty)
            non_market -= sum(
                v
                for k, v in parts.items()
                if k not in (*node.MARKET_COMPONENTS, "grid_penalty_eur")
            )
        # The system cost: energy bought upstream, every non-market cost, the penalty.
        upstream = price * env.last_power_flow.ext_grid_p_mw * env.dt_h
        np.testing.assert_allclose(
            infos["system_cost_eur"], upstream + non_market + penalty, rtol=1e-9, atol=1e-6
        )


# -- a new node type, from outside the package ----------------------------------------------


class Heater(Node):
    """A toy electric heater: its own load at a bus, driven between 0 and ``max_p_mw``.

    Reward: the energy bill plus a comfort value per MWh of heat.
    """

    type_name = "heater"
    PARAMS = {
        "max_p_mw": Field(2.0, "float", "Largest power (MW).", 0.0, 100.0, low_exclusive=True),
        "comfort_eur_per_mwh": Field(30.0, "float", "Value of heat (EUR/MWh).", 0.0, 1e4),
    }
    LOCAL_FEATURES = ("heat_mwh",)
    ACTIONS = ("power",)

    def attach(self, grid: PowerGrid) -> None:
        """Create a load of its own at the bus."""
        self.load_index = pp.create_load(grid.net, self.bus, p_mw=0.0, q_mvar=0.0, name=self.name)

    def reset(self, batch_size: int, rng: np.random.Generator) -> None:
        """No heat delivered yet today."""
        super().reset(batch_size, rng)
        self.heat_mwh = np.zeros(batch_size)

    def reset_rows(self, rows: np.ndarray, rng: np.random.Generator) -> None:
        """Restart the given days with no heat delivered."""
        super().reset_rows(rows, rng)
        self.heat_mwh[rows] = 0.0

    def apply_action(self, action: np.ndarray, ctx: StepContext, inj: Injections) -> None:
        """Heat at a share of the largest power."""
        self.p_mw = self.params["max_p_mw"] * (action[:, 0] + 1.0) / 2.0
        inj.load_p_mw[:, self.load_index] = self.p_mw
        inj.load_q_mvar[:, self.load_index] = 0.0
        self.heat_mwh = self.heat_mwh + self.p_mw * ctx.dt_h
        self.injection_mw = -self.p_mw

    def local_features(self, ctx: StepContext) -> np.ndarray:
        """Heat delivered so far today."""
        return self.heat_mwh[:, None]

    def reward_components(self, ctx: StepContext, pf: Any) -> dict[str, np.ndarray]:
        """Energy bill and comfort."""
        energy = self.p_mw * ctx.dt_h
        return {
            "energy_eur": -ctx.price_eur_per_mwh * energy,
            "comfort_eur": self.params["comfort_eur_per_mwh"] * energy,
        }


@contextmanager
def registered(cls: type[Node]) -> Iterator[None]:
    """Register a node type for the duration of a ``with`` block."""
    register_node_type(cls)
    try:
        yield
    finally:
        NODE_TYPES.pop(cls.type_name, None)


def test_a_new_node_type_runs_a_day_without_editing_the_package() -> None:
    raw = yaml.safe_load(DEFAULT_CONFIG_PATH.read_text())
    raw["nodes"].append({"name": "heater_6", "type": "heater", "bus": 6, "max_p_mw": 3.0})
    with registered(Heater):
        cfg = load_config(raw)
        env = GridEnv(cfg)
        grid = env.grid
        heater = grid.node("heater_6")
        assert isinstance(heater, Heater)
        assert "heater_6" in env.possible_agents
        # The common features, the price forecast and the heater's own feature.
        assert env.observation_space("heater_6").shape == (10 + 3 + 1,)
        assert env.action_space("heater_6").shape == (1,)
        assert grid.net.load.bus[heater.load_index] == 6
        obs, _ = env.reset(seed=0)
        rng = np.random.default_rng(0)
        total_heat, steps = 0.0, 0
        while env.agents:
            actions = {a: rng.uniform(-1, 1, env.action_space(a).shape) for a in env.agents}
            actions["heater_6"] = np.array([1.0 if steps % 2 else -1.0])
            obs, rewards, _, _, infos = env.step(actions)
            total_heat += 3.0 if steps % 2 else 0.0
            assert infos["heater_6"]["converged"] == 1.0
            assert set(infos["heater_6"]) >= {"reward/comfort_eur", "reward/energy_eur"}
            # The heater's load is part of the power flow the fast backend solved.
            inj = env.batched.last_injections
            assert inj.load_p_mw[0, heater.load_index] == heater.p_mw[0]
            if steps == 1:
                reference = PandapowerBackend(grid.net).solve(inj)
                np.testing.assert_allclose(
                    env.batched.last_power_flow.vm_pu, reference.vm_pu, atol=1e-8
                )
            steps += 1
        assert steps == grid.config["time"]["steps_per_day"]
        assert obs["heater_6"][-1] == pytest.approx(total_heat)
        assert rewards["heater_6"] == pytest.approx(
            sum(v for k, v in infos["heater_6"].items() if k.startswith("reward/"))
        )
        # The heater really draws power: full power imports more from upstream than off.
        off = copy.deepcopy(inj)
        off.load_p_mw[0, heater.load_index] = 0.0
        on = copy.deepcopy(inj)
        on.load_p_mw[0, heater.load_index] = 3.0
        delta = grid.run_power_flow(on).ext_grid_p_mw - grid.run_power_flow(off).ext_grid_p_mw
        assert delta[0] == pytest.approx(3.0, abs=0.3)  # 3 MW, give or take the losses
    # Unregistered again: configs no longer accept it.
    assert "heater" not in NODE_TYPES
    with pytest.raises(ConfigError, match="unknown node type 'heater'"):
        load_config(raw)


def test_own_base_demand_is_written_into_the_net_and_an_absurd_one_is_refused() -> None:
    from gridppo.config.loader import ConfigError, load_config
    from gridppo.grid.network import PowerGrid

    case = PowerGrid(load_config())
    grid = PowerGrid(load_config(None, ["nodes.consumer_3.base_p_mw=60"]))
    node, case_node = grid.node("consumer_3"), case.node("consumer_3")
    assert grid.net.load.p_mw[node.load_index] == pytest.approx(60.0)
    # The power factor is the case's, whatever the demand.
    assert grid.net.load.q_mvar[node.load_index] / 60.0 == pytest.approx(
        case.net.load.q_mvar[case_node.load_index] / case.net.load.p_mw[case_node.load_index]
    )
    with pytest.raises(ConfigError, match="planning power flow does not converge"):
        PowerGrid(load_config(None, ["nodes.consumer_3.base_p_mw=5000"]))
