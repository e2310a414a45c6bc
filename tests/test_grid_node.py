"""The node base class: the common observation, the neutral answers every type inherits,
and new types, defined here, that run through the whole package without editing it."""

from __future__ import annotations

import copy
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandapower as pp
import pytest
import yaml
from helpers import attached, context, empty_injections, one_day

from gridppo import ConfigError, GridEnv, PowerGrid, load_config
from gridppo.baselines.day_qp import DayOptimum
from gridppo.baselines.heuristic import HeuristicPolicy
from gridppo.baselines.optimum import OptimumPolicy
from gridppo.baselines.single_step_opf import SingleStepOPFPolicy
from gridppo.config.fields import Field
from gridppo.config.loader import DEFAULT_CONFIG_PATH
from gridppo.config.node_specs import NODE_TYPES, register_node_type
from gridppo.env import BatchedGridEnv
from gridppo.evaluation.simulate import run_days
from gridppo.grid.context import Dispatch, OperatorView, StepContext
from gridppo.grid.node import COMMON_FEATURES, Node, make_node, shared_features, unit_interval
from gridppo.grid.observation import OwnFeatures
from gridppo.grid.physics import Injections, PandapowerBackend

SMALL = {"time.train_days": 4, "time.validation_days": 2, "time.test_days": 3}


@contextmanager
def registered(cls: type[Node]) -> Iterator[None]:
    """Register a node type for the duration of a ``with`` block."""
    register_node_type(cls)
    try:
        yield
    finally:
        NODE_TYPES.pop(cls.type_name, None)


def with_extra_node(spec: dict[str, Any]) -> dict[str, Any]:
    """The small default config with one more node."""
    cfg = load_config(None, SMALL)
    return load_config({**cfg, "nodes": [*cfg["nodes"], spec]})


# -- a type with no opinion: every answer is the base class's -------------------------------


class Heater(Node):
    """A toy electric heater: its own load at a bus, driven between 0 and ``max_p_mw``.

    Reward: the energy bill plus a comfort value per MWh of heat. It answers none of
    the baselines' questions, so it gets the neutral defaults.
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


def test_a_type_without_an_opinion_gets_the_neutral_answers() -> None:
    with registered(Heater):
        node, stub = attached("heater", 6, max_p_mw=3.0)
        assert node.dispatch() is None
        assert node.base_demand_mw() is None and node.pv_capacity_mw() == 0.0
        np.testing.assert_array_equal(node.steady_action(2), np.zeros((2, 1)))
        view = OperatorView(context(2), np.zeros((2, 14)), 1.05, lambda q: 50.0)
        np.testing.assert_array_equal(node.heuristic_action(view), np.zeros((2, 1)))
        np.testing.assert_array_equal(node.generation_cost_eur(np.ones(2), 1.0), 0.0)
        with pytest.raises(TypeError, match="not a dispatchable generator"):
            node.dispatch_action(np.ones(2))
        # Random setpoints and the planning case leave it as it is.
        inj = empty_injections(stub.net, 3)
        before = copy.deepcopy(inj)
        node.random_injection(inj, np.random.default_rng(0))
        for name in ("gen_p_mw", "load_p_mw", "sgen_p_mw", "storage_p_mw"):
            np.testing.assert_array_equal(getattr(inj, name), getattr(before, name))
        net = copy.deepcopy(stub.net)
        node.write_full_output(net)
        assert net.gen.equals(stub.net.gen) and net.load.equals(stub.net.load)
        # In the day's optimum it has no decisions, plays its steady action, and what
        # that draws is found by running it (on a copy) through the day.
        day = one_day(steps=4)
        terms = node.optimum_terms(day.steps, day.dt_h, hold_levers=False)
        assert terms.variables == {} and terms.constraints == [] and terms.injection_mw == 0.0
        node.reset(1, np.random.default_rng(0))
        node.heat_mwh[:] = 7.0
        inj = empty_injections(stub.net, day.steps)
        node.write_fixed_injections(inj, day)
        np.testing.assert_array_equal(inj.load_p_mw[:, node.load_index], 1.5)  # action 0
        assert node.heat_mwh[0] == 7.0  # its own state untouched
        planned, cost = node.optimum_schedule({}, day)
        assert planned == {} and np.array_equal(cost, np.zeros(4))
        np.testing.assert_array_equal(node.schedule_action(planned, 3), np.zeros((3, 1)))


def test_a_type_without_an_opinion_runs_through_every_baseline() -> None:
    with registered(Heater):
        cfg = with_extra_node({"name": "heater_6", "type": "heater", "bus": 6, "max_p_mw": 3.0})
        grid = PowerGrid(cfg)
        day = int(grid.profiles.test_days[0])
        env = BatchedGridEnv(grid=grid, batch_size=1, mode="test", autoreset=False)
        obs, _ = env.reset(days=[day])
        heuristic = HeuristicPolicy(env).act(obs, env)
        np.testing.assert_array_equal(heuristic["heater_6"], [[0.0]])
        opf = SingleStepOPFPolicy(env).act(obs, env)
        np.testing.assert_array_equal(opf["heater_6"], [[0.0]])
        # The optimum sees its steady draw at bus 6, where nothing else is.
        model = DayOptimum(grid)
        np.testing.assert_allclose(model.fixed_injections_mw(day)[6], -1.5)
        schedule = model.solve(day)
        assert schedule.nodes["heater_6"] == {}
        result = run_days(OptimumPolicy(env), env, days=[day], record=True)
        np.testing.assert_allclose(result.record.injection_mw["heater_6"], -1.5)


# -- a tiny dispatchable generator: says only that it is one ---------------------------------


class TinyGenerator(Node):
    """A toy diesel generator at a bus of its own: output 0 .. ``max_p_mw`` at a linear
    fuel cost. It declares :meth:`dispatch` and nothing else the baselines ask."""

    type_name = "tiny_generator"
    PARAMS = {
        "max_p_mw": Field(10.0, "float", "Largest output (MW).", 0.0, 100.0, low_exclusive=True),
        "cost_eur_per_mwh": Field(1.0, "float", "Fuel cost (EUR/MWh).", 0.0, 1e4),
    }
    ACTIONS = ("output",)

    def attach(self, grid: PowerGrid) -> None:
        """Create a generator of its own, at 1 p.u., idle."""
        self.gen_index = pp.create_gen(grid.net, self.bus, p_mw=0.0, vm_pu=1.0, name=self.name)
        grid.claimed_gens[self.gen_index] = self.name

    def dispatch(self) -> Dispatch:
        """Its generator, range and cost."""
        return Dispatch(
            self.gen_index, 0.0, self.params["max_p_mw"], self.params["cost_eur_per_mwh"], 0.0
        )

    def apply_action(self, action: np.ndarray, ctx: StepContext, inj: Injections) -> None:
        """Output a share of the largest output."""
        self.p_mw = unit_interval(action[:, 0]) * self.params["max_p_mw"]
        inj.gen_p_mw[:, self.gen_index] = self.p_mw
        self.injection_mw = self.p_mw

    def reward_components(self, ctx: StepContext, pf: Any) -> dict[str, np.ndarray]:
        """Revenue and fuel."""
        return {
            "energy_eur": ctx.price_eur_per_mwh * self.p_mw * ctx.dt_h,
            "generation_cost_eur": -self.generation_cost_eur(self.p_mw, ctx.dt_h),
        }


TINY = {"name": "tiny_13", "type": "tiny_generator", "bus": 13, "max_p_mw": 10.0}


def test_a_dispatchable_type_runs_through_the_grid_the_env_and_every_baseline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with registered(TinyGenerator):
        cfg = with_extra_node(TINY)
        grid = PowerGrid(cfg)
        tiny = grid.node("tiny_13")
        # Ratings: the planning case runs it at full output.
        with monkeypatch.context() as patch:
            patch.setattr(TinyGenerator, "write_full_output", lambda self, net: None)
            idle_planned = PowerGrid(cfg).branch_rating_mva
        assert not np.allclose(grid.branch_rating_mva, idle_planned)
        # Random setpoints: anywhere in its range.
        inj = grid.random_injections(200, np.random.default_rng(0))
        p_mw = inj.gen_p_mw[:, tiny.gen_index]
        assert p_mw.min() >= 0.0 and p_mw.max() <= 10.0 and np.ptp(p_mw) > 8.0
        # The environment: its action reaches the power flow.
        env = BatchedGridEnv(grid=grid, batch_size=2, mode="test", autoreset=False)
        days = [int(d) for d in grid.profiles.test_days[:2]]
        env.reset(days=days)
        actions = {n: np.zeros((2, s.shape[0])) for n, s in env.action_spaces.items()}
        actions["tiny_13"] = np.array([[1.0], [-1.0]])
        _, rewards, _, _, infos = env.step(actions)
        np.testing.assert_allclose(env.last_injections.gen_p_mw[:, tiny.gen_index], [10.0, 0.0])
        assert infos["reward_components"]["tiny_13"]["generation_cost_eur"][0] == pytest.approx(
            -10.0 * env.dt_h
        )
        assert env.last_power_flow.converged.all()
        single = GridEnv(cfg, mode="test")
        single.reset(seed=0)
        neutral = {a: np.zeros(single.action_space(a).shape) for a in single.possible_agents}
        while single.agents:
            *_, step_infos = single.step(neutral)
        assert step_infos["tiny_13"]["converged"] == 1.0
        # The baselines dispatch it: at 1 EUR/MWh it is the cheapest plant.
        env = BatchedGridEnv(grid=grid, batch_size=1, mode="test", autoreset=False)
        obs, _ = env.reset(days=days[:1])
        assert env.context().price_eur_per_mwh[0] > 1.0
        np.testing.assert_allclose(HeuristicPolicy(env).act(obs, env)["tiny_13"], [[1.0]])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            opf = SingleStepOPFPolicy(env).act(obs, env)["tiny_13"]
        assert opf[0, 0] > 0.5  # runs well above half output
        schedule = DayOptimum(grid).solve(days[0])
        assert schedule.nodes["tiny_13"]["p_mw"].mean() > 8.0
        policy = OptimumPolicy(env)
        result = run_days(policy, env, days=days[:1], record=True)
        planned = policy.schedules(days[:1])[0].nodes["tiny_13"]["p_mw"]
        np.testing.assert_allclose(result.record.injection_mw["tiny_13"][:, 0], planned, atol=1e-6)
        assert planned.mean() > 5.0


# -- the base class ----------------------------------------------------------------------------


def test_the_observation_follows_the_feature_names(grid: PowerGrid) -> None:
    for other in grid.nodes:
        other.reset(2, np.random.default_rng(0))
    node = grid.node("battery_3")
    node.injection_mw = np.array([1.5, -2.0])
    ctx = context(2, price=42.0, step=6)
    vm_pu = np.tile(np.linspace(0.95, 1.08, grid.n_bus), (2, 1))
    loading = np.tile(np.linspace(0.0, 1.2, grid.n_branch), (2, 1))
    own = OwnFeatures(grid.nodes)(vm_pu, loading)[:, grid.nodes.index(node)]
    obs = node.observation(own, shared_features(ctx), ctx)
    assert obs.dtype == np.float32 and obs.shape == (2, len(node.feature_names(3)))
    f = dict(zip(node.feature_names(3), obs.T, strict=True))
    assert tuple(node.feature_names(3)[: len(COMMON_FEATURES)]) == COMMON_FEATURES
    np.testing.assert_allclose(f["vm_pu"], vm_pu[:, node.bus], rtol=1e-6)
    near = vm_pu[:, node.neighbour_buses]
    np.testing.assert_allclose(f["neighbour_vm_mean"], near.mean(axis=1), rtol=1e-6)
    np.testing.assert_allclose(f["injection_mw"], [1.5, -2.0])
    np.testing.assert_allclose(f["branch_loading"], loading[:, node.branches].max(axis=1))
    np.testing.assert_allclose(f["time_cos"], 0.0, atol=1e-7)  # 06:00
    np.testing.assert_allclose(f["day_fraction"], 0.25)
    np.testing.assert_allclose(f["price_plus_3"], 42.0)
    np.testing.assert_allclose(f["soc"], node.params["initial_soc"])


def test_state_is_saved_and_restored() -> None:
    node, _ = attached("battery", 3)
    fresh = copy.deepcopy(node)
    assert fresh.state_dict() == {"injection_mw": np.zeros(1), "soc": None}
    node.reset(2, np.random.default_rng(0))
    node.soc = np.array([0.2, 0.7])
    saved = node.state_dict()
    fresh.load_state_dict(saved)
    np.testing.assert_array_equal(fresh.soc, [0.2, 0.7])
    with pytest.raises(ValueError, match="saved state lacks soc"):
        fresh.load_state_dict({"injection_mw": np.zeros(2)})


def test_make_node_builds_the_registered_class() -> None:
    spec = {"name": "battery_3", "type": "battery", "bus": 3, "params": {"max_p_mw": 5.0}}
    node = make_node(spec)
    assert type(node) is NODE_TYPES["battery"] and node.bus == 3
    assert repr(node) == "Battery(name='battery_3', bus=3)"


def test_a_claimed_load_cannot_be_claimed_twice() -> None:
    cfg = load_config(None, SMALL)
    twice = [*cfg["nodes"], {"name": "consumer_1b", "type": "consumer", "bus": 1}]
    with pytest.raises(ConfigError, match=r"^nodes\.consumer_1b\.bus: bus 1 is already owned"):
        PowerGrid(load_config({**cfg, "nodes": twice}))
    nowhere = [*cfg["nodes"], {"name": "consumer_0", "type": "consumer", "bus": 0}]
    with pytest.raises(ConfigError, match=r"^nodes\.consumer_0\.bus: bus 0 has no load"):
        PowerGrid(load_config({**cfg, "nodes": nowhere}))


def test_demand_and_pv_what_ifs_write_the_nodes_own_elements(grid: PowerGrid) -> None:
    consumer, business = grid.node("consumer_3"), grid.node("business_9")
    inj = grid.base_injections(2)
    consumer.write_demand_mw(inj, 12.0)
    business.write_pv_mw(inj, 4.0)
    np.testing.assert_array_equal(inj.load_p_mw[:, consumer.load_index], 12.0)
    np.testing.assert_allclose(inj.load_q_mvar[:, consumer.load_index], 12.0 * consumer.tan_phi)
    np.testing.assert_array_equal(inj.sgen_p_mw[:, business.sgen_index], 4.0)
    assert consumer.base_demand_mw() is not None and business.pv_capacity_mw() > 0
